"""Who can do what: every scenario of scenarios.yaml judged by the IAM simulator.

The example's Member templates and their StackSet copies are resolved for a sample member account
and Region (resolve.py); each scenario's principal gets the identity policies those templates
attach to it, the resource gets its key or topic policy, and the whole session's scenarios go to
the simulator in one batch (simulator.py). Each scenario must get the answer the table expects,
from both template sources.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk_helpers import ROOT, SynthesizedApp, new_app
from cli_scenarios import cli_scenarios
from resolve import Environment, ResolvedTemplate
from simulator import Decision, PolicySet, Request, Result, simulate

from stacks.build import CENTRAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME
from stacks.config import load_config
from stacks.stages import MemberStage

CONFIG = load_config("example")
ORG = CONFIG.organization
DATA: dict[str, Any] = yaml.safe_load(Path(__file__).with_name("scenarios.yaml").read_text())
#: the table's scenarios, and the operator CLI's own calls (cli_scenarios.py; not in the README table)
SCENARIOS: list[dict[str, Any]] = DATA["scenarios"] + cli_scenarios(CONFIG)
CONTROLS = ("BreakGlass", "PasswordRotationWindow", "SessionPrefs", "SeparationOfDuties", "AccessKeyRemediation")
MEMBER = Environment(account="111122223333", region=ORG.home_region)
OTHER_REGION = next(region for region in ORG.regions if region != ORG.home_region)
CENTRAL = Environment(account=ORG.security_account, region=ORG.home_region)
OUTSIDER_ACCOUNT, OUTSIDER_ORG = "999999999999", "o-outsider000"
INSTANCE_ID, OTHER_INSTANCE_ID = "i-0123456789abcdef0", "i-0fedcba9876543210"
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SOURCES = ("stage", "stackset")
#: The other approval paths of SeparationOfDuties: a scenario with `path:` runs against the Member
#: stage of the example config with this `separation_of_duties` section changed (the approvers as
#: tests/test_separation_of_duties.py uses them); without `path:`, against the example's path. The
#: StackSet copy is the same transformation on every path: the example's scenarios prove it.
DEFAULT_PATH = CONFIG.controls.separation_of_duties.approval_path
APPROVAL_PATHS: dict[str, dict[str, Any]] = {
    "change_manager": {"approval_path": "change_manager"},
    "just_in_time": {
        "approval_path": "just_in_time",
        "just_in_time_approvers": [{"type": "SSOGroup", "id": "e8c17310-e011-7089-d989-10da1example"}],
        "just_in_time_node_tags": {"NodeAccess": ["ManualApproval"]},
    },
}
#: A just-in-time session runs with the access token's credentials, scoped by AWS's session
#: policy; its key statement, verbatim: only keys tagged SystemsManagerJustInTimeNodeAccessManaged=true.
#: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSystemsManagerJustInTimeAccessTokenSessionPolicy.html
JUST_IN_TIME_SESSION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SessionManagerKmsPermission",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey"],
            "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/SystemsManagerJustInTimeNodeAccessManaged": "true"}},
        }
    ],
}


#: Scenarios with `config:` run against the Member stage of another example config.
CONFIGS = {"identity_center": "example-identity-center"}


def path_of(scenario: Mapping[str, Any]) -> str:
    return scenario.get("path", DEFAULT_PATH)


def world_of(scenario: Mapping[str, Any]) -> str:
    """The templates a scenario runs against: another config's, else its approval path's."""
    return scenario.get("config") or path_of(scenario)


def sources_of(scenario: Mapping[str, Any]) -> tuple[str, ...]:
    return SOURCES if world_of(scenario) == DEFAULT_PATH else ("stage",)


def _session_window() -> Any:
    """The runbook's grant script: scenarios with ``grant:`` get the policy it would write."""
    spec = importlib.util.spec_from_file_location("session_window", ROOT / "ssm_documents/scripts/session_window.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["session_window"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SESSION_WINDOW = _session_window()
#: An Identity Center role's suffix (16 hex digits) and path with the identity source's Region:
#: https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html
IDENTITY_CENTER_SUFFIX = "1234567890abcdef"
IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-2/"
TAG_ANY_NODE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
            "Resource": "*",
        }
    ],
}


