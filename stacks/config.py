"""Deployment configuration: ``config/<name>.yaml``, validated before any stack is built.

Every mistake becomes one line: ``config/<name>.yaml: <key.path>: got <value>; allowed: <what>``.
Range and format rules come from the constructs' own checks, so the config and the construct
props can never disagree about what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError

from guardrails import session_prefs as prefs
from guardrails.access_keys import AccessKeyFindingsSettings, AccessKeyRemediationSettings
from guardrails.break_glass import BreakGlassSettings
from guardrails.password_rotation import PasswordRotationSettings, RotationWindowSettings
from guardrails.rollout.asset_bucket import BUCKET_PREFIX
from guardrails.rollout.stack_set import CallAs
from guardrails.separation_of_duties import SeparationOfDutiesSettings
from guardrails.session_prefs import SessionPrefsSettings
from guardrails.shared import Principal, PropsError
from guardrails.shared.settings import Allowed, Settings, in_range, matching, validating_config
from guardrails.shared.validation import (
    ACCOUNT_ID,
    ORGANIZATION_ID,
    ORGANIZATIONAL_UNIT,
    REGION,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CONFIG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConfigError(Exception):
    """The configuration cannot be used. ``str(error)`` is one line per problem."""


AccountId = Annotated[str, matching(ACCOUNT_ID, "a 12-digit account id, quoted so YAML keeps it a string")]
OrganizationId = Annotated[str, matching(ORGANIZATION_ID, "an organization id such as o-a1b2c3d4e5")]
OrganizationalUnitId = Annotated[
    str, matching(ORGANIZATIONAL_UNIT, "an OU id such as ou-ab12-cdef3456, or the root id r-ab12")
]
Region = Annotated[str, matching(REGION, "a Region name such as eu-west-1")]


def _principal(value: Any) -> Principal:
    try:
        return Principal.parse(value)
    except PropsError as error:
        raise ValueError(f"allowed: {error.allowed}") from None


def _instance_role(value: Any) -> Principal:
    principal = _principal(value)
    if not principal.attachable:
        raise ValueError("allowed: a role name or role ARN (instances do not sign in through IAM Identity Center)")
    return principal


def _checked(setting: str, value: Any) -> None:
    """The validators above have checked the entry; the README table reads ``Allowed``'s text."""


