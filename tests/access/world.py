"""Principals and the resolved templates they act in (one World per template source)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from access_settings import (
    ADMINISTRATOR_ACCESS,
    CENTRAL,
    CONFIG,
    INSTANCE_ID,
    JUST_IN_TIME_SESSION_POLICY,
    MEMBER,
    MEMBER_ORG_PATH,
    ORG,
    OTHER_INSTANCE_ID,
    OTHER_REGION,
    OUTSIDE_TARGETS_ORG_PATH,
    OUTSIDER_ACCOUNT,
    OUTSIDER_ORG,
    POWER_USER_ACCESS,
    ROLLOUT,
    TAG_ANY_NODE,
    as_list,
)
from adversaries import ADVERSARIES, managed_policy
from resolve import ResolvedTemplate

#: An Identity Center role's suffix (16 hex digits) and path with the identity source's Region:
#: https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html
IDENTITY_CENTER_SUFFIX = "1234567890abcdef"
IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-2/"


@dataclass(frozen=True)
class Principal:
    """A role session: the role, its session name, and the identity policies attached to the role."""

    role_name: str
    policies: list[dict[str, Any]]
    session: str = "alice"
    path: str = "/"  # an IAM Identity Center role's is /aws-reserved/sso.amazonaws.com/<region>/
    account: str = MEMBER.account
    org_id: str = ORG.id
    org_path: str = MEMBER_ORG_PATH
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.role_name}"

    @property
    def session_arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session}"

    @property
    def userid(self) -> str:
        """``<role id>:<session name>``, as aws:userid reads for an assumed role."""
        digest = hashlib.sha256(self.role_arn.encode()).hexdigest()[:17].upper()
        return f"AROA{digest}:{self.session}"

    def context(self, tags: Mapping[str, str]) -> dict[str, Any]:
        """The global condition keys AWS sets for every request of this session:
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"""
        return {
            "aws:PrincipalArn": self.role_arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalOrgID": self.org_id,
            "aws:PrincipalOrgPaths": [self.org_path],
            "aws:PrincipalType": "AssumedRole",
            "aws:userid": self.userid,
            "aws:SecureTransport": "true",
            # present in every signed request, false for a role session (not an AWS service principal)
            "aws:PrincipalIsAWSService": "false",
            **{f"aws:PrincipalTag/{key}": value for key, value in {**self.tags, **tags}.items()},
        }


def identity_center_role(permission_set: str, policies: list[dict[str, Any]]) -> Principal:
    """The role IAM Identity Center creates for ``permission_set`` in the member account."""
    return Principal(f"AWSReservedSSO_{permission_set}_{IDENTITY_CENTER_SUFFIX}", policies, path=IDENTITY_CENTER_PATH)


@dataclass(frozen=True)
class World:
    """The resolved templates of one source (the Member stage or the StackSet copies)."""

    regional: ResolvedTemplate
    other_region: ResolvedTemplate
    global_: ResolvedTemplate
    central: ResolvedTemplate
    #: the optional SCP of SeparationOfDuties (README "Optional SCP"), for scenarios with ``scp: true``
    scp: dict[str, Any] | None = None
    rollout: ResolvedTemplate | None = None

    def role_policies(self, role_name: str) -> list[dict[str, Any]]:
        return self.regional.policies_of_role(role_name) + self.global_.policies_of_role(role_name)

    def created_role(self, template: ResolvedTemplate, id_prefix: str) -> Principal:
        name = template.name_of("AWS::IAM::Role", id_prefix)
        return Principal(name, template.policies_of_role(name))

    def principals(self) -> dict[str, Principal]:
        r, g = self.regional, self.global_
        sod = CONFIG.controls.separation_of_duties
        requester = sod.operator_roles[0].name
        administrator = CONFIG.controls.password_rotation.administrator_roles[0].name
        return {
            **self.identity_center_principals(),
            "break_glass_operator": self._config_role(CONFIG.controls.break_glass.operator_roles[0].name),
            "password_administrator": self._config_role(administrator),
            "session_log_reader": self._config_role(CONFIG.controls.session_prefs.log_reader_roles[0].name),
            "break_glass_power_user": Principal(
                CONFIG.controls.break_glass.operator_roles[0].name,
                [*self.role_policies(CONFIG.controls.break_glass.operator_roles[0].name), POWER_USER_ACCESS],
            ),
            "session_requester": self._config_role(requester),
            "session_approver": self._config_role(sod.approver_roles[0].name),
            # another person (session) in the same requester role; and a requester who may tag nodes
            "session_requester_colleague": Principal(requester, self.role_policies(requester), session="bob"),
            "session_requester_who_tags": Principal(requester, [*self.role_policies(requester), TAG_ANY_NODE]),
            # the example names no SessionPrefs operator or instance role: the policies as attached
            "session_operator": Principal("SessionOperator", [r.managed_policy("SessionPrefsOperatorPolicy")]),
            "session_operator_who_tags": Principal(
                "SessionOperator", [r.managed_policy("SessionPrefsOperatorPolicy"), TAG_ANY_NODE]
            ),
            "instance": Principal(
                "AppInstanceRole",
                [
                    r.managed_policy("BreakGlassInstancePolicy"),
                    r.managed_policy("PasswordRotationproductionInstancePolicy"),
                    r.managed_policy("SessionPrefsInstancePolicy"),
                ],
                session=INSTANCE_ID,  # instance-profile sessions are named for the instance
            ),
            "administrator": Principal("Administrator", [ADMINISTRATOR_ACCESS]),
            # the password administrator role, also allowed to tag any EC2 or hybrid node
            "password_administrator_who_tags": Principal(
                administrator, [*self.role_policies(administrator), TAG_ANY_NODE]
            ),
            "break_glass_cleanup": self.created_role(r, "BreakGlassCleanupRole"),
            **{
                who: Principal(
                    f"Adversary-{who}",
                    [managed_policy(name) for name in adversary.policies],
                    session=INSTANCE_ID if adversary.instance else "mallory",
                )
                for who, adversary in ADVERSARIES.items()
            },
            "session_prefs_handler": self.created_role(r, "SessionPrefsHandlerRole"),
            **self._rollout_roles(),
            "break_glass_state_machine": self.created_role(r, "BreakGlassCleanupStateMachineRole"),
            "rotation_window": self.created_role(r, "PasswordRotationproductionWindowRole"),
            "freshness_report": self.created_role(r, "PasswordRotationproductionFreshnessReportRole"),
            **self._runbook_roles(),
            # a just-in-time session: the access token's credentials, within AWS's session policy
            "just_in_time_session": Principal("SSM-JustInTimeAccessTokenRole", [JUST_IN_TIME_SESSION_POLICY]),
            "access_key_remediation": self.created_role(g, "AccessKeyRemediationAutomationRole"),
            # the same role, created by an administrator of an organization account outside the target OUs
            "access_key_remediation_outside_targets": replace(
                self.created_role(g, "AccessKeyRemediationAutomationRole"),
                account="123412341234",
                org_path=OUTSIDE_TARGETS_ORG_PATH,
            ),
            # administrators with every IAM permission, in a member account and in the topic's account
            "security_administrator": Principal("Administrator", [ADMINISTRATOR_ACCESS], account=CENTRAL.account),
            # ... and one who creates a role of the remediation role's name (the security account
            # sits outside the target OUs in the example)
            "security_administrator_as_remediation_role": Principal(
                "SsmGuardrailsAccessKeyRemediation",
                [ADMINISTRATOR_ACCESS],
                account=CENTRAL.account,
                org_path=f"{ORG.id}/r-ab12/ou-ab12-77777777/",
            ),
            "outsider": Principal(
                "Administrator", [ADMINISTRATOR_ACCESS], account=OUTSIDER_ACCOUNT, org_id=OUTSIDER_ORG
            ),
        }

    def _rollout_roles(self) -> dict[str, Principal]:
        """The rollout stack's code version reader (StackSet administrator account)."""
        if self.rollout is None:
            return {}
        name = self.rollout.name_of("AWS::IAM::Role", "CodeVersionReaderHandlerRole")
        return {"code_version_reader": Principal(name, self.rollout.policies_of_role(name), account=ROLLOUT.account)}

    def identity_center_principals(self) -> dict[str, Principal]:
        """The people of config/example-identity-center.yaml (scenarios with ``config: identity_center``):
        permission-set roles, which hold the customer managed policies their permission set references
        by name and path, and a role with a path; each next to a look-alike that must get nothing."""
        r, g = self.regional, self.global_
        region = MEMBER.region
        break_glass = [
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-BreakGlassOperator-{region}"),
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-OperatorCli-{region}"),
        ]
        rotation = [
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-PasswordAdministrator-PasswordRotation-production-{region}"),
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-PasswordAdministratorCli-{region}"),
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-OperatorCli-{region}"),
        ]
        administrator = "PasswordAdministrator"
        log_readers = [r.policy_named(f"/ssm-guardrails/SsmGuardrails-SessionLogReader-{region}")]
        # the requester policy and the grants policy the grant function writes (here: as deployed)
        # (the grants policy exists where permission-set requesters meet a runbook path)
        requester = [g.policy_named("/SsmGuardrailsSessionRequester"),
                     *g.policies_named("/ssm-guardrails/SsmGuardrails-SessionGrants")]  # fmt: skip
        return {
            "break_glass_permission_set": identity_center_role("BreakGlass", break_glass),
            # the same policies referenced by another permission set whose name shares the prefix
            "break_glass_permission_set_look_alike": identity_center_role("BreakGlass_Admin", break_glass),
            # a role of the same name as the permission set's, created outside Identity Center's path
            "break_glass_role_outside_identity_center": Principal(
                f"AWSReservedSSO_BreakGlass_{IDENTITY_CENTER_SUFFIX}", break_glass
            ),
            "password_permission_set": identity_center_role("PasswordReaders", rotation),
            "password_permission_set_look_alike": identity_center_role("PasswordReadersAll", rotation),
            "password_administrator_with_path": Principal(
                administrator, self.role_policies(administrator), path="/ops/"
            ),
            "password_administrator_without_path": Principal(administrator, self.role_policies(administrator)),
            "session_log_reader_permission_set": identity_center_role("SessionAuditors", log_readers),
            "session_log_reader_look_alike": identity_center_role("SessionAuditors_All", log_readers),
            "session_requester_permission_set": identity_center_role("SessionRequester", requester),
            # another permission set referencing the same policies, whose name shares the prefix
            "session_requester_look_alike": identity_center_role("SessionRequester_Admin", requester),
            "session_approver_permission_set": identity_center_role(
                "SessionApprover", g.policies_named("/ssm-guardrails/SsmGuardrailsSessionApprover")
            ),
        }

    def _config_role(self, name: str) -> Principal:
        return Principal(name, self.role_policies(name))

    def _runbook_roles(self) -> dict[str, Principal]:
        """The runbook and sweeper roles (every path but just_in_time creates them)."""
        g = self.global_
        if not any(i.startswith("SeparationOfDutiesRunbookRole") for i, _ in g.of_type("AWS::IAM::Role")):
            return {}
        return {
            "session_runbook": self.created_role(g, "SeparationOfDutiesRunbookRole"),
            "session_sweeper": self.created_role(g, "SeparationOfDutiesSweeperFunctionRole"),
            "session_grant_function": self.created_role(g, "SeparationOfDutiesGrantFunctionRole"),
        }

    def _runbook_values(self, principals: Mapping[str, Principal]) -> dict[str, str]:
        g = self.global_
        if "session_runbook" not in principals:
            return {}
        return {
            "sweeper_function": g.arn_of("AWS::Lambda::Function", "SeparationOfDutiesSweeperFunction"),
            "sweeper_rule": g.arn_of("AWS::Events::Rule", "SeparationOfDutiesSweeperSchedule"),
            "grant_function": g.arn_of("AWS::Lambda::Function", "SeparationOfDutiesGrantFunction"),
            "runbook_document": g.arn_of("AWS::SSM::Document", "SeparationOfDutiesRunbook"),
            "runbook_role": principals["session_runbook"].role_arn,
            "grants_policy": MEMBER.arn("iam", "policy/ssm-guardrails/SsmGuardrails-SessionGrants", region=""),
            "requester_policy": MEMBER.arn("iam", "policy/SsmGuardrailsSessionRequester", region=""),
            "grants_lock": MEMBER.arn("ssm", "parameter/guardrails/session-grants-lock"),
            "requester_permission_set_role": principals["session_requester_permission_set"].role_arn,
        }

    def _asset_object(self) -> str:
        """One Lambda code object the rollout stack reads the version of (its reader's first resource)."""
        if self.rollout is None:
            return "arn:aws:s3:::no-rollout/none"
        policies = self.rollout.policies_of_role(self.rollout.name_of("AWS::IAM::Role", "CodeVersionReaderHandlerRole"))
        resources = [r for p in policies for s in p["Statement"] for r in as_list(s["Resource"])]
        return next(r for r in resources if r.startswith("arn:aws:s3:::"))

    def resource_policies(self) -> dict[str, dict[str, Any]]:
        """Key and topic policies by the ARN of their key or topic."""
        policies = {}
        for template in (self.regional, self.other_region, self.global_, self.central):
            for logical_id, properties in template.of_type("AWS::KMS::Key"):
                policies[template.arn(logical_id)] = template.resolve(properties["KeyPolicy"])
            for logical_id, _ in template.of_type("AWS::SNS::Topic"):
                topic_arn, policy = template.topic(logical_id)
                if policy is not None:
                    policies[topic_arn] = policy
        return policies

    def _optional_values(self) -> dict[str, str]:
        """Values of resources that some approval paths do not create."""
        r, g, found = self.regional, self.global_, {}
        if any(i.startswith("SeparationOfDutiesApprovalsTopic") for i, _ in g.of_type("AWS::SNS::Topic")):
            found["approvals_topic"] = g.arn_of("AWS::SNS::Topic", "SeparationOfDutiesApprovalsTopic")
        log_group = r.resources[r.logical_id_of("AWS::Logs::LogGroup", "SessionPrefsLogsLogGroup")]
        found["session_log_key"] = r.resolve(log_group["Properties"]["KmsKeyId"])
        return found

    def trust_policies(self) -> dict[str, dict[str, Any]]:
        """Trust policies by the ARN of the role this project creates."""
        templates = (self.regional, self.global_, self.central, *((self.rollout,) if self.rollout else ()))
        return {
            template.arn(logical_id): template.resolve(properties["AssumeRolePolicyDocument"])
            for template in templates
            for logical_id, properties in template.of_type("AWS::IAM::Role")
        }

    def values(self, principals: Mapping[str, Principal]) -> dict[str, str]:
        """Everything a scenario names with {name}."""
        r, c = self.regional, self.central
        arn = MEMBER.arn
        requester, operator = principals["session_requester"], principals["session_operator"]
        other = Principal("SessionOperator", [], session="mallory")
        return {
            "account": MEMBER.account,
            "other_account": OUTSIDER_ACCOUNT,
            "instance_id": INSTANCE_ID,
            "instance": arn("ec2", f"instance/{INSTANCE_ID}"),
            "other_instance": arn("ec2", f"instance/{OTHER_INSTANCE_ID}"),
            "other_region_instance": arn("ec2", f"instance/{INSTANCE_ID}", region=OTHER_REGION),
            "managed_node": arn("ssm", "managed-instance/mi-0123456789abcdef0"),
            "region": MEMBER.region,
            "freshness_report_arn": r.arn_of("AWS::Lambda::Function", "PasswordRotationproductionFreshnessReport"),
            "freshness_report_function": r.name_of(
                "AWS::Lambda::Function", "PasswordRotationproductionFreshnessReport"
            ),
            "ssm_service": f"ssm.{MEMBER.region}.amazonaws.com",
            "sns_service": f"sns.{CENTRAL.region}.amazonaws.com",
            "break_glass_document": r.arn_of("AWS::SSM::Document", "BreakGlassDocument"),
            "break_glass_reset_document": r.arn_of("AWS::SSM::Document", "BreakGlassResetDocument"),
            "break_glass_sweep_rule": r.arn_of("AWS::Events::Rule", "BreakGlassSweepRule"),
            "break_glass_finished_rule": r.arn_of("AWS::Events::Rule", "BreakGlassCommandFinishedRule"),
            "break_glass_state_machine": r.arn_of("AWS::StepFunctions::StateMachine", "BreakGlassCleanupStateMachine"),
            "break_glass_cleanup_function": r.arn_of("AWS::Lambda::Function", "BreakGlassCleanupFunction"),
            "break_glass_deeper_parameter": arn(
                "ssm", f"parameter{CONFIG.controls.break_glass.parameter_prefix}/pwd-{INSTANCE_ID}/kept-forever"
            ),
            "break_glass_non_node_parameter": arn(
                "ssm", f"parameter{CONFIG.controls.break_glass.parameter_prefix}/pwd-admin"
            ),
            "break_glass_parameter": arn(
                "ssm", f"parameter{CONFIG.controls.break_glass.parameter_prefix}/pwd-{INSTANCE_ID}"
            ),
            "break_glass_key": r.key_with_alias(CONFIG.controls.break_glass.key_alias)[0],
            # the tag the organization guard knows the controls' keys and state machines by, as the template sets it
            "break_glass_key_guard_tag": r.key_tags(CONFIG.controls.break_glass.key_alias)["SsmGuardrailsStack"],
            "cleanup_state_machine_guard_tag": r.tags_of(
                "AWS::StepFunctions::StateMachine", "BreakGlassCleanupStateMachine"
            )["SsmGuardrailsStack"],
            "rotation_parameter": arn("ssm", f"parameter/EC2Rescue/Passwords/{INSTANCE_ID}"),
            "rotation_key": r.key_with_alias(CONFIG.controls.password_rotation.key_alias)[0],
            "other_parameter": arn("ssm", "parameter/app/database-password"),
            "operator_settings": arn("ssm", "parameter/guardrails/operator-settings"),
            "run_shell_document": arn("ssm", "document/AWS-RunShellScript", account=""),
            "ec2rescue_document": arn("ssm", "document/AWSSupport-RunEC2RescueForWindowsTool", account=""),
            "shell_document": arn("ssm", "document/SSM-SessionManagerRunShell"),
            "interactive_command_document": arn("ssm", "document/AWS-StartInteractiveCommand", account=""),
            "port_forwarding_document": arn("ssm", "document/AWS-StartPortForwardingSession", account=""),
            "ssh_document": arn("ssm", "document/AWS-StartSSHSession", account=""),
            "session_prefs_function": r.arn_of("AWS::Lambda::Function", "SessionPrefsHandlerFunction"),
            "password_reset_document": arn("ssm", "document/AWS-PasswordReset", account=""),
            "data_key": r.key_with_alias("alias/session-manager/data")[0],
            "session_log_key": r.key_with_alias("alias/session-manager/logs")[0],
            "logs_service": f"logs.{MEMBER.region}.amazonaws.com",
            "session_log_group": r.arn_of("AWS::Logs::LogGroup", "SessionPrefsLogsLogGroup")[:-2],
            "other_region_data_key": self.other_region.key_with_alias("alias/session-manager/data")[0],
            "session_log_stream": f"{r.arn_of('AWS::Logs::LogGroup', 'SessionPrefsLogsLogGroup')[:-2]}:log-stream:{INSTANCE_ID}",
            "other_log_stream": arn("logs", f"log-group:/app/audit:log-stream:{INSTANCE_ID}"),
            "operator_session": arn("ssm", f"session/{operator.userid.split(':')[1]}-0a1b2c3d4e5f6a7b8"),
            "requester_session": arn("ssm", f"session/{requester.userid.split(':')[1]}-0a1b2c3d4e5f6a7b8"),
            "other_session": arn("ssm", "session/mallory-0a1b2c3d4e5f6a7b8"),
            "other_userid": other.userid,
            "administrator_role": principals["administrator"].role_arn,
            "session_operator_userid": operator.userid,
            "session_requester_userid": requester.userid,
            "runbook_default": arn("ssm", "automation-definition/AllowStartSsmSession:$DEFAULT"),
            "other_runbook": arn("ssm", "automation-definition/LendMeTheRole:$DEFAULT"),
            "other_document": arn("ssm", "document/LendMeTheRole"),
            "maintenance_window": arn("ssm", "maintenancewindow/mw-0123456789abcdef0"),
            "association": arn("ssm", "association/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
            **self._runbook_values(principals),
            # a change request is an automation execution of the change template
            "change_template": arn("ssm", "document/AllowSsmSessionStartTemplate"),
            "change_request": arn("ssm", "automation-execution/b3c1357a-5756-4839-8617-2d2a4e0a1b2c"),
            # a just-in-time access request is an OpsItem (GetAccessToken's resource type)
            "access_request": arn("ssm", "opsitem/oi-0123456789ab"),
            "data_key_jit_tag": r.key_tags("alias/session-manager/data").get(
                "SystemsManagerJustInTimeNodeAccessManaged", "absent"
            ),
            "requester_role": requester.role_arn,
            "approver_role": principals["session_approver"].role_arn,
            "automation_execution": arn("ssm", "automation-execution/4f9b0c1e-1111-2222-3333-444455556666"),
            "some_user": arn("iam", "user/alice", region=""),
            "central_topic": c.arn_of("AWS::SNS::Topic", "AccessKeyFindingsTopic"),
            "notifications_topic": r.arn_of("AWS::SNS::Topic", "NotificationsTopic"),
            "rotation_maintenance_window": r.arn_of("AWS::SSM::MaintenanceWindow", "PasswordRotationproductionWindow"),
            "preferences_restore_parameter": arn(
                "ssm", "parameter/guardrails/session-manager/preferences-restore-version"
            ),
            "remediation_role": principals["access_key_remediation"].role_arn,
            **self._optional_values(),
            "cleanup_state_machine": r.arn_of("AWS::StepFunctions::StateMachine", "BreakGlassCleanupStateMachine"),
            "requester_policy": self.global_.arn_of("AWS::IAM::ManagedPolicy", "SeparationOfDutiesOperatorPolicy"),
            "asset_object": self._asset_object(),
            "central_key": c.arn_of("AWS::KMS::Key", "AccessKeyFindingsKey"),
        }