@dataclass(frozen=True)
class Principal:
    """A role session: the role, its session name, and the identity policies attached to the role."""

    role_name: str
    policies: list[dict[str, Any]]
    session: str = "alice"
    path: str = "/"  # an IAM Identity Center role's is /aws-reserved/sso.amazonaws.com/<region>/
    account: str = MEMBER.account
    org_id: str = ORG.id
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
            "aws:PrincipalType": "AssumedRole",
            "aws:userid": self.userid,
            "aws:SecureTransport": "true",
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

    def role_policies(self, role_name: str) -> list[dict[str, Any]]:
        return self.regional.policies_of_role(role_name) + self.global_.policies_of_role(role_name)

    def created_role(self, template: ResolvedTemplate, id_prefix: str) -> Principal:
        name = template.name_of("AWS::IAM::Role", id_prefix)
        return Principal(name, template.policies_of_role(name))

    def principals(self) -> dict[str, Principal]:
        r, g = self.regional, self.global_
        sod = CONFIG.controls.separation_of_duties
        requester = sod.operator_roles[0].name
        return {
            **self.identity_center_principals(),
            "break_glass_operator": self._config_role(CONFIG.controls.break_glass.operator_roles[0].name),
            "password_administrator": self._config_role(CONFIG.controls.password_rotation.administrator_roles[0].name),
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
                CONFIG.controls.password_rotation.administrator_roles[0].name,
                [*self.role_policies(CONFIG.controls.password_rotation.administrator_roles[0].name), TAG_ANY_NODE],
            ),
            "break_glass_cleanup": self.created_role(r, "BreakGlassCleanupRole"),
            "break_glass_state_machine": self.created_role(r, "BreakGlassCleanupStateMachineRole"),
            "rotation_window": self.created_role(r, "PasswordRotationproductionWindowRole"),
            "freshness_report": self.created_role(r, "PasswordRotationproductionFreshnessReportRole"),
            **self._runbook_roles(),
            # a just-in-time session: the access token's credentials, within AWS's session policy
            "just_in_time_session": Principal("SSM-JustInTimeAccessTokenRole", [JUST_IN_TIME_SESSION_POLICY]),
            "access_key_remediation": self.created_role(g, "AccessKeyRemediationAutomationRole"),
            # administrators with every IAM permission, in a member account and in the topic's account
            "security_administrator": Principal("Administrator", [ADMINISTRATOR_ACCESS], account=CENTRAL.account),
            "outsider": Principal(
                "Administrator", [ADMINISTRATOR_ACCESS], account=OUTSIDER_ACCOUNT, org_id=OUTSIDER_ORG
            ),
        }

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
        administrator = "PasswordAdministrator"
        rotation = [
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-PasswordAdministrator-PasswordRotation-production-{region}"),
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-PasswordAdministratorCli-{region}"),
            r.policy_named(f"/ssm-guardrails/SsmGuardrails-OperatorCli-{region}"),
        ]
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
            "session_requester_permission_set": identity_center_role(
                "SessionRequester", [g.policy_named("/SsmGuardrailsSessionRequester")]
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
        }

    def _runbook_values(self, principals: Mapping[str, Principal]) -> dict[str, str]:
        g = self.global_
        if "session_runbook" not in principals:
            return {}
        return {
            "sweeper_function": g.arn_of("AWS::Lambda::Function", "SeparationOfDutiesSweeperFunction"),
            "sweeper_rule": g.arn_of("AWS::Events::Rule", "SeparationOfDutiesSweeperSchedule"),
            "runbook_document": g.arn_of("AWS::SSM::Document", "SeparationOfDutiesRunbook"),
            "runbook_role": principals["session_runbook"].role_arn,
        }

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
            "break_glass_parameter": arn(
                "ssm", f"parameter{CONFIG.controls.break_glass.parameter_prefix}/pwd-{INSTANCE_ID}"
            ),
            "break_glass_key": r.key_with_alias(CONFIG.controls.break_glass.key_alias)[0],
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
            "central_key": c.arn_of("AWS::KMS::Key", "AccessKeyFindingsKey"),
        }


#: AWS-owned documents have ARNs without an account ("The account ID shouldn't be specified in the
#: ARN for AWS owned public documents":
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html).
#: The simulator refuses request ARNs with an empty account, so the empty account becomes this
#: stand-in in requests and policies alike: it matches exactly what the empty field matched.
AWS_OWNED_STAND_IN = "000000000000"
_AWS_OWNED_DOCUMENT = re.compile(r"^(arn:[\w-]+:ssm:[\w*?-]*)::document/")


