"""The AllowStartSsmSession runbook and its role (approval paths ``approval_runbook`` and ``change_manager``).

On the ``approval_runbook`` path the runbook's own ``aws:approve`` step waits for the approvers;
on ``change_manager`` the change template approves and the runbook has no approval step, and the
grant function reads the approval of the parent change request instead. Either way the script steps
only invoke the grant function with the execution id (``ssm_documents/scripts/session_window.py``);
the function checks the execution before it writes anything (:mod:`.grant_function`).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.shared.documents import embed_script, load_document, pin_parameter
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_wildcard_action
from guardrails.shared.principals import systems_manager_of_this_account

SESSION_DOCUMENT = "SSM-SessionManagerRunShell"
#: Tag every request carries (StartAutomationExecution --tags): approvers may signal only executions
#: that carry it, operators must set it (aws:RequestTag) and may start nothing else.
REQUEST_TAG_KEY = "SsmGuardrailsRequest"
_SCRIPT_STEPS = ("GrantSession", "Revoke", "TerminateSessions")
#: The Approve step's approvers when some are permission sets: the grant function names them, per account.
RESOLVED_APPROVERS = "{{ ResolveApprovers.Approvers }}"


def approvals_topic(scope: Construct, topic_name: str) -> EncryptedTopic:
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
    return encrypted


class ApprovalRunbook(Construct):
    """The runbook ``runbook_name`` and the role ``role_name`` it runs as.

    :param topic_arn: the approvals topic's ARN built from its name (fingerprinted content).
    :param grant_function_name: the function the script steps invoke.
    :param change_template_name: set on the ``change_manager`` path: the runbook then has no
        approval step and grants only when started by a change request of this template.
    :param resolve_approvers: some approvers are IAM Identity Center permission sets, whose role ARNs
        differ per account: a first step, ResolveApprovers, asks the grant function for the approvers'
        ARNs in this account and the Approve step waits for those (``approvers`` are then only the
        users and roles given by ARN, which the function adds). Default: false.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        approvers: Sequence[str],
        min_approvals: int,
        topic: sns.ITopic,
        topic_arn: str,
        validity_minutes: int,
        terminate_sessions_at_end: bool,
        role_name: str,
        runbook_name: str,
        grant_function_name: str,
        change_template_name: str | None = None,
        resolve_approvers: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.runbook_name = runbook_name
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Runs AllowStartSsmSession: may only invoke the session grant function (and notify approvers).",
            assumed_by=systems_manager_of_this_account(self),
        )
        if change_template_name is None:
            topic.grant_publish(self.role)
            acknowledge_wildcard_action(
                self.role.node.find_child("DefaultPolicy"), "kms:GenerateDataKey*",
                "Granted by topic.grant_publish: the approval notification is encrypted with the topic's own key.",
            )  # fmt: skip
        stack = cdk.Stack.of(self)
        role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=role_name)
        self.content = self._content(
            approvers, min_approvals, topic_arn, validity_minutes, terminate_sessions_at_end, role_arn,
            grant_function_name, change_template_name, resolve_approvers,
        )  # fmt: skip
        self.document = ssm.CfnDocument(
            self, "Document", name=runbook_name, document_type="Automation", document_format="YAML",
            content=self.content, update_method="NewVersion",
        )  # fmt: skip

    @staticmethod
    def _content(
        approvers: Sequence[str], min_approvals: int, topic_arn: str, validity_minutes: int,
        terminate_sessions_at_end: bool, role_arn: str, grant_function_name: str, change_template_name: str | None,
        resolve_approvers: bool,
    ) -> dict:  # fmt: skip
        """The runbook: ARNs are built from names (no deploy-time references), so the grant
        function can fingerprint it (:func:`.grant_function.document_fingerprint`)."""
        content = load_document("allow_start_ssm_session")
        steps = content["mainSteps"]
        if resolve_approvers:
            steps.insert(0, _resolve_approvers_step())
        for step in (*_SCRIPT_STEPS, *(["ResolveApprovers"] if resolve_approvers else [])):
            embed_script(content, step, "session_window")
            next(s for s in steps if s["name"] == step)["inputs"]["InputPayload"]["FunctionName"] = grant_function_name
        pin_parameter(content, "AutomationAssumeRole", role_arn)
        validity = content["parameters"]["ValidityMinutes"]
        validity["default"] = str(validity_minutes)
        validity["allowedValues"] = [str(minutes) for minutes in range(1, validity_minutes + 1)]
        validity.pop("allowedPattern")
        if change_template_name is None:
            approve = next(step for step in steps if step["name"] == "Approve")["inputs"]
            approve["NotificationArn"] = topic_arn
            approve["Approvers"] = RESOLVED_APPROVERS if resolve_approvers else list(approvers)
            approve["MinRequiredApprovals"] = min_approvals
        else:  # Change Manager holds the approval: the grant function reads the parent's
            steps[:] = [step for step in steps if step["name"] != "Approve"]
        if not terminate_sessions_at_end:
            steps[:] = [step for step in steps if step["name"] != "TerminateSessions"]
            revoke = next(step for step in steps if step["name"] == "Revoke")
            revoke.pop("nextStep")
            revoke["isEnd"] = True
        return content

    def definition_arn(self) -> str:
        """Every version of the runbook (``<name>:<version>``): the Grant step refuses all but the default."""
        return cdk.Stack.of(self).format_arn(
            service="ssm", resource="automation-definition", resource_name=f"{self.runbook_name}:*"
        )

    def document_arn(self) -> str:
        return cdk.Stack.of(self).format_arn(service="ssm", resource="document", resource_name=self.runbook_name)


def _resolve_approvers_step() -> dict:
    """The grant function returns the approvers' ARNs in this account, as a StringList output the Approve
    step takes as ``{{ ResolveApprovers.Approvers }}`` ("Valid type values are String, Integer, Boolean,
    StringList, StringMap, MapList":
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-outputs-inputs.html)."""
    return {
        "name": "ResolveApprovers",
        "description": "The grant function names the configured approvers' roles in this account "
        "(IAM Identity Center permission sets have a role name per account).",
        "action": "aws:executeScript",
        "maxAttempts": 2,
        "onFailure": "Abort",
        "inputs": {
            "Runtime": "python3.11",
            "Handler": "invoke",
            "Script": "# replaced at synth by ssm_documents/scripts/session_window.py",
            "InputPayload": {"ExecutionId": "{{ automation:EXECUTION_ID }}", "FunctionName": "replaced at synth"},
        },
        "outputs": [{"Name": "Approvers", "Selector": "$.Payload.Approvers", "Type": "StringList"}],
    }
