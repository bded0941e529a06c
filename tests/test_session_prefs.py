"""SessionPrefs: what the example's regional stack deploys, its variants, and its prop checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from cdk_helpers import (
    SynthesizedApp,
    as_list,
    flatten,
    nag_findings,
    new_app,
    only_resource,
    rendered,
    resources_of,
    statements,
)

from guardrails import PropsError, SessionPrefs
from guardrails.session_prefs import SessionPrefsSettings
from stacks.build import MEMBER_REGIONAL_STACK_NAME

TAG = {"SessionAccess": ["Operators"]}


@pytest.fixture(scope="module")
def regional(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(MEMBER_REGIONAL_STACK_NAME)


def _inputs(template: dict[str, Any]) -> dict[str, Any]:
    resource = only_resource(template, "Custom::SessionManagerPreferences")["Properties"]
    return json.loads(flatten(resource["InputsJson"]))


def _policy(template: dict[str, Any], id_contains: str) -> dict[str, dict[str, Any]]:
    resource = only_resource(template, "AWS::IAM::ManagedPolicy", id_contains)["Properties"]
    return {s["Sid"]: s for s in rendered(statements(resource["PolicyDocument"]))}


def test_preferences_document_gets_every_configured_setting(regional: dict[str, Any]) -> None:
    resource = only_resource(regional, "Custom::SessionManagerPreferences")["Properties"]
    assert resource["DocumentName"] == "SSM-SessionManagerRunShell"
    inputs = _inputs(regional)
    assert inputs["idleSessionTimeout"] == "20" and inputs["maxSessionDuration"] == "480"
    assert inputs["cloudWatchLogGroupName"].startswith("<SessionPrefsLogsLogGroup")
    assert inputs["cloudWatchEncryptionEnabled"] is True and inputs["cloudWatchStreamingEnabled"] is True
    assert inputs["kmsKeyId"].startswith("<SessionPrefsDataKey")
    assert inputs["runAsEnabled"] is False
    assert inputs["s3BucketName"] == ""
    assert inputs["shellProfile"] == {"windows": "", "linux": ""}


def test_custom_resource_uses_the_provider_framework_and_fails_fast(regional: dict[str, Any]) -> None:
    resource = only_resource(regional, "Custom::SessionManagerPreferences")["Properties"]
    assert resource["ServiceToken"]["Fn::GetAtt"][0].startswith("SessionPrefsProviderframeworkonEvent")
    assert resource["ServiceTimeout"] == "300"


def test_handler_may_touch_the_preferences_document_only(regional: dict[str, Any]) -> None:
    policy = rendered(
        statements(
            only_resource(regional, "AWS::IAM::Policy", "SessionPrefsHandlerRoleDefaultPolicy")["Properties"][
                "PolicyDocument"
            ]
        )
    )
    ssm = next(s for s in policy if s.get("Sid") == "ManageThePreferencesDocumentOnly")
    assert (
        ssm["Resource"] == "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:document/SSM-SessionManagerRunShell"
    )
    assert "ssm:DeleteDocument" not in as_list(ssm["Action"])
    # its own state (issue 23 item 7): the version to restore, one parameter
    state = next(s for s in policy if s.get("Sid") == "KeepWhatToRestoreOnDelete")
    assert state["Resource"] == (
        "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
        "parameter/guardrails/session-manager/preferences-restore-version"
    )
    assert sorted(as_list(state["Action"])) == ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"]


def _handler_environment(template: dict[str, Any]) -> dict[str, Any]:
    function = only_resource(template, "AWS::Lambda::Function", "SessionPrefsHandlerFunction")["Properties"]
    return function["Environment"]["Variables"]


def test_drift_is_reconciled_daily_and_the_schedule_passes_no_settings(regional: dict[str, Any]) -> None:
    """Issue 13 item 5: the scheduled event carries only the action; the handler ignores the rest."""
    rule = only_resource(regional, "AWS::Events::Rule", "SessionPrefsReconcileRule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert json.loads(flatten(rule["Targets"][0]["Input"])) == {"action": "reconcile"}


def test_handler_reads_the_preferences_and_its_stack_from_its_own_environment(regional: dict[str, Any]) -> None:
    environment = _handler_environment(regional)
    assert environment["DOCUMENT_NAME"] == "SSM-SessionManagerRunShell"
    assert json.loads(flatten(environment["INPUTS_JSON"])) == _inputs(regional)
    assert environment["STACK_ID"] == {"Ref": "AWS::StackId"}
    [logical_id] = resources_of(regional, "Custom::SessionManagerPreferences")
    assert environment["RESOURCE_LOGICAL_ID"] == logical_id
    assert environment["RESTORE_PARAMETER"] == "/guardrails/session-manager/preferences-restore-version"


def test_only_the_schedule_may_invoke_the_handler_through_its_resource_policy(regional: dict[str, Any]) -> None:
    """The Provider framework invokes through its role's IAM policy; the schedule rule through the
    one resource-based permission, for that rule only. Nothing else is admitted by the function."""
    [handler_id] = [i for i in resources_of(regional, "AWS::Lambda::Function") if i.startswith("SessionPrefsHandler")]
    permissions = [
        p["Properties"]
        for p in resources_of(regional, "AWS::Lambda::Permission").values()
        if handler_id in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert len(permissions) == 1
    [permission] = permissions
    assert (permission["Principal"], permission["Action"]) == ("events.amazonaws.com", "lambda:InvokeFunction")
    assert permission["SourceArn"]["Fn::GetAtt"][0].startswith("SessionPrefsReconcileRule")


def test_keys_have_the_contract_aliases_rotation_and_logs_access(regional: dict[str, Any]) -> None:
    aliases = {a["Properties"]["AliasName"]: a for a in resources_of(regional, "AWS::KMS::Alias").values()}
    assert {"alias/session-manager/data", "alias/session-manager/logs"} <= set(aliases)
    for key_id in ("SessionPrefsDataKey", "SessionPrefsLogsKey"):
        assert only_resource(regional, "AWS::KMS::Key", key_id)["Properties"]["EnableKeyRotation"] is True
    logs_key = rendered(
        statements(only_resource(regional, "AWS::KMS::Key", "SessionPrefsLogsKey")["Properties"]["KeyPolicy"])
    )
    service = next(s for s in logs_key if s.get("Sid") == "CloudWatchLogsOfThisRegion")
    assert service["Principal"] == {"Service": "logs.<AWS::Region>.amazonaws.com"}
    group = only_resource(regional, "AWS::Logs::LogGroup", "SessionPrefsLogsLogGroup")
    assert group["Properties"]["RetentionInDays"] == 90 and group["DeletionPolicy"] == "Retain"
    parameter = only_resource(regional, "AWS::SSM::Parameter", "SessionPrefsDataKeyIdParameter")["Properties"]
    assert parameter["Name"] == "/guardrails/session-manager/data-key-id"
    assert parameter["Value"]["Ref"].startswith("SessionPrefsDataKey")


def test_session_key_is_not_a_password_key(regional: dict[str, Any]) -> None:
    inputs = _inputs(regional)
    documents = json.dumps(rendered(list(resources_of(regional, "AWS::SSM::Document").values())))
    assert inputs["kmsKeyId"].strip("<>").split(".")[0] not in documents


def test_instance_policy_has_what_the_options_need(regional: dict[str, Any]) -> None:
    policy = _policy(regional, "SessionPrefsInstancePolicy")
    assert set(policy) == {"SessionChannels", "WriteSessionLogs", "FindLogGroup", "DecryptSessionData"}
    assert policy["WriteSessionLogs"]["Resource"].startswith("<SessionPrefsLogsLogGroup")
    assert policy["DecryptSessionData"]["Action"] == "kms:Decrypt"
    assert policy["DecryptSessionData"]["Resource"].startswith("<SessionPrefsDataKey")


def test_operator_policy_limits_sessions_to_tagged_instances_and_safe_documents(regional: dict[str, Any]) -> None:
    policy = _policy(regional, "SessionPrefsOperatorPolicy")
    on_instances = policy["StartSessionsOnTaggedInstancesOnly"]
    assert on_instances["Condition"] == {
        "BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"},
        "StringEquals": {"ssm:resourceTag/SessionAccess": ["Operators"]},
    }
    documents = policy["ThroughDocumentsThatKeepThePreferences"]
    assert documents["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    assert documents["Resource"] == (
        "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:document/SSM-SessionManagerRunShell"
    )
    # Issue 13 item 6: port forwarding and SSH (never logged by Session Manager) are off by default.
    assert "PortForwardingAndSshWithoutSessionLogs" not in policy
    started = [r for s in policy.values() if "ssm:StartSession" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert not [r for r in started if "PortForwarding" in r or "SSH" in r]
    deny = policy["NoPasswordResetThroughSessionManager"]
    assert deny["Effect"] == "Deny" and deny["Resource"].endswith("::document/AWS-PasswordReset")
    assert policy["EncryptSessionData"]["Action"] == "kms:GenerateDataKey"


def test_operator_may_open_the_data_channel_and_end_only_own_sessions(regional: dict[str, Any]) -> None:
    """Issue 11: without OpenDataChannel the session client cannot connect; own sessions are found
    by the tag Session Manager puts on each session, which works for every caller type."""
    policy = _policy(regional, "SessionPrefsOperatorPolicy")
    channel = policy["OpenTheSessionDataChannel"]
    assert (channel["Effect"], channel["Action"], channel["Resource"]) == (
        "Allow",
        "ssmmessages:OpenDataChannel",
        "*",
    )
    own = policy["OwnSessionsOnly"]
    assert set(own["Action"]) == {"ssm:TerminateSession", "ssm:ResumeSession"}
    assert own["Resource"] == "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:session/*"
    assert own["Condition"] == {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}}
    session_actions = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert {a for a in session_actions if a.startswith("ssmmessages:")} == {"ssmmessages:OpenDataChannel"}


def test_data_key_is_tagged_for_just_in_time_sessions(regional: dict[str, Any]) -> None:
    """AWSSystemsManagerJustInTimeAccessTokenSessionPolicy allows kms:GenerateDataKey only on keys
    tagged SystemsManagerJustInTimeNodeAccessManaged=true; the logs key stays untagged."""
    data_key = only_resource(regional, "AWS::KMS::Key", "SessionPrefsDataKey")["Properties"]
    assert {"Key": "SystemsManagerJustInTimeNodeAccessManaged", "Value": "true"} in data_key.get("Tags", [])
    logs_key = only_resource(regional, "AWS::KMS::Key", "SessionPrefsLogsKey")["Properties"]
    assert "SystemsManagerJustInTimeNodeAccessManaged" not in json.dumps(logs_key.get("Tags", []))


def test_without_session_encryption_there_is_no_data_key_and_no_key_grant(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Plain")
    SessionPrefs(stack, "Prefs", settings=SessionPrefsSettings(operator_instance_tag=TAG, session_encryption=False))
    template = app.synth().get_stack_by_name("Plain").template
    aliases = {a["Properties"]["AliasName"] for a in resources_of(template, "AWS::KMS::Alias").values()}
    assert "alias/session-manager/data" not in aliases
    operator = _policy(template, "OperatorPolicy")
    assert "EncryptSessionData" not in operator and "OpenTheSessionDataChannel" in operator
    assert nag_findings(app) == []


def test_operators_may_not_retag_instances_with_the_operator_tag_keys(regional: dict[str, Any]) -> None:
    """Issue 12 item 5: re-tagging would move the operators' reach to any instance."""
    policy = _policy(regional, "SessionPrefsOperatorPolicy")
    retag = policy["NoRetaggingWithTheOperatorTagKeys"]
    assert retag["Effect"] == "Deny"
    assert set(retag["Action"]) == {
        "ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
    }  # fmt: skip
    assert retag["Condition"] == {"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["SessionAccess"]}}
    nodes = ["ec2:<AWS::Region>:<AWS::AccountId>:instance/*", "ssm:<AWS::Region>:<AWS::AccountId>:managed-instance/*"]
    assert [arn.split("<AWS::Partition>:", 1)[1] for arn in retag["Resource"]] == nodes
    every_tag = policy["NoRemovingEveryTagAtOnce"]
    assert (every_tag["Effect"], every_tag["Action"]) == ("Deny", "ec2:DeleteTags")
    assert every_tag["Condition"] == {"Null": {"aws:TagKeys": "true"}}


def test_both_functions_alarm_on_errors_and_the_reconcile_on_a_missed_day(regional: dict[str, Any]) -> None:
    """Issue 13 item 7, for SessionPrefs: the handler and the Provider framework's own function."""
    alarms = [
        a["Properties"] for i, a in resources_of(regional, "AWS::CloudWatch::Alarm").items() if "SessionPrefs" in i
    ]
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["MetricName"], []).append(alarm)
        assert alarm["AlarmActions"] == [{"Ref": next(iter(resources_of(regional, "AWS::SNS::Topic")))}]
    watched = {next(d["Value"]["Ref"] for d in a["Dimensions"]) for a in by_metric["Errors"]}
    assert sorted(w.rstrip("0123456789ABCDEF") for w in watched) == [
        "SessionPrefsHandlerFunction",
        "SessionPrefsProviderframeworkonEvent",
    ]
    [missed] = by_metric["Invocations"]
    assert missed["Dimensions"][0]["Value"]["Ref"].startswith("SessionPrefsHandlerFunction")
    assert (missed["Period"], missed["EvaluationPeriods"], missed["DatapointsToAlarm"]) == (3600, 26, 26)
    assert (missed["ComparisonOperator"], missed["Threshold"]) == ("LessThanThreshold", 1)
    # silent before the first run, notified once a reconcile that ran stops (issue 23 item 15)
    assert missed["TreatMissingData"] == "missing"
    assert missed["InsufficientDataActions"] == missed["AlarmActions"]


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    app = new_app(tmp_path_factory.mktemp("prefs.out"))
    stack = cdk.Stack(app, "Everything")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", vpc_cidr_block="10.1.0.0/16",
        availability_zones=["eu-west-1a"], private_subnet_ids=["subnet-0123456789abcdef0"],
        private_subnet_route_table_ids=["rtb-0123456789abcdef0"],
    )  # fmt: skip
    settings = SessionPrefsSettings(
        operator_instance_tag={"Team": ["Ops", "Dba"]},
        allow_port_forwarding=True,
        s3_logging=True,
        s3_bucket_name="my-session-logs",
        run_as_enabled=True,
        run_as_default_user="ssm-operator",
        allow_password_reset=True,
        allow_remote_host_port_forwarding=True,
        log_group_name="/existing/sessions",
    )
    SessionPrefs(stack, "Prefs", settings=settings, vpc=vpc)
    return SynthesizedApp(app, app.synth())