#: A person's role: a role name, a role ARN with any path, or ``{permission_set: Name}`` (README
#: "IAM Identity Center"). The same type serves every list of people (operators, readers, approvers).
RoleEntry = Annotated[
    Principal,
    PlainValidator(_principal),
    PlainSerializer(Principal.config_form),
    Allowed(_checked, "role name, role ARN (any path) or `{permission_set: Name}`"),
]
#: An instance profile's role: a name or an ARN (policies are attached to it).
InstanceRoleEntry = Annotated[
    Principal,
    PlainValidator(_instance_role),
    PlainSerializer(Principal.config_form),
    Allowed(_checked, "role name or role ARN (any path)"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OrganizationConfig(_Strict):
    """``organization``: where the controls go. Synth never asks AWS: every id is written here."""

    id: OrganizationId = Field(
        description="AWS Organizations id: asset buckets and the central topic admit its principals only."
    )
    management_account: AccountId = Field(description="The management account (StackSets never deploy into it).")
    delegated_admin_account: AccountId | None = Field(
        None,
        description="StackSets delegated administrator: holds the StackSets, asset buckets and (by default) the "
        "pipeline, with `CallAs: DELEGATED_ADMIN`; none: all of that in the management account, `CallAs: SELF`.",
    )
    security_account: AccountId = Field(description="Holds the central topics (`Central/SsmGuardrails-Central`).")
    home_region: Region = Field(
        description="One of `regions`: account-wide resources (IAM, AWS Config), the central stack, the StackSets, "
        "the pipeline."
    )
    regions: Annotated[list[Region], Field(min_length=1)] = Field(
        description="Regions that get the regional controls and an asset bucket (each once)."
    )
    target_ous: Annotated[list[OrganizationalUnitId], Field(min_length=1)] = Field(
        description="The OUs whose accounts get the controls (and may publish access-key findings)."
    )
    only_accounts: list[AccountId] = Field(
        default_factory=list,
        description="Non-empty: only these accounts of `target_ous` (`INTERSECTION`); at least one besides the "
        "canaries; needs `rollout.auto_deployment: false`.",
    )
    exclude_accounts: list[AccountId] = Field(
        default_factory=list,
        description="Accounts of `target_ous` that never get the controls (`DIFFERENCE`); empty with `only_accounts`; "
        "needs `rollout.auto_deployment: false`.",
    )
    canary_accounts: list[AccountId] = Field(
        default_factory=list,
        description="Get every new version first, in their own StackSets (inside the targets); empty: one wave.",
    )
    cloudtrail: Literal["organization_trail", "account_trails"] = Field(
        "organization_trail",
        description="How member accounts record the management events the alert rules read: one organization "
        "trail (`make preflight` checks it) or each account's own trails (only `ssm-guardrails doctor` checks them).",
    )
    guard_policy: bool = Field(
        False,
        description='Deploy the separation-of-duties organization guard SCP to `target_ous` (README "The '
        'organization guard").',
    )

    @property
    def stack_set_account(self) -> str:
        """The account that holds the StackSets and their asset buckets."""
        return self.delegated_admin_account or self.management_account

    @property
    def call_as(self) -> CallAs:
        """How that account calls CloudFormation for service-managed StackSets."""
        delegated = self.stack_set_account != self.management_account
        return CallAs.DELEGATED_ADMIN if delegated else CallAs.SELF


class RolloutConfig(_Strict):
    """``rollout``: StackSet operation preferences of both waves (the section may be omitted)."""

    auto_deployment: bool = Field(
        True,
        description="StackSet auto-deployment of the organization wave (new accounts of the OUs get the stacks). "
        "AWS: automatic deployments do not consider account level targeting filters, so it must be `false` with "
        "`only_accounts` or `exclude_accounts`.",
    )
    retain_stacks_on_account_removal: bool = Field(
        True, description="An account that leaves the target OUs keeps its stacks (organization wave)."
    )
    max_concurrent_percentage: Annotated[int, in_range(1, 100, "%")] = Field(
        25, description="Share of accounts updated at once, per Region."
    )
    failure_tolerance_percentage: Annotated[int, in_range(0, 100, "%")] = Field(
        0, description="Share of accounts per Region that may fail before the operation stops."
    )
    region_concurrency: Literal["parallel", "sequential"] = Field(
        "parallel", description="All Regions at once, or one after another, home Region first."
    )
    asset_bucket_audit: Literal["access_logs", "none"] = Field(
        "access_logs",
        description="`access_logs`: each asset bucket writes S3 server access logs to a locked-down log bucket; "
        "`none`: no audit trail of asset writes.",
    )
    asset_bucket_prefix: Annotated[str, matching(BUCKET_PREFIX, "2-34 of a-z 0-9 -, not starting with -")] = Field(
        "ssm-guardrails-assets",
        description="Asset buckets are `<prefix>-<StackSet account>-<region>` (change it if the name is taken).",
    )


class ConnectionSourceConfig(_Strict):
    """``pipeline.source.connection``: a repository reached through AWS CodeConnections."""

    connection_arn: Annotated[
        str,
        matching(
            r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}",
            "a CodeConnections connection ARN",
        ),
    ] = Field(description="The connection to GitHub, GitLab or Bitbucket.")
    repository: Annotated[str, matching(r"[\w.-]+/[\w./-]+", "owner/repository")] = Field(description="The repository.")
    branch: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        "main", description="Every push to it runs the pipeline."
    )


