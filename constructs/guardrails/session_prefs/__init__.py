"""SessionPrefs: one enforced set of Session Manager preferences per account and Region.

One module per concern: ``props`` (the settings, each declared once), ``storage`` (session data key and log group),
``resource`` (the preferences custom resource), ``policies`` (instance and operator statements),
``endpoints`` (VPC interface endpoints), ``construct`` (the construct that composes them).
"""

from guardrails.session_prefs.construct import SessionPrefs
from guardrails.session_prefs.props import (
    BUCKET_NAME,
    IDLE_TIMEOUT_RANGE_MINUTES,
    LINUX_USER,
    LOG_GROUP_NAME,
    MAX_SESSION_RANGE_MINUTES,
    RETENTION_DAYS,
    SessionPrefsSettings,
)

__all__ = [
    "BUCKET_NAME",
    "IDLE_TIMEOUT_RANGE_MINUTES",
    "LINUX_USER",
    "LOG_GROUP_NAME",
    "MAX_SESSION_RANGE_MINUTES",
    "RETENTION_DAYS",
    "SessionPrefs",
    "SessionPrefsSettings",
]
