"""Deployment configuration: ``config/<name>.yaml``, validated before any stack is built.

Every mistake becomes one line: ``config/<name>.yaml: <key.path>: got <value>; allowed: <what>``.
Range and format rules come from the constructs' own checks, so the config and the construct
props can never disagree about what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError

from guardrails import PropsError, access_keys
from guardrails import break_glass as bg
from guardrails import password_rotation as rotation
from guardrails import separation_of_duties as sod
from guardrails import session_prefs as prefs
from guardrails.rollout.asset_bucket import BUCKET_PREFIX
from guardrails.rollout.stack_set import CallAs
from guardrails.shared import Principal
from guardrails.shared.validation import (
    ACCOUNT_ID,
    DOCUMENT_NAME,
    ORGANIZATION_ID,
    ORGANIZATIONAL_UNIT,
    REGION,
    TIMEZONE,
    check_kms_alias,
    check_parameter_path,
    check_pattern,
    check_range,
    check_schedule,
    check_tag_filters,
    check_threshold,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CONFIG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConfigError(Exception):
    """The configuration cannot be used. ``str(error)`` is one line per problem."""


def _rule(check: Callable[[str, Any], None]) -> AfterValidator:
    """Turn a construct check into a pydantic rule whose message says what is allowed."""

    def validate(value: Any) -> Any:
        try:
            check("value", value)
        except PropsError as error:
            raise ValueError(f"allowed: {error.allowed}") from None
        return value

    return AfterValidator(validate)


def _pattern(pattern: str, allowed: str) -> AfterValidator:
    compiled = re.compile(pattern)
    return _rule(lambda setting, value: check_pattern(setting, value, compiled, allowed))


def _range(low: int, high: int, unit: str) -> AfterValidator:
    return _rule(lambda setting, value: check_range(setting, value, low, high, unit))


def _zero_or_range(low: int, high: int, unit: str) -> AfterValidator:
    def check(setting: str, value: int) -> None:
        if value != 0:
            check_range(setting, value, low, high, f"{unit} (0 disables)")

    return _rule(check)


AccountId = Annotated[str, _pattern(ACCOUNT_ID.pattern, "a 12-digit account id, quoted so YAML keeps it a string")]
OrganizationId = Annotated[str, _pattern(ORGANIZATION_ID.pattern, "an organization id such as o-a1b2c3d4e5")]
OrganizationalUnitId = Annotated[
    str, _pattern(ORGANIZATIONAL_UNIT.pattern, "an OU id such as ou-ab12-cdef3456, or the root id r-ab12")
]
Region = Annotated[str, _pattern(REGION.pattern, "a Region name such as eu-west-1")]


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


#: A person's role: a role name, a role ARN with any path, or ``{permission_set: Name}`` (README
#: "IAM Identity Center"). The same type serves every list of people (operators, readers, approvers).
RoleEntry = Annotated[Principal, PlainValidator(_principal), PlainSerializer(Principal.config_form)]
#: An instance profile's role: a name or an ARN (policies are attached to it).
InstanceRoleEntry = Annotated[Principal, PlainValidator(_instance_role), PlainSerializer(Principal.config_form)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OrganizationConfig(_Strict):
    """Where the controls go. Synth never asks AWS: every id is written here."""

    id: OrganizationId
    management_account: AccountId
    delegated_admin_account: AccountId | None = None
    security_account: AccountId
    home_region: Region
    regions: Annotated[list[Region], Field(min_length=1)]
    target_ous: Annotated[list[OrganizationalUnitId], Field(min_length=1)]
    only_accounts: list[AccountId] = Field(default_factory=list)
    exclude_accounts: list[AccountId] = Field(default_factory=list)
    canary_accounts: list[AccountId] = Field(default_factory=list)

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
    """How the StackSets roll out (see README "Organization rollout")."""

    retain_stacks_on_account_removal: bool = True
    max_concurrent_percentage: Annotated[int, _range(1, 100, "%")] = 25
    failure_tolerance_percentage: Annotated[int, _range(0, 100, "%")] = 0
    region_concurrency: Literal["parallel", "sequential"] = "parallel"
    asset_bucket_audit: Literal["access_logs", "none"] = "access_logs"
    asset_bucket_prefix: Annotated[str, _pattern(BUCKET_PREFIX.pattern, "2-34 of a-z 0-9 -, not starting with -")] = (
        "ssm-guardrails-assets"
    )


class ConnectionSourceConfig(_Strict):
    """A repository reached through an AWS CodeConnections connection (GitHub, GitLab, Bitbucket)."""

    connection_arn: Annotated[
        str,
        _pattern(
            r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}",
            "a CodeConnections connection ARN",
        ),
    ]
    repository: Annotated[str, _pattern(r"[\w.-]+/[\w./-]+", "owner/repository")]
    branch: Annotated[str, Field(min_length=1, max_length=255)] = "main"


class S3SourceConfig(_Strict):
    """A zip of the repository in an S3 bucket of the pipeline account (versioning on)."""

    bucket: Annotated[str, _pattern(prefs.BUCKET_NAME.pattern, "an S3 bucket name: 3-63 of a-z 0-9 . -")]
    object_key: Annotated[str, Field(min_length=1, max_length=1024)]


class PipelineSourceConfig(_Strict):
    connection: ConnectionSourceConfig | None = None
    s3: S3SourceConfig | None = None


class PipelineConfig(_Strict):
    """The CDK pipeline that delivers every change (see README "Organization rollout")."""

    account: AccountId | None = None
    source: PipelineSourceConfig
    approve_before_organization: bool = True


class BreakGlassConfig(_Strict):
    """Settings of :class:`guardrails.BreakGlass` (see README for each one)."""

    enabled: bool = True
    operator_roles: list[RoleEntry] = Field(default_factory=list)
    instance_roles: list[InstanceRoleEntry] = Field(default_factory=list)
    password_length: Annotated[int, _range(*bg.PASSWORD_LENGTH_RANGE, "characters")] = 24
    ttl_seconds: Annotated[int, _range(*bg.TTL_RANGE_SECONDS, "seconds")] = 60
    reset_after_hours: Annotated[int, _zero_or_range(*bg.RESET_AFTER_RANGE_HOURS, "hours")] = 8
    sweep_interval_minutes: Annotated[int, _range(*bg.SWEEP_INTERVAL_RANGE_MINUTES, "minutes")] = 1
    parameter_prefix: Annotated[str, _rule(check_parameter_path)] = "/BreakGlass"
    key_alias: Annotated[str, _rule(check_kms_alias)] = "alias/ssm-guardrails/break-glass"
    document_name: Annotated[str, _pattern(DOCUMENT_NAME.pattern, "3-128 letters, digits, _ . -")] = (
        "SsmGuardrails-BreakGlass"
    )


class RotationWindowConfig(_Strict):
    """One maintenance window of :class:`guardrails.PasswordRotationWindow`."""

    name: Annotated[str, _pattern(r"[A-Za-z0-9-]{1,40}", "1-40 letters, digits or -")]
    tag_filters: Annotated[dict[str, list[str]], _rule(check_tag_filters)]
    schedule: Annotated[str, _rule(check_schedule)] = "cron(0 5 ? * SUN *)"
    schedule_timezone: Annotated[str, _pattern(TIMEZONE.pattern, "an IANA time zone such as Europe/Paris")] | None = (
        None
    )
    duration_hours: Annotated[int, _range(*rotation.DURATION_RANGE_HOURS, "hours")] = 2
    cutoff_hours: Annotated[int, _range(0, 23, "hours")] = 1
    owner_information: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    max_concurrency: Annotated[str, _rule(check_threshold)] = "5"
    max_errors: Annotated[str, _rule(check_threshold)] = "1"
    priority: Annotated[int, _range(*rotation.PRIORITY_RANGE, "")] = 1
    task_timeout_minutes: Annotated[int, _range(1, 2880, "minutes")] = 10
    max_password_age_days: Annotated[int, _range(*rotation.MAX_PASSWORD_AGE_RANGE_DAYS, "days")] = 8


class PasswordRotationConfig(_Strict):
    """Settings of :class:`guardrails.PasswordRotationWindow` (see README for each one)."""

    enabled: bool = True
    administrator_roles: list[RoleEntry] = Field(default_factory=list)
    instance_roles: list[InstanceRoleEntry] = Field(default_factory=list)
    key_alias: Annotated[str, _rule(check_kms_alias)] = "alias/WindowsPasswordRotation-EncryptionKey"
    windows: list[RotationWindowConfig] = Field(default_factory=list)


class AccessKeyRemediationConfig(_Strict):
    """Settings of :class:`guardrails.AccessKeyRemediation` (members) and
    :class:`guardrails.AccessKeyFindings` (central); see README for each one."""

    enabled: bool = True
    max_access_key_age_days: Annotated[int, _range(*access_keys.MAX_AGE_RANGE_DAYS, "days")] = 90
    maximum_execution_frequency: Literal[access_keys.FREQUENCIES] = "TwentyFour_Hours"  # type: ignore[valid-type]
    retry_attempts: Annotated[int, _range(*access_keys.RETRY_ATTEMPTS_RANGE, "")] = 5
    retry_interval_seconds: Annotated[int, _range(*access_keys.RETRY_INTERVAL_RANGE_SECONDS, "seconds")] = 60
    deactivate_after_days: Annotated[int, _zero_or_range(1, 3650, "days")] = 0
    exemption_tag_key: Annotated[str, _pattern(access_keys.TAG_KEY.pattern, "a tag key of 1-128 characters")] = (
        "AccessKeyRotationExempt"
    )
    exemption_tag_value: Annotated[str, Field(min_length=1, max_length=256)] = "true"
    include_email_tag: bool = True
    create_config_recorder: bool = False
    topic_name: Annotated[str, _pattern(r"[A-Za-z0-9_-]{1,256}", "1-256 letters, digits, _ -")] = (
        "ssm-guardrails-access-key-findings"
    )
    email_subscribers: list[Annotated[str, _pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address")]] = Field(
        default_factory=list
    )
    create_queue: bool = False


class VpcConfig(_Strict):
    """A VPC of the member account, written out (synth looks nothing up)."""

    id: Annotated[str, _pattern(r"vpc-[0-9a-f]{8,17}", "a VPC id such as vpc-0123456789abcdef0")]
    cidr: Annotated[str, _pattern(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", "an IPv4 CIDR such as 10.0.0.0/16")]
    availability_zones: Annotated[list[str], Field(min_length=1)]
    private_subnet_ids: Annotated[
        list[Annotated[str, _pattern(r"subnet-[0-9a-f]{8,17}", "a subnet id")]], Field(min_length=1)
    ]
    private_subnet_route_table_ids: list[Annotated[str, _pattern(r"rtb-[0-9a-f]{8,17}", "a route table id")]] = Field(
        default_factory=list
    )


class SessionPrefsConfig(_Strict):
    """Settings of :class:`guardrails.SessionPrefs` (see README for each one)."""

    enabled: bool = True
    operator_instance_tag: Annotated[dict[str, list[str]], _rule(check_tag_filters)] = Field(default_factory=dict)
    operator_roles: list[RoleEntry] = Field(default_factory=list)
    instance_roles: list[InstanceRoleEntry] = Field(default_factory=list)
    idle_session_timeout_minutes: Annotated[int, _range(*prefs.IDLE_TIMEOUT_RANGE_MINUTES, "minutes")] = 20
    max_session_duration_minutes: Annotated[int, _range(*prefs.MAX_SESSION_RANGE_MINUTES, "minutes")] | None = None
    cloudwatch_logging: bool = True
    log_group_name: Annotated[str, _pattern(prefs.LOG_GROUP_NAME.pattern, "a log group name")] | None = None
    log_retention_days: Literal[tuple(prefs.RETENTION_DAYS)] = 90  # type: ignore[valid-type]
    cloudwatch_encryption_required: bool = True
    cloudwatch_streaming: bool = True
    s3_logging: bool = False
    s3_bucket_name: (
        Annotated[str, _pattern(prefs.BUCKET_NAME.pattern, "an S3 bucket name: 3-63 of a-z 0-9 . -")] | None
    ) = None
    s3_key_prefix: Annotated[str, _pattern(r"[\w./-]{0,200}", "letters, digits, _ . / -")] = "session-logs"
    s3_encryption_required: bool = True
    session_encryption: bool = True
    run_as_enabled: bool = False
    run_as_default_user: Annotated[str, _pattern(prefs.LINUX_USER.pattern, "a Linux user name")] | None = None
    shell_profile_linux: str = ""
    shell_profile_windows: str = ""
    allow_port_forwarding: bool = False
    allow_remote_host_port_forwarding: bool = False
    allow_password_reset: bool = False
    vpc: VpcConfig | None = None


class JustInTimeApprover(_Strict):
    type: Literal["SSOUser", "SSOGroup", "IAMUser"]
    id: Annotated[str, Field(min_length=1, max_length=256)]


class SeparationOfDutiesConfig(_Strict):
    """Settings of :class:`guardrails.SeparationOfDuties` (see README for each one)."""

    enabled: bool = True
    approval_path: Literal[sod.APPROVAL_PATHS] = "approval_runbook"  # type: ignore[valid-type]
    operator_roles: list[RoleEntry] = Field(default_factory=list)
    approver_roles: list[RoleEntry] = Field(default_factory=list)
    min_approvals: Annotated[int, _range(1, sod.MAX_APPROVERS, "")] = 1
    validity_minutes: Annotated[int, _range(*sod.VALIDITY_RANGE_MINUTES, "minutes")] = 10
    terminate_sessions_at_end: bool = False
    sweep_interval_minutes: Annotated[int, _range(*sod.SWEEP_INTERVAL_RANGE_MINUTES, "minutes")] = 5
    just_in_time_approvers: list[JustInTimeApprover] = Field(default_factory=list)
    just_in_time_node_tags: Annotated[dict[str, list[str]], _rule(check_tag_filters)] | None = None
    just_in_time_access_hours: Annotated[int, _range(*sod.JIT_ACCESS_DURATION_RANGE_HOURS, "hours")] = 1


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


def _cross_checks(config: GuardrailsConfig) -> Iterator[str]:
    """Rules that span several keys."""
    org = config.organization
    if org.home_region not in org.regions:
        yield f"organization.home_region: got {org.home_region!r}; allowed: one of organization.regions {org.regions}"
    if len(set(org.regions)) != len(org.regions):
        yield f"organization.regions: got {org.regions!r}; allowed: each Region once"
    yield from _organization_checks(org)
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
    for index, window in enumerate(rotation_settings.windows):
        if window.cutoff_hours >= window.duration_hours:
            yield (
                f"controls.password_rotation.windows[{index}].cutoff_hours: got {window.cutoff_hours}; "
                f"allowed: 0 to duration_hours - 1 ({window.duration_hours - 1})"
            )
    keys = config.controls.access_key_remediation
    if keys.deactivate_after_days and keys.deactivate_after_days <= keys.max_access_key_age_days:
        yield (
            f"controls.access_key_remediation.deactivate_after_days: got {keys.deactivate_after_days}; allowed: 0 "
            f"(off) or more than max_access_key_age_days ({keys.max_access_key_age_days})"
        )
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


def _pipeline_checks(pipeline: PipelineConfig | None) -> Iterator[str]:
    if pipeline is None:
        return
    given = [key for key in ("connection", "s3") if getattr(pipeline.source, key) is not None]
    if len(given) != 1:
        yield f"pipeline.source: got {given or 'neither'}; allowed: exactly one of connection, s3"


def _session_prefs_checks(settings: SessionPrefsConfig) -> Iterator[str]:
    where = "controls.session_prefs"
    if not settings.enabled:
        return
    if not settings.operator_instance_tag:
        yield f"{where}.operator_instance_tag: got {{}}; allowed: a tag key with one or more values when enabled"
    maximum = settings.max_session_duration_minutes
    if maximum is not None and settings.idle_session_timeout_minutes > maximum:
        yield (
            f"{where}.idle_session_timeout_minutes: got {settings.idle_session_timeout_minutes}; "
            f"allowed: at most max_session_duration_minutes ({maximum})"
        )
    if settings.run_as_enabled and not settings.run_as_default_user:
        yield f"{where}.run_as_default_user: got None; allowed: an OS user name when run_as_enabled is true"
    if settings.s3_logging and not settings.s3_bucket_name:
        yield f"{where}.s3_bucket_name: got None; allowed: an existing bucket name when s3_logging is true"
    if settings.vpc and settings.s3_logging and not settings.vpc.private_subnet_route_table_ids:
        yield f"{where}.vpc.private_subnet_route_table_ids: got []; allowed: the subnets' route tables (for S3)"
    if settings.allow_password_reset and not settings.session_encryption:
        yield f"{where}.allow_password_reset: got True; allowed: true only with session_encryption: true"


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
    """Permission sets on the runbook and Change Manager paths: refused until the grant can reach them.

    The Grant step writes an inline policy on the requester's role, and IAM Identity Center's roles are
    protected ("this role is only modifiable by AWS":
    https://repost.aws/knowledge-center/identity-center-aws-reserved-sso). ``aws:approve`` takes an IAM
    user name, user ARN, role ARN or assumed-role user ARN, no pattern
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html), change
    templates a role by name, and a permission set's role name differs per account. The just_in_time
    path takes Identity Center users and groups natively.
    """
    for key in ("operator_roles", "approver_roles"):
        sets = [str(p) for p in getattr(settings, key) if not p.attachable]
        if sets:
            yield (
                f"controls.separation_of_duties.{key}: got {sets!r} on approval_path {settings.approval_path}; "
                "allowed: role names or ARNs on this path (permission sets: approval_path just_in_time)"
            )


def _unique(where: str, names: list[Any], what: str) -> Iterator[str]:
    keys = {name.key if isinstance(name, Principal) else name.lower() for name in names}
    if len(keys) != len(names):
        shown = [str(name) for name in names]
        yield f"{where}: got {shown!r}; allowed: each {what} once"