class S3SourceConfig(_Strict):
    """``pipeline.source.s3``: a zip of the repository in an S3 bucket of the pipeline account (versioning on)."""

    bucket: Annotated[str, matching(prefs.BUCKET_NAME, "an S3 bucket name: 3-63 of a-z 0-9 . -")] = Field(
        description="The bucket."
    )
    object_key: Annotated[str, Field(min_length=1, max_length=1024)] = Field(description="The zip's key.")


class PipelineSourceConfig(_Strict):
    """``pipeline.source``: exactly one of the two."""

    connection: ConnectionSourceConfig | None = Field(None, description="A CodeConnections repository.")
    s3: S3SourceConfig | None = Field(None, description="A zip in S3.")


class PipelineConfig(_Strict):
    """``pipeline``: the CDK pipeline that delivers every change (omit the section for no pipeline)."""

    account: AccountId | None = Field(
        None, description="Where the pipeline lives (home Region); none: the StackSet account."
    )
    source: PipelineSourceConfig = Field(description="Where the pipeline reads the repository.")
    approve_before_organization: bool = Field(
        True, description="A manual approval between the canary wave and the organization wave."
    )


class BreakGlassConfig(BreakGlassSettings):
    """``controls.break_glass``: :class:`guardrails.break_glass.BreakGlassSettings` and the roles it uses."""

    enabled: bool = Field(True, description="Deploy break-glass.")
    operator_roles: list[RoleEntry] = Field(
        default_factory=list,
        description=(
            "Who may run break-glass and read the password (at least one); they get or reference "
            '`SsmGuardrails-BreakGlassOperator-<region>` (README "IAM Identity Center").'
        ),
    )
    instance_roles: list[InstanceRoleEntry] = Field(
        default_factory=list, description="Instance-profile roles that get the write-only instance policy."
    )


class RotationWindowConfig(RotationWindowSettings):
    """One entry of ``controls.password_rotation.windows``."""

    name: Annotated[str, matching(r"[A-Za-z0-9-]{1,40}", "1-40 letters, digits or -")] = Field(
        description="Names the window (part of its construct id; unique)."
    )


class PasswordRotationConfig(PasswordRotationSettings):
    """``controls.password_rotation``: :class:`guardrails.password_rotation.PasswordRotationSettings`, its
    windows and the roles it uses."""

    enabled: bool = Field(True, description="Deploy password rotation.")
    administrator_roles: list[RoleEntry] = Field(
        default_factory=list,
        description=(
            "Who may read rotated passwords (at least one); they get or reference "
            "`SsmGuardrails-PasswordAdministrator-PasswordRotation-<window>-<region>`."
        ),
    )
    instance_roles: list[InstanceRoleEntry] = Field(
        default_factory=list, description="Instance-profile roles of the Windows instances (write-only policy)."
    )
    windows: list[RotationWindowConfig] = Field(
        default_factory=list, description="One maintenance window per entry (at least one)."
    )


class AccessKeyRemediationConfig(AccessKeyRemediationSettings, AccessKeyFindingsSettings):
    """``controls.access_key_remediation``: :class:`guardrails.access_keys.AccessKeyRemediationSettings`
    (member accounts) and :class:`guardrails.access_keys.AccessKeyFindingsSettings` (the central topic)."""

    enabled: bool = Field(True, description="Deploy the access-key control (members and the central topic).")


