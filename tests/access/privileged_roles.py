"""Who can drive each privileged role this project deploys in a member account.

A role is privileged when its policies hold IAM writes, decryption, publishing, SendCommand or
session grants (POWER). For each one the suite tries every principal it knows (the controls'
roles, the administrator, the adversaries of adversaries.py) on the ways to make the role act:
pass it to its service (iam:PassRole), change the code it runs (its function, state machine,
document or maintenance window task) or change its permissions (iam:PutRolePolicy). Nobody assumes
it: its trust policy names its service only (test_privileged_roles checks the template). The principals that reach a role must be exactly its
designated job (REACH): anyone else fails the test, and a boundary AWS leaves carries the README
sentence that states it (adversaries.BOUNDARY_SENTENCES). The README's "Privileged roles and who
can reach them" is rendered from this table (`make access-table`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from adversaries import CHANGE, LEND
from resolve import ResolvedTemplate

#: Actions that make a role privileged (fnmatch patterns over its allowed actions).
POWER = ("iam:Put*", "iam:Delete*", "iam:Attach*", "iam:Update*", "iam:Create*", "kms:Decrypt", "sns:Publish",
         "ssm:SendCommand", "ssm:DeleteParameter*", "ssm:UpdateDocument*")  # fmt: skip
WAYS = ("pass", "change")


@dataclass(frozen=True)
class PrivilegedRole:
    logical_id: str  # prefix of the role's logical id in the member template
    template: str  # "regional" | "global"
    label: str
    service: str  # the one service its trust policy names (and iam:PassedToService)
    holds: str
    code: tuple[tuple[str, str], ...]  # (resource type, logical id prefix) of what runs as the role


ROLES: dict[str, PrivilegedRole] = {
    "break_glass_cleanup": PrivilegedRole(
        "BreakGlassCleanupRole", "regional", "break-glass clean-up function role", "lambda.amazonaws.com",
        "deletes break-glass passwords; publishes audit messages",
        (("AWS::Lambda::Function", "BreakGlassCleanupFunction"),)),
    "break_glass_state_machine": PrivilegedRole(
        "BreakGlassCleanupStateMachineRole", "regional", "break-glass reset state machine role",
        "states.amazonaws.com", "ssm:SendCommand of the break-glass document (reset)",
        (("AWS::StepFunctions::StateMachine", "BreakGlassCleanupStateMachine"),)),
    "rotation_window": PrivilegedRole(
        "PasswordRotationproductionWindowRole", "regional", "rotation maintenance-window task role",
        "ssm.amazonaws.com", "ssm:SendCommand of EC2Rescue (password reset)",
        (("AWS::SSM::MaintenanceWindow", "PasswordRotationproductionWindow"),)),
    "freshness_report": PrivilegedRole(
        "PasswordRotationproductionFreshnessReportRole", "regional", "rotation freshness report function role",
        "lambda.amazonaws.com", "publishes reports",
        (("AWS::Lambda::Function", "PasswordRotationproductionFreshnessReportFunction"),)),
    "session_prefs_handler": PrivilegedRole(
        "SessionPrefsHandlerRole", "regional", "session preferences function role", "lambda.amazonaws.com",
        "changes the session preferences document; publishes drift alerts",
        (("AWS::Lambda::Function", "SessionPrefsHandlerFunction"),)),
    "access_key_remediation": PrivilegedRole(
        "AccessKeyRemediationAutomationRole", "global", "`SsmGuardrailsAccessKeyRemediation`",
        "ssm.amazonaws.com", "publishes findings to the security account; deactivates keys when configured",
        (("AWS::SSM::Document", "AccessKeyRemediation"),)),
    "session_runbook": PrivilegedRole(
        "SeparationOfDutiesRunbookRole", "global", "`SsmSessionControlChangeMangerRole`", "ssm.amazonaws.com",
        "invokes the grant function (only); publishes approvals",
        (("AWS::SSM::Document", "SeparationOfDutiesRunbook"),)),
    "session_grant_function": PrivilegedRole(
        "SeparationOfDutiesGrantFunctionRole", "global", "`SsmGuardrailsSessionGrantRole`", "lambda.amazonaws.com",
        "writes and removes session grants (iam:PutRolePolicy/DeleteRolePolicy on the operators); publishes refusals",
        (("AWS::Lambda::Function", "SeparationOfDutiesGrantFunction"),)),
    "session_sweeper": PrivilegedRole(
        "SeparationOfDutiesSweeperFunctionRole", "global", "`SsmSessionTagSweeperRole`", "lambda.amazonaws.com",
        "deletes session grants; deletes superseded runbook versions",
        (("AWS::Lambda::Function", "SeparationOfDutiesSweeperFunction"),)),
}  # fmt: skip

#: The change actions, by the type of what runs as the role.
CHANGE_ACTIONS = {
    "AWS::Lambda::Function": "lambda:UpdateFunctionCode",
    "AWS::StepFunctions::StateMachine": "states:UpdateStateMachine",
    "AWS::SSM::Document": "ssm:UpdateDocument",
    "AWS::SSM::MaintenanceWindow": "ssm:UpdateMaintenanceWindowTask",
}

ADMINISTRATOR = (
    "administrator"  # AdministratorAccess: the account's owner (README, "What the organization must still do")
)
#: (the permission set's role holds the same policy, SsmGuardrailsSessionRequester, by reference)
REQUESTERS = (
    "session_requester",
    "session_requester_colleague",
    "session_requester_who_tags",
    "session_requester_permission_set",
    # another permission set referencing the same policies: it may start requests, and the grant
    # function refuses them (not an operator); passing the role grants nothing by itself
    "session_requester_look_alike",
)
_LAMBDA_CODE = [k for k, r in ROLES.items() if r.code[0][0] == "AWS::Lambda::Function"]
#: (role, way) -> {principal: why it may}. Every other principal must be refused.
REACH: dict[tuple[str, str], dict[str, str]] = {
    **{(role, way): {ADMINISTRATOR: "administers the account"} for role in ROLES for way in WAYS},
}
for requester in REQUESTERS:
    REACH["session_runbook", "pass"][requester] = "starts the runbook with it (the request)"
for role in [
    *_LAMBDA_CODE,
    "break_glass_state_machine",
    "rotation_window",
    "access_key_remediation",
    "session_runbook",
]:
    REACH[role, "change"]["power_user"] = CHANGE
    if not role.startswith("break_glass"):
        # a break-glass operator who also holds PowerUserAccess is that boundary too, except for the
        # break-glass clean-up, which the operator policy protects (issue 23 item 2)
        REACH[role, "change"]["break_glass_power_user"] = CHANGE
for role in ("rotation_window", "access_key_remediation", "session_runbook"):
    REACH[role, "change"]["automation_role"] = CHANGE
    REACH[role, "pass"]["fis_ssm"] = LEND


def template_of(world: Any, role: PrivilegedRole) -> ResolvedTemplate:
    return world.regional if role.template == "regional" else world.global_


def role_arn(world: Any, key: str) -> str:
    role = ROLES[key]
    return template_of(world, role).arn_of("AWS::IAM::Role", role.logical_id)


def code_arns(world: Any, key: str) -> list[tuple[str, list[str]]]:
    """(change action, the ARNs one change request names) of each thing that runs as the role."""
    role = ROLES[key]
    template = template_of(world, role)
    found = []
    for resource_type, prefix in role.code:
        arn = template.arn_of(resource_type, prefix)
        if resource_type == "AWS::SSM::MaintenanceWindow":  # the task runs as the role; both are required
            found.append(
                (
                    CHANGE_ACTIONS[resource_type],
                    [arn, template.arn_of("AWS::SSM::MaintenanceWindowTask", prefix.removesuffix("Window") + "Task")],
                )
            )
        else:
            found.append((CHANGE_ACTIONS[resource_type], [arn]))
    return found


def role_scenarios(world: Any, principals: list[str]) -> list[dict[str, Any]]:
    """Every principal on every way to drive every privileged role: ``role.<role>.<way>.<principal>.<n>``."""
    scenarios = []
    for key, role in ROLES.items():
        arn = role_arn(world, key)
        ways = {
            "pass": [("iam:PassRole", [arn], {"iam:PassedToService": role.service})],
            "change": [*((a, arns, {}) for a, arns in code_arns(world, key)), ("iam:PutRolePolicy", [arn], {})],
        }
        for way, requests in ways.items():
            for principal in principals:
                for index, (action, arns, context) in enumerate(requests):
                    scenarios.append({
                        "id": f"role.{key}.{way}.{principal}.{index}", "control": "Rollout", "as": principal,
                        "action": action, "resource": arns, "context": context, "expect": "denied",
                        "may_not": f"{way} {role.label}",
                    })  # fmt: skip
    return scenarios


def holds_power(policies: list[dict[str, Any]]) -> list[str]:
    """The POWER actions the role's policies allow."""
    allowed = [
        action
        for policy in policies
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]
    return sorted({a for a in allowed if any(fnmatch.fnmatchcase(a, p) for p in POWER)})
