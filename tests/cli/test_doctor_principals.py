"""cli/ssm_guardrails_cli/principals.py: which configured principal the caller is, or why none.

The matching must agree with the key policies' patterns (guardrails.shared.Principal, judged by the
IAM simulator in tests/access/test_principal_patterns.py): the last test runs the same callers
through both. Caller ARNs are what `sts get-caller-identity` returns for a role session
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns).
"""

from __future__ import annotations

import re

import pytest

from guardrails.shared import Principal
from ssm_guardrails_cli.principals import PrincipalMatch, match_caller, match_jobs

ACCOUNT = "111122223333"
SUFFIX = "1234567890abcdef"
IC = "/aws-reserved/sso.amazonaws.com/"
BREAK_GLASS = {"permission_set": "BreakGlass"}
ADMINISTRATOR = f"arn:aws:iam::{ACCOUNT}:role/ops/PasswordAdministrator"


def caller(role: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/alice"


@pytest.mark.parametrize(
    ("role", "path", "configured", "entry"),
    [
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", f"{IC}eu-west-2/", [BREAK_GLASS], BREAK_GLASS),
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", IC, [BREAK_GLASS], BREAK_GLASS),  # us-east-1 identity source
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", None, ["Other", BREAK_GLASS], BREAK_GLASS),
        ("PasswordAdministrator", "/ops/", [ADMINISTRATOR], ADMINISTRATOR),
        ("BreakGlassOperator", "/", ["BreakGlassOperator"], "BreakGlassOperator"),
        ("BreakGlassOperator", None, ["BreakGlassOperator"], "BreakGlassOperator"),
    ],
)
def test_the_caller_matches_its_configured_principal(
    role: str, path: str | None, configured: list, entry: object
) -> None:
    found = match_caller(caller(role), configured, path)
    assert found.matched and found.entry == entry
    assert found.reason.startswith(f"role {role} is ")


def test_a_name_match_without_the_path_says_the_path_was_not_checked() -> None:
    assert match_caller(caller("PasswordAdministrator"), [ADMINISTRATOR]).reason.endswith("(role path not checked)")
    # a permission set's role name implies its path: no caveat
    assert not match_caller(caller(f"AWSReservedSSO_BreakGlass_{SUFFIX}"), [BREAK_GLASS]).reason.endswith("checked)")


@pytest.mark.parametrize(
    ("arn", "path", "configured", "reason"),
    [
        (caller(f"AWSReservedSSO_BreakGlass_Admin_{SUFFIX}"), None, [BREAK_GLASS],
         "permission set BreakGlass_Admin is not configured (configured: permission set BreakGlass)"),
        (caller(f"AWSReservedSSO_BreakGlassAdmin_{SUFFIX}"), None, [BREAK_GLASS],
         "permission set BreakGlassAdmin is not configured (configured: permission set BreakGlass)"),
        (caller(f"AWSReservedSSO_breakglass_{SUFFIX}"), None, [BREAK_GLASS],
         "permission set breakglass is configured as BreakGlass: names are case-sensitive"),
        (caller(f"AWSReservedSSO_BreakGlass_{SUFFIX}"), "/", [BREAK_GLASS],
         f"role path / not admitted: permission set BreakGlass roles live under {IC}"),
        (caller("PasswordAdministrator"), "/", [ADMINISTRATOR],
         f"role path / not admitted: {ADMINISTRATOR} admits path /ops/ only"),
        (caller("PasswordAdministrator", "444455556666"), None, [ADMINISTRATOR],
         f"{ADMINISTRATOR} names account {ACCOUNT}; the caller is in 444455556666"),
        (caller("BreakGlassOperator"), "/ops/", ["BreakGlassOperator"],
         "role path /ops/ not admitted: the role name BreakGlassOperator admits path / only (give the ARN)"),
        (caller("breakglassoperator"), None, ["BreakGlassOperator"],
         "role breakglassoperator is configured as BreakGlassOperator: ARNs are case-sensitive"),
        (caller("Developer"), None, ["BreakGlassOperator", BREAK_GLASS],
         "role Developer is not configured (configured: BreakGlassOperator, permission set BreakGlass)"),
        (caller("Developer"), None, [], "no principal is configured for this job"),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", None, ["BreakGlassOperator"],
         f"arn:aws:iam::{ACCOUNT}:user/alice is not a role session: the controls admit roles only"),
    ],
)  # fmt: skip
def test_no_match_says_why(arn: str, path: str | None, configured: list, reason: str) -> None:
    assert match_caller(arn, configured, path) == PrincipalMatch(None, reason)