class VpcConfig(_Strict):
    """``controls.session_prefs.vpc``: a VPC of the member account, written out (synth looks nothing up)."""

    id: Annotated[str, matching(r"vpc-[0-9a-f]{8,17}", "a VPC id such as vpc-0123456789abcdef0")] = Field(
        description="The VPC."
    )
    cidr: Annotated[str, matching(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", "an IPv4 CIDR such as 10.0.0.0/16")] = Field(
        description="Its CIDR: the endpoints' security group admits 443 from it."
    )
    availability_zones: Annotated[list[str], Field(min_length=1)] = Field(description="Its Availability Zones.")
    private_subnet_ids: Annotated[
        list[Annotated[str, matching(r"subnet-[0-9a-f]{8,17}", "a subnet id")]], Field(min_length=1)
    ] = Field(description="The private subnets that get the interface endpoints.")
    private_subnet_route_table_ids: list[Annotated[str, matching(r"rtb-[0-9a-f]{8,17}", "a route table id")]] = Field(
        default_factory=list, description="Their route tables (required with `s3_logging`: S3 gateway)."
    )


class SessionPrefsConfig(SessionPrefsSettings):
    """``controls.session_prefs``: :class:`guardrails.session_prefs.SessionPrefsSettings`, the roles it
    uses and the VPC that gets the interface endpoints."""

    enabled: bool = Field(True, description="Deploy the Session Manager preferences.")
    operator_roles: list[RoleEntry] = Field(
        default_factory=list,
        description=(
            "Who gets or references the operator policy `SsmGuardrails-SessionOperator-<region>` "
            "(sessions on tagged instances)."
        ),
    )
    instance_roles: list[InstanceRoleEntry] = Field(
        default_factory=list, description="Instance-profile roles that get the instance policy."
    )
    log_reader_roles: list[RoleEntry] = Field(
        default_factory=list,
        description="Roles that may read session transcripts (decrypt the created log group's key through CloudWatch "
        "Logs); nobody else may decrypt. Only for a log group the stack creates.",
    )
    vpc: VpcConfig | None = Field(None, description="Create the Session Manager interface endpoints in this VPC.")


class SeparationOfDutiesConfig(SeparationOfDutiesSettings):
    """``controls.separation_of_duties``: :class:`guardrails.separation_of_duties.SeparationOfDutiesSettings`
    and the roles it uses."""

    enabled: bool = Field(True, description="Deploy separation of duties (member global stack, home Region).")
    operator_roles: list[RoleEntry] = Field(
        default_factory=list,
        description=(
            "Who requests sessions; they get or reference `SsmGuardrailsSessionRequester` "
            "(permission sets also `/ssm-guardrails/SsmGuardrails-SessionGrants` on the runbook and Change "
            "Manager paths)."
        ),
    )
    approver_roles: list[RoleEntry] = Field(
        default_factory=list,
        description=(
            "Who approves, none of them an operator; they get or reference "
            "`/ssm-guardrails/SsmGuardrailsSessionApprover` (permission sets: not on the change_manager path)."
        ),
    )


class ControlsConfig(_Strict):
    """Every control; a control whose section is absent is not deployed."""

    break_glass: BreakGlassConfig = Field(default_factory=lambda: BreakGlassConfig(enabled=False))
    password_rotation: PasswordRotationConfig = Field(default_factory=lambda: PasswordRotationConfig(enabled=False))
    access_key_remediation: AccessKeyRemediationConfig = Field(
        default_factory=lambda: AccessKeyRemediationConfig(enabled=False)
    )
    session_prefs: SessionPrefsConfig = Field(default_factory=lambda: SessionPrefsConfig(enabled=False))
    separation_of_duties: SeparationOfDutiesConfig = Field(
        default_factory=lambda: SeparationOfDutiesConfig(enabled=False)
    )

    #: Every list of principals the config names, as (control, key): the stacks attach policies to
    #: the roles given by name or ARN (they must exist before a deploy) and match permission sets by
    #: pattern.
    ROLE_LISTS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("break_glass", "operator_roles"),
        ("break_glass", "instance_roles"),
        ("password_rotation", "administrator_roles"),
        ("password_rotation", "instance_roles"),
        ("session_prefs", "operator_roles"),
        ("session_prefs", "instance_roles"),
        ("session_prefs", "log_reader_roles"),
        ("separation_of_duties", "operator_roles"),
        ("separation_of_duties", "approver_roles"),
    )

    def roles(self, control: str, key: str) -> list[Principal]:
        """The principals of ``control.key``, or none when that control is disabled (it attaches nothing)."""
        settings = getattr(self, control)
        return list(getattr(settings, key)) if settings.enabled else []

    def named_roles(self) -> list[Principal]:
        """Every role the enabled controls name by name or ARN (the roles that must exist), once each."""
        found = {p.key: p for control, key in self.ROLE_LISTS for p in self.roles(control, key) if p.attachable}
        return [found[key] for key in sorted(found)]

    @property
    def has_global_controls(self) -> bool:
        """Whether anything goes into the member global stack (an empty template cannot deploy)."""
        return self.access_key_remediation.enabled or self.separation_of_duties.enabled


