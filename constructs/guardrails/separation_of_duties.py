"""SeparationOfDuties: nobody opens a shell on an instance without someone else's approval.

An operator asks for a Session Manager shell on one instance; a different person approves; the
operator then has a short window (default 10 minutes) to start the session, after which the
permission disappears on its own. Three approval paths:

* ``approval_runbook`` (default): the operator starts the ``AllowStartSsmSession`` Automation
  runbook; its ``aws:approve`` step waits for the configured approvers, a script step rejects an
  approval given by the requester or by the principal that gets the access, then the runbook tags
  the operator's principal ``SecurityAllowSessionInstance=<instance-id>``, waits and untags.
* ``change_manager``: the published pattern; the change template ``AllowSsmSessionStartTemplate``
  holds the approval and runs the runbook (without its own approval step). Change Manager is
  closed to new customers since November 2025: for accounts that already use it.
* ``just_in_time``: Systems Manager just-in-time node access; the construct deploys the approval
  policies (``ManualApprovalPolicy`` and optionally a Cedar ``AutoApprovalPolicy`` document). Works
  with IAM Identity Center users, which cannot be tagged.

For the tag-based paths, every operator role gets the managed policy ``AllowStartSsmSessionBasedOnIamTags``:
``ssm:StartSession`` only on the instance named by its own ``SecurityAllowSessionInstance`` tag and
only through ``SSM-SessionManagerRunShell``, the session data channel and data key (when sessions
are encrypted), its own sessions to terminate/resume, and explicit denies
so that it cannot tag itself (any case of the key), approve anything, or edit the control.

IAM is global: the tag-based paths create account-wide names (policy, roles) and belong in the
home-Region stack only; sessions are allowed in ``session_regions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails._documents import embed_script, load_document, pin_parameter
from guardrails._nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails._principals import systems_manager_of_this_account
from guardrails._sessions import (
    OPEN_DATA_CHANNEL_REASON,
    OWN_SESSIONS_CONDITION,
    OWN_SESSIONS_REASON,
    SESSION_DATA_KEY_ALIAS,
    open_data_channel_statement,
)
from guardrails._validation import (
    DOCUMENT_NAME,
    REGION,
    PropsError,
    check_kms_alias,
    check_pattern,
    check_range,
    check_tag_filters,
)
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction

TAG_KEY = "SecurityAllowSessionInstance"
EXPIRY_TAG_KEY = "SecurityAllowSessionExpires"
SESSION_DOCUMENT = "SSM-SessionManagerRunShell"
APPROVAL_PATHS = ("approval_runbook", "change_manager", "just_in_time")
PRINCIPAL_TYPES = ("user", "role")
#: Approver types of a just-in-time ManualApprovalPolicy (EnhancedApprovals).
JIT_APPROVER_TYPES = ("SSOUser", "SSOGroup", "IAMUser")
VALIDITY_RANGE_MINUTES = (1, 60)
SWEEP_INTERVAL_RANGE_MINUTES = (1, 60)
JIT_ACCESS_DURATION_RANGE_HOURS = (1, 336)
MAX_APPROVERS = 10
#: The runbook's approve step is ``Approve``; the template's is ``ApproveSessionAccess``.
_RUNBOOK_APPROVAL_STEPS = ("Approve", "CheckNotSelfApproved")

# Partition and account may be CDK tokens (${Token[...]}): an environment-agnostic member stack
# names approvers of "this account" by role name.
_TOKEN = r"\$\{Token\[[^\]]+\]\}"  # noqa: S105 (a regex, not a secret)
APPROVER_ARN = re.compile(
    rf"arn:(?:aws[a-z-]*|{_TOKEN}):iam::(?:\d{{12}}|{_TOKEN}):(user|role|group)/([\w+=,.@-]+/)*([\w+=,.@-]{{1,128}})"
)
IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}")
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SeparationOfDuties(Construct):
    """Session Manager access to one instance only after someone else approved, for a short window.

    :param operators: IAM roles that ask for sessions. Each gets the ``operator_policy`` (ABAC allow
        plus the no-self-service denies). At least one. Operators must hold no other
        ``ssm:StartSession`` permission (see README).
    :param approvers: IAM user or role ARNs (``change_manager`` also groups) that approve, 1-10;
        none may be an operator. Required for ``approval_runbook`` and ``change_manager``.
    :param operator_users: IAM users that ask for sessions, like ``operators``. Default: none.
    :param min_approvals: approvals required, 1 to the number of approvers. Default: 1.
    :param validity_minutes: the longest window an approval opens (the requester may ask for less),
        1-60. Default: 10.
    :param approval_path: ``approval_runbook``, ``change_manager`` or ``just_in_time``.
        Default: ``approval_runbook``.
    :param terminate_sessions_at_end: end the operator's sessions on the instance when the window
        closes (otherwise a session opened in time stays open, as published). Default: false.
    :param session_regions: Regions where an approved operator may start the session. Default: the
        stack's Region.
    :param session_data_key_alias: alias of the KMS key that encrypts session data in every session
        Region (Session Manager preference ``kmsKeyId``). Operators get ``kms:GenerateDataKey`` on
        the key with this alias only (``kms:ResourceAliases``), in each of ``session_regions``, so
        one policy covers a different key per Region. ``None`` when sessions are not encrypted.
        Default: ``alias/session-manager/data`` (the key :class:`SessionPrefs` creates).
    :param sweep_interval: how often the sweeper removes expired tags, 1-60 minutes. Default: 5 minutes.
    :param policy_name: the operators' managed policy (contract). Default: ``AllowStartSsmSessionBasedOnIamTags``.
    :param role_name: the runbook role (contract: requesters pass it). Default: ``SsmSessionControlChangeMangerRole``
        (sic, as published).
    :param sweeper_role_name: the sweeper's role (contract: the SCP exempts it). Default: ``SsmSessionTagSweeperRole``.
    :param runbook_name: Default: ``AllowStartSsmSession``.
    :param change_template_name: Default: ``AllowSsmSessionStartTemplate``.
    :param topic: bring your own approvals topic. Default: a new KMS-encrypted, TLS-only topic.
    :param topic_name: name of the created topic (contract: approvers subscribe by name). Default:
        ``change-manager-ssm-approval`` for ``change_manager``; ``Automation-ssm-session-approval``
        for ``approval_runbook`` (aws:approve requires an ``Automation`` prefix).
    :param just_in_time_approvers: ``(type, id)`` pairs, type one of ``SSOUser, SSOGroup, IAMUser``,
        1-5. Required for ``just_in_time``.
    :param just_in_time_node_tags: tag key -> values of the nodes the manual approval policy covers.
        Required for ``just_in_time``.
    :param just_in_time_access_duration: how long an approved request lasts, 1-336 hours. Default: 1 hour.
    :param just_in_time_auto_approval_cedar: Cedar ``permit`` statements of an AutoApprovalPolicy
        (one per account and Region). Default: none (every request needs a manual approval).
    :param just_in_time_policy_name: name of the ManualApprovalPolicy document.
        Default: ``SsmGuardrails-SessionManualApproval``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole],
        approvers: Sequence[str] = (),
        operator_users: Sequence[iam.IUser] = (),
        min_approvals: int = 1,
        validity_minutes: int = 10,
        approval_path: str = "approval_runbook",
        terminate_sessions_at_end: bool = False,
        session_regions: Sequence[str] | None = None,
        session_data_key_alias: str | None = SESSION_DATA_KEY_ALIAS,
        sweep_interval: cdk.Duration | None = None,
        policy_name: str = "AllowStartSsmSessionBasedOnIamTags",
        role_name: str = "SsmSessionControlChangeMangerRole",
        sweeper_role_name: str = "SsmSessionTagSweeperRole",
        runbook_name: str = "AllowStartSsmSession",
        change_template_name: str = "AllowSsmSessionStartTemplate",
        topic: sns.ITopic | None = None,
        topic_name: str | None = None,
        just_in_time_approvers: Sequence[tuple[str, str]] = (),
        just_in_time_node_tags: Mapping[str, Sequence[str]] | None = None,
        just_in_time_access_duration: cdk.Duration | None = None,
        just_in_time_auto_approval_cedar: str | None = None,
        just_in_time_policy_name: str = "SsmGuardrails-SessionManualApproval",
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        sweep_interval = sweep_interval or cdk.Duration.minutes(5)
        just_in_time_access_duration = just_in_time_access_duration or cdk.Duration.hours(1)
        if topic_name is None:
            topic_name = (
                "change-manager-ssm-approval"
                if approval_path == "change_manager"
                else ("Automation-ssm-session-approval")
            )
        _validate(
            operators=operators, approvers=approvers, operator_users=operator_users, min_approvals=min_approvals,
            validity_minutes=validity_minutes, approval_path=approval_path, session_regions=session_regions,
            session_data_key_alias=session_data_key_alias,
            sweep_interval=sweep_interval, policy_name=policy_name, role_name=role_name,
            sweeper_role_name=sweeper_role_name, runbook_name=runbook_name,
            change_template_name=change_template_name, topic_name=topic_name if topic is None else None,
            jit_approvers=just_in_time_approvers, jit_node_tags=just_in_time_node_tags,
            jit_access_duration=just_in_time_access_duration, jit_cedar=just_in_time_auto_approval_cedar,
            jit_policy_name=just_in_time_policy_name,
        )  # fmt: skip
        self.approval_path = approval_path
        self.validity_minutes = validity_minutes
        self.approvers = list(approvers)
        self.policy_name = policy_name
        self.role_name = role_name
        self.sweeper_role_name = sweeper_role_name
        self.runbook_name = runbook_name
        self.change_template_name = change_template_name
        self.session_regions = list(session_regions or [stack.region])
        self.session_data_key_alias = session_data_key_alias
        self._operators = list(operators)
        self._operator_users = list(operator_users)

        self.topic: sns.ITopic | None = None
        self.runbook_role: iam.Role | None = None
        self.runbook: ssm.CfnDocument | None = None
        self.change_template: ssm.CfnDocument | None = None
        self.sweeper: GuardrailFunction | None = None
        self.approver_policy: iam.ManagedPolicy | None = None
        self.manual_approval_policy: ssm.CfnDocument | None = None
        self.auto_approval_policy: ssm.CfnDocument | None = None

        if approval_path == "just_in_time":
            self._create_just_in_time_policies(
                just_in_time_approvers, just_in_time_node_tags or {}, just_in_time_access_duration,
                just_in_time_auto_approval_cedar, just_in_time_policy_name,
            )  # fmt: skip
            self.operator_policy = iam.ManagedPolicy(
                self,
                "OperatorPolicy",
                managed_policy_name=policy_name,
                description="Just-in-time node access: request access; never tag yourself or edit the control.",
                statements=[*self._just_in_time_statements(), *self._deny_statements()],
                roles=self._operators,
                users=self._operator_users,
            )
            self._acknowledge_reviewed_wildcards()
            return

        self.topic = topic or self._create_topic(topic_name)
        self.runbook_role = self._create_runbook_role(terminate_sessions_at_end)
        self.runbook = self._create_runbook(min_approvals, terminate_sessions_at_end)
        if approval_path == "change_manager":
            self.change_template = self._create_change_template(min_approvals)
        self.operator_policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            managed_policy_name=policy_name,
            description=(
                "StartSession only on the instance named by the caller's SecurityAllowSessionInstance tag, "
                "through SSM-SessionManagerRunShell; no self-tagging, no self-approval."
            ),
            statements=[*self._session_statements(), *self._request_statements(), *self._deny_statements()],
            roles=self._operators,
            users=self._operator_users,
        )
        self.approver_policy = iam.ManagedPolicy(
            self,
            "ApproverPolicy",
            description="Lets an approver see and approve or reject session-access requests.",
            statements=self._approver_statements(),
        )
        self.sweeper = self._create_sweeper(sweep_interval)
        self._acknowledge_reviewed_wildcards()

    # ----------------------------------------------------------------------------- public API

    @property
    def runbook_role_arn(self) -> str:
        return cdk.Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=self.role_name)

    @property
    def scp_document(self) -> dict[str, Any]:
        """An SCP that denies tagging with the session keys to everyone but the runbook and sweeper roles.

        Attach it in AWS Organizations to the OUs whose accounts use this control; it also stops
        administrators (not the management account) from granting session access by hand.
        """
        exempt = [f"arn:*:iam::*:role/{self.role_name}", f"arn:*:iam::*:role/{self.sweeper_role_name}"]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyTheSessionRunbookTagsForSessionAccess",
                    "Effect": "Deny",
                    "Action": sorted(_TAGGING_ACTIONS),
                    "Resource": "*",
                    "Condition": {
                        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]},
                        "ArnNotLike": {"aws:PrincipalArn": exempt},
                    },
                }
            ],
        }

    @property
    def scp_readme(self) -> str:
        """README-ready text: what the SCP does and the JSON to attach."""
        return (
            "#### Optional SCP: nobody but the runbook grants session access\n\n"
            f"IAM tag keys are case-insensitive, so the SCP matches `{TAG_KEY}` and `{EXPIRY_TAG_KEY}` "
            "in any case. It denies tagging, untagging, creating principals and session tags with those "
            f"keys to every principal except the runbook role `{self.role_name}` and the sweeper role "
            f"`{self.sweeper_role_name}` in every account it is attached to. SCPs do not apply to the "
            "management account.\n\n```json\n" + json.dumps(self.scp_document, indent=2) + "\n```\n"
        )

    # ----------------------------------------------------------------------------- ARNs

    def _arn(self, service: str, resource: str, name: str, region: str | None = None) -> str:
        return cdk.Stack.of(self).format_arn(service=service, region=region, resource=resource, resource_name=name)

    def _runbook_definition_arn(self) -> str:
        return self._arn("ssm", "automation-definition", f"{self.runbook_name}:*")

    def _execution_arns(self) -> str:
        return self._arn("ssm", "automation-execution", "*")

    def _principal_arns(self) -> dict[str, list[str]]:
        return {
            "user": [user.user_arn for user in self._operator_users],
            "role": [role.role_arn for role in self._operators],
        }

    # ----------------------------------------------------------------------------- topic and documents

    def _create_topic(self, topic_name: str) -> sns.ITopic:
        encrypted = EncryptedTopic(self, "Approvals", description="session access approvals", topic_name=topic_name)
        stack = cdk.Stack.of(self)
        ssm_service = iam.ServicePrincipal("ssm.amazonaws.com")
        encrypted.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SystemsManagerPublishesApprovals",
                principals=[ssm_service],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        encrypted.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SystemsManagerOfThisAccountPublishes",
                principals=[ssm_service],
                actions=["sns:Publish"],
                resources=[encrypted.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        return encrypted.topic

    def _create_runbook(self, min_approvals: int, terminate: bool) -> ssm.CfnDocument:
        content = load_document("allow_start_ssm_session")
        for step in ("CheckNotSelfApproved", "ComputeExpiry", "TerminateSessions"):
            embed_script(content, step, "session_window")
        pin_parameter(content, "AutomationAssumeRole", self.runbook_role.role_arn)
        validity = content["parameters"]["ValidityMinutes"]
        validity["default"] = str(self.validity_minutes)
        validity["allowedValues"] = [str(minutes) for minutes in range(1, self.validity_minutes + 1)]
        validity.pop("allowedPattern")
        types = [t for t in PRINCIPAL_TYPES if self._principal_arns()[t]]
        content["parameters"]["PrincipalType"]["allowedValues"] = types
        steps = content["mainSteps"]
        if self.approval_path == "approval_runbook":
            approve = next(step for step in steps if step["name"] == "Approve")["inputs"]
            approve["NotificationArn"] = self.topic.topic_arn
            approve["Approvers"] = list(self.approvers)
            approve["MinRequiredApprovals"] = min_approvals
        else:  # Change Manager holds the approval
            steps[:] = [step for step in steps if step["name"] not in _RUNBOOK_APPROVAL_STEPS]
        if not terminate:
            steps[:] = [step for step in steps if step["name"] != "TerminateSessions"]
            for step in steps:
                if step["name"] in ("UntagUser", "UntagRole"):
                    step.pop("nextStep")
                    step["isEnd"] = True
        return ssm.CfnDocument(
            self, "Runbook", name=self.runbook_name, document_type="Automation", document_format="YAML",
            content=content, update_method="NewVersion",
        )  # fmt: skip

    def _create_change_template(self, min_approvals: int) -> ssm.CfnDocument:
        content = load_document("allow_ssm_session_start_template")
        content["executableRunBooks"] = [{"name": self.runbook_name, "version": "$DEFAULT"}]
        # Per-level approval (see the comment in the template): the count sits under inputs, next
        # to EnhancedApprovals; approvers carry minRequiredApprovals 0 ("may contribute").
        inputs = content["mainSteps"][0]["inputs"]
        inputs["MinRequiredApprovals"] = min_approvals
        approvals = inputs["EnhancedApprovals"]
        approvals["NotificationArn"] = self.topic.topic_arn
        approvals["Approvers"] = [
            {"approver": name, "type": f"Iam{kind.capitalize()}", "minRequiredApprovals": 0}
            for kind, name in (_approver_parts(arn) for arn in self.approvers)
        ]
        template = ssm.CfnDocument(
            self, "ChangeTemplate", name=self.change_template_name, document_type="Automation.ChangeTemplate",
            document_format="YAML", content=content, update_method="NewVersion",
        )  # fmt: skip
        template.node.add_dependency(self.runbook)
        return template

    def _create_just_in_time_policies(
        self,
        approvers: Sequence[tuple[str, str]],
        node_tags: Mapping[str, Sequence[str]],
        access_duration: cdk.Duration,
        cedar: str | None,
        policy_name: str,
    ) -> None:
        content = {
            "schemaVersion": "0.3",
            "description": "SeparationOfDuties: a session needs a manual approval by the configured approvers.",
            "accessDuration": int(access_duration.to_seconds()),
            "accessTokenRole": "SSM-JustInTimeAccessTokenRole",
            "targets": [{"Key": f"tag:{key}", "Values": list(values)} for key, values in node_tags.items()],
            "mainSteps": [
                {
                    "name": "ManualApproval",
                    "action": "aws:approve",
                    "timeoutSeconds": 86400,
                    "inputs": {
                        "Message": "A just-in-time session request is waiting for your approval.",
                        "MinRequiredApprovals": 1,
                        "EnhancedApprovals": {
                            "Approvers": [{"approver": approver, "type": kind} for kind, approver in approvers]
                        },
                    },
                }
            ],
        }
        self.manual_approval_policy = ssm.CfnDocument(
            self, "ManualApprovalPolicy", name=policy_name, document_type="ManualApprovalPolicy",
            document_format="YAML", content=content, update_method="NewVersion",
        )  # fmt: skip
        if cedar:
            self.auto_approval_policy = ssm.CfnDocument(
                self,
                "AutoApprovalPolicy",
                name="SSM-JustInTimeAccessAutoApprovalPolicy",
                document_type="AutoApprovalPolicy",
                document_format="YAML",
                content={
                    "schemaVersion": "0.3",
                    "description": "SeparationOfDuties: nodes users may reach without a manual approval.",
                    "accessTokenRole": "SSM-JustInTimeAccessTokenRole",
                    "accessDuration": 3600,
                    "AutoApprovalPolicyDocuments": [{"type": "Cedar", "content": cedar}],
                },
                update_method="NewVersion",
            )

    # ----------------------------------------------------------------------------- roles

    def _create_runbook_role(self, terminate: bool) -> iam.Role:
        role = iam.Role(
            self,
            "RunbookRole",
            role_name=self.role_name,
            description="Runs AllowStartSsmSession: tags an operator with the session keys only, waits, untags.",
            assumed_by=systems_manager_of_this_account(self),
        )
        keys = [TAG_KEY, EXPIRY_TAG_KEY]
        for kind, arns in self._principal_arns().items():
            if not arns:
                continue
            noun = kind.capitalize()
            role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"Tag{noun}OperatorsWithTheSessionKeysOnly",
                    actions=[f"iam:Tag{noun}"],
                    resources=arns,
                    conditions={
                        "ForAllValues:StringEquals": {"aws:TagKeys": keys},
                        "Null": {"aws:TagKeys": "false"},
                        "StringLike": {f"aws:RequestTag/{TAG_KEY}": ["i-*", "mi-*"]},
                    },
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"Untag{noun}OperatorsSessionKeysOnly",
                    actions=[f"iam:Untag{noun}"],
                    resources=arns,
                    conditions={"ForAllValues:StringEquals": {"aws:TagKeys": keys}, "Null": {"aws:TagKeys": "false"}},
                )
            )
        if self.approval_path == "approval_runbook":
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadOwnExecutionForTheSelfApprovalCheck",
                    actions=["ssm:GetAutomationExecution"],
                    resources=[self._execution_arns()],
                )
            )
            self.topic.grant_publish(role)
        if terminate:
            role.add_to_policy(
                iam.PolicyStatement(sid="FindSessionsOnTheInstance", actions=["ssm:DescribeSessions"], resources=["*"])
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="EndTheOperatorsSessions",
                    actions=["ssm:TerminateSession"],
                    resources=[self._arn("ssm", "session", "*")],
                )
            )
        return role

    def _create_sweeper(self, sweep_interval: cdk.Duration) -> GuardrailFunction:
        sweeper = GuardrailFunction(
            self,
            "Sweeper",
            handler="session_tag_sweeper",
            description="Removes SecurityAllowSessionInstance tags whose window has ended",
            environment={
                "TAG_KEY": TAG_KEY,
                "EXPIRY_TAG_KEY": EXPIRY_TAG_KEY,
                "MAX_VALIDITY_MINUTES": str(self.validity_minutes),
            },
            timeout=cdk.Duration.minutes(5),
        )
        # A fixed name, so that the optional SCP can exempt it.
        sweeper.role.node.default_child.role_name = self.sweeper_role_name
        users = self._arn("iam", "user", "*", region="")
        roles = self._arn("iam", "role", "*", region="")
        sweeper.role.add_to_policy(
            iam.PolicyStatement(sid="ListPrincipals", actions=["iam:ListUsers", "iam:ListRoles"], resources=["*"])
        )
        sweeper.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadPrincipalTags", actions=["iam:ListUserTags", "iam:ListRoleTags"], resources=[users, roles]
            )
        )
        sweeper.role.add_to_policy(
            iam.PolicyStatement(
                sid="RemoveSessionKeysOnly",
                actions=["iam:UntagUser", "iam:UntagRole"],
                resources=[users, roles],
                conditions={
                    "ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]},
                    "Null": {"aws:TagKeys": "false"},
                },
            )
        )
        events.Rule(
            self,
            "SweepRule",
            description="Removes session-access tags older than their window",
            schedule=events.Schedule.rate(sweep_interval),
            targets=[targets.LambdaFunction(sweeper.function, retry_attempts=2)],
        )
        return sweeper

    # ----------------------------------------------------------------------------- policy statements

    def _session_statements(self) -> list[iam.PolicyStatement]:
        access_check = {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
        variable = f"${{aws:PrincipalTag/{TAG_KEY}}}"
        nodes = [
            arn
            for region in self.session_regions
            for arn in (
                self._arn("ec2", "instance", variable, region=region),
                self._arn("ssm", "managed-instance", variable, region=region),
            )
        ]
        return [
            iam.PolicyStatement(
                sid="StartSessionOnlyOnTheApprovedInstance",
                actions=["ssm:StartSession"],
                resources=nodes,
                conditions=access_check,
            ),
            iam.PolicyStatement(
                sid="ThroughTheDefaultSessionDocumentOnly",
                actions=["ssm:StartSession"],
                resources=[self._arn("ssm", "document", SESSION_DOCUMENT, region=r) for r in self.session_regions],
                conditions=access_check,
            ),
            open_data_channel_statement(),
            iam.PolicyStatement(
                sid="OwnSessionsOnly",
                actions=["ssm:TerminateSession", "ssm:ResumeSession"],
                resources=self._session_arns(),
                conditions=OWN_SESSIONS_CONDITION,
            ),
            *self._session_key_statements(),
        ]

    def _session_arns(self) -> list[str]:
        return [self._arn("ssm", "session", "*", region=region) for region in self.session_regions]

    def _session_key_arns(self) -> list[str]:
        return [self._arn("kms", "key", "*", region=region) for region in self.session_regions]

    def _session_key_statements(self) -> list[iam.PolicyStatement]:
        """With session encryption on, starting a session needs ``kms:GenerateDataKey`` on the data key.

        The key is regional (SessionPrefs creates one per account and Region, each with its own id)
        while this policy is global, so the statement names no key id: any key of this account in
        a session Region, only while it carries the session alias. ``kms:ResourceAliases`` is
        multi-valued, hence ``ForAnyValue``; see "Use aliases to control access to KMS keys",
        https://docs.aws.amazon.com/kms/latest/developerguide/alias-authorization.html, and
        https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases.
        """
        if self.session_data_key_alias is None:
            return []
        return [
            iam.PolicyStatement(
                sid="EncryptSessionDataWithTheSessionKeyOnly",
                actions=["kms:GenerateDataKey"],
                resources=self._session_key_arns(),
                conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": self.session_data_key_alias}},
            )
        ]

    def _request_statements(self) -> list[iam.PolicyStatement]:
        pass_role = iam.PolicyStatement(
            sid="PassTheRunbookRoleToSystemsManager",
            actions=["iam:PassRole"],
            resources=[self.runbook_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
        )
        if self.approval_path == "change_manager":
            request = iam.PolicyStatement(
                sid="RequestAccessThroughChangeManager",
                actions=["ssm:StartChangeRequestExecution"],
                resources=[self._arn("ssm", "document", self.change_template_name), self._runbook_definition_arn()],
            )
        else:
            request = iam.PolicyStatement(
                sid="RequestAccessWithTheRunbook",
                actions=["ssm:StartAutomationExecution"],
                resources=[self._runbook_definition_arn()],
            )
        follow = iam.PolicyStatement(
            sid="FollowRequests",
            actions=["ssm:GetAutomationExecution", "ssm:DescribeAutomationExecutions", "ssm:DescribeSessions"],
            resources=["*"],
        )
        return [request, pass_role, follow]

    def _just_in_time_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="RequestJustInTimeAccess",
                actions=["ssm:StartAccessRequest", "ssm:GetAccessToken", "ssm:DescribeSessions"],
                resources=["*"],
            )
        ]

    def _deny_statements(self) -> list[iam.PolicyStatement]:
        found = [
            iam.PolicyStatement(
                sid="NoSelfTaggingWithTheSessionKeysInAnyCase",
                effect=iam.Effect.DENY,
                actions=sorted(_TAGGING_ACTIONS),
                resources=["*"],
                conditions={"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": [TAG_KEY, EXPIRY_TAG_KEY]}},
            ),
            iam.PolicyStatement(
                sid="NoEditingTheControl",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:CreatePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:DeleteRole",
                    "ssm:UpdateDocument",
                    "ssm:UpdateDocumentDefaultVersion",
                    "ssm:DeleteDocument",
                    "ssm:UpdateDocumentMetadata",
                ],
                resources=[
                    self._arn("iam", "policy", self.policy_name, region=""),
                    self._arn("iam", "role", self.role_name, region=""),
                    self._arn("iam", "role", self.sweeper_role_name, region=""),
                    *(
                        self._arn("ssm", "document", name, region=region)
                        for name in (self.runbook_name, self.change_template_name, SESSION_DOCUMENT)
                        for region in self.session_regions
                    ),
                ],
            ),
        ]
        if self.approval_path != "just_in_time":
            found.append(
                iam.PolicyStatement(
                    sid="NoApprovingAnyAutomation",
                    effect=iam.Effect.DENY,
                    actions=["ssm:SendAutomationSignal"],
                    resources=[self._execution_arns()],
                )
            )
        if self.approval_path == "change_manager":
            found.append(
                iam.PolicyStatement(
                    sid="NoStartingTheRunbookWithoutChangeManager",
                    effect=iam.Effect.DENY,
                    actions=["ssm:StartAutomationExecution"],
                    resources=[self._runbook_definition_arn()],
                )
            )
        return found

    def _approver_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="ApproveOrRejectRequests",
                actions=["ssm:SendAutomationSignal"],
                resources=[self._execution_arns()],
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

    # ----------------------------------------------------------------------------- nag

    def _acknowledge_reviewed_wildcards(self) -> None:
        policy = self.operator_policy
        if self.approval_path == "just_in_time":
            acknowledge_wildcard_resource(
                policy, "*", "ssm:StartAccessRequest, GetAccessToken and DescribeSessions take no resource ARN; "
                "what a request may reach is decided by the approval policies."
            )  # fmt: skip
            return
        reviewed: list[tuple[Any, str, str]] = [(policy, arn, OWN_SESSIONS_REASON) for arn in self._session_arns()]
        if self.session_data_key_alias is not None:
            reviewed += [
                (policy, arn, f"kms:GenerateDataKey only on the key that carries the alias "
                 f"{self.session_data_key_alias} (condition kms:ResourceAliases); the key id differs per "
                 "Region and is not known to this global stack.")
                for arn in self._session_key_arns()
            ]  # fmt: skip
        reviewed += [
            (policy, self._runbook_definition_arn(), "Any version of this one runbook (<name>:<version>)."),
            (policy, "*", "GetAutomationExecution, DescribeAutomationExecutions and DescribeSessions are read-only "
             f"status calls the console needs; DescribeSessions takes no resource ARN. {OPEN_DATA_CHANNEL_REASON}"),
        ]  # fmt: skip
        approver = self.approver_policy
        reviewed += [
            (approver, self._execution_arns(), "Automation execution ids are random; approvers must be able to "
             "signal any request. The runbook's own check rejects an approver who is the requester."),
            (approver, "*", "Read-only status calls; DescribeAutomationExecutions takes no resource ARN."),
        ]  # fmt: skip
        role_policy = self.runbook_role.node.find_child("DefaultPolicy")
        if self.approval_path == "approval_runbook":
            reviewed.append(
                (role_policy, self._execution_arns(), "Reads its own execution (id known only at run time) to "
                 "compare the approvers with the requester.")
            )  # fmt: skip
            acknowledge_wildcard_action(
                role_policy, "kms:GenerateDataKey*", "Granted by topic.grant_publish: the approval notification "
                "is encrypted with the topic's own key."
            )  # fmt: skip
        if self._terminates():
            reviewed += [
                (role_policy, "*", "ssm:DescribeSessions takes no resource ARN."),
                (role_policy, self._arn("ssm", "session", "*"), "Session ids are not known before the window ends; "
                 "the script ends only the approved principal's sessions on the approved instance."),
            ]  # fmt: skip
        sweeper_policy = self.sweeper.role.node.find_child("DefaultPolicy")
        reviewed += [
            (sweeper_policy, "*", "iam:ListUsers and iam:ListRoles: the sweeper must find stale session tags on "
             "any principal; they return names, never credentials."),
            (sweeper_policy, self._arn("iam", "user", "*", region=""), "Read tags of, and remove only the two "
             "session keys (condition on aws:TagKeys) from, any user that carries them."),
            (sweeper_policy, self._arn("iam", "role", "*", region=""), "Read tags of, and remove only the two "
             "session keys (condition on aws:TagKeys) from, any role that carries them."),
        ]  # fmt: skip
        for target, resource, reason in reviewed:
            acknowledge_wildcard_resource(target, resource, reason)

    def _terminates(self) -> bool:
        return any(step["name"] == "TerminateSessions" for step in self.runbook.content["mainSteps"])