def test_variant_s3_runas_password_reset_and_endpoints(variant: SynthesizedApp) -> None:
    template = variant.template_json("Everything")
    inputs = _inputs(template)
    assert inputs["s3BucketName"] == "my-session-logs"
    assert inputs["s3KeyPrefix"] == "session-logs/<AWS::AccountId>/<AWS::Region>"
    assert (inputs["runAsEnabled"], inputs["runAsDefaultUser"]) == (True, "ssm-operator")
    assert inputs["cloudWatchLogGroupName"] == "/existing/sessions"
    instance = _policy(template, "InstancePolicy")
    assert instance["WriteSessionLogsToBucket"]["Resource"] == (
        "arn:<AWS::Partition>:s3:::my-session-logs/session-logs/<AWS::AccountId>/<AWS::Region>/*"
    )
    operator = _policy(template, "OperatorPolicy")
    assert "NoPasswordResetThroughSessionManager" not in operator
    assert operator["ResetLocalPasswordsWithAwsPasswordReset"]["Resource"].endswith("::document/AWS-PasswordReset")
    unlogged = operator["PortForwardingAndSshWithoutSessionLogs"]
    assert sorted(arn.rsplit("/", 1)[1] for arn in unlogged["Resource"]) == [
        "AWS-StartPortForwardingSession",
        "AWS-StartPortForwardingSessionToRemoteHost",
        "AWS-StartSSHSession",
    ]
    assert unlogged["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    assert operator["NoRetaggingWithTheOperatorTagKeys"]["Condition"] == {
        "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["Team"]}
    }
    endpoints = [e["Properties"]["ServiceName"] for e in resources_of(template, "AWS::EC2::VPCEndpoint").values()]
    rendered = json.dumps(endpoints)
    for service in ("ssm", "ssmmessages", "ec2messages", "kms", "logs", "s3"):
        assert f".{service}" in rendered or f'{service}"' in rendered, service
    group = only_resource(template, "AWS::EC2::SecurityGroup")["Properties"]
    assert group["SecurityGroupIngress"] == [
        {
            "CidrIp": "10.1.0.0/16",
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_variant_passes_cdk_nag(variant: SynthesizedApp) -> None:
    findings = nag_findings(variant.app)
    assert findings == [], "\n".join(findings)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"idle_session_timeout_minutes": 0},
            "SessionPrefs.idle_session_timeout_minutes: got 0; allowed: a number from 1 to 60",
        ),
        ({"idle_session_timeout_minutes": 61}, "idle_session_timeout_minutes: got 61"),
        (
            {"max_session_duration_minutes": 1441},
            "max_session_duration_minutes: got 1441; allowed: a number from 1 to 1440",
        ),
        (
            {"idle_session_timeout_minutes": 30, "max_session_duration_minutes": 20},
            "idle_session_timeout_minutes: got 30; allowed: at most max_session_duration_minutes (20)",
        ),
        ({"run_as_enabled": True}, "SessionPrefs.run_as_default_user: got None; allowed: an OS user name"),
        ({"run_as_enabled": True, "run_as_default_user": "Root User"}, "run_as_default_user: got 'Root User'"),
        ({"s3_logging": True}, "SessionPrefs.s3_bucket_name: got None; allowed: an existing bucket name"),
        (
            {"s3_logging": True, "s3_bucket_name": "My_Bucket"},
            "s3_bucket_name: got 'My_Bucket'; allowed: an S3 bucket name",
        ),
        ({"log_group_name": "bad name!"}, "log_group_name: got 'bad name!'"),
        ({"log_retention_days": 42}, "log_retention_days: got 42"),
        ({"operator_instance_tag": {}}, "operator_instance_tag: got {}; allowed: at least one tag key"),
        (
            {"allow_password_reset": True, "session_encryption": False},
            "allow_password_reset: got True; allowed: true only with session_encryption",
        ),
        (
            {"shell_profile_linux": "x" * 1500, "shell_profile_windows": "y" * 549},
            "SessionPrefs.shell_profile_linux/shell_profile_windows: got '2049 characters together (JSON-escaped)'; "
            "allowed: at most 2048",
        ),
    ],
)
def test_bad_settings_fail_at_synth_with_one_line(props: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError) as caught:
        SessionPrefsSettings(**{"operator_instance_tag": TAG, **props})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_reserved_key_id_parameter_name_fails_at_synth(tmp_path: Path) -> None:
    # Parameter Store refuses names that begin with aws or ssm, in any letter case:
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
    stack = cdk.Stack(new_app(tmp_path), "Props")
    expected = "key_id_parameter_name: got '/SSM-guardrails/key-id'; allowed: a path that does not start with /aws"
    with pytest.raises(PropsError, match=expected):
        SessionPrefs(
            stack, "Prefs", settings=SessionPrefsSettings(operator_instance_tag=TAG),
            key_id_parameter_name="/SSM-guardrails/key-id",
        )  # fmt: skip