class GuardrailsConfig(_Strict):
    organization: OrganizationConfig
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    pipeline: PipelineConfig | None = None
    controls: ControlsConfig = Field(default_factory=ControlsConfig)


def load_config(name: str, directory: Path = CONFIG_DIR) -> GuardrailsConfig:
    """Read and validate ``<directory>/<name>.yaml`` (or ``name`` itself when it is a .yaml path).

    Raise :class:`ConfigError` on any mistake.
    """
    if isinstance(name, str) and name.endswith((".yaml", ".yml")):
        path = Path(name)
        directory = path.parent
    elif isinstance(name, str) and CONFIG_NAME.fullmatch(name):
        path = directory / f"{name}.yaml"
    else:
        raise ConfigError(f"-c config: got {name!r}; allowed: a name under config/ (without .yaml) or a .yaml path")
    shown = f"config/{path.name}" if directory == CONFIG_DIR else str(path)
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise ConfigError(f"{shown}: file not found; available configs: {available}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{shown}: not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: got {type(raw).__name__}; allowed: a mapping with organization and controls")
    try:
        with validating_config():
            config = GuardrailsConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("\n".join(f"{shown}: {line}" for line in _describe(error))) from None
    problems = list(_cross_checks(config))
    if problems:
        raise ConfigError("\n".join(f"{shown}: {line}" for line in problems))
    return config


def _describe(error: ValidationError) -> Iterator[str]:
    for item in error.errors(include_url=False):
        where = _dotted(item["loc"])
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(item["loc"][:-1]))
            yield f"{where}: unknown key; allowed keys here: {allowed}"
        elif item["type"] == "missing":
            yield f"{where}: required key is missing"
        elif item["type"] == "value_error":
            yield f"{where}: got {item['input']!r}; {item['msg'].removeprefix('Value error, ')}"
        else:
            yield f"{where}: got {item['input']!r}; {item['msg']}"


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: Any = GuardrailsConfig
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        model = annotation
    return sorted(model.model_fields)


def _settings_problems(node: Any, where: str) -> Iterator[str]:
    """The cross-setting rules each control declares with its settings (``Settings.problems``)."""
    if isinstance(node, Settings) and getattr(node, "enabled", True):
        for key, value, allowed in node.problems():
            yield f"{where}.{key}: got {value!r}; allowed: {allowed}"
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _settings_problems(getattr(node, name), f"{where}.{name}" if where else name)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _settings_problems(item, f"{where}[{index}]")


def _cross_checks(config: GuardrailsConfig) -> Iterator[str]:
    """Rules that span several keys."""
    yield from _settings_problems(config, "")
    org = config.organization
    if org.guard_policy and not config.controls.separation_of_duties.enabled:
        yield "organization.guard_policy: got True; allowed: true only with controls.separation_of_duties enabled"
    if org.home_region not in org.regions:
        yield f"organization.home_region: got {org.home_region!r}; allowed: one of organization.regions {org.regions}"
    if len(set(org.regions)) != len(org.regions):
        yield f"organization.regions: got {org.regions!r}; allowed: each Region once"
    yield from _organization_checks(org)
    yield from _auto_deployment_checks(org, config.rollout)
    yield from _pipeline_checks(config.pipeline)
    break_glass = config.controls.break_glass
    if break_glass.enabled and not break_glass.operator_roles:
        yield "controls.break_glass.operator_roles: got []; allowed: at least one role name when enabled"
    rotation_settings = config.controls.password_rotation
    if rotation_settings.enabled:
        if not rotation_settings.administrator_roles:
            yield "controls.password_rotation.administrator_roles: got []; allowed: at least one role name when enabled"
        if not rotation_settings.windows:
            yield "controls.password_rotation.windows: got []; allowed: at least one window when enabled"
    yield from _session_prefs_checks(config.controls.session_prefs)
    yield from _separation_of_duties_checks(config.controls.separation_of_duties)
    yield from _conflicting_jobs_checks(config.controls)
    yield from _unique("controls.password_rotation.windows", [w.name for w in rotation_settings.windows], "name")
    for section, key in ControlsConfig.ROLE_LISTS:
        yield from _unique(f"controls.{section}.{key}", getattr(getattr(config.controls, section), key), "role")


