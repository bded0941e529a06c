"""Which configured principal the caller is, or why none: the matching `doctor` reports.

Pure functions (no AWS call): the caller's ARN comes from ``sts get-caller-identity``; the configured
principals from the operator settings (``principals``: ``"<control>.<key>"`` -> entries as the config
writes them: a role name, a role ARN with any path, or ``{"permission_set": name}``). They follow the
patterns the stacks put in key policies (constructs/guardrails/shared/principals.py):

* a role name matches the role of that name at path ``/`` of any account;
* a role ARN matches exactly that role (account, path and name);
* a permission set matches ``AWSReservedSSO_<name>_<16 characters>`` under
  ``/aws-reserved/sso.amazonaws.com/`` with or without a Region segment
  (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html).

An assumed-role ARN carries no role path (``arn:aws:sts::<account>:assumed-role/<name>/<session>``:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns), so the
path is checked only when the caller knows it (``role_path``, e.g. from ``iam get-role``); without it a
name match is reported with that caveat. ARNs are case-sensitive in ``ArnLike``, so names are compared
as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"
_ASSUMED_ROLE = re.compile(r"arn:[\w-]+:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/(.+)")
_ROLE_ARN = re.compile(r"arn:[\w-]+:iam::(\d{12}):role/((?:[!-~]*/)?)([\w+=,.@-]+)")
_IDENTITY_CENTER_ROLE = re.compile(r"AWSReservedSSO_(.+)_(.{16})")
_IDENTITY_CENTER_PATHS = re.compile(re.escape(IDENTITY_CENTER_PATH) + r"([^/]+/)?")

Entry = str | Mapping[str, str]


@dataclass(frozen=True)
class PrincipalMatch:
    """``entry``: the configured principal the caller is (as the config writes it), or None.
    ``reason``: one line for the report: why it matched, or why nothing did."""

    entry: Entry | None
    reason: str

    @property
    def matched(self) -> bool:
        return self.entry is not None


def describe(entry: Entry) -> str:
    if isinstance(entry, Mapping):
        return f"permission set {entry.get('permission_set')}"
    return entry


def match_caller(caller_arn: str, configured: Sequence[Entry], role_path: str | None = None) -> PrincipalMatch:
    """The configured principal ``caller_arn`` (an STS caller ARN) is, or why none matched.

    :param role_path: the caller's role path (``/``, ``/ops/``, ...) when known; None: not checked.
    """
    session = _ASSUMED_ROLE.fullmatch(caller_arn)
    if session is None:
        return PrincipalMatch(None, f"{caller_arn} is not a role session: the controls admit roles only")
    account, role, _ = session.groups()
    for entry in configured:
        if _matches(entry, account, role, role_path):
            caveat = "" if role_path is not None or _path_free(entry) else " (role path not checked)"
            return PrincipalMatch(entry, f"role {role} is {describe(entry)}{caveat}")
    return PrincipalMatch(None, _why_not(account, role, role_path, configured))


def match_jobs(
    caller_arn: str, principals: Mapping[str, Sequence[Entry]], role_path: str | None = None
) -> dict[str, PrincipalMatch]:
    """:func:`match_caller` for every job of the operator settings' ``principals``."""
    return {job: match_caller(caller_arn, entries, role_path) for job, entries in principals.items()}


def _path_free(entry: Entry) -> bool:
    """A permission set's path is implied by its role name (Identity Center creates its roles there)."""
    return isinstance(entry, Mapping)


def _matches(entry: Entry, account: str, role: str, role_path: str | None) -> bool:
    if isinstance(entry, Mapping):
        found = _IDENTITY_CENTER_ROLE.fullmatch(role)
        path_ok = role_path is None or _IDENTITY_CENTER_PATHS.fullmatch(role_path) is not None
        return found is not None and found.group(1) == entry.get("permission_set") and path_ok
    arn = _ROLE_ARN.fullmatch(entry)
    if arn is not None:
        entry_account, path, name = arn.groups()
        return entry_account == account and name == role and role_path in (None, "/" + path)
    return entry == role and role_path in (None, "/")


def _why_not(account: str, role: str, role_path: str | None, configured: Sequence[Entry]) -> str:
    if not configured:
        return "no principal is configured for this job"
    shown = ", ".join(describe(entry) for entry in configured)
    identity_center = _IDENTITY_CENTER_ROLE.fullmatch(role)
    for entry in configured:
        reason = _near_miss(entry, account, role, role_path, identity_center)
        if reason:
            return reason
    if identity_center is not None:
        return f"permission set {identity_center.group(1)} is not configured (configured: {shown})"
    return f"role {role} is not configured (configured: {shown})"


def _near_miss(
    entry: Entry, account: str, role: str, role_path: str | None, identity_center: re.Match[str] | None
) -> str | None:
    """A configured entry that almost matches: the one fix that would make it match."""
    if isinstance(entry, Mapping):
        name = entry.get("permission_set", "")
        if identity_center is not None and identity_center.group(1) == name and role_path is not None:
            return f"role path {role_path} not admitted: permission set {name} roles live under {IDENTITY_CENTER_PATH}"
        if identity_center is not None and identity_center.group(1).lower() == name.lower():
            return f"permission set {identity_center.group(1)} is configured as {name}: names are case-sensitive"
        if identity_center is None and role.startswith(f"AWSReservedSSO_{name}_"):
            return f"role {role} is not the role of permission set {name} (suffix is not 16 characters)"
        return None
    arn = _ROLE_ARN.fullmatch(entry)
    if arn is not None:
        entry_account, path, name = arn.groups()
        if name != role:
            return None
        if entry_account != account:
            return f"{entry} names account {entry_account}; the caller is in {account}"
        return f"role path {role_path} not admitted: {entry} admits path /{path} only"
    if entry == role:
        return f"role path {role_path} not admitted: the role name {entry} admits path / only (give the ARN)"
    if entry.lower() == role.lower():
        return f"role {role} is configured as {entry}: ARNs are case-sensitive"
    return None