def test_session_log_key_lets_only_the_named_readers_decrypt(regional: dict[str, Any]) -> None:
    """Issue 23 item 6: the log key denies Decrypt/ReEncrypt to every principal but the readers
    (AWS services acting as themselves excepted), and readers decrypt through CloudWatch Logs only."""
    key = only_resource(regional, "AWS::KMS::Key", "SessionPrefsLogsKey")["Properties"]["KeyPolicy"]
    by_sid = {s.get("Sid"): s for s in rendered(statements(key))}
    reader = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/SessionLogReader"
    deny = by_sid["NoDecryptForAnyoneButNamedReaders"]
    assert (deny["Effect"], deny["Principal"], sorted(as_list(deny["Action"]))) == (
        "Deny", {"AWS": "*"}, ["kms:Decrypt", "kms:ReEncrypt*"],
    )  # fmt: skip
    assert deny["Condition"] == {
        "Bool": {"aws:PrincipalIsAWSService": "false"},
        "ArnNotLike": {"aws:PrincipalArn": [reader]},
    }
    allow = by_sid["NamedReadersDecryptThroughCloudWatchLogs"]
    assert allow["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "logs.<AWS::Region>.amazonaws.com",
            "aws:PrincipalAccount": "<AWS::AccountId>",
        },
        "ArnLike": {"aws:PrincipalArn": [reader]},
    }
    policy = only_resource(regional, "AWS::IAM::ManagedPolicy", "SessionPrefsLogReaderPolicy")["Properties"]
    assert policy["Roles"] == ["SessionLogReader"]