_TAGGING_ACTIONS = {
    "iam:TagRole", "iam:UntagRole", "iam:TagUser", "iam:UntagUser", "iam:CreateRole", "iam:CreateUser",
    "sts:TagSession",
}  # fmt: skip


def _approver_parts(arn: str) -> tuple[str, str]:
    match = APPROVER_ARN.fullmatch(arn)
    assert match is not None  # validated
    return match.group(1), match.group(3)


def check_cedar(setting: str, text: str, effect: str | None = None) -> None:
    """A basic structural check of Cedar policy text: every statement starts with ``permit`` or
    ``forbid`` (only ``effect`` when given), ends with ``;``, and its braces, brackets and parentheses
    balance outside string literals. Comments (``// ...``) are ignored."""
    if not isinstance(text, str) or not text.strip():
        raise PropsError(setting, text, "Cedar policy text with at least one statement")
    effects = (effect,) if effect else ("permit", "forbid")
    statements, current, stack = [], [], []
    pairs = {")": "(", "}": "{", "]": "["}
    in_string = escaped = False
    for line in text.splitlines():
        index = 0
        while index < len(line):
            char = line[index]
            if in_string:
                escaped, in_string = (not escaped and char == "\\"), (escaped or char != '"')
            elif char == '"':
                in_string = True
            elif line.startswith("//", index):
                break
            elif char in "({[":
                stack.append(char)
            elif char in pairs:
                if not stack or stack.pop() != pairs[char]:
                    raise PropsError(setting, _short(text), f"balanced parentheses and braces (unexpected {char!r})")
            elif char == ";" and not stack:
                statements.append("".join(current).strip())
                current = []
                index += 1
                continue
            current.append(char)
            index += 1
        current.append("\n")
    if in_string:
        raise PropsError(setting, _short(text), "closed string literals")
    if stack:
        raise PropsError(setting, _short(text), f"balanced parentheses and braces ({''.join(stack)} left open)")
    if "".join(current).strip():
        raise PropsError(setting, _short(text), "statements that end with ';'")
    for statement in statements:
        if not re.match(rf"^({'|'.join(effects)})\s*\(", statement):
            raise PropsError(setting, _short(statement), f"statements that start with {' or '.join(effects)} (")


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= 80 else one_line[:77] + "..."