def aws_owned_stand_in(value: Any) -> Any:
    if isinstance(value, str):
        return _AWS_OWNED_DOCUMENT.sub(rf"\1:{AWS_OWNED_STAND_IN}:document/", value)
    if isinstance(value, list):
        return [aws_owned_stand_in(item) for item in value]
    if isinstance(value, dict):
        return {key: aws_owned_stand_in(item) for key, item in value.items()}
    return value


def _formatted(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, list):
        return [_formatted(item, values) for item in value]
    return {key: _formatted(item, values) for key, item in value.items()}


#: Deliberately weakened policies that must flip every answer: nothing at all for a call expected
#: allowed (the answer cannot be "allowed" without a grant), and allow-everything identity and
#: resource policies for a call expected denied (so the request itself is one IAM can allow).
ALLOW_EVERYTHING_TO_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*"}],
}


def weakened(policies: PolicySet, expect: str) -> PolicySet:
    if expect == "allowed":
        return PolicySet()
    return PolicySet(identity=[ADMINISTRATOR_ACCESS], resource=policies.resource and ALLOW_EVERYTHING_TO_ANYONE)


def grant_policy(grant: Mapping[str, str], principals: Mapping[str, Principal], default: str) -> dict[str, Any]:
    """``grant: {instance, expires, for}``: the Grant step's policy for the session of ``for`` (default:
    the scenario's principal), rendered by the runbook script itself."""
    prefs = CONFIG.controls.session_prefs
    return SESSION_WINDOW.grant_policy(
        userid=principals[grant.get("for", default)].userid,
        node_id=grant["instance"],
        account=MEMBER.account,
        regions=list(ORG.regions),
        expires_at=grant["expires"],
        key_alias="alias/session-manager/data" if prefs.enabled and prefs.session_encryption else "",
    )


def scenario_batch(world: World, suffix: str, path: str = DEFAULT_PATH) -> list[tuple[str, PolicySet, Request]]:
    """The scenarios of approval path ``path`` against ``world``."""
    principals = world.principals()
    values = world.values(principals)
    resource_policies = world.resource_policies()
    batch = []
    for scenario in (s for s in SCENARIOS if world_of(s) == path):
        principal = principals[scenario["as"]]
        tags = _formatted(scenario.get("tags", {}), values)
        resource = _formatted(scenario["resource"], values)
        context = {**principal.context(tags), **_formatted(scenario.get("context", {}), values)}
        identity = principal.policies
        if "grant" in scenario:  # the inline policy the runbook's Grant step writes on the role
            identity = [*identity, grant_policy(_formatted(scenario["grant"], values), principals, scenario["as"])]
            # AWS sends the Region of every request (aws:RequestedRegion), here the resource's
            context.setdefault("aws:RequestedRegion", resource.split(":")[3] if resource != "*" else MEMBER.region)
        # AWS-owned documents are evaluated like resources of the caller's account (no resource policy)
        request = Request(
            principal.session_arn,
            scenario["action"],
            aws_owned_stand_in(resource),
            context,
            resource_account=principal.account if _AWS_OWNED_DOCUMENT.match(resource) else None,
        )
        policies = PolicySet(identity=aws_owned_stand_in(identity), resource=resource_policies.get(resource))
        batch.append((f"{scenario['id']}@{suffix}", policies, request))
        if suffix == "stage":
            batch.append((f"{scenario['id']}@weakened", weakened(policies, scenario["expect"]), request))
    return batch


def worlds(example_app: SynthesizedApp) -> dict[str, World]:
    """The Member stage's templates and the StackSet copies of the same stacks."""
    stackset = {
        name: json.loads(
            next(
                p for p in example_app.template_paths if name.split("-")[-1] in p.name and "stackset" in p.name
            ).read_text()
        )
        for name in (MEMBER_REGIONAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME)
    }
    stage = {name: example_app.template_json(name) for name in stackset}
    central = ResolvedTemplate(example_app.template_json(CENTRAL_STACK_NAME), CENTRAL_STACK_NAME, CENTRAL)
    other_region = Environment(MEMBER.account, OTHER_REGION)

    def world(templates: dict[str, dict[str, Any]]) -> World:
        regional = templates[MEMBER_REGIONAL_STACK_NAME]
        return World(
            regional=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, MEMBER),
            other_region=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, other_region),
            global_=ResolvedTemplate(templates[MEMBER_GLOBAL_STACK_NAME], MEMBER_GLOBAL_STACK_NAME, MEMBER),
            central=central,
        )

    return {"stage": world(stage), "stackset": world(stackset)}


