"""AccessKeyRemediation (member accounts) and AccessKeyFindings (the central topic): IAM access keys older
than N days are reported to one place.

Modules: ``props`` (the settings, each declared once), ``remediation`` (Config rule, remediation runbook
and role), ``recorder`` (the optional Config recorder), ``findings`` (the central topic).
"""

from guardrails.access_keys.findings import AccessKeyFindings
from guardrails.access_keys.props import AccessKeyFindingsSettings, AccessKeyRemediationSettings
from guardrails.access_keys.remediation import REMEDIATION_ROLE_NAME, AccessKeyRemediation

__all__ = [
    "REMEDIATION_ROLE_NAME",
    "AccessKeyFindings",
    "AccessKeyFindingsSettings",
    "AccessKeyRemediation",
    "AccessKeyRemediationSettings",
]
