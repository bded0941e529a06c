"""The organization guard of SeparationOfDuties: one SCP (``organization.guard_policy``), attached to
the target OUs by ``stacks/organization_guard_stack.py``. It adds to the control what no policy in a
member account can say, whatever else a principal there may do:

* this project's service roles are passed only to their own service (the others, named ``*SsmGuardrails*``,
  only to the services this project runs code in), the runbook role only by the operators and the
  Lambda roles only by the CloudFormation execution roles;
* this project's documents, functions, state machines, rules, keys and roles are changed only by the
  CloudFormation execution roles; documents this project's functions keep (the Session Manager
  preferences) only by those roles and this project's own roles;
* inline policies on the operators are written only by the grant function's role (IAM has no
  condition key for a policy's name, so *every* inline policy of an operator is its to write) and
  removed only by it and the sweeper;
* operators and readers never re-tag nodes with the scoping tag keys (``scp_document``).

SCPs do not apply to the management account or to service-linked roles:
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guardrails.separation_of_duties.operators import scp_document
from guardrails.shared.principals import IDENTITY_CENTER_PATH
from guardrails.shared.validation import PropsError

#: An SCP document may have at most 5,120 characters, and a root, OU or account at most five SCPs
#: (FullAWSAccess included): https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
SCP_MAX_CHARACTERS = 5120
#: The guard is split into this many SCPs at most when it does not fit one (each takes one of the OU's five).
MAX_GUARD_POLICIES = 2
#: Who deploys this project: StackSets with service-managed permissions (stacksets-exec-*), self-managed
#: StackSets (AWSCloudFormationStackSetExecutionRole) and `cdk deploy` (the CDK bootstrap execution role).
#: "By default, StackSets with service-managed permissions creates an execution role named stacksets-exec-*
#: in each target account": https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html
CLOUDFORMATION_EXECUTION_ROLES = [
    "arn:*:iam::*:role/stacksets-exec-*",
    "arn:*:iam::*:role/AWSCloudFormationStackSetExecutionRole",
    "arn:*:iam::*:role/cdk-*-cfn-exec-role-*",
]
#: Keys and state machines have generated names, so the guard knows them by a tag the stacks set explicitly
#: (functions, rules, roles and documents by name). Not CloudFormation's own aws:cloudformation:stack-name:
#: "the propagation of stack-level tags to resources ... varies by resource type":
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html
GUARD_TAG_KEY = "SsmGuardrailsStack"
#: The services this project's roles are for: Systems Manager (automation, maintenance windows), Lambda,
#: Step Functions, EventBridge (rules that start the clean-up state machine) and AWS Config (the
#: access-key remediation, the optional recorder).
PROJECT_SERVICES = [
    "ssm.amazonaws.com", "lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com",
    "config.amazonaws.com",
]  # fmt: skip
GUARD_TAGGED_TYPES = ["AWS::KMS::Key", "AWS::StepFunctions::StateMachine"]
CHANGE_ACTIONS = [
    "ssm:UpdateDocument*", "ssm:DeleteDocument", "ssm:ModifyDocumentPermission",
    "lambda:Update*", "lambda:Delete*", "lambda:Put*", "lambda:AddPermission", "lambda:RemovePermission",
    "lambda:PublishVersion", "lambda:CreateAlias",
    "events:PutRule", "events:DeleteRule", "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
    "iam:UpdateAssumeRolePolicy", "iam:UpdateRole*", "iam:PutRole*", "iam:DeleteRole*", "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
]  # fmt: skip
TAGGED_CHANGE_ACTIONS = [
    "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKeyRotation", "kms:CreateGrant",
    "states:UpdateStateMachine", "states:DeleteStateMachine",
]  # fmt: skip


@dataclass(frozen=True)
class GuardNames:
    """What the guard names: this control's principals and documents."""

    operator_arns: Sequence[str]  # arn:*:iam::*:role/<name> or user/<name>
    readers: Sequence[str]  # ARN patterns (arn:*:iam::*:role/...) of other controls' operators and readers
    tag_keys: Sequence[str]
    runbook_role: str | None  # None on the just_in_time path
    lambda_roles: Sequence[str]  # the grant function's and the sweeper's roles
    grant_role: str | None
    documents: Sequence[str]
    #: documents one of this project's functions keeps up to date (SessionPrefs' SSM-SessionManagerRunShell)
    kept_documents: Sequence[str] = ()
    #: the customer managed policy (``<path><name>``) holding IAM Identity Center requesters' grants
    grants_policy: str | None = None


def _role(name: str) -> str:
    return f"arn:*:iam::*:role/{name}"