def path_world(path: str, directory: Path, central: ResolvedTemplate) -> World:
    """The Member stage (only) of the example config with approval path ``path`` (or of the config
    ``CONFIGS[path]``), validated like any config file; the central stack is the example's."""
    raw = yaml.safe_load((ROOT / "config" / f"{CONFIGS.get(path, 'example')}.yaml").read_text())
    raw["controls"]["separation_of_duties"].update(APPROVAL_PATHS.get(path, {}))
    config_file = directory / f"{path}.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    app = new_app(directory / f"{path}.out")
    MemberStage(app, "Member", config=load_config(str(config_file)))
    synthesized = SynthesizedApp(app, app.synth())
    regional = synthesized.template_json(MEMBER_REGIONAL_STACK_NAME)
    return World(
        regional=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, MEMBER),
        other_region=ResolvedTemplate(regional, MEMBER_REGIONAL_STACK_NAME, Environment(MEMBER.account, OTHER_REGION)),
        global_=ResolvedTemplate(synthesized.template_json(MEMBER_GLOBAL_STACK_NAME), MEMBER_GLOBAL_STACK_NAME, MEMBER),
        central=central,
    )


@pytest.fixture(scope="session")
def access_results(example_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every scenario from both template sources, and those of the other approval paths from
    their Member stage, in one simulator batch."""
    example = worlds(example_app)
    batch = [item for source, world in example.items() for item in scenario_batch(world, source)]
    directory = tmp_path_factory.mktemp("approval-paths")
    for path in sorted({world_of(s) for s in SCENARIOS} - {DEFAULT_PATH}):
        batch += scenario_batch(path_world(path, directory, example["stage"].central), "stage", path)
    return simulate(batch)


def _expected(scenario: dict[str, Any]) -> Callable[[Decision], bool]:
    return {"allowed": lambda d: d.allowed, "denied": lambda d: d.denied}[scenario["expect"]]


@pytest.mark.parametrize(
    ("scenario", "source"),
    [(s, source) for source in SOURCES for s in SCENARIOS if source in sources_of(s)],
    ids=[f"{source}-{s['id']}" for source in SOURCES for s in SCENARIOS if source in sources_of(s)],
)
def test_scenario(access_results: dict[str, Result], scenario: dict[str, Any], source: str) -> None:
    result = access_results[f"{scenario['id']}@{source}"]
    assert result.decision is not None
    assert _expected(scenario)(result.decision), (
        f"{scenario['as']} {scenario['action']} on {scenario['resource']}: expected {scenario['expect']}, "
        f"got {result.decision} ({result.statement or ', '.join(map(str, result.statements))})"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_weakened_policies_give_the_opposite_answer(
    access_results: dict[str, Result], scenario: dict[str, Any]
) -> None:
    """The harness can fail: the same request against policies weakened on purpose flips."""
    result = access_results[f"{scenario['id']}@weakened"]
    assert result.decision is not None
    assert not _expected(scenario)(result.decision)


def test_the_table_covers_every_control_both_ways() -> None:
    assert len(SCENARIOS) >= 60
    assert len({s["id"] for s in SCENARIOS}) == len(SCENARIOS)
    for control in CONTROLS:
        expectations = {s["expect"] for s in SCENARIOS if s["control"] == control}
        assert expectations == {"allowed", "denied"}, control
    assert {s["control"] for s in SCENARIOS} == set(CONTROLS)
    for scenario in SCENARIOS:
        assert scenario["as"] in DATA["principals"], scenario["id"]
        assert path_of(scenario) in {DEFAULT_PATH, *APPROVAL_PATHS}, scenario["id"]
        assert scenario.get("config", "identity_center") in CONFIGS, scenario["id"]
        assert ("may" if scenario["expect"] == "allowed" else "may_not") in scenario, scenario["id"]


def test_readme_who_can_do_what_is_generated_from_the_scenarios() -> None:
    """Run `make access-table` after changing scenarios.yaml."""
    spec = importlib.util.spec_from_file_location("access_table", ROOT / "scripts" / "access_table.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = (ROOT / "README.md").read_text()
    assert script.readme_with_table(readme, script.table(DATA)) == readme
