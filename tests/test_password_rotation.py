"""PasswordRotationWindow: what the example's member stack deploys, its variants, and its prop checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_helpers import (
    SynthesizedApp,
    as_list,
    nag_findings,
    new_app,
    only_resource,
    rendered,
    resources_of,
    statements,
)

from guardrails import PasswordRotationWindow, PropsError
from guardrails.password_rotation import PasswordRotationSettings, RotationWindowSettings
from guardrails.shared.validation import check_schedule
from stacks.build import MEMBER_REGIONAL_STACK_NAME

PASSWORD_ARN = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/EC2Rescue/Passwords/*"
VIA_SSM = "ssm.<AWS::Region>.amazonaws.com"
WINDOW = "PasswordRotationproduction"


@pytest.fixture(scope="module")
def member(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(MEMBER_REGIONAL_STACK_NAME)


def _policy_statements(template: dict[str, Any], resource_type: str, id_contains: str) -> list[dict[str, Any]]:
    return rendered(statements(only_resource(template, resource_type, id_contains)["Properties"]["PolicyDocument"]))


def _actions(policy: list[dict[str, Any]]) -> set[str]:
    return {action for statement in policy for action in as_list(statement["Action"])}


def test_dedicated_key_rotates_has_the_published_alias_and_admits_only_administrators(member: dict[str, Any]) -> None:
    key = only_resource(member, "AWS::KMS::Key", f"{WINDOW}VaultKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    alias = only_resource(member, "AWS::KMS::Alias", f"{WINDOW}VaultKeyAlias")["Properties"]
    assert alias["AliasName"] == "alias/WindowsPasswordRotation-EncryptionKey"
    policy = {s["Sid"]: s for s in rendered(statements(key["Properties"]["KeyPolicy"]))}
    encrypt = policy["EncryptPasswordsThroughParameterStore"]
    # EC2Rescue writes with the account's default tier; an Advanced SecureString is envelope-encrypted
    # (GenerateDataKey): https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
    assert encrypt["Action"] == ["kms:Encrypt", "kms:GenerateDataKey"]
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": VIA_SSM}
    assert encrypt["Condition"]["ArnLike"] == {"kms:EncryptionContext:PARAMETER_ARN": PASSWORD_ARN}
    decrypt = policy["NamedReadersDecryptPasswordsThroughParameterStore"]
    assert decrypt["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/PasswordAdministrator"
    ]


def test_window_schedule_and_no_unassociated_targets(member: dict[str, Any]) -> None:
    window = only_resource(member, "AWS::SSM::MaintenanceWindow")["Properties"]
    assert window["Schedule"] == "cron(0 5 ? * SUN *)"
    assert window["ScheduleTimezone"] == "Etc/UTC"
    assert (window["Duration"], window["Cutoff"]) == (2, 1)
    assert window["AllowUnassociatedTargets"] is False


def test_target_is_the_tag_filter_with_owner_information(member: dict[str, Any]) -> None:
    target = only_resource(member, "AWS::SSM::MaintenanceWindowTarget")["Properties"]
    assert target["Targets"] == [{"Key": "tag:Environment", "Values": ["Production"]}]
    assert target["ResourceType"] == "INSTANCE"
    assert target["OwnerInformation"] == "Production Windows servers"


def test_task_runs_ec2rescue_reset_access_with_the_key_and_logs_to_the_encrypted_group(member: dict[str, Any]) -> None:
    task = only_resource(member, "AWS::SSM::MaintenanceWindowTask")["Properties"]
    assert (task["TaskType"], task["TaskArn"]) == ("RUN_COMMAND", "AWSSupport-RunEC2RescueForWindowsTool")
    # a percentage: the same number of rounds whatever the fleet size (issue 23 item 16)
    assert (task["MaxConcurrency"], task["MaxErrors"], task["Priority"]) == ("10%", "1", 1)
    run = task["TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"]
    key_id = next(k for k in resources_of(member, "AWS::KMS::Key") if k.startswith(f"{WINDOW}VaultKey"))
    assert run["Parameters"] == {"Command": ["ResetAccess"], "Parameters": [{"Ref": key_id}]}
    assert run["TimeoutSeconds"] == 600
    log_group_id = run["CloudWatchOutputConfig"]["CloudWatchLogGroupName"]["Ref"]
    assert run["CloudWatchOutputConfig"]["CloudWatchOutputEnabled"] is True
    assert "KmsKeyId" in member["Resources"][log_group_id]["Properties"]
    assert "OutputS3BucketName" not in run  # output never goes to plain S3


def test_window_role_is_scoped_to_this_account_the_document_and_tagged_instances(member: dict[str, Any]) -> None:
    role = only_resource(member, "AWS::IAM::Role", f"{WINDOW}WindowRole")["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role
    policy = {s["Sid"]: s for s in _policy_statements(member, "AWS::IAM::Policy", f"{WINDOW}WindowRoleDefaultPolicy")}
    assert policy["RunEc2RescueDocument"]["Resource"] == (
        "arn:<AWS::Partition>:ssm:<AWS::Region>::document/AWSSupport-RunEC2RescueForWindowsTool"
    )
    tagged = policy["OnTaggedInstancesOnly"]
    assert tagged["Condition"] == {"StringEquals": {"ssm:resourceTag/Environment": ["Production"]}}
    assert tagged["Resource"].endswith(":instance/*")


def test_instance_policy_writes_only_and_never_reads(member: dict[str, Any]) -> None:
    policy = _policy_statements(member, "AWS::IAM::ManagedPolicy", f"{WINDOW}InstancePolicy")
    actions = _actions(policy)
    assert {"ssm:PutParameter", "kms:Encrypt", "kms:GenerateDataKey"} <= actions
    assert not {a for a in actions if a.startswith(("ssm:Get", "kms:Decrypt"))}
    assert "ssm:GetParameterHistory" not in actions
    put = next(s for s in policy if s["Action"] == "ssm:PutParameter")
    assert put["Resource"] == PASSWORD_ARN


def test_administrators_read_through_ssm_only(member: dict[str, Any]) -> None:
    resource = only_resource(member, "AWS::IAM::ManagedPolicy", f"{WINDOW}AdministratorPolicy")["Properties"]
    assert resource["Roles"] == ["PasswordAdministrator"]
    policy = rendered(statements(resource["PolicyDocument"]))
    assert {a for s in policy if s["Effect"] == "Allow" for a in as_list(s["Action"])} == {
        "ssm:GetParameter",
        "kms:Decrypt",
    }
    decrypt = next(s for s in policy if s["Action"] == "kms:Decrypt")
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": VIA_SSM}}


def test_administrators_may_not_retag_instances_out_of_the_rotation(member: dict[str, Any]) -> None:
    """Issue 12 item 5: a reader who removes or changes the target tag stops the rotation of the password read."""
    resource = only_resource(member, "AWS::IAM::ManagedPolicy", f"{WINDOW}AdministratorPolicy")["Properties"]
    denies = {s["Sid"]: s for s in rendered(statements(resource["PolicyDocument"])) if s["Effect"] == "Deny"}
    keys = {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["Environment"]}}
    ec2 = denies["NoRetaggingOfRotationTargets"]
    assert sorted(as_list(ec2["Action"])) == ["ec2:CreateTags", "ec2:DeleteTags"]
    assert ec2["Resource"].endswith(":ec2:<AWS::Region>:<AWS::AccountId>:instance/*")
    assert ec2["Condition"] == {**keys, "Null": {"ec2:CreateAction": "true"}}
    every_tag = denies["NoDeletingEveryTagOfRotationTargets"]
    assert (every_tag["Action"], every_tag["Condition"]) == ("ec2:DeleteTags", {"Null": {"aws:TagKeys": "true"}})
    hybrid = denies["NoRetaggingOfRotationTargetsHybrid"]
    assert sorted(as_list(hybrid["Action"])) == ["ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"]
    assert hybrid["Resource"].endswith(":managed-instance/*")
    assert hybrid["Condition"] == keys


def test_password_key_changes_reach_the_alert_topic(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Events::Rule", f"{WINDOW}VaultKeyChangedRule")["Properties"]
    assert rule["EventPattern"]["detail"]["eventName"] == [
        "PutKeyPolicy", "CreateGrant", "ScheduleKeyDeletion", "DisableKey",
    ]  # fmt: skip
    key_id = next(k for k in resources_of(member, "AWS::KMS::Key") if k.startswith(f"{WINDOW}VaultKey"))
    assert rule["EventPattern"]["detail"]["requestParameters"]["keyId"][0] == {"Ref": key_id}
    assert rule["Targets"][0]["Arn"]["Ref"].startswith("NotificationsTopic")
    policy = {s["Sid"]: s for s in rendered(statements(member["Resources"][key_id]["Properties"]["KeyPolicy"]))}
    assert policy["NoGrantsForAnyone"]["Effect"] == "Deny"
    assert policy["NoDecryptForAnyoneButNamedReaders"]["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": ["arn:<AWS::Partition>:iam::<AWS::AccountId>:role/PasswordAdministrator"]}
    }


def test_failures_of_the_window_and_of_each_instance_alert_the_topic(member: dict[str, Any]) -> None:
    window_rule = only_resource(member, "AWS::Events::Rule", f"{WINDOW}WindowFailedRule")["Properties"]
    window_id = next(iter(resources_of(member, "AWS::SSM::MaintenanceWindow")))
    assert window_rule["EventPattern"]["detail"] == {
        "window-id": [{"Ref": window_id}],
        "status": ["FAILED", "TIMED_OUT", "CANCELLED"],
    }
    instance_rule = only_resource(member, "AWS::Events::Rule", f"{WINDOW}InstanceFailedRule")["Properties"]
    detail = instance_rule["EventPattern"]["detail"]
    assert detail["document-name"] == ["AWSSupport-RunEC2RescueForWindowsTool"]
    assert "Failed" not in detail["status"][0]["anything-but"]
    assert "TimedOut" not in detail["status"][0]["anything-but"]
    transformer = instance_rule["Targets"][0]["InputTransformer"]
    assert {"$.detail.instance-id", "$.detail.status"} <= set(transformer["InputPathsMap"].values())
    topic = only_resource(member, "AWS::SNS::Topic", "NotificationsTopic")["Properties"]
    assert "KmsMasterKeyId" in topic


def test_freshness_report_runs_daily_with_the_window_settings(member: dict[str, Any]) -> None:
    function = only_resource(member, "AWS::Lambda::Function", f"{WINDOW}FreshnessReport")["Properties"]
    variables = function["Environment"]["Variables"]
    assert json.loads(variables["TAG_FILTERS"]) == {"Environment": ["Production"]}
    assert variables["PASSWORD_PATH"] == "/EC2Rescue/Passwords"
    assert variables["MAX_AGE_SECONDS"] == str(8 * 86400)
    rule = only_resource(member, "AWS::Events::Rule", f"{WINDOW}FreshnessReportRule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    policy = _policy_statements(member, "AWS::IAM::Policy", f"{WINDOW}FreshnessReportRoleDefaultPolicy")
    assert "ssm:GetParameter" not in _actions(policy) and "kms:Decrypt" in _actions(policy)  # decrypt: topic key
    # the window's last run: which instances it never reached (issue 23 item 16)
    [window] = resources_of(member, "AWS::SSM::MaintenanceWindow")
    assert variables["WINDOW_ID"] == {"Ref": window}
    assert variables["MAX_CONCURRENCY"] == "10%"
    history = next(s for s in policy if s.get("Sid") == "ReadTheWindowsLastRun")
    assert (
        history["Resource"] == f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:maintenancewindow/<{window}>"
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two environments from the same construct class, the second reusing the first's key,
    log group and topic (as the member stack does)."""
    app = new_app(tmp_path_factory.mktemp("rotation.out"))
    stack = cdk.Stack(app, "TwoWindows")
    admin = iam.Role.from_role_name(stack, "Admin", "Admins")
    prod = RotationWindowSettings(tag_filters={"Environment": ["Prod"]})
    first = PasswordRotationWindow(stack, "Prod", administrators=[admin], window=prod)
    test = RotationWindowSettings(
        tag_filters={"Environment": ["Test"], "Os": ["Windows2022", "Windows2025"]},
        schedule="rate(7 days)",
        max_concurrency="10%",
    )
    PasswordRotationWindow(
        stack,
        "Test",
        administrators=[admin],
        window=test,
        key=first.key,
        log_group=first.log_group,
        alert_topic=first.alert_topic,
    )
    assert nag_findings(app) == []
    return app.synth().get_stack_by_name("TwoWindows").template