def guard_document(names: GuardNames) -> dict[str, Any]:
    """The guard as one policy document (:func:`split_for_organizations` makes the SCPs of it)."""
    document = scp_document(list(names.operator_arns), names.readers, names.tag_keys, names.runbook_role)
    statements = document["Statement"]
    not_deployers = {"ArnNotLike": {"aws:PrincipalArn": CLOUDFORMATION_EXECUTION_ROLES}}
    # the sweeper deletes superseded runbook versions; the functions' code is fixed by CloudFormation
    not_maintainers = {"ArnNotLike": {"aws:PrincipalArn": [*CLOUDFORMATION_EXECUTION_ROLES,
                                                           *map(_role, names.lambda_roles)]}}  # fmt: skip
    if names.runbook_role:
        statements.append({"Sid": "RunbookRoleToSystemsManagerOnly", "Effect": "Deny", "Action": "iam:PassRole",
                           "Resource": _role(names.runbook_role),
                           "Condition": {"StringNotEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}})  # fmt: skip
    if names.lambda_roles:
        roles = [_role(name) for name in names.lambda_roles]
        statements += [
            {"Sid": "FunctionRolesToLambdaOnly", "Effect": "Deny", "Action": "iam:PassRole", "Resource": roles,
             "Condition": {"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
            {"Sid": "FunctionRolesPassedByCloudFormationOnly", "Effect": "Deny", "Action": "iam:PassRole",
             "Resource": roles, "Condition": not_deployers},
        ]  # fmt: skip
    own_roles = [_role(n) for n in (names.runbook_role, *names.lambda_roles) if n] + [_role("*SsmGuardrails*")]
    # every other service role of this project (named SsmGuardrails*, or generated from the stack's name):
    # passed only to the services this project runs code in
    statements.append({"Sid": "ServiceRolesToTheirServicesOnly", "Effect": "Deny", "Action": "iam:PassRole",
                       "Resource": _role("*SsmGuardrails*"),
                       "Condition": {"StringNotEquals": {"iam:PassedToService": PROJECT_SERVICES}}})  # fmt: skip
    statements += [
        {"Sid": "OnlyCloudFormationChangesTheControls", "Effect": "Deny", "Action": CHANGE_ACTIONS,
         "Resource": [*(f"arn:*:ssm:*:*:document/{d}" for d in names.documents),
                      "arn:*:lambda:*:*:function:*SsmGuardrails*", "arn:*:events:*:*:rule/*SsmGuardrails*", *own_roles],
         "Condition": not_maintainers},
        {"Sid": "OnlyCloudFormationChangesTheControlsKeysAndStateMachines", "Effect": "Deny",
         "Action": TAGGED_CHANGE_ACTIONS, "Resource": "*",
         "Condition": {**not_deployers, "Null": {f"aws:ResourceTag/{GUARD_TAG_KEY}": "false"}}},
        {"Sid": "OnlyCloudFormationSetsTheGuardTag", "Effect": "Deny",
         "Action": ["kms:TagResource", "kms:UntagResource", "states:TagResource", "states:UntagResource"],
         "Resource": "*",
         "Condition": {**not_deployers, "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [GUARD_TAG_KEY]}}},
    ]  # fmt: skip
    if names.kept_documents:
        # The function's role has a generated name; every role this project creates carries the stack's
        # name (SsmGuardrails-*, or StackSet-SsmGuardrails-* for stack instances)
        keepers = [*CLOUDFORMATION_EXECUTION_ROLES, _role("*SsmGuardrails*")]
        statements.append({
            "Sid": "OnlyThisProjectChangesTheDocumentsItKeeps", "Effect": "Deny", "Action": CHANGE_ACTIONS[:3],
            "Resource": [f"arn:*:ssm:*:*:document/{d}" for d in names.kept_documents],
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": keepers}},
        })  # fmt: skip
    # Identity Center's own roles take no inline policy (protected); their grants are the grants policy's
    operators = [arn for arn in names.operator_arns if IDENTITY_CENTER_PATH not in arn]
    if names.grant_role and (operators or names.grants_policy):
        writers = [_role(names.grant_role), *map(_role, names.lambda_roles)]
        grants = [f"arn:*:iam::*:policy{names.grants_policy}"] if names.grants_policy else []
        statements.append({
            "Sid": "OnlyTheGrantFunctionWritesInlinePoliciesOnOperators", "Effect": "Deny",  # and the grants policy
            "Action": ["iam:PutRolePolicy", "iam:PutUserPolicy", "iam:DeleteRolePolicy", "iam:DeleteUserPolicy",
                       *(["iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
                         if grants else [])],
            "Resource": [*operators, *grants],
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*writers, *(CLOUDFORMATION_EXECUTION_ROLES if grants
                                                                             else [])]}},
        })  # fmt: skip
    return document


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def split_for_organizations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The guard as SCPs of at most 5,120 characters each, in statement order (the fewest that fit, at most
    ``MAX_GUARD_POLICIES``). Deny statements mean the same whichever SCP of the OU holds them; refused at
    synth when they do not fit."""
    chunks: list[list[dict[str, Any]]] = [[]]
    for statement in document["Statement"]:
        if chunks[-1] and _size({**document, "Statement": [*chunks[-1], statement]}) > SCP_MAX_CHARACTERS:
            chunks.append([])
        chunks[-1].append(statement)
    policies = [{**document, "Statement": chunk} for chunk in chunks]
    if len(policies) > MAX_GUARD_POLICIES or any(_size(p) > SCP_MAX_CHARACTERS for p in policies):
        raise PropsError(
            "organization.guard_policy", f"{_size(document)} characters",
            f"at most {MAX_GUARD_POLICIES} SCPs of {SCP_MAX_CHARACTERS} (fewer operator roles, readers or tag keys)",
        )  # fmt: skip
    return policies
