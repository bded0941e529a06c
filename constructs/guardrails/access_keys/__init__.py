"""AccessKeyRemediation (member accounts) and AccessKeyFindings (the central topic): IAM access keys older
than N days are reported to one place.

Modules: ``remediation`` (Config rule, remediation runbook and role), ``recorder`` (the optional Config
recorder), ``findings`` (the central topic).
"""

from guardrails.access_keys.findings import AccessKeyFindings
from guardrails.access_keys.remediation import (
    FREQUENCIES,
    MAX_AGE_RANGE_DAYS,
    REMEDIATION_ROLE_NAME,
    RETRY_ATTEMPTS_RANGE,
    RETRY_INTERVAL_RANGE_SECONDS,
    TAG_KEY,
    AccessKeyRemediation,
)

__all__ = [
    "FREQUENCIES",
    "MAX_AGE_RANGE_DAYS",
    "REMEDIATION_ROLE_NAME",
    "RETRY_ATTEMPTS_RANGE",
    "RETRY_INTERVAL_RANGE_SECONDS",
    "TAG_KEY",
    "AccessKeyFindings",
    "AccessKeyRemediation",
]
