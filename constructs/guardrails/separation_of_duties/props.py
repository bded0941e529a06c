"""The settings of :class:`guardrails.SeparationOfDuties`, each declared once, and the checks of its other props."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, ClassVar, Literal

from aws_cdk import aws_iam as iam
from constructs import Construct
from pydantic import Field

from guardrails.separation_of_duties.change_manager import APPROVER_ARN
from guardrails.separation_of_duties.just_in_time import JIT_ACCESS_DURATION_RANGE_HOURS
from guardrails.shared.principals import Principal, organization_arn_patterns, roles_and_patterns
from guardrails.shared.settings import Settings, in_range, rule
from guardrails.shared.validation import (
    DOCUMENT_NAME,
    REGION,
    PropsError,
    check_kms_alias,
    check_pattern,
    check_range,
    check_tag_filters,
)

APPROVAL_PATHS = ("approval_runbook", "change_manager", "just_in_time")
VALIDITY_RANGE_MINUTES = (1, 60)
SWEEP_INTERVAL_RANGE_MINUTES = (1, 60)
MAX_APPROVERS = 10
IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}")
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
ApprovalPath = Literal["approval_runbook", "change_manager", "just_in_time"]


class JustInTimeApprover(Settings):
    """One approver on the just-in-time path."""

    construct_name: ClassVar[str] = "SeparationOfDuties"

    type: Literal["SSOUser", "SSOGroup", "IAMUser"] = Field(description="What `id` names.")
    id: Annotated[str, Field(min_length=1, max_length=256)] = Field(description="The user or group.")


class SeparationOfDutiesSettings(Settings):
    """How a session is requested and approved, and how long it may be used."""

    construct_name: ClassVar[str] = "SeparationOfDuties"

    approval_path: ApprovalPath = Field("approval_runbook", description="How a request is approved (see walkthroughs).")
    min_approvals: Annotated[int, in_range(1, MAX_APPROVERS)] = Field(
        1, description="Approvals needed (at most the number of approvers)."
    )
    validity_minutes: Annotated[int, in_range(*VALIDITY_RANGE_MINUTES, "minutes")] = Field(
        10, description="The longest window an approval grants (a request may ask for less)."
    )
    terminate_sessions_at_end: bool = Field(
        True, description="End the requester's sessions on the node when the window closes."
    )
    sweep_interval_minutes: Annotated[int, in_range(*SWEEP_INTERVAL_RANGE_MINUTES, "minutes")] = Field(
        5, description="How often expired session grants are deleted."
    )
    just_in_time_approvers: list[JustInTimeApprover] = Field(
        default_factory=list, description="1-5 approvers on the `just_in_time` path."
    )
    just_in_time_node_tags: Annotated[dict[str, list[str]], rule(check_tag_filters, "tag key -> values")] | None = (
        Field(None, description="Nodes the just-in-time approval policy covers (none: all).")
    )
    just_in_time_access_hours: Annotated[int, in_range(*JIT_ACCESS_DURATION_RANGE_HOURS, "hours")] = Field(
        1, description="How long just-in-time access lasts."
    )


def validate(
    *,
    operators: Sequence[iam.IRole | Principal],
    approvers: Sequence[str],
    operator_users: Sequence[iam.IUser],
    approver_sets: int = 0,
    min_approvals: int,
    approval_path: str,
    session_regions: Sequence[str] | None,
    session_data_key_alias: str | None,
    policy_name: str,
    names: Mapping[str, str],
    documents: Mapping[str, str],
    topic_name: str | None,
) -> None:
    name = "SeparationOfDuties"
    if not operators and not operator_users:
        raise PropsError(f"{name}.operators", [], "at least one operator role (or operator_users)")
    check_pattern(f"{name}.policy_name", policy_name, POLICY_NAME, "1-128 letters, digits, + = , . @ _ -")
    for setting, value in names.items():
        check_pattern(f"{name}.{setting}", value, IAM_NAME, "1-64 letters, digits, + = , . @ _ -")
    for setting, value in documents.items():
        check_pattern(f"{name}.{setting}", value, DOCUMENT_NAME, "3-128 letters, digits, _ . -")
        if value.lower().startswith(("aws", "amazon")):
            raise PropsError(f"{name}.{setting}", value, "a name not starting with aws or amazon")
    for region in session_regions or []:
        check_pattern(f"{name}.session_regions", region, REGION, "Region names such as eu-west-1")
    if session_regions is not None and not session_regions:
        raise PropsError(f"{name}.session_regions", [], "at least one Region (or None for the stack's)")
    if session_data_key_alias is not None:
        check_kms_alias(f"{name}.session_data_key_alias", session_data_key_alias)
    if approval_path == "just_in_time":
        return
    operator_names = {("role", r.role_name) for r in operators if not isinstance(r, Principal)}
    operator_names |= {("user", u.user_name) for u in operator_users}
    count = len(approvers) + approver_sets
    if not count:
        raise PropsError(f"{name}.approvers", [], f"1-{MAX_APPROVERS} IAM user or role ARNs or permission sets")
    if count > MAX_APPROVERS:
        raise PropsError(f"{name}.approvers", count, f"at most {MAX_APPROVERS} approvers")
    kinds = "user|role|group" if approval_path == "change_manager" else "user|role"
    for arn in approvers:
        match = APPROVER_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if match is None or match.group(1) not in kinds.split("|"):
            raise PropsError(f"{name}.approvers", arn, f"an IAM ARN arn:aws:iam::<account>:({kinds})/<name>")
        if (match.group(1), match.group(3)) in operator_names:
            raise PropsError(f"{name}.approvers", arn, "approvers who are not operators (no self-approval)")
    if len(set(approvers)) != len(approvers):
        raise PropsError(f"{name}.approvers", list(approvers), "distinct approvers")
    check_range(f"{name}.min_approvals", min_approvals, 1, count, unit="(at most the number of approvers)")
    if topic_name is not None:
        check_pattern(f"{name}.topic_name", topic_name, TOPIC_NAME, "1-256 letters, digits, _ -")
        if approval_path == "approval_runbook" and not topic_name.startswith("Automation"):
            raise PropsError(f"{name}.topic_name", topic_name, "a name starting with Automation (aws:approve needs it)")


def permission_sets_on_path(operators: Sequence[iam.IRole | Principal], approval_path: str) -> list[Principal]:
    """The IAM Identity Center permission sets among ``operators`` (every path takes them: on the
    runbook and Change Manager paths their grants go to the grants policy their permission set
    references, :mod:`.identity_center_grants`)."""
    return [p for p in operators if isinstance(p, Principal) and not p.attachable]


def split_approvers(
    approvers: Sequence[str | Principal], approval_path: str, operators: Sequence[iam.IRole | Principal]
) -> tuple[list[str], list[Principal]]:
    """The approvers given by ARN, and those given as permission sets (``approval_runbook`` only: the
    runbook asks the grant function for their roles in each account; a change template names its
    approvers when it is created, and the role name of a permission set differs per account)."""
    arns = [a for a in approvers if not isinstance(a, Principal)]
    sets = [a for a in approvers if isinstance(a, Principal)]
    if any(p.attachable for p in sets):
        raise PropsError("SeparationOfDuties.approvers", [str(p) for p in sets if p.attachable],
                         "IAM ARNs (str) or permission sets (Principal.from_permission_set)")  # fmt: skip
    if sets and approval_path != "approval_runbook":
        raise PropsError(
            "SeparationOfDuties.approvers", [str(p) for p in sets],
            "IAM user, role or group ARNs on this path (permission sets: approval_path approval_runbook, "
            "whose runbook names their roles per account)",
        )  # fmt: skip
    operator_sets = {p.key for p in permission_sets_on_path(operators, approval_path)}
    if both := [str(p) for p in sets if p.key in operator_sets]:
        raise PropsError("SeparationOfDuties.approvers", both, "approvers who are not operators (no self-approval)")
    return arns, sets


def operator_principals(
    scope: Construct,
    operators: Sequence[iam.IRole | Principal],
    users: Sequence[iam.IUser],
    scp_principals: Sequence[str | Principal],
    approval_path: str,
) -> tuple[list[iam.IRole], list[iam.IRole | Principal], list[str], list[str], list[str]]:
    """The operators as the construct uses them: the roles to attach to, the people to validate (roles
    and permission sets), every operator's ``aws:PrincipalArn`` pattern, and the organization guard's
    operator and reader ARNs (any account; a role given by ARN keeps its path)."""
    sets = permission_sets_on_path(operators, approval_path)
    roles, patterns = roles_and_patterns(scope, "Operator", operators)
    guard_operators = [*organization_arn_patterns(operators), *(f"arn:*:iam::*:user/{u.user_name}" for u in users)]
    guard_readers = organization_arn_patterns([Principal.parse(p) for p in scp_principals])
    return roles, [*roles, *sets], patterns, guard_operators, guard_readers
