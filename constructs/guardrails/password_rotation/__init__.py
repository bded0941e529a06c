"""PasswordRotationWindow: scheduled rotation of the local Administrator password of tagged Windows nodes.

One module per concern: ``props`` (the settings, each declared once), ``task`` (window, target, service role,
EC2Rescue task), ``report`` (failure alerts and the freshness report), ``construct`` (the construct that
composes them).
"""

from guardrails.password_rotation.construct import PasswordRotationWindow
from guardrails.password_rotation.props import (
    DURATION_RANGE_HOURS,
    MAX_PASSWORD_AGE_RANGE_DAYS,
    PRIORITY_RANGE,
    TASK_TIMEOUT_RANGE_MINUTES,
    PasswordRotationSettings,
    RotationWindowSettings,
)

__all__ = [
    "DURATION_RANGE_HOURS",
    "MAX_PASSWORD_AGE_RANGE_DAYS",
    "PRIORITY_RANGE",
    "TASK_TIMEOUT_RANGE_MINUTES",
    "PasswordRotationSettings",
    "PasswordRotationWindow",
    "RotationWindowSettings",
]
