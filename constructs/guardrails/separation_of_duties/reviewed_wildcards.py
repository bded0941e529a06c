"""The cdk-nag acknowledgements of SeparationOfDuties' operator and approver policies: each wildcard
resource with the reason a security reviewer reviewed it for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails.separation_of_duties.approval_runbook import REQUEST_TAG_KEY
from guardrails.shared.nag import acknowledge_wildcard_resource
from guardrails.shared.sessions import OPEN_DATA_CHANNEL_REASON, OWN_SESSIONS_REASON

if TYPE_CHECKING:
    from guardrails.separation_of_duties.construct import SeparationOfDuties


def acknowledge_reviewed_wildcards(control: SeparationOfDuties) -> None:
    policy, approver = control.operator_policy, control.approver_policy
    reviewed: list[tuple[Any, str, str]] = [
        (policy, control._arn("ssm", "session", "*", region=r), OWN_SESSIONS_REASON) for r in control.session_regions
    ]
    reviewed += [
        (policy, control.approval_runbook.definition_arn(), "Any version of this one runbook (<name>:<version>); "
         "the Grant step refuses every version but the default one."),
        (policy, "*", "GetAutomationExecution, DescribeAutomationExecutions and DescribeSessions are read-only "
         f"status calls the console needs; DescribeSessions takes no resource ARN. {OPEN_DATA_CHANNEL_REASON}"),
        (policy, control._executions(), "A new request's execution id is random and unknown before the start: "
         f"StartAutomationExecution/StartChangeRequestExecution and AddTagsToResource only with {REQUEST_TAG_KEY}="
         f"{control.runbook_name} as the only tag key; executions that already carry it may not be re-tagged."),
        (approver, control._executions(), f"Execution ids are random; only executions tagged {REQUEST_TAG_KEY}="
         f"{control.runbook_name} (condition aws:ResourceTag). The Grant step rejects self-approval."),
        (approver, "*", "Read-only status calls; DescribeAutomationExecutions takes no resource ARN."),
    ]  # fmt: skip
    for target, resource, reason in reviewed:
        acknowledge_wildcard_resource(target, resource, reason)
