"""SeparationOfDuties: nobody opens a shell on an instance without another person's approval.

An operator asks for a Session Manager shell on one node; a different person approves; the
person who asked then has a short window (default 10 minutes) to start the session. This module
composes one construct per approval path and the shared grant mechanism:

* ``approval_runbook`` (default, :mod:`guardrails.separation_of_duties.approval_runbook`): the operator starts the
  ``AllowStartSsmSession`` runbook; its ``aws:approve`` step waits for the approvers, then its
  Grant step checks the execution and writes the session grant (:mod:`guardrails.separation_of_duties.grant`).
* ``change_manager`` (:mod:`guardrails.separation_of_duties.change_manager`): the change template holds the approval
  and runs the same runbook without its own approval step. Change Manager is closed to new
  customers since November 2025: for accounts that already use it.
* ``just_in_time`` (:mod:`guardrails.separation_of_duties.just_in_time`): Systems Manager just-in-time node access.

Operators get ``SsmGuardrailsSessionRequester`` (:mod:`guardrails.separation_of_duties.operators`): no
``ssm:StartSession`` at all. IAM is global: deploy in the home-Region stack only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.separation_of_duties.approval_runbook import (
    REQUEST_TAG_KEY,
    SESSION_DOCUMENT,
    ApprovalRunbook,
    approvals_topic,
)
from guardrails.separation_of_duties.change_manager import ChangeTemplate
from guardrails.separation_of_duties.grant import GrantSweeper
from guardrails.separation_of_duties.just_in_time import (
    JustInTimeApproval,
    validate_just_in_time,
)
from guardrails.separation_of_duties.operators import (
    OperatorScope,
    allow_statements,
    approver_statements,
    deny_statements,
    scp_document,
    scp_readme,
)
from guardrails.separation_of_duties.props import permission_sets_on_path, validate
from guardrails.shared.nag import acknowledge_wildcard_resource
from guardrails.shared.principals import POLICY_PATH, Principal, organization_arn_patterns, roles_and_patterns
from guardrails.shared.sessions import OPEN_DATA_CHANNEL_REASON, OWN_SESSIONS_REASON, SESSION_DATA_KEY_ALIAS


class SeparationOfDuties(Construct):
    """Session Manager access to one node only after another person approved, for a short window.

    :param operators: roles that ask for sessions (``iam.IRole`` or :class:`guardrails.shared.Principal`);
        roles get the ``operator_policy`` (``SsmGuardrailsSessionRequester``, path ``/``), which an IAM
        Identity Center permission set references instead (``just_in_time`` path only: the grant of the
        other paths is an inline policy on the requester's role). At least one (or ``operator_users``).
        Operators must hold no other ``ssm:StartSession`` permission (README).
    :param approvers: IAM user or role ARNs (``change_manager`` also groups) that approve, 1-10;
        none may be an operator. Required for ``approval_runbook`` and ``change_manager``.
    :param operator_users: IAM users that ask for sessions, like ``operators``. Default: none.
    :param min_approvals: approvals required, 1 to the number of approvers. Default: 1.
    :param validity_minutes: the longest window an approval opens (a request may ask for less), 1-60. Default: 10.
    :param approval_path: ``approval_runbook``, ``change_manager`` or ``just_in_time``. Default: ``approval_runbook``.
    :param terminate_sessions_at_end: end the requester's sessions on the node when the window
        closes (otherwise a session opened in time stays open, as published). Default: false.
    :param session_regions: Regions where an approved session may start. Default: the stack's Region.
    :param session_data_key_alias: alias of the session data key in every session Region; the grant
        allows ``kms:GenerateDataKey`` on the key with this alias only. ``None`` when sessions are not
        encrypted. Default: ``alias/session-manager/data`` (the key :class:`SessionPrefs` creates).
    :param protected_tag_keys: node tag keys that scope other controls (the SessionPrefs operator tag,
        the rotation windows' target tags): operators may not set or remove them. Default: none.
    :param scp_principals: further roles (names or :class:`guardrails.shared.Principal`) the optional SCP
        forbids tagging nodes with ``protected_tag_keys`` (other controls' operators and readers). Default: none.
    :param sweep_interval: how often expired grants are deleted, 1-60 minutes. Default: 5 minutes.
    :param policy_name: the operators' managed policy. Default: ``SsmGuardrailsSessionRequester``.
    :param role_name: the runbook role (contract). Default: ``SsmSessionControlChangeMangerRole`` (sic).
    :param sweeper_role_name: the sweeper's role (contract). Default: ``SsmSessionTagSweeperRole``.
    :param runbook_name: Default: ``AllowStartSsmSession``.
    :param change_template_name: Default: ``AllowSsmSessionStartTemplate``.
    :param topic: bring your own approvals topic. Default: a new KMS-encrypted, TLS-only topic.
    :param topic_name: name of the created topic. Default: ``change-manager-ssm-approval`` for
        ``change_manager``; ``Automation-ssm-session-approval`` otherwise (aws:approve needs the prefix).
    :param just_in_time_approvers: ``(type, id)`` pairs, type one of ``SSOUser, SSOGroup, IAMUser``, 1-5.
    :param just_in_time_node_tags: tag key -> values of the nodes the manual approval policy covers.
    :param just_in_time_access_duration: how long an approved request lasts, 1-336 hours. Default: 1 hour.
    :param just_in_time_auto_approval_cedar: Cedar ``permit`` statements of an AutoApprovalPolicy. Default: none.
    :param just_in_time_policy_name: Default: ``SsmGuardrails-SessionManualApproval``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole | Principal],
        approvers: Sequence[str] = (),
        operator_users: Sequence[iam.IUser] = (),
        min_approvals: int = 1,
        validity_minutes: int = 10,
        approval_path: str = "approval_runbook",
        terminate_sessions_at_end: bool = False,
        session_regions: Sequence[str] | None = None,
        session_data_key_alias: str | None = SESSION_DATA_KEY_ALIAS,
        protected_tag_keys: Sequence[str] = (),
        scp_principals: Sequence[str | Principal] = (),
        sweep_interval: cdk.Duration | None = None,
        policy_name: str = "SsmGuardrailsSessionRequester",
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
        jit_duration = just_in_time_access_duration or cdk.Duration.hours(1)
        if topic_name is None:
            change_manager = approval_path == "change_manager"
            topic_name = "change-manager-ssm-approval" if change_manager else "Automation-ssm-session-approval"
        permission_sets = permission_sets_on_path(operators, approval_path)
        roles, operator_patterns = roles_and_patterns(self, "Operator", operators)
        validate(
            operators=roles + permission_sets, approvers=approvers, operator_users=operator_users,
            min_approvals=min_approvals,
            validity_minutes=validity_minutes, approval_path=approval_path, session_regions=session_regions,
            session_data_key_alias=session_data_key_alias, sweep_interval=sweep_interval, policy_name=policy_name,
            names={"role_name": role_name, "sweeper_role_name": sweeper_role_name},
            documents={"runbook_name": runbook_name, "change_template_name": change_template_name,
                       "just_in_time_policy_name": just_in_time_policy_name},
            topic_name=topic_name if topic is None else None,
        )  # fmt: skip
        if approval_path == "just_in_time":
            validate_just_in_time(
                "SeparationOfDuties", just_in_time_approvers, {u.user_name for u in operator_users},
                just_in_time_node_tags, jit_duration, just_in_time_auto_approval_cedar,
            )  # fmt: skip
        self.approval_path = approval_path
        self.validity_minutes = validity_minutes
        self.approvers = list(approvers)
        self.policy_name, self.role_name, self.sweeper_role_name = policy_name, role_name, sweeper_role_name
        self.runbook_name, self.change_template_name = runbook_name, change_template_name
        self.session_regions = list(session_regions or [stack.region])
        self.session_data_key_alias = session_data_key_alias
        self.protected_tag_keys = JustInTimeApproval.tag_keys(protected_tag_keys, approval_path, just_in_time_node_tags)
        self._operators, self._operator_users = roles, list(operator_users)
        self._operator_scp_arns = organization_arn_patterns(operators)
        self._scp_patterns = organization_arn_patterns([Principal.parse(p) for p in scp_principals])

        self.topic: sns.ITopic | None = None
        self.approval_runbook: ApprovalRunbook | None = None
        self.runbook_role: iam.Role | None = None
        self.runbook: ssm.CfnDocument | None = None
        self.change_template: ssm.CfnDocument | None = None
        self.grant_sweeper: GrantSweeper | None = None
        self.sweeper = None
        self.approver_policy: iam.ManagedPolicy | None = None
        self.just_in_time: JustInTimeApproval | None = None
        operator_scope = OperatorScope(
            path=approval_path,
            sessions=[self._arn("ssm", "session", "*", region=r) for r in self.session_regions],
            control_arns=self._control_arns(),
            operator_arns=operator_patterns + [u.user_arn for u in self._operator_users],
            protected_tag_keys=self.protected_tag_keys,
        )

        if approval_path == "just_in_time":
            self.just_in_time = JustInTimeApproval(
                self, "JustInTime", approvers=just_in_time_approvers, node_tags=just_in_time_node_tags or {},
                access_duration=jit_duration, cedar=just_in_time_auto_approval_cedar,
                policy_name=just_in_time_policy_name,
            )  # fmt: skip
            self.manual_approval_policy = self.just_in_time.manual_approval_policy
            self.auto_approval_policy = self.just_in_time.auto_approval_policy
            statements = [*JustInTimeApproval.operator_statements(), *deny_statements(operator_scope)]
            self.operator_policy = self._operator_policy(statements, "Just-in-time node access: request access.")
            acknowledge_wildcard_resource(
                self.operator_policy, "*", "ssm:StartAccessRequest, GetAccessToken and DescribeSessions take no "
                "resource ARN; what a request may reach is decided by the approval policies."
            )  # fmt: skip
            return

        self.topic = topic or approvals_topic(self, topic_name)
        self.approval_runbook = ApprovalRunbook(
            self, "Runbook", operators=self._operators, operator_users=self._operator_users, approvers=approvers,
            min_approvals=min_approvals, validity_minutes=validity_minutes, topic=self.topic,
            session_regions=self.session_regions, session_data_key_alias=session_data_key_alias,
            terminate_sessions_at_end=terminate_sessions_at_end, role_name=role_name, runbook_name=runbook_name,
            change_template_name=change_template_name if approval_path == "change_manager" else None,
        )  # fmt: skip
        self.runbook_role, self.runbook = self.approval_runbook.role, self.approval_runbook.document
        if approval_path == "change_manager":
            self.change_template = ChangeTemplate(
                self, "ChangeTemplate", name=change_template_name, runbook_name=runbook_name, approvers=approvers,
                min_approvals=min_approvals, topic=self.topic,
            ).document  # fmt: skip
            self.change_template.node.add_dependency(self.runbook)
        self.grant_sweeper = GrantSweeper(
            self, "Sweeper", operators=self._operators, operator_users=self._operator_users,
            max_validity_minutes=validity_minutes, interval=sweep_interval, role_name=sweeper_role_name,
            runbook_name=runbook_name, alarm_topic=self.topic,
        )  # fmt: skip
        self.sweeper = self.grant_sweeper.sweeper
        operator_scope.runbook_name = runbook_name
        operator_scope.runbook_definition = self.approval_runbook.definition_arn()
        operator_scope.runbook_document = self.approval_runbook.document_arn()
        operator_scope.runbook_role = self.runbook_role_arn
        operator_scope.change_template = self._arn("ssm", "document", change_template_name)
        operator_scope.executions = self._executions()
        operator_scope.sweeper = (self.grant_sweeper.function.function_arn, self.grant_sweeper.rule.rule_arn)
        self.operator_policy = self._operator_policy(
            [*allow_statements(operator_scope), *deny_statements(operator_scope)],
            "Request a session (approval needed); grants no StartSession by itself. No lending, re-tagging or editing.",
        )
        self.approver_policy = iam.ManagedPolicy(
            self, "ApproverPolicy", description="Lets an approver see and approve or reject session-access requests.",
            statements=approver_statements(self._executions(), runbook_name),
            managed_policy_name="SsmGuardrailsSessionApprover", path=POLICY_PATH,
        )  # fmt: skip
        self._acknowledge_reviewed_wildcards()

    # ----------------------------------------------------------------------------- public API

    @property
    def runbook_role_arn(self) -> str:
        return cdk.Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=self.role_name)

    @property
    def scp_document(self) -> dict[str, Any]:
        """An SCP: only operators pass the runbook role; operators (and ``scp_principals``) never
        tag nodes with the keys that scope the controls, whatever else their policies allow."""
        operators = list(self._operator_scp_arns)
        operators += [f"arn:*:iam::*:user/{u.user_name}" for u in self._operator_users]
        runbook_role = None if self.approval_path == "just_in_time" else self.role_name
        return scp_document(operators, self._scp_patterns, self.protected_tag_keys, runbook_role)

    @property
    def scp_readme(self) -> str:
        """README-ready text: what the SCP does and the JSON to attach."""
        return scp_readme(self.role_name, self.scp_document)

    # ----------------------------------------------------------------------------- helpers

    def _arn(self, service: str, resource: str, name: str, region: str | None = None) -> str:
        return cdk.Stack.of(self).format_arn(service=service, region=region, resource=resource, resource_name=name)

    def _executions(self) -> str:
        return self._arn("ssm", "automation-execution", "*")

    def _control_arns(self) -> list[str]:
        return [
            self._arn("iam", "policy", self.policy_name, region=""),
            self._arn("iam", "role", self.role_name, region=""),
            self._arn("iam", "role", self.sweeper_role_name, region=""),
            *(
                self._arn("ssm", "document", name, region=region)
                for name in (self.runbook_name, self.change_template_name, SESSION_DOCUMENT)
                for region in self.session_regions
            ),
        ]

    def _operator_policy(self, statements: list[iam.PolicyStatement], description: str) -> iam.ManagedPolicy:
        # Path / (deployed already; CloudFormation cannot replace a named policy): permission sets use it.
        return iam.ManagedPolicy(
            self, "OperatorPolicy", managed_policy_name=self.policy_name, description=description,
            statements=statements, roles=self._operators, users=self._operator_users,
        )  # fmt: skip

    def _acknowledge_reviewed_wildcards(self) -> None:
        policy, approver = self.operator_policy, self.approver_policy
        reviewed: list[tuple[Any, str, str]] = [
            (policy, self._arn("ssm", "session", "*", region=r), OWN_SESSIONS_REASON) for r in self.session_regions
        ]
        reviewed += [
            (policy, self.approval_runbook.definition_arn(), "Any version of this one runbook (<name>:<version>); "
             "the Grant step refuses every version but the default one."),
            (policy, "*", "GetAutomationExecution, DescribeAutomationExecutions and DescribeSessions are read-only "
             f"status calls the console needs; DescribeSessions takes no resource ARN. {OPEN_DATA_CHANNEL_REASON}"),
            (policy, self._executions(), "A new request's execution id is random and unknown before the start: "
             f"StartAutomationExecution/StartChangeRequestExecution and AddTagsToResource only with {REQUEST_TAG_KEY}="
             f"{self.runbook_name} as the only tag key; executions that already carry it may not be re-tagged."),
            (approver, self._executions(), f"Execution ids are random; only executions tagged {REQUEST_TAG_KEY}="
             f"{self.runbook_name} (condition aws:ResourceTag). The Grant step rejects self-approval."),
            (approver, "*", "Read-only status calls; DescribeAutomationExecutions takes no resource ARN."),
        ]  # fmt: skip
        for target, resource, reason in reviewed:
            acknowledge_wildcard_resource(target, resource, reason)
