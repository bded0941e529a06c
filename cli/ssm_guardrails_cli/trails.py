"""trails: is there a CloudTrail trail that feeds the guardrails' alert rules in a Region?

The alert rules (break-glass ``SendCommand``, ``PutKeyPolicy``/``CreateGrant``/``ScheduleKeyDeletion``
on the password keys, and the other write calls they watch) match "AWS API Call via CloudTrail"
events, which reach EventBridge only when "a CloudTrail trail with logging enabled" records them
(https://docs.aws.amazon.com/eventbridge/latest/userguide/event-types.html). So a Region needs a
trail that applies there (multi-Region, or its home Region), is logging, and records **write**
management events without excluding ``kms.amazonaws.com``.

Used by ``ssm-guardrails doctor`` (this account and Region) and by ``make preflight`` (the
organization trail, seen from the StackSet account). API shapes:
DescribeTrails with ``includeShadowTrails`` lists the trails that apply in the caller's Region,
organization trails included (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html);
GetTrailStatus and GetEventSelectors take the trail ARN, which a shadow or organization trail needs
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetTrailStatus.html);
basic selectors (``ReadWriteType``, ``IncludeManagementEvents``, ``ExcludeManagementEventSources``:
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_EventSelector.html) or advanced ones
(``eventCategory``, ``readOnly``, ``eventSource`` fields:
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedFieldSelector.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The services whose management events the alert rules read (a selector may leave them out).
WATCHED_SOURCES = ("kms.amazonaws.com", "ssm.amazonaws.com")


def covering_trail(cloudtrail: Any, region: str, *, organization_only: bool = False) -> tuple[str | None, list[str]]:
    """The ARN of a trail that records the watched management events in ``region`` (a client of
    that Region), or ``None`` and why each candidate does not."""
    reasons = []
    for trail in cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]:
        arn = trail["TrailARN"]
        if organization_only and not trail.get("IsOrganizationTrail"):
            continue
        if not trail.get("IsMultiRegionTrail") and trail.get("HomeRegion") != region:
            reasons.append(f"{arn} applies to {trail.get('HomeRegion')} only")
        elif not cloudtrail.get_trail_status(Name=arn).get("IsLogging"):
            reasons.append(f"{arn} is not logging")
        elif gap := selector_gap(cloudtrail.get_event_selectors(TrailName=arn)):
            reasons.append(f"{arn} {gap}")
        else:
            return arn, []
    kind = "organization trail" if organization_only else "trail"
    return None, reasons or [f"no {kind} applies to {region}"]


def selector_gap(selectors: Mapping[str, Any]) -> str | None:
    """Why the selectors miss watched write management events, or ``None`` when they record them."""
    if any(_basic_records(s) for s in selectors.get("EventSelectors") or ()):
        return None
    if any(_advanced_records(s["FieldSelectors"]) for s in selectors.get("AdvancedEventSelectors") or ()):
        return None
    return f"records no write management events (or excludes {', '.join(WATCHED_SOURCES)})"


def _basic_records(selector: Mapping[str, Any]) -> bool:
    excluded = set(selector.get("ExcludeManagementEventSources") or ())
    return (
        selector.get("IncludeManagementEvents", True)
        and selector.get("ReadWriteType", "All") in ("All", "WriteOnly")
        and not excluded & set(WATCHED_SOURCES)
    )


def _advanced_records(fields: Sequence[Mapping[str, Any]]) -> bool:
    by_field = {f["Field"]: f for f in fields}
    category, read_only, source = by_field.get("eventCategory"), by_field.get("readOnly"), by_field.get("eventSource")
    if category is None or "Management" not in category.get("Equals", ()):
        return False
    if read_only is not None and read_only.get("Equals") == ["true"]:
        return False
    if source is None:
        return True
    kept = set(source.get("Equals", WATCHED_SOURCES))
    return set(WATCHED_SOURCES) <= kept and not set(source.get("NotEquals", ())) & set(WATCHED_SOURCES)