def _organization_checks(org: OrganizationConfig) -> Iterator[str]:
    """Targets and canaries: every account list means something StackSets can do."""
    where = "organization"
    for key in ("target_ous", "only_accounts", "exclude_accounts", "canary_accounts"):
        yield from _unique(f"{where}.{key}", getattr(org, key), "id")
    if org.only_accounts and org.exclude_accounts:
        yield f"{where}.exclude_accounts: got {org.exclude_accounts!r}; allowed: [] when only_accounts is set"
    for key in ("only_accounts", "canary_accounts"):
        if org.management_account in getattr(org, key):
            yield (
                f"{where}.{key}: got {org.management_account!r} (the management account); allowed: member "
                "accounts (StackSets never deploy to the management account)"
            )
    outside = [
        a
        for a in org.canary_accounts
        if a in org.exclude_accounts or (org.only_accounts and a not in org.only_accounts)
    ]
    if outside:
        yield (
            f"{where}.canary_accounts: got {outside!r} outside the targets; allowed: accounts in only_accounts "
            "(when set) and not in exclude_accounts"
        )
    if org.only_accounts and not set(org.only_accounts) - set(org.canary_accounts):
        yield (
            f"{where}.canary_accounts: got every account of only_accounts; allowed: a subset that leaves "
            "at least one account for the organization stage"
        )


#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
AUTO_DEPLOYMENT_IGNORES_FILTERS = (
    "auto-deployment ignores account filters: an account that joins a target OU later gets the stacks"
)


def _auto_deployment_checks(org: OrganizationConfig, rollout: RolloutConfig) -> Iterator[str]:
    """Account lists and auto-deployment contradict each other: refused, never silently weakened.
    Canary accounts are allowed with auto-deployment: a moved canary fails to create the organization
    stack (named resources exist) and `make preflight` names it with the fix."""
    if not rollout.auto_deployment:
        return
    for key in ("only_accounts", "exclude_accounts"):
        if getattr(org, key):
            yield (
                f"rollout.auto_deployment: got True with organization.{key}; allowed: false with {key} "
                f"({AUTO_DEPLOYMENT_IGNORES_FILTERS}), or target OUs without {key}"
            )


def _pipeline_checks(pipeline: PipelineConfig | None) -> Iterator[str]:
    if pipeline is None:
        return
    given = [key for key in ("connection", "s3") if getattr(pipeline.source, key) is not None]
    if len(given) != 1:
        yield f"pipeline.source: got {given or 'neither'}; allowed: exactly one of connection, s3"


def _session_prefs_checks(settings: SessionPrefsConfig) -> Iterator[str]:
    where = "controls.session_prefs"
    if settings.enabled and settings.vpc and settings.s3_logging and not settings.vpc.private_subnet_route_table_ids:
        yield f"{where}.vpc.private_subnet_route_table_ids: got []; allowed: the subnets' route tables (for S3)"
    if settings.enabled and settings.log_reader_roles and (settings.log_group_name or not settings.cloudwatch_logging):
        yield (
            f"{where}.log_reader_roles: got {[str(p) for p in settings.log_reader_roles]!r}; allowed: [] unless "
            "the stack creates "
            "the session log group (cloudwatch_logging: true, log_group_name: null); an existing group's key is yours"
        )


