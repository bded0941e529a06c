"""The SeparationOfDuties operator policy: what a session requester may do, and may never do.

It grants **no** ``ssm:StartSession``: only an approved request's grant policy does (see
:mod:`guardrails.separation_of_duties.grant`), so no tag, session tag or other runbook version gives a session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_iam as iam

from guardrails.separation_of_duties.approval_runbook import REQUEST_TAG_KEY, SESSION_DOCUMENT
from guardrails.separation_of_duties.self_protection import monitoring_denies
from guardrails.shared.sessions import OWN_SESSIONS_CONDITION, open_data_channel_statement

#: Creating or editing anything that runs an Automation runbook with a role the caller passes: the
#: ways to lend the runbook role to another document ("confused deputy"). IAM cannot tie
#: iam:PassRole to one document, so operators may run nothing but the runbook.
LENDING_ACTIONS = [
    "ssm:CreateDocument", "ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion", "ssm:CreateAssociation",
    "ssm:CreateAssociationBatch", "ssm:UpdateAssociation", "ssm:StartAssociationsOnce",
    "ssm:RegisterTaskWithMaintenanceWindow", "ssm:UpdateMaintenanceWindowTask",
    "config:PutRemediationConfigurations", "config:StartRemediationExecution",
]  # fmt: skip
#: Tagging nodes (EC2 instances; ``mi-`` managed nodes through Systems Manager).
NODE_TAGGING_ACTIONS = ["ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"]
SWEEPER_FUNCTION_ACTIONS = [
    "lambda:Update*", "lambda:Invoke*", "lambda:Delete*", "lambda:Put*", "lambda:AddPermission",
    "lambda:RemovePermission", "lambda:PublishVersion", "lambda:CreateAlias",
]  # fmt: skip
SWEEPER_RULE_ACTIONS = ["events:DisableRule", "events:DeleteRule", "events:PutRule", "events:RemoveTargets",
                        "events:PutTargets"]  # fmt: skip
CONTROL_EDIT_ACTIONS = [
    "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
    "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy", "iam:DeleteRole", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
    "ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion", "ssm:DeleteDocument", "ssm:UpdateDocumentMetadata",
    "ssm:ModifyDocumentPermission",
]  # fmt: skip
SELF_GRANT_ACTIONS = [
    "iam:PutRolePolicy", "iam:PutUserPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
    "iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary", "iam:UpdateAssumeRolePolicy",
]  # fmt: skip


@dataclass
class OperatorScope:
    """What the operator policy names (ARNs may be tokens)."""

    path: str
    runbook_name: str = ""
    runbook_definition: str = ""
    runbook_document: str = ""
    runbook_role: str = ""
    change_template: str = ""
    executions: str = ""
    sessions: Sequence[str] = ()
    control_arns: Sequence[str] = ()  # the policy, roles and documents of the control
    sweeper: tuple[str, str] | None = None  # (function ARN, rule ARN)
    grant_function: str = ""
    #: what the control watches and alerts with: log groups, alarms, topic and key (issue 21 item 6)
    monitoring: Mapping[str, Sequence[str]] = field(default_factory=dict)
    operator_arns: Sequence[str] = ()
    protected_tag_keys: Sequence[str] = ()


def allow_statements(scope: OperatorScope) -> list[iam.PolicyStatement]:
    pass_role = iam.PolicyStatement(
        sid="PassTheRunbookRoleToSystemsManager",
        actions=["iam:PassRole"],
        resources=[scope.runbook_role],
        conditions={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
    )
    # The request tag is what lets approvers signal it (the approver policy's aws:ResourceTag), on
    # either path. A start is authorized on the document and the new execution (required) and the
    # automation definition; tags given at start need AddTagsToResource on the new execution (example 4):
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html
    tagged = {"StringEquals": {f"aws:RequestTag/{REQUEST_TAG_KEY}": scope.runbook_name}}
    if scope.path == "change_manager":
        request = iam.PolicyStatement(
            sid="RequestAccessThroughChangeManager",
            actions=["ssm:StartChangeRequestExecution"],
            resources=[scope.change_template, scope.runbook_definition, scope.executions],
            conditions=tagged,
        )
    else:
        request = iam.PolicyStatement(
            sid="RequestAccessWithTheRunbookTaggedAsARequest",
            actions=["ssm:StartAutomationExecution"],
            resources=[scope.runbook_definition, scope.runbook_document, scope.executions],
            conditions=tagged,
        )
    tag_request = iam.PolicyStatement(
        sid="TagTheNewRequestWithTheRequestTagOnly",
        actions=["ssm:AddTagsToResource"],
        resources=[scope.executions],
        conditions={**tagged, "ForAllValues:StringEquals": {"aws:TagKeys": [REQUEST_TAG_KEY]}},
    )
    follow = iam.PolicyStatement(
        sid="FollowRequests",
        actions=["ssm:GetAutomationExecution", "ssm:DescribeAutomationExecutions", "ssm:DescribeSessions"],
        resources=["*"],
    )
    # ResumeSession is in the grant only, within its window (issue 21); ending a session is always allowed.
    own = iam.PolicyStatement(
        sid="OwnSessionsOnly",
        actions=["ssm:TerminateSession"],
        resources=list(scope.sessions),
        conditions=OWN_SESSIONS_CONDITION,
    )
    # `ssm-guardrails cancel`: stopping a request runs its Revoke step (onCancel), so it can only take
    # access away; only executions that carry the request tag (the deny below refuses the others).
    cancel = iam.PolicyStatement(
        sid="CancelRequests", actions=["ssm:StopAutomationExecution"], resources=[scope.executions],
        conditions={"StringEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": scope.runbook_name}},
    )  # fmt: skip
    return [request, tag_request, pass_role, follow, cancel, open_data_channel_statement(), own]


def deny_statements(scope: OperatorScope) -> list[iam.PolicyStatement]:
    found = [
        iam.PolicyStatement(
            sid="NoEditingTheControl",
            effect=iam.Effect.DENY,
            actions=CONTROL_EDIT_ACTIONS,
            resources=list(scope.control_arns),
        ),
        iam.PolicyStatement(
            sid="NoGrantingThemselves",
            effect=iam.Effect.DENY,
            actions=SELF_GRANT_ACTIONS,
            resources=list(scope.operator_arns),
        ),
        *_retagging_denies(scope),
    ]
    if scope.path == "just_in_time":
        return found
    lend = iam.PolicyStatement(
        sid="NoLendingTheRunbookRole", effect=iam.Effect.DENY, actions=LENDING_ACTIONS, resources=["*"]
    )
    if scope.path == "change_manager":  # Change Manager starts the runbook; operators start nothing
        others = iam.PolicyStatement(
            sid="NoAutomationButTheChangeTemplate",
            effect=iam.Effect.DENY,
            actions=["ssm:StartAutomationExecution"],
            resources=["*"],
        )
        changes = iam.PolicyStatement(
            sid="NoChangeRequestButTheTemplate",
            effect=iam.Effect.DENY,
            actions=["ssm:StartChangeRequestExecution"],
            not_resources=[scope.change_template, scope.runbook_definition, scope.executions],
        )
    else:
        others = iam.PolicyStatement(
            sid="NoAutomationButTheRunbook",
            effect=iam.Effect.DENY,
            actions=["ssm:StartAutomationExecution"],
            not_resources=[scope.runbook_definition, scope.runbook_document, scope.executions],
        )
        changes = iam.PolicyStatement(
            sid="NoChangeRequests", effect=iam.Effect.DENY, actions=["ssm:StartChangeRequestExecution"], resources=["*"]
        )
    found += [lend, others, changes]
    signal = iam.PolicyStatement(
        sid="NoApprovingAnyAutomation", effect=iam.Effect.DENY, actions=["ssm:SendAutomationSignal"],
        resources=[scope.executions],
    )  # fmt: skip
    stop = iam.PolicyStatement(
        sid="NoStoppingAutomationsButRequests", effect=iam.Effect.DENY, actions=["ssm:StopAutomationExecution"],
        resources=[scope.executions],
        conditions={"StringNotEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": scope.runbook_name}},
    )  # fmt: skip
    found += [signal, stop]
    if scope.sweeper is not None:
        function_arn, rule_arn = scope.sweeper
        found.append(
            iam.PolicyStatement(
                sid="NoTouchingTheSweeperFunction",
                effect=iam.Effect.DENY,
                actions=SWEEPER_FUNCTION_ACTIONS,
                resources=[function_arn, f"{function_arn}:*"],
            )
        )
        found.append(
            iam.PolicyStatement(
                sid="NoTouchingTheSweeperSchedule", effect=iam.Effect.DENY, actions=SWEEPER_RULE_ACTIONS,
                resources=[rule_arn],
            )
        )  # fmt: skip
    if scope.grant_function:
        found.append(
            iam.PolicyStatement(
                sid="NoTouchingTheGrantFunction", effect=iam.Effect.DENY, actions=SWEEPER_FUNCTION_ACTIONS,
                resources=[scope.grant_function, f"{scope.grant_function}:*"],
            )
        )  # fmt: skip
    found += monitoring_denies(scope.monitoring)
    return found


def _retagging_denies(scope: OperatorScope) -> list[iam.PolicyStatement]:
    """No setting or removing the scoping tag keys (any letter case) on nodes; on requests, only the
    request tag of a new execution (allow_statements), never on one that already carries it."""
    keys = sorted({*scope.protected_tag_keys, REQUEST_TAG_KEY})
    retag = {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": keys}}
    if not scope.executions:  # just-in-time: no requests to tag
        return [iam.PolicyStatement(sid="NoReTaggingNodesOrRequests", effect=iam.Effect.DENY,
                                    actions=NODE_TAGGING_ACTIONS, resources=["*"], conditions=retag)]  # fmt: skip
    return [
        iam.PolicyStatement(sid="NoReTaggingNodes", effect=iam.Effect.DENY, actions=NODE_TAGGING_ACTIONS,
                            not_resources=[scope.executions], conditions=retag),
        iam.PolicyStatement(sid="NoReTaggingRequests", effect=iam.Effect.DENY,
                            actions=["ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
                            resources=[scope.executions],
                            conditions={"Null": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": "false"}}),
        iam.PolicyStatement(sid="NoUntaggingRequests", effect=iam.Effect.DENY,
                            actions=["ssm:RemoveTagsFromResource"], resources=[scope.executions], conditions=retag),
    ]  # fmt: skip


def approver_statements(executions: str, runbook_name: str) -> list[iam.PolicyStatement]:
    """Approve or reject only executions tagged as requests of this runbook (SendAutomationSignal
    supports aws:ResourceTag on the automation-execution, Service Authorization Reference:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html)."""
    return [
        iam.PolicyStatement(
            sid="ApproveOrRejectRequestsOfThisRunbookOnly",
            actions=["ssm:SendAutomationSignal"],
            resources=[executions],
            conditions={"StringEquals": {f"aws:ResourceTag/{REQUEST_TAG_KEY}": runbook_name}},
        ),
        iam.PolicyStatement(
            sid="ReviewRequests",
            actions=[
                "ssm:GetAutomationExecution",
                "ssm:DescribeAutomationExecutions",
                "ssm:DescribeAutomationStepExecutions",
            ],
            resources=["*"],
        ),
    ]


def scp_document(
    operators: list[str], readers: Sequence[str], tag_keys: Sequence[str], runbook_role: str | None
) -> dict[str, Any]:
    """The optional SCP: only operators pass the runbook role (no other principal runs its own
    automation with it); operators and ``readers`` (ARN patterns) never tag nodes with the controls' keys."""
    taggers = operators + list(readers)
    statements: list[dict[str, Any]] = []
    if runbook_role is not None:
        statements.append({
            "Sid": "OnlyOperatorsPassTheSessionRunbookRole",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": f"arn:*:iam::*:role/{runbook_role}",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": operators}},
        })  # fmt: skip
    statements.append({
        "Sid": "NoReTaggingNodesAroundTheControls",
        "Effect": "Deny",
        "Action": sorted(NODE_TAGGING_ACTIONS),
        "NotResource": "arn:*:ssm:*:*:automation-execution/*",  # requests are tagged at start (operator policy)
        "Condition": {
            "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": sorted({*tag_keys, REQUEST_TAG_KEY})},
            "ArnLike": {"aws:PrincipalArn": taggers},
        },
    })  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}


