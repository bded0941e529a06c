"""SeparationOfDuties: nobody opens a shell on an instance without another person's approval.

One module per approval path (``approval_runbook``, ``change_manager``, ``just_in_time``) over the shared
grant (``grant``) and operator policy (``operators``); ``props`` checks the props, ``construct`` composes them.
"""

from guardrails.separation_of_duties.construct import SeparationOfDuties
from guardrails.separation_of_duties.just_in_time import JIT_ACCESS_DURATION_RANGE_HOURS
from guardrails.separation_of_duties.props import (
    APPROVAL_PATHS,
    MAX_APPROVERS,
    SWEEP_INTERVAL_RANGE_MINUTES,
    VALIDITY_RANGE_MINUTES,
    JustInTimeApprover,
    SeparationOfDutiesSettings,
)

__all__ = [
    "APPROVAL_PATHS",
    "JIT_ACCESS_DURATION_RANGE_HOURS",
    "MAX_APPROVERS",
    "SWEEP_INTERVAL_RANGE_MINUTES",
    "VALIDITY_RANGE_MINUTES",
    "JustInTimeApprover",
    "SeparationOfDuties",
    "SeparationOfDutiesSettings",
]
