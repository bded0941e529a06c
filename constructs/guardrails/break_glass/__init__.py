"""BreakGlass: on-demand emergency root/Administrator password for Linux and Windows nodes.

One module per concern: ``props`` (the settings, each declared once), ``document`` (the Command document
and the operators' start statements), ``cleanup`` (the clean-up function and state machine), ``rules``
(rules and alarms), ``construct`` (the construct that composes them).
"""

from guardrails.break_glass.construct import BreakGlass
from guardrails.break_glass.document import RESET_SUFFIX
from guardrails.break_glass.props import (
    MAX_DOCUMENT_NAME,
    PASSWORD_LENGTH_RANGE,
    RESET_AFTER_RANGE_HOURS,
    SWEEP_INTERVAL_RANGE_MINUTES,
    TTL_RANGE_SECONDS,
    BreakGlassSettings,
)

__all__ = [
    "MAX_DOCUMENT_NAME",
    "PASSWORD_LENGTH_RANGE",
    "RESET_AFTER_RANGE_HOURS",
    "RESET_SUFFIX",
    "SWEEP_INTERVAL_RANGE_MINUTES",
    "TTL_RANGE_SECONDS",
    "BreakGlass",
    "BreakGlassSettings",
]
