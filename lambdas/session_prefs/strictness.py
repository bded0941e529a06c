"""Whether earlier Session Manager preferences are at least as strict as the managed ones.

Used by ``index.release`` before it restores, on stack deletion, the preferences that existed before
the stack took over. Standard library only; shipped next to ``index.py`` in the function's code.
"""

from __future__ import annotations

from typing import Any

#: Keys whose value must be exactly the managed one: where sessions are logged and with which key
#: (another group, bucket, prefix or key may be readable by others), which OS user sessions run as,
#: and the shell profiles (commands run at the start of every session, which could switch logging off).
_SAME = {
    "cloudWatchLogGroupName": "CloudWatch log group",
    "s3BucketName": "S3 bucket",
    "s3KeyPrefix": "S3 key prefix",
    "kmsKeyId": "KMS key for session data",
    "runAsDefaultUser": "Run As user",
}
#: Requirements that must be on in the earlier version when the managed preferences switch them on.
_REQUIRED = {
    "cloudWatchEncryptionEnabled": ("CloudWatch encryption required", "cloudWatchLogGroupName"),
    "s3EncryptionEnabled": ("S3 encryption required", "s3BucketName"),
    "cloudWatchStreamingEnabled": ("CloudWatch streaming", "cloudWatchLogGroupName"),
}
#: "idleSessionTimeout ... Default: 20" minutes:
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-schema.html
_DEFAULT_IDLE_MINUTES = 20


def weaker_logging(previous: dict[str, Any], managed: dict[str, Any]) -> list[str]:
    """Why ``previous`` is less strict than ``managed`` on any managed key; empty when it is at least
    as strict on every one.

    Destinations, key, Run As user and shell profiles must be the managed ones wherever the managed
    preferences set them; every requirement the managed preferences switch on must be on; Run As
    must not be on unless it is managed on; and the timeouts must not be longer."""
    reasons = []
    for key, what in _SAME.items():
        if _present(managed.get(key)) and _text(previous.get(key)) != _text(managed.get(key)):
            reasons.append(
                f"{key}: the earlier version has {_text(previous.get(key)) or 'no'} {what}, not the managed one"
            )
    for key, (what, destination) in _REQUIRED.items():
        if _present(managed.get(destination)) and _on(managed.get(key)) and not _on(previous.get(key)):
            reasons.append(f"{key}: the earlier version does not have {what}")
    if _on(previous.get("runAsEnabled")) and not _on(managed.get("runAsEnabled")):
        reasons.append("runAsEnabled: the earlier version runs sessions as another OS user")
    if "shellProfile" in managed and _profiles(previous.get("shellProfile")) != _profiles(managed["shellProfile"]):
        reasons.append("shellProfile: the earlier version runs other commands at the start of sessions")
    reasons += _longer_timeouts(previous, managed)
    return reasons


def _longer_timeouts(previous: dict[str, Any], managed: dict[str, Any]) -> list[str]:
    reasons = []
    idle, managed_idle = _minutes(previous.get("idleSessionTimeout")), _minutes(managed.get("idleSessionTimeout"))
    if managed_idle is not None and (idle or _DEFAULT_IDLE_MINUTES) > managed_idle:
        reasons.append("idleSessionTimeout: the earlier version keeps idle sessions open longer")
    longest, managed_longest = _minutes(previous.get("maxSessionDuration")), _minutes(managed.get("maxSessionDuration"))
    if managed_longest is not None and (longest is None or longest > managed_longest):
        reasons.append("maxSessionDuration: the earlier version lets sessions last longer")
    return reasons


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _minutes(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() else None


def _profiles(value: Any) -> tuple[str, str]:
    value = value if isinstance(value, dict) else {}
    return _text(value.get("linux")), _text(value.get("windows"))


def _present(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _on(value: Any) -> bool:
    """Session documents carry booleans as JSON booleans or as the strings true/false."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