def test_every_job_of_the_settings_is_reported() -> None:
    principals = {"break_glass.operator_roles": [BREAK_GLASS], "session_prefs.operator_roles": ["SessionOperator"]}
    found = match_jobs(caller(f"AWSReservedSSO_BreakGlass_{SUFFIX}"), principals, f"{IC}eu-west-1/")
    assert {job: match.matched for job, match in found.items()} == {
        "break_glass.operator_roles": True,
        "session_prefs.operator_roles": False,
    }


def _pattern_admits(pattern: str, arn: str) -> bool:
    """ArnLike on the resource part: * any characters, ? exactly one (IAM condition operators page)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", f"{IC}eu-west-2/"),
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", IC),
        (f"AWSReservedSSO_BreakGlass_{SUFFIX}", "/"),
        (f"AWSReservedSSO_BreakGlass_Admin_{SUFFIX}", IC),
        ("PasswordAdministrator", "/ops/"),
        ("PasswordAdministrator", "/"),
        ("BreakGlassOperator", "/"),
        ("BreakGlassOperator", "/ops/"),
    ],
)
def test_doctor_agrees_with_the_key_policy_patterns(role: str, path: str) -> None:
    configured = [BREAK_GLASS, ADMINISTRATOR, "BreakGlassOperator"]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role{path}{role}"
    patterns = [
        p.replace("*:iam::*:", f"aws:iam::{ACCOUNT}:")
        for entry in configured
        for p in Principal.parse(entry).organization_arn_patterns()
    ]
    in_key_policy = any(_pattern_admits(p, role_arn) for p in patterns)
    assert match_caller(caller(role), configured, path).matched is in_key_policy


def test_doctor_reports_the_configured_principal_and_the_person_rule() -> None:
    """doctor's two answers for an Identity Center user: which configured entry they are (the path is
    read from GetRole) and whether the grant function would take their session name as a person."""
    from types import SimpleNamespace

    from ssm_guardrails_cli.doctor import person_check, principal_check

    caller = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakGlass_0123456789abcdef/alice@example.com"
    role = {"Path": "/aws-reserved/sso.amazonaws.com/eu-west-1/", "AssumeRolePolicyDocument": {"Statement": []}}
    settings = SimpleNamespace(
        raw={
            "principals": {
                "break_glass.operator_roles": [{"permission_set": "BreakGlass"}],
                "password_rotation.administrator_roles": ["PasswordReaders"],
            }
        }
    )
    report = principal_check(caller, settings, role)  # type: ignore[arg-type]
    assert report["break_glass.operator_roles"].startswith("yes: ")
    assert report["password_rotation.administrator_roles"].startswith("no: ")
    assert person_check(caller, role) == "yes: alice@example.com"  # Identity Center names the session
    untrusted = {
        "RoleName": "Ops",
        "Path": "/",
        "AssumeRolePolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
            ]
        },
    }
    assert person_check("arn:aws:sts::111122223333:assumed-role/Ops/alice", untrusted).startswith(
        "no: role Ops lets its callers choose their session names; to fix:"
    )


def test_the_cli_person_rule_is_the_grant_functions_own() -> None:
    """The CLI is installed without lambdas/, so it carries a copy of the grant function's rule: the
    copy must be the deployed file, byte for byte."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    vendored = root / "cli" / "ssm_guardrails_cli" / "persons.py"
    assert vendored.read_bytes() == (root / "lambdas" / "session_grant" / "persons.py").read_bytes()