def scp_readme(role_name: str, document: dict[str, Any]) -> str:
    return (
        "### The organization guard (`organization.guard_policy`)\n\n"
        "The SCP the organization guard stack attaches to the target OUs (this is the example configuration's). "
        f"It denies passing `{role_name}` to anyone but the operators and to any service but Systems Manager, "
        "passing the grant function's and sweeper's roles to anything but Lambda or by anyone but CloudFormation, "
        "changing this project's documents, functions, rules, roles, keys and state machines to anyone but the "
        "CloudFormation execution roles, writing inline policies on the operators to anyone but the grant "
        "function, and tagging or untagging nodes with the tag keys that scope the controls (operators and the "
        "readers of the other controls, in any letter case). SCPs do not apply to the management account.\n\n"
        "The pipeline deploys it (stack `SsmGuardrails-OrganizationGuard`, `AWS::Organizations::Policy`) into the "
        "StackSet account before the first wave. When that account is a delegated administrator, the management "
        "account must also let it manage SCPs with a resource-based delegation policy ([Delegated administrator "
        "for AWS Organizations](https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies"
        ".html)); otherwise deploy the stack in the management account.\n\n"
        "```json\n" + json.dumps(document, indent=2) + "\n```\n"
    )


__all__ = ["SESSION_DOCUMENT", "OperatorScope", "allow_statements", "approver_statements", "deny_statements"]
