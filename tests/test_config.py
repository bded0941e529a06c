"""Configuration: the example loads, and every kind of mistake is one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from guardrails.shared import Principal
from stacks.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def _write(tmp_path: Path, data: object, name: str = "bad.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def _with(path: str, value: object) -> dict:
    """A deep copy of the example with one key (dotted path) set or, for ..., removed."""
    data = yaml.safe_load(yaml.safe_dump(EXAMPLE))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def test_example_config_loads_with_its_values() -> None:
    config = load_config("example")
    assert config.organization.home_region in config.organization.regions
    assert len(config.organization.regions) == 2
    assert config.controls.break_glass.operator_roles == [Principal.from_role_name("BreakGlassOperator")]
    assert config.controls.break_glass.ttl_seconds == 60


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "controls.break_glass.ttl_seconds",
            5,
            "controls.break_glass.ttl_seconds: got 5; allowed: a number from 10 to 3600 seconds",
        ),
        (
            "controls.break_glass.ttl_seconds",
            "60",
            "controls.break_glass.ttl_seconds: got '60'; Input should be a valid integer",
        ),
        ("controls.break_glass.password_length", 200, "password_length: got 200; allowed: a number from 14 to 128"),
        (
            "controls.break_glass.reset_after_hours",
            500,
            "reset_after_hours: got 500; allowed: a number from 1 to 168 hours (0 disables)",
        ),
        (
            "controls.break_glass.sweep_interval_minutes",
            0,
            "sweep_interval_minutes: got 0; allowed: a number from 1 to 60",
        ),
        (
            "controls.break_glass.parameter_prefix",
            "BreakGlass/",
            "parameter_prefix: got 'BreakGlass/'; allowed: a parameter path",
        ),
        ("controls.break_glass.parameter_prefix", "/aws/mine", "allowed: a path that does not start with /aws or /ssm"),
        (
            "controls.break_glass.key_alias",
            "alias/aws/ssm",
            "key_alias: got 'alias/aws/ssm'; allowed: an alias outside alias/aws/",
        ),
        ("controls.break_glass.operator_roles", [], "operator_roles: got []; allowed: at least one role name"),
        (
            "controls.break_glass.operator_roles",
            ["arn:aws:iam::1:role/x"],
            "operator_roles[0]: got 'arn:aws:iam::1:role/x'; allowed: a role name (BreakGlassOperator), a role ARN "
            "with any path (arn:aws:iam::111122223333:role/ops/BreakGlassOperator) or an IAM Identity Center "
            "permission set ({permission_set: BreakGlass})",
        ),
        ("controls.break_glass.document_name", "a b", "document_name: got 'a b'; allowed: 3-113 letters"),
        (
            "controls.break_glass.colour",
            "blue",
            "controls.break_glass.colour: unknown key; allowed keys here: document_name, enabled,",
        ),
        ("organization.id", "o-123", "organization.id: got 'o-123'; allowed: an organization id"),
        (
            "organization.security_account",
            222222222222,
            "organization.security_account: got 222222222222; Input should be a valid string",
        ),
        ("organization.management_account", "12345", "management_account: got '12345'; allowed: a 12-digit account id"),
        ("organization.home_region", "us-east-1", "home_region: got 'us-east-1'; allowed: one of organization.regions"),
        ("organization.regions", [], "organization.regions: got []; List should have at least 1 item"),
        (
            "organization.regions",
            ["eu-west-1", "Europe"],
            "organization.regions[1]: got 'Europe'; allowed: a Region name",
        ),
        ("organization.id", ..., "organization.id: required key is missing"),
        (
            "organization.target_ous",
            ["ou-1234"],
            "organization.target_ous[0]: got 'ou-1234'; allowed: an OU id such as ou-ab12-cdef3456, or the root id",
        ),
        ("organization.target_ous", [], "organization.target_ous: got []; List should have at least 1 item"),
        (
            "organization.target_ous",
            ["ou-ab12-11111111", "ou-ab12-11111111"],
            "organization.target_ous: got ['ou-ab12-11111111', 'ou-ab12-11111111']; allowed: each id once",
        ),
        (
            "organization.canary_accounts",
            ["33333333333"],
            "organization.canary_accounts[0]: got '33333333333'; allowed: a 12-digit account id",
        ),
        (
            "organization.delegated_admin_account",
            "admin",
            "organization.delegated_admin_account: got 'admin'; allowed: a 12-digit account id",
        ),
        (
            "organization.exclude_accounts",
            ["333333333333"],
            "organization.canary_accounts: got ['333333333333'] outside the targets; allowed: accounts in "
            "only_accounts (when set) and not in exclude_accounts",
        ),
        (
            "organization.only_accounts",
            ["555555555555"],
            "organization.canary_accounts: got ['333333333333'] outside the targets",
        ),
        (
            "organization.only_accounts",
            ["333333333333"],
            "organization.canary_accounts: got every account of only_accounts; allowed: a subset that leaves at "
            "least one account for the organization stage",
        ),
        (
            "organization.canary_accounts",
            ["111111111111"],
            "organization.canary_accounts: got '111111111111' (the management account); allowed: member accounts "
            "(StackSets never deploy to the management account)",
        ),
        (
            "organization.cloudtrail",
            "none",
            "organization.cloudtrail: got 'none'; Input should be 'organization_trail' or 'account_trails'",
        ),
        (
            "rollout.max_concurrent_percentage",
            0,
            "rollout.max_concurrent_percentage: got 0; allowed: a number from 1 to 100 %",
        ),
        (
            "rollout.failure_tolerance_percentage",
            120,
            "rollout.failure_tolerance_percentage: got 120; allowed: a number from 0 to 100 %",
        ),
        (
            "rollout.asset_bucket_audit",
            "cloudtrail",
            "rollout.asset_bucket_audit: got 'cloudtrail'; Input should be 'access_logs' or 'none'",
        ),
        (
            "rollout.region_concurrency",
            "serial",
            "rollout.region_concurrency: got 'serial'; Input should be 'parallel' or",
        ),
        (
            "rollout.asset_bucket_prefix",
            "My_Assets",
            "rollout.asset_bucket_prefix: got 'My_Assets'; allowed: 2-34 of a-z 0-9 -, not starting with -",
        ),
        (
            "pipeline.source",
            {},
            "pipeline.source: got neither; allowed: exactly one of connection, s3",
        ),
        (
            "pipeline.source",
            {"s3": {"bucket": "b-1", "object_key": "k.zip"}, "connection": EXAMPLE["pipeline"]["source"]["connection"]},
            "pipeline.source: got ['connection', 's3']; allowed: exactly one of connection, s3",
        ),
        (
            "pipeline.source",
            {"connection": {"connection_arn": "arn:aws:iam::1:role/x", "repository": "a/b"}},
            "pipeline.source.connection.connection_arn: got 'arn:aws:iam::1:role/x'; allowed: a CodeConnections "
            "connection ARN",
        ),
        ("pipeline.account", "x", "pipeline.account: got 'x'; allowed: a 12-digit account id"),
        (
            "controls.password_rotation.administrator_roles",
            [],
            "administrator_roles: got []; allowed: at least one role name",
        ),
        (
            "controls.password_rotation.windows",
            [],
            "controls.password_rotation.windows: got []; allowed: at least one window",
        ),
        (
            "controls.password_rotation.windows",
            [{"name": "p", "tag_filters": {"Env": ["P"]}, "cutoff_hours": 2}],
            "windows[0].cutoff_hours: got 2; allowed: 0 to duration_hours - 1 (1)",
        ),
        (
            "controls.password_rotation.windows",
            [{"name": "p", "tag_filters": {"aws:x": ["P"]}}],
            "windows[0].tag_filters: got {'aws:x': ['P']}; allowed: 1-128 characters, not starting with aws:",
        ),
        (
            "controls.password_rotation.windows",
            [{"name": "p", "tag_filters": {"Env": ["P"]}, "schedule": "cron(0 5 * * SUN *)"}],
            "windows[0].schedule: got 'cron(0 5 * * SUN *)'; allowed: '?' in exactly one",
        ),
        (
            "controls.password_rotation.windows",
            [{"name": "p", "tag_filters": {"Env": ["P"]}, "max_errors": "0"}],
            "windows[0].max_errors: got '0'; allowed: a positive whole number or a percentage",
        ),
        (
            "controls.password_rotation.windows",
            [{"name": "p", "tag_filters": {"Env": ["P"]}}, {"name": "p", "tag_filters": {"Env": ["Q"]}}],
            "controls.password_rotation.windows: got ['p', 'p']; allowed: each name once",
        ),
        ("controls.password_rotation.windows", [{"name": "p"}], "windows[0].tag_filters: required key is missing"),
        (
            "controls.session_prefs.idle_session_timeout_minutes",
            61,
            "idle_session_timeout_minutes: got 61; allowed: a number from 1 to 60 minutes",
        ),
        (
            "controls.session_prefs.max_session_duration_minutes",
            10,
            "idle_session_timeout_minutes: got 20; allowed: at most max_session_duration_minutes (10)",
        ),
        (
            "controls.session_prefs.max_session_duration_minutes",
            2000,
            "max_session_duration_minutes: got 2000; allowed: a number from 1 to 1440",
        ),
        (
            "controls.session_prefs.run_as_enabled",
            True,
            "controls.session_prefs.run_as_default_user: got None; allowed: an OS user name",
        ),
        (
            "controls.session_prefs.s3_logging",
            True,
            "controls.session_prefs.s3_bucket_name: got None; allowed: an existing bucket name",
        ),
        (
            "controls.session_prefs.s3_bucket_name",
            "Bad_Bucket",
            "s3_bucket_name: got 'Bad_Bucket'; allowed: an S3 bucket name",
        ),
        ("controls.session_prefs.log_group_name", "no spaces allowed", "log_group_name: got 'no spaces allowed'"),
        ("controls.session_prefs.log_retention_days", 42, "log_retention_days: got 42; allowed: one of [1, 7, 14, 30"),
        (
            "controls.session_prefs.operator_instance_tag",
            {},
            "operator_instance_tag: got {}; allowed: at least one tag key",
        ),
        (
            "controls.access_key_remediation.deactivate_after_days",
            60,
            "deactivate_after_days: got 60; allowed: 0 (off) or more than max_access_key_age_days (90)",
        ),
        (
            "controls.access_key_remediation.maximum_execution_frequency",
            "Daily",
            "maximum_execution_frequency: got 'Daily'; Input should be 'One_Hour'",
        ),
        (
            "controls.access_key_remediation.max_access_key_age_days",
            400,
            "max_access_key_age_days: got 400; allowed: a number from 1 to 365",
        ),
        (
            "controls.access_key_remediation.email_subscribers",
            ["nobody"],
            "email_subscribers[0]: got 'nobody'; allowed: an email address",
        ),
        ("controls.access_key_remediation.topic_name", "has space", "topic_name: got 'has space'"),
        (
            "controls.separation_of_duties.approver_roles",
            [],
            "separation_of_duties.approver_roles: got []; allowed: at least one role name",
        ),
        (
            "controls.separation_of_duties.approver_roles",
            ["SessionRequester"],
            "approver_roles: got ['sessionrequester'] also in operator_roles; allowed: approvers who are not operators",
        ),
        (
            "controls.separation_of_duties.operator_roles",
            [],
            "separation_of_duties.operator_roles: got []; allowed: at least one role name",
        ),
        (
            "controls.separation_of_duties.validity_minutes",
            61,
            "validity_minutes: got 61; allowed: a number from 1 to 60 minutes",
        ),
        (
            "controls.separation_of_duties.min_approvals",
            2,
            "min_approvals: got 2; allowed: at most the number of approver_roles (1)",
        ),
        (
            "controls.separation_of_duties.approval_path",
            "email",
            "approval_path: got 'email'; Input should be 'approval_runbook'",
        ),
        (
            "controls.separation_of_duties.approval_path",
            "just_in_time",
            "just_in_time_approvers: got []; allowed: 1-5 approvers",
        ),
        (
            "controls.separation_of_duties.just_in_time_approvers",
            [{"type": "Slack", "id": "x"}],
            "just_in_time_approvers[0].type: got 'Slack'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_file_key_value_and_rule(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    data = _with(key, value)
    if key in ("organization.only_accounts", "organization.exclude_accounts"):
        data["rollout"]["auto_deployment"] = False  # account lists need it off (tested below)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{path}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("key", "accounts"), [("only_accounts", ["333333333333", "555555555555"]), ("exclude_accounts", ["555555555555"])]
)
def test_account_lists_with_auto_deployment_are_refused(tmp_path: Path, key: str, accounts: list[str]) -> None:
    """AWS: "Automatic deployments do not consider account level targeting filters. If you target
    specific accounts and enable automatic deployments, your StackSet will continue to deploy to any
    newly added accounts within the deployed organization."
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html"""
    data = _with(f"organization.{key}", accounts)
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    assert str(caught.value).endswith(
        f"rollout.auto_deployment: got True with organization.{key}; allowed: false with {key} (auto-deployment "
        f"ignores account filters: an account that joins a target OU later gets the stacks), or target OUs "
        f"without {key}"
    )
    data["rollout"]["auto_deployment"] = False
    assert getattr(load_config(_write(tmp_path, data)).organization, key) == accounts


def test_canary_accounts_keep_auto_deployment() -> None:
    """The example: canaries and auto-deployment together (a moved canary is named by make preflight)."""
    config = load_config("example")
    assert config.organization.canary_accounts and config.rollout.auto_deployment


def test_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    data = _with("controls.break_glass.ttl_seconds", 1)
    data["controls"]["break_glass"]["password_length"] = 3
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any("ttl_seconds" in line for line in lines) and any("password_length" in line for line in lines)


@pytest.mark.parametrize(
    ("content", "expected"),
    [("organization: [unclosed", "not valid YAML"), ("- a list", "got list; allowed: a mapping")],
)
def test_unreadable_files_are_one_line(tmp_path: Path, content: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(_write(tmp_path, content))


def test_unknown_config_name_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"config/nope.yaml: file not found; available configs: .*example"):
        load_config("nope")
    with pytest.raises(ConfigError, match="allowed: a name under config/"):
        load_config("../etc/passwd")


def test_app_prints_one_line_and_no_traceback_for_a_bad_config(tmp_path: Path) -> None:
    path = _write(tmp_path, _with("controls.break_glass.ttl_seconds", 99999))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": path})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: {path}: controls.break_glass.ttl_seconds: got 99999; allowed: a number from 10 to 3600 seconds"
    )


def test_stack_set_account_and_call_as_follow_the_delegated_administrator(tmp_path: Path) -> None:
    delegated = load_config("example").organization
    assert (delegated.stack_set_account, delegated.call_as) == ("444444444444", "DELEGATED_ADMIN")
    management = load_config(_write(tmp_path, _with("organization.delegated_admin_account", None))).organization
    assert (management.stack_set_account, management.call_as) == ("111111111111", "SELF")


def test_a_missing_pipeline_section_means_no_pipeline(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, _with("pipeline", ...))).pipeline is None


def test_a_control_without_a_section_is_not_deployed(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {"organization": EXAMPLE["organization"]}))
    assert not config.controls.break_glass.enabled
    assert not config.controls.password_rotation.enabled


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "controls.session_prefs.operator_roles",
            ["SessionRequester"],
            "controls.separation_of_duties.operator_roles: got 'SessionRequester', also in "
            "controls.session_prefs.operator_roles; allowed: a role that does not also open sessions without approval",
        ),
        (
            # IAM role names are case-insensitive
            "controls.break_glass.operator_roles",
            ["BreakGlassOperator", "sessionrequester"],
            "controls.separation_of_duties.operator_roles: got 'SessionRequester', also in "
            "controls.break_glass.operator_roles; allowed: a role that does not also get a root password without "
            "approval",
        ),
        (
            "controls.break_glass.instance_roles",
            ["BreakGlassOperator"],
            "controls.break_glass.instance_roles: got 'BreakGlassOperator', also in controls.break_glass."
            "operator_roles; allowed: an instance role that cannot also read passwords (instances only write them)",
        ),
        (
            "controls.password_rotation.instance_roles",
            ["PasswordAdministrator"],
            "controls.password_rotation.instance_roles: got 'PasswordAdministrator', also in "
            "controls.password_rotation.administrator_roles; allowed: an instance role that cannot also read",
        ),
        (
            "controls.session_prefs.instance_roles",
            ["WebServer", "passwordadministrator"],
            "controls.session_prefs.instance_roles: got 'passwordadministrator', also in "
            "controls.password_rotation.administrator_roles; allowed: an instance role that cannot also read",
        ),
        (
            "controls.password_rotation.instance_roles",
            ["BreakGlassOperator"],
            "controls.password_rotation.instance_roles: got 'BreakGlassOperator', also in "
            "controls.break_glass.operator_roles; allowed: an instance role that cannot also read",
        ),
    ],
)
def test_a_role_with_two_conflicting_jobs_is_refused_in_one_line(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    data = _with(key, value)
    if key in ("organization.only_accounts", "organization.exclude_accounts"):
        data["rollout"]["auto_deployment"] = False  # account lists need it off (tested below)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{path}: {expected}")


def test_roles_of_a_disabled_control_do_not_conflict(tmp_path: Path) -> None:
    """A disabled control attaches nothing, so its role lists cannot give a second job."""
    data = _with("controls.session_prefs.operator_roles", ["SessionRequester"])
    data["controls"]["session_prefs"]["enabled"] = False
    data["controls"]["break_glass"]["instance_roles"] = ["PasswordAdministrator"]
    data["controls"]["password_rotation"]["enabled"] = False
    roles = load_config(_write(tmp_path, data)).controls.session_prefs.operator_roles
    assert roles == [Principal.from_role_name("SessionRequester")]


def test_every_conflict_is_its_own_line(tmp_path: Path) -> None:
    data = _with("controls.session_prefs.operator_roles", ["SessionRequester"])
    data["controls"]["break_glass"]["operator_roles"] = ["BreakGlassOperator", "SessionRequester"]
    data["controls"]["session_prefs"]["instance_roles"] = ["BreakGlassOperator"]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert [line.split(": ", 2)[1] for line in lines] == [
        "controls.separation_of_duties.operator_roles",
        "controls.separation_of_duties.operator_roles",
        "controls.session_prefs.instance_roles",
    ]


def test_password_reset_needs_session_encryption(tmp_path: Path) -> None:
    data = _with("controls.session_prefs.allow_password_reset", True)
    data["controls"]["session_prefs"]["session_encryption"] = False
    with pytest.raises(ConfigError, match="allow_password_reset: got True; allowed: true only with session_encryption"):
        load_config(_write(tmp_path, data))


# --------------------------------------------------------------------------- principals (issue 22)

THREE_FORMS = [
    "BreakGlassOperator",
    "arn:aws:iam::111122223333:role/ops/team/BreakGlassOperator",
    {"permission_set": "BreakGlass"},
]


@pytest.mark.parametrize("entry", THREE_FORMS, ids=["name", "arn-with-path", "permission-set"])
def test_every_role_list_takes_the_three_forms(tmp_path: Path, entry: object) -> None:
    data = _with("controls.break_glass.operator_roles", [entry])
    data["controls"]["password_rotation"]["administrator_roles"] = [entry]
    data["controls"]["session_prefs"]["operator_roles"] = [entry]
    data["controls"]["password_rotation"]["enabled"] = False  # one role, one job (conflict checks)
    data["controls"]["separation_of_duties"]["enabled"] = False
    controls = load_config(_write(tmp_path, data)).controls
    assert controls.break_glass.operator_roles == [Principal.parse(entry)]
    assert controls.session_prefs.operator_roles == [Principal.parse(entry)]


def test_the_second_example_uses_all_three_forms() -> None:
    """config/example-identity-center.yaml (synthesized by the access suite) names each form."""
    controls = load_config("example-identity-center").controls
    kinds = {p.kind for control, key in controls.ROLE_LISTS for p in controls.roles(control, key)}
    assert kinds == {"role_name", "role_arn", "permission_set"}


@pytest.mark.parametrize(
    "entry",
    [
        "arn:aws:iam::111122223333:user/alice",  # a user, not a role
        "arn:aws:iam::1111:role/x",  # account of 4 digits
        "role with spaces",
        {"permission_set": "A" * 33},  # longer than 32
        {"permission_set": "has space"},
        {"account": "111122223333", "permission_set": "Ok"},  # unknown key
        {"permission-set": "Ok"},
        42,
    ],
)
def test_a_bad_principal_names_the_entry_and_the_three_forms(tmp_path: Path, entry: object) -> None:
    data = _with("controls.break_glass.operator_roles", ["BreakGlassOperator", entry])
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    message = str(caught.value)
    assert message.count("\n") == 0, message
    assert f"controls.break_glass.operator_roles[1]: got {entry!r}; allowed: a role name" in message
    assert "a role ARN with any path" in message and "{permission_set: BreakGlass}" in message


def test_an_instance_role_is_never_a_permission_set(tmp_path: Path) -> None:
    data = _with("controls.break_glass.instance_roles", [{"permission_set": "Web"}])
    with pytest.raises(
        ConfigError, match=r"instance_roles\[0\]: got \{'permission_set': 'Web'\}; allowed: a role name or"
    ):
        load_config(_write(tmp_path, data))


def test_the_same_principal_twice_is_refused_in_any_form(tmp_path: Path) -> None:
    data = _with(
        "controls.break_glass.operator_roles", [{"permission_set": "BreakGlass"}, {"permission_set": "breakglass"}]
    )
    with pytest.raises(ConfigError, match=r"operator_roles: got .*; allowed: each role once"):
        load_config(_write(tmp_path, data))


def test_a_permission_set_with_two_jobs_conflicts(tmp_path: Path) -> None:
    data = _with("controls.session_prefs.operator_roles", [{"permission_set": "Ops"}])
    data["controls"]["separation_of_duties"] = {
        **data["controls"]["separation_of_duties"],
        "approval_path": "just_in_time",
        "operator_roles": [{"permission_set": "Ops"}],
        "approver_roles": [],
        "just_in_time_approvers": [{"type": "SSOGroup", "id": "e8c17310-e011-7089-d989-10da1example"}],
    }
    with pytest.raises(ConfigError, match=r"operator_roles: got .permission set Ops., also in controls\.session_prefs"):
        load_config(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("path", "key", "refused"),
    [
        ("approval_runbook", "operator_roles", False),
        ("approval_runbook", "approver_roles", False),
        ("change_manager", "operator_roles", False),
        ("change_manager", "approver_roles", True),  # a change template names approvers when it is created
    ],
)
def test_permission_sets_on_the_grant_paths(tmp_path: Path, path: str, key: str, refused: bool) -> None:
    data = _with(f"controls.separation_of_duties.{key}", [{"permission_set": "Sessions"}])
    data["controls"]["separation_of_duties"]["approval_path"] = path
    if not refused:
        assert load_config(_write(tmp_path, data)).controls.separation_of_duties.approval_path == path
        return
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    assert (
        f"controls.separation_of_duties.{key}: got ['permission set Sessions'] on approval_path change_manager; "
        "allowed: role names or ARNs on this path (permission sets: approval_path approval_runbook)"
    ) in str(caught.value)


def test_log_readers_need_the_created_log_group(tmp_path: Path) -> None:
    """Issue 23 item 6: the reader list goes into the key of the group the stack creates."""
    data = _with("controls.session_prefs.log_group_name", "/existing/sessions")
    with pytest.raises(ConfigError, match=r"log_reader_roles: got \['SessionLogReader'\]; allowed: \[\] unless"):
        load_config(_write(tmp_path, data))


def test_break_glass_document_name_leaves_room_for_the_reset_document(tmp_path: Path) -> None:
    """Issue 23 item 1: the reset document is <name>-AutomaticReset, at most 128 characters."""
    data = _with("controls.break_glass.document_name", "D" * 114)
    expected = r"document_name: got 'D{114}'; allowed: 3-113 letters, digits, _ . - \(the reset document adds"
    with pytest.raises(ConfigError, match=expected):
        load_config(_write(tmp_path, data))
    load_config(_write(tmp_path, _with("controls.break_glass.document_name", "D" * 113)))