def _separation_of_duties_checks(settings: SeparationOfDutiesConfig) -> Iterator[str]:
    where = "controls.separation_of_duties"
    if not settings.enabled:
        return
    if not settings.operator_roles:
        yield f"{where}.operator_roles: got []; allowed: at least one role name when enabled"
    if settings.approval_path == "just_in_time":
        if not settings.just_in_time_approvers:
            yield f"{where}.just_in_time_approvers: got []; allowed: 1-5 approvers on the just_in_time path"
        return
    if not settings.approver_roles:
        yield f"{where}.approver_roles: got []; allowed: at least one role name (someone else approves)"
    operators = {p.key for p in settings.operator_roles}
    both = sorted(str(p).lower() for p in settings.approver_roles if p.key in operators)
    if both:
        yield f"{where}.approver_roles: got {both!r} also in operator_roles; allowed: approvers who are not operators"
    yield from _identity_center_grant_checks(settings)
    if settings.approver_roles and settings.min_approvals > len(settings.approver_roles):
        yield (
            f"{where}.min_approvals: got {settings.min_approvals}; "
            f"allowed: at most the number of approver_roles ({len(settings.approver_roles)})"
        )


#: Jobs one role must never hold together: (role list, other role list, what the role may not be).
#: Only lists of enabled controls count (a disabled control attaches nothing).
_CONFLICTING_JOBS = [
    *(
        (("separation_of_duties", "operator_roles"), other, why)
        for other, why in (
            (("session_prefs", "operator_roles"), "a role that does not also open sessions without approval"),
            (("break_glass", "operator_roles"), "a role that does not also get a root password without approval"),
        )
    ),
    *(
        (instances, readers, "an instance role that cannot also read passwords (instances only write them)")
        for instances in (
            ("break_glass", "instance_roles"),
            ("password_rotation", "instance_roles"),
            ("session_prefs", "instance_roles"),
        )
        for readers in (("break_glass", "operator_roles"), ("password_rotation", "administrator_roles"))
    ),
]


def _conflicting_jobs_checks(controls: ControlsConfig) -> Iterator[str]:
    """A role given two jobs that defeat each other: one line per role and pair of lists. IAM
    role names are case-insensitive, so the lists are compared in lower case."""

    for (section, key), (other_section, other_key), allowed in _CONFLICTING_JOBS:
        others = {principal.key for principal in controls.roles(other_section, other_key)}
        for principal in controls.roles(section, key):
            if principal.key in others:
                yield (
                    f"controls.{section}.{key}: got {str(principal)!r}, also in controls.{other_section}.{other_key}; "
                    f"allowed: {allowed}"
                )


def _identity_center_grant_checks(settings: SeparationOfDutiesConfig) -> Iterator[str]:
    """Approvers given as permission sets on the Change Manager path: refused.

    A change template names its approvers when it is created, by name ("Approver: (Required) The name of
    the approver", types IamUser, IamGroup, IamRole, SSOGroup, SSOUser:
    https://docs.aws.amazon.com/systems-manager/latest/userguide/change-templates-custom-editor.html),
    and a permission set's role name differs per account and changes when the permission set is
    assigned again (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html).
    On ``approval_runbook`` the runbook asks the grant function for the approvers' roles in each
    account at every request (README "IAM Identity Center").
    """
    sets = [str(p) for p in settings.approver_roles if not p.attachable]
    if sets and settings.approval_path == "change_manager":
        yield (
            f"controls.separation_of_duties.approver_roles: got {sets!r} on approval_path change_manager; "
            "allowed: role names or ARNs on this path (permission sets: approval_path approval_runbook)"
        )


def _unique(where: str, names: list[Any], what: str) -> Iterator[str]:
    keys = {name.key if isinstance(name, Principal) else name.lower() for name in names}
    if len(keys) != len(names):
        shown = [str(name) for name in names]
        yield f"{where}: got {shown!r}; allowed: each {what} once"