def test_several_environments_share_one_key(shared: dict[str, Any]) -> None:
    assert len(resources_of(shared, "AWS::SSM::MaintenanceWindow")) == 2
    # the key is watched once, by the window that created it
    assert [k for k in resources_of(shared, "AWS::Events::Rule") if "KeyChanged" in k] == [
        k for k in resources_of(shared, "AWS::Events::Rule") if k.startswith("ProdVaultKeyChangedRule")
    ]
    assert len([k for k in resources_of(shared, "AWS::Events::Rule") if "KeyChanged" in k]) == 1
    assert len([k for k in resources_of(shared, "AWS::KMS::Key") if "VaultKey" in k]) == 1
    assert len(resources_of(shared, "AWS::SNS::Topic")) == 1
    tasks = list(resources_of(shared, "AWS::SSM::MaintenanceWindowTask").values())
    keys = {json.dumps(t["Properties"]["TaskInvocationParameters"]) for t in tasks}
    assert len({k.split('"Parameters": [')[1] for k in keys}) == 1
    targets = [t["Properties"]["Targets"] for t in resources_of(shared, "AWS::SSM::MaintenanceWindowTarget").values()]
    assert {"Key": "tag:Os", "Values": ["Windows2022", "Windows2025"]} in targets[1]


def test_a_window_needs_an_administrator(tmp_path: Path) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Props")
    window = RotationWindowSettings(tag_filters={"Environment": ["Production"]})
    with pytest.raises(PropsError, match=r"^PasswordRotationWindow.administrators: got \[\]"):
        PasswordRotationWindow(stack, "Rotation", administrators=[], window=window)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tag_filters": {}}, "PasswordRotationWindow.tag_filters: got {}; allowed: at least one tag key"),
        ({"tag_filters": {"": ["x"]}}, "allowed: 1-128 characters"),
        ({"tag_filters": {"aws:cloudformation:stack-name": ["x"]}}, "not starting with aws:"),
        ({"tag_filters": {"Environment": []}}, "allowed: a list of one or more values"),
        ({"tag_filters": {"Environment": [""]}}, "allowed: a value of 1-256 characters"),
        ({"schedule": "cron(0 5 * * SUN *)"}, "'?' in exactly one of day-of-month and day-of-week"),
        ({"schedule": "cron(0 5 ? * ? *)"}, "'?' in exactly one of day-of-month and day-of-week"),
        ({"schedule": "cron(0 5 ? * SUN)"}, "6 cron fields, got 5"),
        ({"schedule": "rate(1 days)"}, "rate(1 hour|day|minute)"),
        ({"schedule": "rate(0 hours)"}, "rate(1 hour|day|minute)"),
        ({"schedule": "weekly"}, "got 'weekly'; allowed: cron("),
        ({"schedule_timezone": "Mars Base"}, "schedule_timezone: got 'Mars Base'"),
        (
            {"duration_hours": 25},
            "PasswordRotationWindow.duration_hours: got 25; allowed: a number from 1 to 24",
        ),
        (
            {"duration_hours": 2, "cutoff_hours": 2},
            "PasswordRotationWindow.cutoff_hours: got 2; allowed: 0 to duration_hours - 1 (1)",
        ),
        ({"max_concurrency": "0"}, "max_concurrency: got '0'; allowed: a positive whole number or a percentage"),
        ({"max_concurrency": "101%"}, "max_concurrency: got '101%'"),
        ({"max_errors": "-1"}, "max_errors: got '-1'"),
        ({"max_errors": "ten"}, "max_errors: got 'ten'"),
        ({"priority": 9}, "priority: got 9"),
        ({"max_password_age_days": 0}, "max_password_age_days: got 0"),
        ({"task_timeout_minutes": 0}, "task_timeout_minutes: got 0"),
    ],
)
def test_bad_window_settings_fail_at_synth_with_one_line(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError) as caught:
        RotationWindowSettings(**{"tag_filters": {"Environment": ["Production"]}, **settings})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_key_alias_fails_with_one_line() -> None:
    with pytest.raises(PropsError, match=r"^PasswordRotationWindow.key_alias: got 'alias/aws/ssm'"):
        PasswordRotationSettings(key_alias="alias/aws/ssm")


@pytest.mark.parametrize("schedule", ["cron(0 5 ? * SUN *)", "cron(30 23 L * ? *)", "rate(1 day)", "rate(12 hours)"])
def test_good_schedules_are_accepted(schedule: str) -> None:
    check_schedule("schedule", schedule)
