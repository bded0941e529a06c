"""The grant machinery of the ``approval_runbook`` and ``change_manager`` paths, composed once:
the approvals topic, the runbook, the change template (Change Manager), the grant function that
alone writes grants, and the sweeper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.separation_of_duties.approval_runbook import SESSION_DOCUMENT, ApprovalRunbook, approvals_topic
from guardrails.separation_of_duties.change_manager import ChangeTemplate
from guardrails.separation_of_duties.grant import GRANT_PREFIX, GrantSweeper, operator_arns
from guardrails.separation_of_duties.grant_function import GrantFunction, document_fingerprint
from guardrails.separation_of_duties.identity_center_grants import IdentityCenterGrants
from guardrails.shared.principals import Principal


@dataclass
class Names:
    """The contract names of the path's resources."""

    runbook: str
    change_template: str | None  # set on the change_manager path
    runbook_role: str
    sweeper_role: str
    grant_function: str
    grant_role: str


@dataclass
class GrantPath:
    topic: sns.ITopic
    topic_key: kms.IKey | None  # None for a topic brought by the caller
    runbook: ApprovalRunbook
    change_template: ssm.CfnDocument | None
    grant_function: GrantFunction
    sweeper: GrantSweeper
    identity_center: IdentityCenterGrants | None  # set when operators or approvers are permission sets


def build_grant_path(
    scope: Construct,
    *,
    names: Names,
    operators: Sequence[iam.IRole],
    operator_users: Sequence[iam.IUser],
    approvers: Sequence[str],
    min_approvals: int,
    validity_minutes: int,
    topic: sns.ITopic | None,
    topic_name: str,
    session_regions: Sequence[str],
    session_data_key_alias: str | None,
    terminate_sessions_at_end: bool,
    sweep_interval: cdk.Duration,
    operator_sets: Sequence[Principal] = (),
    approver_sets: Sequence[Principal] = (),
) -> GrantPath:
    """``approvers`` are IAM ARNs; ``operator_sets`` and ``approver_sets`` IAM Identity Center permission sets."""
    stack = cdk.Stack.of(scope)
    topic_key = None
    if topic is None:
        encrypted = approvals_topic(scope, topic_name)
        topic, topic_key = encrypted.topic, encrypted.key
        topic_arn = stack.format_arn(service="sns", resource=topic_name, arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)
    else:
        topic_arn = topic.topic_arn
    runbook = ApprovalRunbook(
        scope, "Runbook", approvers=approvers, min_approvals=min_approvals, topic=topic, topic_arn=topic_arn,
        validity_minutes=validity_minutes, terminate_sessions_at_end=terminate_sessions_at_end,
        role_name=names.runbook_role, runbook_name=names.runbook, grant_function_name=names.grant_function,
        change_template_name=names.change_template, resolve_approvers=bool(approver_sets),
    )  # fmt: skip
    documents = [runbook.document_arn()]
    environment = {
        "RUNBOOK_NAME": names.runbook,
        "RUNBOOK_SHA256": document_fingerprint(scope, runbook.content, "SeparationOfDuties.topic"),
        "APPROVE_STEP": "Approve",
        "OPERATOR_ROLES": ",".join(role.role_name for role in operators),
        "OPERATOR_USERS": ",".join(user.user_name for user in operator_users),
        "MAX_VALIDITY_MINUTES": str(validity_minutes),
        "REGIONS": ",".join(session_regions),
        "SESSION_DOCUMENT": SESSION_DOCUMENT,
        "KEY_ALIAS": session_data_key_alias or "",
        "GRANT_PREFIX": GRANT_PREFIX,
        "MIN_APPROVALS": str(min_approvals),
    }
    change_template = None
    if names.change_template is not None:
        template = ChangeTemplate(
            scope, "ChangeTemplate", name=names.change_template, runbook_name=names.runbook, approvers=approvers,
            min_approvals=min_approvals, topic_arn=topic_arn,
        )  # fmt: skip
        change_template = template.document
        change_template.node.add_dependency(runbook.document)
        documents.append(stack.format_arn(service="ssm", resource="document", resource_name=names.change_template))
        environment.update(
            CHANGE_TEMPLATE_NAME=names.change_template, APPROVE_STEP="ApproveSessionAccess",
            TEMPLATE_SHA256=document_fingerprint(scope, template.content, "SeparationOfDuties.topic"),
        )  # fmt: skip
    grant_function = GrantFunction(
        scope, "Grant", function_name=names.grant_function, role_name=names.grant_role, environment=environment,
        operators=operator_arns(operators, operator_users),
        approver_roles=[arn for arn in approvers if ":role/" in arn], documents=documents,
        terminate_sessions=terminate_sessions_at_end, alert_topic=topic,
    )  # fmt: skip
    grant_function.allow_invoke(runbook.role)
    identity_center = None
    if operator_sets or approver_sets:
        identity_center = IdentityCenterGrants(
            scope, "IdentityCenter", operator_sets=operator_sets, approver_sets=approver_sets, approvers=approvers
        )
        identity_center.serve(grant_function)
    sweeper = GrantSweeper(
        scope, "Sweeper", operators=operators, operator_users=operator_users, max_validity_minutes=validity_minutes,
        interval=sweep_interval, role_name=names.sweeper_role, runbook_name=names.runbook, alarm_topic=topic,
    )  # fmt: skip
    return GrantPath(topic, topic_key, runbook, change_template, grant_function, sweeper, identity_center)