def _validate(
    *,
    operators: Sequence[iam.IRole],
    approvers: Sequence[str],
    operator_users: Sequence[iam.IUser],
    min_approvals: int,
    validity_minutes: int,
    approval_path: str,
    session_regions: Sequence[str] | None,
    session_data_key_alias: str | None,
    sweep_interval: cdk.Duration,
    policy_name: str,
    role_name: str,
    sweeper_role_name: str,
    runbook_name: str,
    change_template_name: str,
    topic_name: str | None,
    jit_approvers: Sequence[tuple[str, str]],
    jit_node_tags: Mapping[str, Sequence[str]] | None,
    jit_access_duration: cdk.Duration,
    jit_cedar: str | None,
    jit_policy_name: str,
) -> None:
    name = "SeparationOfDuties"
    if approval_path not in APPROVAL_PATHS:
        raise PropsError(f"{name}.approval_path", approval_path, ", ".join(APPROVAL_PATHS))
    if not operators and not operator_users:
        raise PropsError(f"{name}.operators", [], "at least one operator role (or operator_users)")
    check_range(f"{name}.validity_minutes", validity_minutes, *VALIDITY_RANGE_MINUTES, unit="minutes")
    check_range(
        f"{name}.sweep_interval", sweep_interval.to_seconds() / 60, *SWEEP_INTERVAL_RANGE_MINUTES, unit="minutes"
    )
    check_pattern(f"{name}.policy_name", policy_name, POLICY_NAME, "1-128 letters, digits, + = , . @ _ -")
    for setting, value in (("role_name", role_name), ("sweeper_role_name", sweeper_role_name)):
        check_pattern(f"{name}.{setting}", value, IAM_NAME, "1-64 letters, digits, + = , . @ _ -")
    for setting, value in (
        ("runbook_name", runbook_name),
        ("change_template_name", change_template_name),
        ("just_in_time_policy_name", jit_policy_name),
    ):
        check_pattern(f"{name}.{setting}", value, DOCUMENT_NAME, "3-128 letters, digits, _ . -")
        if value.lower().startswith(("aws", "amazon")):
            raise PropsError(f"{name}.{setting}", value, "a name not starting with aws or amazon")
    for region in session_regions or []:
        check_pattern(f"{name}.session_regions", region, REGION, "Region names such as eu-west-1")
    if session_regions is not None and not session_regions:
        raise PropsError(f"{name}.session_regions", [], "at least one Region (or None for the stack's)")
    if session_data_key_alias is not None:
        check_kms_alias(f"{name}.session_data_key_alias", session_data_key_alias)

    operator_names = {
        (kind, principal.role_name if kind == "role" else principal.user_name)
        for kind, group in (("role", operators), ("user", operator_users))
        for principal in group
    }
    if approval_path == "just_in_time":
        if not jit_approvers:
            raise PropsError(f"{name}.just_in_time_approvers", [], "1-5 (type, id) pairs")
        if len(jit_approvers) > 5:
            raise PropsError(f"{name}.just_in_time_approvers", len(jit_approvers), "at most 5 approvers per level")
        for pair in jit_approvers:
            if not (isinstance(pair, tuple) and len(pair) == 2 and pair[0] in JIT_APPROVER_TYPES and pair[1]):
                raise PropsError(
                    f"{name}.just_in_time_approvers",
                    pair,
                    f"(type, id) with type one of {', '.join(JIT_APPROVER_TYPES)}",
                )
            if pair[0] == "IAMUser" and ("user", pair[1]) in operator_names:
                raise PropsError(f"{name}.just_in_time_approvers", pair, "approvers who are not operators")
        check_tag_filters(f"{name}.just_in_time_node_tags", jit_node_tags or {})
        check_range(
            f"{name}.just_in_time_access_duration",
            jit_access_duration.to_seconds() / 3600,
            *JIT_ACCESS_DURATION_RANGE_HOURS,
            unit="hours",
        )
        if jit_cedar is not None:
            check_cedar(f"{name}.just_in_time_auto_approval_cedar", jit_cedar, effect="permit")
        return

    if not approvers:
        raise PropsError(f"{name}.approvers", [], f"1-{MAX_APPROVERS} IAM user or role ARNs")
    if len(approvers) > MAX_APPROVERS:
        raise PropsError(f"{name}.approvers", len(approvers), f"at most {MAX_APPROVERS} approvers")
    kinds = "user|role|group" if approval_path == "change_manager" else "user|role"
    for arn in approvers:
        match = APPROVER_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if match is None or match.group(1) not in kinds.split("|"):
            raise PropsError(f"{name}.approvers", arn, f"an IAM ARN arn:aws:iam::<account>:({kinds})/<name>")
        if (match.group(1), match.group(3)) in operator_names:
            raise PropsError(f"{name}.approvers", arn, "approvers who are not operators (no self-approval)")
    if len(set(approvers)) != len(approvers):
        raise PropsError(f"{name}.approvers", list(approvers), "distinct approvers")
    check_range(f"{name}.min_approvals", min_approvals, 1, len(approvers), unit="(at most the number of approvers)")
    if topic_name is not None:
        check_pattern(f"{name}.topic_name", topic_name, TOPIC_NAME, "1-256 letters, digits, _ -")
        if approval_path == "approval_runbook" and not topic_name.startswith("Automation"):
            raise PropsError(f"{name}.topic_name", topic_name, "a name starting with Automation (aws:approve needs it)")


__all__ = ["EXPIRY_TAG_KEY", "TAG_KEY", "SeparationOfDuties", "check_cedar"]
