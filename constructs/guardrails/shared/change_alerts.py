"""Alerts, from CloudTrail, when someone changes what a control depends on.

Every call below reaches EventBridge as an "AWS API Call via CloudTrail" event of its service
(source ``aws.<service>``, ``detail.eventSource`` ``<service>.amazonaws.com``), which needs a trail
that records management events in the Region ("To record events with a detail-type value of AWS API
Call via CloudTrail, a CloudTrail trail with logging enabled is required":
https://docs.aws.amazon.com/eventbridge/latest/userguide/event-types.html). A denied attempt is an
event too (CloudTrail records it with an ``errorCode``), so a refused try is reported as well.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

#: The detail-type of every CloudTrail-delivered API call event.
DETAIL_TYPE = "AWS API Call via CloudTrail"


def alert_on_calls(
    scope: Construct,
    id: str,
    *,
    service: str,
    event_names: Sequence[str | dict[str, str]],
    field: str,
    values: Sequence[str],
    what: str,
    topic: sns.ITopic,
) -> events.Rule:
    """A rule that tells ``topic`` who called one of ``event_names`` on one of ``values`` (matched on
    ``detail.requestParameters.<field>``). ``event_names`` may hold ``{"prefix": ...}`` filters (Lambda
    appends an API version to its event names, such as ``UpdateFunctionConfiguration20150331v2``)."""
    detail = events.EventField.from_path
    rule = events.Rule(
        scope,
        id,
        description=f"Someone changed {what} (CloudTrail)",
        event_pattern=events.EventPattern(
            source=[f"aws.{service}"],
            detail_type=[DETAIL_TYPE],
            detail={
                "eventSource": [f"{service}.amazonaws.com"],
                "eventName": list(event_names),
                "requestParameters": {field: list(values)},
            },
        ),
    )
    rule.add_target(
        targets.SnsTopic(
            topic,
            message=events.RuleTargetInput.from_text(
                f"{detail('$.detail.userIdentity.arn')} called {detail('$.detail.eventName')} on {what} "
                f"({detail(f'$.detail.requestParameters.{field}')}) at {detail('$.detail.eventTime')}; a "
                "denied attempt is reported too (see errorCode in CloudTrail). Check that the control still works."
            ),
        )
    )
    return rule
