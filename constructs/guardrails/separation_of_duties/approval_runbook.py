"""The AllowStartSsmSession runbook and its role (approval paths ``approval_runbook`` and ``change_manager``).

On the ``approval_runbook`` path the runbook's own ``aws:approve`` step waits for the approvers;
on ``change_manager`` the change template approves and the runbook has no approval step, its
Grant step reads the approval of the parent change request instead. Either way the Grant step
checks the execution before it writes anything (see ``ssm_documents/scripts/session_window.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.separation_of_duties.grant import allow_writing_grants
from guardrails.shared.documents import embed_script, load_document, pin_parameter
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.principals import systems_manager_of_this_account

SESSION_DOCUMENT = "SSM-SessionManagerRunShell"
#: Tag every request carries (StartAutomationExecution --tags): approvers may signal only executions
#: that carry it, operators must set it (aws:RequestTag) and may start nothing else.
REQUEST_TAG_KEY = "SsmGuardrailsRequest"
_SCRIPT_STEPS = ("GrantSession", "Revoke", "TerminateSessions")


def approvals_topic(scope: Construct, topic_name: str) -> sns.ITopic:
    """The approvals topic: KMS-encrypted, TLS-only; Systems Manager of this account publishes."""
    encrypted = EncryptedTopic(
        scope, "Approvals", description="session access approvals", topic_name=topic_name, only_granted_publishers=True
    )
    ssm_service = iam.ServicePrincipal("ssm.amazonaws.com")
    this_account = {"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}}
    encrypted.key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="SystemsManagerPublishesApprovals", principals=[ssm_service],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"], conditions=this_account,
        )
    )  # fmt: skip
    encrypted.topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="SystemsManagerOfThisAccountPublishes", principals=[ssm_service], actions=["sns:Publish"],
            resources=[encrypted.topic.topic_arn], conditions=this_account,
        )
    )  # fmt: skip
    return encrypted.topic


class ApprovalRunbook(Construct):
    """The runbook ``runbook_name`` and the role ``role_name`` it runs as.

    :param change_template_name: set on the ``change_manager`` path: the runbook then has no
        approval step and grants only when started by a change request of this template.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole],
        operator_users: Sequence[iam.IUser],
        approvers: Sequence[str],
        min_approvals: int,
        validity_minutes: int,
        topic: sns.ITopic,
        session_regions: Sequence[str],
        session_data_key_alias: str | None,
        terminate_sessions_at_end: bool,
        role_name: str,
        runbook_name: str,
        change_template_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.runbook_name = runbook_name
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Runs AllowStartSsmSession: writes and removes session grants on operators only.",
            assumed_by=systems_manager_of_this_account(self),
        )
        allow_writing_grants(self.role, operators, operator_users)
        stack = cdk.Stack.of(self)
        executions = stack.format_arn(service="ssm", resource="automation-execution", resource_name="*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheExecutionToCheckIt", actions=["ssm:GetAutomationExecution"], resources=[executions]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheRunbooksDefaultVersion",
                actions=["ssm:DescribeDocument"],
                resources=[stack.format_arn(service="ssm", resource="document", resource_name=runbook_name)],
            )
        )
        if change_template_name is None:
            topic.grant_publish(self.role)
            acknowledge_wildcard_action(
                self.role.node.find_child("DefaultPolicy"), "kms:GenerateDataKey*",
                "Granted by topic.grant_publish: the approval notification is encrypted with the topic's own key.",
            )  # fmt: skip
        reviewed = [
            (executions, "Reads its own execution (id known only at run time) and, on the Change Manager path, "
             "its parent change request, to check document, version, requester and approvers."),
        ]  # fmt: skip
        if terminate_sessions_at_end:
            self.role.add_to_policy(
                iam.PolicyStatement(sid="FindSessionsOnTheNode", actions=["ssm:DescribeSessions"], resources=["*"])
            )
            sessions = stack.format_arn(service="ssm", resource="session", resource_name="*")
            self.role.add_to_policy(
                iam.PolicyStatement(sid="EndTheRequestersSessions", actions=["ssm:TerminateSession"],
                                    resources=[sessions])
            )  # fmt: skip
            reviewed += [
                ("*", "ssm:DescribeSessions takes no resource ARN."),
                (sessions, "Session ids are not known before the window ends; the script ends only the "
                 "requesting session's sessions on the approved node."),
            ]  # fmt: skip
        for resource, reason in reviewed:
            acknowledge_wildcard_resource(self.role.node.find_child("DefaultPolicy"), resource, reason)

        content = load_document("allow_start_ssm_session")
        steps = content["mainSteps"]
        for step in _SCRIPT_STEPS:
            embed_script(content, step, "session_window")
        pin_parameter(content, "AutomationAssumeRole", self.role.role_arn)
        validity = content["parameters"]["ValidityMinutes"]
        validity["default"] = str(validity_minutes)
        validity["allowedValues"] = [str(minutes) for minutes in range(1, validity_minutes + 1)]
        validity.pop("allowedPattern")
        fixed = {
            "RunbookName": runbook_name,
            "ChangeTemplateName": change_template_name or "",
            "OperatorRoles": [role.role_name for role in operators],
            "OperatorUsers": [user.user_name for user in operator_users],
        }
        for step in steps:
            if step["name"] in _SCRIPT_STEPS:
                step["inputs"]["InputPayload"].update(fixed)
        grant = next(step for step in steps if step["name"] == "GrantSession")["inputs"]["InputPayload"]
        grant.update(
            MaxValidityMinutes=str(validity_minutes),
            Regions=list(session_regions),
            SessionDocument=SESSION_DOCUMENT,
            KeyAlias=session_data_key_alias or "",
        )
        if change_template_name is None:
            approve = next(step for step in steps if step["name"] == "Approve")["inputs"]
            approve["NotificationArn"] = topic.topic_arn
            approve["Approvers"] = list(approvers)
            approve["MinRequiredApprovals"] = min_approvals
        else:  # Change Manager holds the approval: the Grant step reads the parent's
            steps[:] = [step for step in steps if step["name"] != "Approve"]
            grant["ApproveStepName"] = "ApproveSessionAccess"
        if not terminate_sessions_at_end:
            steps[:] = [step for step in steps if step["name"] != "TerminateSessions"]
            revoke = next(step for step in steps if step["name"] == "Revoke")
            revoke.pop("nextStep")
            revoke["isEnd"] = True
        self.document = ssm.CfnDocument(
            self, "Document", name=runbook_name, document_type="Automation", document_format="YAML",
            content=content, update_method="NewVersion",
        )  # fmt: skip

    def definition_arn(self) -> str:
        """Every version of the runbook (``<name>:<version>``): the Grant step refuses all but the default."""
        return cdk.Stack.of(self).format_arn(
            service="ssm", resource="automation-definition", resource_name=f"{self.runbook_name}:*"
        )

    def document_arn(self) -> str:
        return cdk.Stack.of(self).format_arn(service="ssm", resource="document", resource_name=self.runbook_name)
