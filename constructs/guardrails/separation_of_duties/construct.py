"""SeparationOfDuties: nobody opens a shell on an instance without another person's approval.

An operator asks for a Session Manager shell on one node; a different person approves; the
person who asked then has a short window (default 10 minutes) to start the session. This module
composes one construct per approval path and the shared grant mechanism:

* ``approval_runbook`` (default, :mod:`guardrails.separation_of_duties.approval_runbook`): the operator starts the
  ``AllowStartSsmSession`` runbook; its ``aws:approve`` step waits for the approvers, then its
  Grant step asks the grant function (:mod:`.grant_function`), which checks the execution and writes the grant.
* ``change_manager`` (:mod:`guardrails.separation_of_duties.change_manager`): the change template holds the approval
  and runs the same runbook without its own approval step. Change Manager is closed to new
  customers since November 2025: for accounts that already use it.
* ``just_in_time`` (:mod:`guardrails.separation_of_duties.just_in_time`): Systems Manager just-in-time node access.

Operators get ``SsmGuardrailsSessionRequester`` (:mod:`guardrails.separation_of_duties.operators`): no
``ssm:StartSession`` at all. IAM is global: deploy in the home-Region stack only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.separation_of_duties.approval_runbook import SESSION_DOCUMENT, ApprovalRunbook
from guardrails.separation_of_duties.grant import GrantSweeper
from guardrails.separation_of_duties.grant_function import GrantFunction
from guardrails.separation_of_duties.grant_path import Names, build_grant_path
from guardrails.separation_of_duties.identity_center_grants import IdentityCenterGrants, grants_policy_arn
from guardrails.separation_of_duties.just_in_time import JustInTimeApproval, validate_just_in_time
from guardrails.separation_of_duties.operators import (
    OperatorScope,
    allow_statements,
    approver_statements,
    deny_statements,
    scp_readme,
)
from guardrails.separation_of_duties.organization_guard import GuardNames, guard_document
from guardrails.separation_of_duties.props import (
    SeparationOfDutiesSettings,
    operator_principals,
    split_approvers,
    validate,
)
from guardrails.separation_of_duties.reviewed_wildcards import acknowledge_reviewed_wildcards
from guardrails.separation_of_duties.self_protection import named_alarm_arns
from guardrails.shared.nag import acknowledge_wildcard_resource
from guardrails.shared.principals import POLICY_PATH, Principal
from guardrails.shared.sessions import SESSION_DATA_KEY_ALIAS


class SeparationOfDuties(Construct):
    """Session Manager access to one node only after another person approved, for a short window.

    :param operators: roles that ask for sessions (``iam.IRole`` or :class:`guardrails.shared.Principal`;
        permission sets on ``just_in_time`` only); roles get ``SsmGuardrailsSessionRequester`` (path ``/``),
        permission sets reference it. At least one (or ``operator_users``). No other ``ssm:StartSession``.
    :param approvers: IAM user or role ARNs (``change_manager`` also groups; ``approval_runbook`` also
        permission sets as :class:`guardrails.shared.Principal`) that approve, 1-10; none may be an
        operator. Required for ``approval_runbook`` and ``change_manager``.
    :param operator_users: IAM users that ask for sessions, like ``operators``. Default: none.
    :param settings: approval path, approvals needed, window, session end, sweep and just-in-time
        settings (:class:`SeparationOfDutiesSettings`; the README's "controls.separation_of_duties"
        table). ``min_approvals`` is at most the number of approvers. Default: all defaults.
    :param session_regions: Regions where an approved session may start. Default: the stack's Region.
    :param session_data_key_alias: alias of the session data key in every session Region; the grant
        allows ``kms:GenerateDataKey`` on the key with this alias only. ``None`` when sessions are not
        encrypted. Default: ``alias/session-manager/data`` (the key :class:`SessionPrefs` creates).
    :param protected_tag_keys: node tag keys that scope other controls (the SessionPrefs operator tag,
        the rotation windows' target tags): operators may not set or remove them. Default: none.
    :param scp_principals: further roles (names or :class:`guardrails.shared.Principal`) the organization guard
        forbids tagging nodes with ``protected_tag_keys`` (other controls' operators and readers). Default: none.
    :param guard_kept_documents: documents another control's function keeps (SessionPrefs' preferences): the
        guard lets only CloudFormation and this project's roles change them. Default: none.
    :param policy_name: the operators' managed policy. Default: ``SsmGuardrailsSessionRequester``.
    :param role_name: the runbook role (contract). Default: ``SsmSessionControlChangeMangerRole`` (sic).
    :param sweeper_role_name: the sweeper's role (contract). Default: ``SsmSessionTagSweeperRole``.
    :param grant_function_name: the only writer of grants (contract). Default: ``SsmGuardrailsSessionGrant``.
    :param grant_role_name: its role (contract). Default: ``SsmGuardrailsSessionGrantRole``.
    :param runbook_name: Default: ``AllowStartSsmSession``.
    :param change_template_name: Default: ``AllowSsmSessionStartTemplate``.
    :param topic: bring your own approvals topic. Default: a new KMS-encrypted, TLS-only topic.
    :param topic_name: name of the created topic. Default: ``change-manager-ssm-approval`` for
        ``change_manager``; ``Automation-ssm-session-approval`` otherwise (aws:approve needs the prefix).
    :param just_in_time_auto_approval_cedar: Cedar ``permit`` statements of an AutoApprovalPolicy. Default: none.
    :param just_in_time_policy_name: Default: ``SsmGuardrails-SessionManualApproval``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole | Principal],
        approvers: Sequence[str | Principal] = (),
        operator_users: Sequence[iam.IUser] = (),
        settings: SeparationOfDutiesSettings | None = None,
        session_regions: Sequence[str] | None = None,
        session_data_key_alias: str | None = SESSION_DATA_KEY_ALIAS,
        protected_tag_keys: Sequence[str] = (),
        scp_principals: Sequence[str | Principal] = (),
        guard_kept_documents: Sequence[str] = (),
        policy_name: str = "SsmGuardrailsSessionRequester",
        role_name: str = "SsmSessionControlChangeMangerRole",
        sweeper_role_name: str = "SsmSessionTagSweeperRole",
        grant_function_name: str = "SsmGuardrailsSessionGrant",
        grant_role_name: str = "SsmGuardrailsSessionGrantRole",
        runbook_name: str = "AllowStartSsmSession",
        change_template_name: str = "AllowSsmSessionStartTemplate",
        topic: sns.ITopic | None = None,
        topic_name: str | None = None,
        just_in_time_auto_approval_cedar: str | None = None,
        just_in_time_policy_name: str = "SsmGuardrails-SessionManualApproval",
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        settings = settings or SeparationOfDutiesSettings()
        self.settings = settings
        approval_path, min_approvals = settings.approval_path, settings.min_approvals
        validity_minutes = settings.validity_minutes
        sweep_interval = cdk.Duration.minutes(settings.sweep_interval_minutes)
        jit_duration = cdk.Duration.hours(settings.just_in_time_access_hours)
        just_in_time_approvers = [(approver.type, approver.id) for approver in settings.just_in_time_approvers]
        just_in_time_node_tags = settings.just_in_time_node_tags
        if topic_name is None:
            change_manager = approval_path == "change_manager"
            topic_name = "change-manager-ssm-approval" if change_manager else "Automation-ssm-session-approval"
        roles, people, operator_patterns, scp_arns, scp_readers = operator_principals(
            self, operators, operator_users, scp_principals, approval_path
        )
        approver_arns, approver_sets = split_approvers(approvers, approval_path, operators)
        operator_sets = [p for p in people if isinstance(p, Principal)]
        validate(
            operators=people, approvers=approver_arns, approver_sets=len(approver_sets),
            operator_users=operator_users, min_approvals=min_approvals,
            approval_path=approval_path, session_regions=session_regions,
            session_data_key_alias=session_data_key_alias, policy_name=policy_name,
            names={"role_name": role_name, "sweeper_role_name": sweeper_role_name,
                   "grant_function_name": grant_function_name, "grant_role_name": grant_role_name},
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
        self.approvers = approver_arns
        self.policy_name, self.role_name, self.sweeper_role_name = policy_name, role_name, sweeper_role_name
        self.grant_role_name, self.grant_function_name = grant_role_name, grant_function_name
        self.runbook_name, self.change_template_name = runbook_name, change_template_name
        self.session_regions = list(session_regions or [stack.region])
        self.session_data_key_alias = session_data_key_alias
        self.protected_tag_keys = JustInTimeApproval.tag_keys(protected_tag_keys, approval_path, just_in_time_node_tags)
        self._operators, self._operator_users = roles, list(operator_users)
        self._operator_scp_arns, self._scp_patterns = scp_arns, scp_readers
        self.guard_kept_documents = list(guard_kept_documents)
        self.topic: sns.ITopic | None = None
        self.approval_runbook: ApprovalRunbook | None = None
        self.runbook_role: iam.Role | None = None
        self.runbook: ssm.CfnDocument | None = None
        self.change_template: ssm.CfnDocument | None = None
        self.grant_sweeper: GrantSweeper | None = None
        self.grant_function: GrantFunction | None = None
        self.sweeper = None
        self.approver_policy: iam.ManagedPolicy | None = None
        self.just_in_time: JustInTimeApproval | None = None
        self.identity_center: IdentityCenterGrants | None = None
        operator_scope = OperatorScope(
            path=approval_path,
            sessions=[self._arn("ssm", "session", "*", region=r) for r in self.session_regions],
            control_arns=self._control_arns(grants=bool(operator_sets) and approval_path != "just_in_time"),
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

        path = build_grant_path(
            self, names=Names(runbook_name, change_template_name if approval_path == "change_manager" else None,
                              role_name, sweeper_role_name, grant_function_name, grant_role_name),
            operators=self._operators, operator_users=self._operator_users, approvers=approver_arns,
            operator_sets=operator_sets, approver_sets=approver_sets,
            min_approvals=min_approvals, validity_minutes=validity_minutes, topic=topic, topic_name=topic_name,
            session_regions=self.session_regions, session_data_key_alias=session_data_key_alias,
            terminate_sessions_at_end=settings.terminate_sessions_at_end, sweep_interval=sweep_interval,
        )  # fmt: skip
        self.topic, self.approval_runbook, self.change_template = path.topic, path.runbook, path.change_template
        self.runbook_role, self.runbook = path.runbook.role, path.runbook.document
        self.grant_function, self.grant_sweeper = path.grant_function, path.sweeper
        self.identity_center = path.identity_center
        self.sweeper = self.grant_sweeper.sweeper
        functions = (self.grant_function.guardrail, self.sweeper)
        operator_scope.grant_function = self.grant_function.function_arn
        operator_scope.monitoring = {
            "logs": [f.log_group.log_group_arn for f in functions],
            "alarms": named_alarm_arns(self, [*self.grant_function.guardrail.alarms, *self.grant_sweeper.alarms]),
            "topic": [self.topic.topic_arn],
            "keys": [path.topic_key.key_arn] if path.topic_key is not None else [],
        }
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
        acknowledge_reviewed_wildcards(self)

    # ----------------------------------------------------------------------------- public API

    @property
    def runbook_role_arn(self) -> str:
        return cdk.Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=self.role_name)

    @property
    def scp_document(self) -> dict[str, Any]:
        """The organization guard (``organization.guard_policy``, :mod:`.organization_guard`): what no
        policy of a member account can enforce, as one SCP for the target OUs."""
        grants = self.approval_path != "just_in_time"
        return guard_document(GuardNames(
            operator_arns=self._operator_scp_arns,
            readers=self._scp_patterns, tag_keys=self.protected_tag_keys,
            runbook_role=self.role_name if grants else None, grant_role=self.grant_role_name if grants else None,
            lambda_roles=[self.grant_role_name, self.sweeper_role_name] if grants else [],
            documents=sorted({self.runbook_name, self.change_template_name, "SsmGuardrails*"}),
            kept_documents=self.guard_kept_documents,
            grants_policy=self.identity_center.grants_policy_name if self.identity_center else None,
        ))  # fmt: skip

    @property
    def scp_readme(self) -> str:
        """README-ready text: what the organization guard denies and the JSON it attaches."""
        return scp_readme(self.role_name, self.scp_document)

    # ----------------------------------------------------------------------------- helpers

    def _arn(self, service: str, resource: str, name: str, region: str | None = None) -> str:
        return cdk.Stack.of(self).format_arn(service=service, region=region, resource=resource, resource_name=name)

    def _executions(self) -> str:
        return self._arn("ssm", "automation-execution", "*")

    def _control_arns(self, grants: bool) -> list[str]:
        return [
            self._arn("iam", "policy", self.policy_name, region=""),
            *([grants_policy_arn(self)] if grants else []),
            self._arn("iam", "role", self.role_name, region=""),
            self._arn("iam", "role", self.sweeper_role_name, region=""),
            self._arn("iam", "role", self.grant_role_name, region=""),
            *(
                self._arn("ssm", "document", name, region=region)
                for name in (self.runbook_name, self.change_template_name, SESSION_DOCUMENT)
                for region in self.session_regions
            ),
        ]

    def _operator_policy(self, statements: list[iam.PolicyStatement], description: str) -> iam.ManagedPolicy:
        return iam.ManagedPolicy(
            self, "OperatorPolicy", managed_policy_name=self.policy_name, description=description,
            statements=statements, roles=self._operators, users=self._operator_users,
        )  # fmt: skip
