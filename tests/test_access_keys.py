"""AccessKeyFindings (central) and AccessKeyRemediation (member): templates, document, script, props."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import boto3
import botocore.session
import pytest
from aws_helpers import topic_with_inbox
from cdk_helpers import (
    ROOT,
    SynthesizedApp,
    as_list,
    nag_findings,
    new_app,
    only_resource,
    rendered,
    statements,
)
from moto import mock_aws
from ssm_docs import references

from guardrails import AccessKeyFindings, AccessKeyRemediation, PropsError
from guardrails.access_keys import AccessKeyFindingsSettings, AccessKeyRemediationSettings
from guardrails.access_keys.findings import org_paths_condition
from guardrails.shared.documents import load_document
from stacks.build import CENTRAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME

TOPIC_ARN = "arn:aws:sns:eu-west-1:222222222222:ssm-guardrails-access-key-findings"
SCRIPT = ROOT / "ssm_documents" / "scripts" / "access_key_report.py"


@pytest.fixture(scope="module")
def central(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(CENTRAL_STACK_NAME)


@pytest.fixture(scope="module")
def member(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(MEMBER_GLOBAL_STACK_NAME)


# ------------------------------------------------------------------------------------------ central


def test_central_topic_has_the_contract_name_and_a_rotating_key(central: dict[str, Any]) -> None:
    topic = only_resource(central, "AWS::SNS::Topic")["Properties"]
    assert topic["TopicName"] == "ssm-guardrails-access-key-findings"
    assert "KmsMasterKeyId" in topic
    assert only_resource(central, "AWS::KMS::Key")["Properties"]["EnableKeyRotation"] is True


REMEDIATION_ROLES = "arn:aws:iam::*:role/SsmGuardrailsAccessKeyRemediation"
#: accounts under the example's target OUs, child OUs included (aws:PrincipalOrgPaths is multivalued,
#: o-.../r-.../ou-.../ paths: ForAnyValue:StringLike,
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths)
UNDER_TARGET_OUS = {
    "ForAnyValue:StringLike": {
        "aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/*/ou-ab12-11111111/*", "o-a1b2c3d4e5/*/ou-ab12-22222222/*"]
    }
}


def test_central_topic_accepts_publishes_from_remediation_roles_of_the_organization_only_over_tls(
    central: dict[str, Any],
) -> None:
    policy = statements(only_resource(central, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"])
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert len(allows) == 1
    assert allows[0]["Action"] == "sns:Publish"
    assert allows[0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
        "ArnLike": {"aws:PrincipalArn": REMEDIATION_ROLES},
        **UNDER_TARGET_OUS,
    }
    denies = [s["Condition"] for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in denies
    assert {"ArnNotLike": {"aws:PrincipalArn": REMEDIATION_ROLES}} in denies
    # a same-account principal needs no Allow: the OU paths are enforced by a deny as well
    assert {"ForAllValues:StringNotLike": UNDER_TARGET_OUS["ForAnyValue:StringLike"]} in denies


def test_central_key_lets_remediation_roles_of_the_organization_use_it_through_sns_only(
    central: dict[str, Any],
) -> None:
    policy = rendered(statements(only_resource(central, "AWS::KMS::Key")["Properties"]["KeyPolicy"]))
    org = next(s for s in policy if s.get("Sid") == "RemediationRolesPublishThroughSns")
    assert set(as_list(org["Action"])) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert org["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5", "kms:ViaService": "sns.eu-west-1.amazonaws.com"},
        "ArnLike": {"aws:PrincipalArn": REMEDIATION_ROLES},
        **UNDER_TARGET_OUS,
    }


@pytest.mark.parametrize(
    ("units", "paths"),
    [
        ((), None),
        (("r-ab12",), ["o-a1b2c3d4e5/r-ab12/*"]),
        (("ou-ab12-11111111",), ["o-a1b2c3d4e5/*/ou-ab12-11111111/*"]),
    ],
    ids=["no OUs: the organization", "the root: right after the organization id", "an OU: at any depth"],
)
def test_org_paths_name_the_root_and_ous_as_aws_writes_them(units: tuple[str, ...], paths: list[str] | None) -> None:
    condition = org_paths_condition("o-a1b2c3d4e5", units)
    assert condition == ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": paths}} if paths else {})


def test_central_stack_lives_in_the_security_account_home_region(example_app: SynthesizedApp) -> None:
    stack = example_app.stack(CENTRAL_STACK_NAME)
    assert stack.environment.account == "222222222222"
    assert stack.environment.region == "eu-west-1"


# ------------------------------------------------------------------------------------------ member


def test_rule_is_access_keys_rotated_with_configured_age_and_frequency(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Config::ConfigRule")["Properties"]
    assert rule["Source"] == {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"}
    assert rule["InputParameters"] == {"maxAccessKeyAge": 90}
    assert rule["MaximumExecutionFrequency"] == "TwentyFour_Hours"
    assert rule["ConfigRuleName"] == "access-keys-rotated"


def test_remediation_is_automatic_passes_resource_id_and_role_and_retries(member: dict[str, Any]) -> None:
    remediation = only_resource(member, "AWS::Config::RemediationConfiguration")["Properties"]
    assert remediation["Automatic"] is True
    assert remediation["TargetType"] == "SSM_DOCUMENT"
    assert remediation["Parameters"]["ResourceId"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
    role = remediation["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"][0]["Fn::GetAtt"][0]
    assert role.startswith("AccessKeyRemediationAutomationRole")
    assert (remediation["MaximumAutomaticAttempts"], remediation["RetryAttemptSeconds"]) == (5, 60)


def test_automation_role_can_only_read_keys_and_publish_to_the_central_topic(member: dict[str, Any]) -> None:
    role = only_resource(member, "AWS::IAM::Role", "AccessKeyRemediation")["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    policy = {
        s["Sid"]: s
        for s in rendered(
            statements(
                only_resource(member, "AWS::IAM::Policy", "AccessKeyRemediation")["Properties"]["PolicyDocument"]
            )
        )
    }
    actions = {a for s in policy.values() for a in as_list(s["Action"])}
    assert "iam:UpdateAccessKey" not in actions  # escalation is off in the example
    assert not {a for a in actions if a.startswith("iam:Delete")}
    assert (
        policy["PublishFinding"]["Resource"]
        == "arn:<AWS::Partition>:sns:eu-west-1:222222222222:ssm-guardrails-access-key-findings"
    )
    assert policy["UseTheCentralTopicKeyThroughSns"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}
    }


def test_document_pins_the_settings_and_inlines_the_tested_script(member: dict[str, Any]) -> None:
    content = only_resource(member, "AWS::SSM::Document", "AccessKeyRemediation")["Properties"]["Content"]
    parameters = content["parameters"]
    assert parameters["MaxAccessKeyAge"]["allowedValues"] == ["90"]
    assert parameters["DeactivateAfter"]["allowedValues"] == ["0"]
    assert rendered(parameters["TopicArn"]["allowedValues"]) == [
        "arn:<AWS::Partition>:sns:eu-west-1:222222222222:ssm-guardrails-access-key-findings"
    ]
    script_step = next(step for step in content["mainSteps"] if step["action"] == "aws:executeScript")
    assert script_step["inputs"]["Script"] == SCRIPT.read_text()


# ------------------------------------------------------------------------------------------ document


def test_document_references_resolve_to_parameters_globals_or_earlier_step_outputs() -> None:
    content = load_document("access_key_remediation")
    outputs: dict[str, set[str]] = {}
    for step in content["mainSteps"]:
        for reference in references(step):
            if reference.startswith("global:"):
                assert reference in {"global:ACCOUNT_ID", "global:REGION", "global:DATE_TIME"}
            elif "." in reference:
                step_name, output = reference.split(".", 1)
                assert output in outputs.get(step_name, set()), f"{reference} is not an earlier step's output"
            else:
                assert reference in content["parameters"], reference
        outputs[step["name"]] = {output["Name"] for output in step.get("outputs", [])}
    for reference in content["outputs"]:
        step_name, output = reference.split(".")
        assert output in outputs[step_name]


def _shape_has_path(shape: Any, path: list[str]) -> bool:
    for part in path:
        if shape.type_name == "list":
            shape = shape.member
        if shape.type_name != "structure" or part not in shape.members:
            return False
        shape = shape.members[part]
    return True


def test_executeawsapi_selectors_point_at_real_response_fields() -> None:
    content = load_document("access_key_remediation")
    session = botocore.session.get_session()
    for step in content["mainSteps"]:
        if step["action"] != "aws:executeAwsApi":
            continue
        model = session.get_service_model(step["inputs"]["Service"])
        operation = model.operation_model(step["inputs"]["Api"])
        request_members = set(operation.input_shape.members)
        assert {k for k in step["inputs"] if k not in ("Service", "Api")} <= request_members
        for output in step["outputs"]:
            path = [re.sub(r"\[\d+\]$", "", part) for part in output["Selector"].removeprefix("$.").split(".")]
            assert _shape_has_path(operation.output_shape, path), output["Selector"]


# ------------------------------------------------------------------------------------------ script (moto)


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        topic, read = topic_with_inbox("eu-west-1", "ssm-guardrails-access-key-findings")
        yield {"topic": topic, "read": lambda: [envelope["Message"] for envelope in read()]}


@pytest.fixture
def script(aws: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location("access_key_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _user(name: str, keys: int = 1, tags: dict[str, str] | None = None) -> list[str]:
    iam = boto3.client("iam")
    iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    return [iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"] for _ in range(keys)]


def _run(script: ModuleType, aws: Any, user: str, days_later: int, **overrides: str) -> dict[str, Any]:
    script._now = lambda: datetime.now(UTC) + timedelta(days=days_later)
    events = {
        "UserName": user,
        "AccountId": "333333333333",
        "MaxAccessKeyAge": "90",
        "DeactivateAfter": "0",
        "ExemptionTagKey": "AccessKeyRotationExempt",
        "ExemptionTagValue": "true",
        "IncludeEmailTag": "true",
        "TopicArn": aws["topic"],
        **overrides,
    }
    return script.handler(events, None)


def _key_status(user: str) -> dict[str, str]:
    keys = boto3.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in keys}


def test_one_old_key_is_reported_with_account_user_key_and_age(aws: Any, script: ModuleType) -> None:
    [key] = _user("alice", tags={"email": "alice@example.com"})
    result = _run(script, aws, "alice", days_later=100)
    assert result["Status"] == "Published"
    [message] = aws["read"]()
    assert "Account 333333333333" in message and "IAM user alice" in message
    assert f"access key {key} is 100 days old (limit 90)" in message
    assert "Owner (email tag): alice@example.com" in message
    assert _key_status("alice") == {key: "Active"}


def test_two_keys_of_which_one_is_old(aws: Any, script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.iam.models

    real_utcnow = moto.iam.models.utcnow
    monkeypatch.setattr(moto.iam.models, "utcnow", lambda: real_utcnow() - timedelta(days=100))
    [old] = _user("bob")
    monkeypatch.setattr(moto.iam.models, "utcnow", real_utcnow)
    new = boto3.client("iam").create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    result = _run(script, aws, "bob", days_later=0)
    assert f"access key {old} is 100 days old" in result["Message"]
    assert new not in result["Message"]
    assert "1 access key(s) older than 90 days" in result["Message"]


def test_deactivation_past_the_second_threshold_and_exempt_users_kept(aws: Any, script: ModuleType) -> None:
    [key] = _user("carol")
    [exempt_key] = _user("dave", tags={"AccessKeyRotationExempt": "TRUE"})
    carol = _run(script, aws, "carol", days_later=200, DeactivateAfter="180")
    dave = _run(script, aws, "dave", days_later=200, DeactivateAfter="180")
    assert carol["Deactivated"] == [key] and _key_status("carol") == {key: "Inactive"}
    assert dave["Deactivated"] == [] and _key_status("dave") == {exempt_key: "Active"}
    assert "deactivated (older than 180 days; not deleted)" in carol["Message"]
    assert "left active: user carries AccessKeyRotationExempt=true" in dave["Message"]
    assert len(aws["read"]()) == 2


def test_user_already_deleted_is_not_an_error_and_sends_nothing(aws: Any, script: ModuleType) -> None:
    result = _run(script, aws, "ghost", days_later=100)
    assert result["Status"] == "UserDeleted"
    assert aws["read"]() == []


def test_no_old_key_sends_nothing(aws: Any, script: ModuleType) -> None:
    _user("erin")
    assert _run(script, aws, "erin", days_later=10)["Status"] == "NothingOld"
    assert aws["read"]() == []


# ------------------------------------------------------------------------------------------ props


@pytest.mark.parametrize("topic_arn", ["arn:aws:sqs:eu-west-1:222222222222:q", "ssm-guardrails-access-key-findings"])
def test_a_topic_arn_that_is_not_one_fails_at_synth(tmp_path: Path, topic_arn: str) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Props")
    expected = f"AccessKeyRemediation.topic_arn: got '{topic_arn}'; allowed: an SNS topic ARN"
    with pytest.raises(PropsError, match=re.escape(expected)):
        AccessKeyRemediation(stack, "Keys", topic_arn=topic_arn)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_access_key_age_days": 0}, "max_access_key_age_days: got 0; allowed: a number from 1 to 365 days"),
        ({"max_access_key_age_days": 366}, "max_access_key_age_days: got 366"),
        (
            {"deactivate_after_days": 90},
            "deactivate_after_days: got 90; allowed: 0 (off) or more than max_access_key_age_days (90)",
        ),
        ({"deactivate_after_days": 30}, "deactivate_after_days: got 30"),
        (
            {"maximum_execution_frequency": "Daily"},
            "maximum_execution_frequency: got 'Daily'; allowed: Input should be 'One_Hour', 'Three_Hours'",
        ),
        ({"retry_attempts": 26}, "retry_attempts: got 26"),
        ({"exemption_tag_key": ""}, "exemption_tag_key: got ''"),
    ],
)
def test_bad_member_settings_fail_at_synth(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError) as caught:
        AccessKeyRemediationSettings(**settings)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"organization_id": "o-123"}, "AccessKeyFindings.organization_id: got 'o-123'"),
        ({"organization_id": "r-abcdefghij"}, "organization_id: got 'r-abcdefghij'"),
        ({"organizational_unit_ids": ["ou-1"]}, "AccessKeyFindings.organizational_unit_ids: got 'ou-1'"),
    ],
)
def test_bad_central_props_fail_at_synth(tmp_path: Path, props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Props")
    with pytest.raises(PropsError) as caught:
        AccessKeyFindings(stack, "Findings", **{"organization_id": "o-a1b2c3d4e5", **props})
    assert message in str(caught.value)


def test_a_bad_email_subscriber_fails_at_synth() -> None:
    with pytest.raises(PropsError, match=r"AccessKeyFindings.email_subscribers\[0\]: got 'not-an-address'"):
        AccessKeyFindingsSettings(email_subscribers=["not-an-address"])


def test_a_second_copy_for_the_same_account_is_refused(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    AccessKeyRemediation(cdk.Stack(app, "HomeRegion"), "Keys", topic_arn=TOPIC_ARN)
    with pytest.raises(PropsError, match="one per account; HomeRegion/Keys already covers this account"):
        AccessKeyRemediation(cdk.Stack(app, "OtherRegion"), "Keys", topic_arn=TOPIC_ARN)


def test_copies_for_different_accounts_are_fine(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    for account in ("333333333333", "444444444444"):
        stack = cdk.Stack(app, f"Member{account}", env=cdk.Environment(account=account, region="eu-west-1"))
        AccessKeyRemediation(stack, "Keys", topic_arn=TOPIC_ARN)


def test_escalation_adds_a_tag_guarded_deactivation_permission(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Escalation")
    settings = AccessKeyRemediationSettings(deactivate_after_days=180, create_config_recorder=True)
    AccessKeyRemediation(stack, "Keys", topic_arn=TOPIC_ARN, settings=settings)
    template = app.synth().get_stack_by_name("Escalation").template
    assert nag_findings(app) == []
    policy = statements(only_resource(template, "AWS::IAM::Policy", "AutomationRole")["Properties"]["PolicyDocument"])
    deactivate = next(s for s in policy if s.get("Sid") == "DeactivateOldKeysOfUsersNotExempt")
    assert deactivate["Action"] == "iam:UpdateAccessKey"
    assert deactivate["Condition"] == {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/AccessKeyRotationExempt": "true"}}
    recorder = only_resource(template, "AWS::Config::ConfigurationRecorder")["Properties"]
    assert recorder["RecordingGroup"]["ResourceTypes"] == ["AWS::IAM::User"]
    assert only_resource(template, "AWS::Config::DeliveryChannel")


def test_created_recorder_role_may_deliver_to_its_bucket(tmp_path: Path) -> None:
    """For a bucket of its own account AWS Config delivers with the recorder's role, which then needs
    the bucket permissions of "IAM Role Policy for Amazon S3 Bucket"
    (https://docs.aws.amazon.com/config/latest/developerguide/iamrole-permissions.html#iam-role-policies-S3-bucket);
    AWS_ConfigRole alone has none of them."""
    app = new_app(tmp_path)
    AccessKeyRemediation(
        cdk.Stack(app, "Recorder"), "Keys", topic_arn=TOPIC_ARN,
        settings=AccessKeyRemediationSettings(create_config_recorder=True),
    )  # fmt: skip
    template = app.synth().get_stack_by_name("Recorder").template
    assert nag_findings(app) == []
    role_policy = only_resource(template, "AWS::IAM::Policy", "RecorderRole")
    policy = {s["Sid"]: s for s in rendered(statements(role_policy["Properties"]["PolicyDocument"]))}
    assert set(policy) == {"DeliverConfigurationItems", "CheckTheDeliveryBucketAcl"}
    deliver = policy["DeliverConfigurationItems"]
    assert (deliver["Effect"], deliver["Action"]) == ("Allow", "s3:PutObject")
    assert re.fullmatch(r"<KeysDeliveryBucket\w+\.Arn>/AWSLogs/<AWS::AccountId>/\*", deliver["Resource"])
    assert deliver["Condition"] == {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    acl = policy["CheckTheDeliveryBucketAcl"]
    assert (acl["Action"], acl["Resource"]) == ("s3:GetBucketAcl", deliver["Resource"].split("/AWSLogs")[0])
    role = only_resource(template, "AWS::IAM::Role", "RecorderRole")["Properties"]
    assert rendered(role["ManagedPolicyArns"]) == ["arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole"]
    # The channel is created only once the role may write (Config checks access when it is created).
    logical_policy = next(i for i, r in template["Resources"].items() if r is role_policy)
    channel = only_resource(template, "AWS::Config::DeliveryChannel")
    assert logical_policy in channel["DependsOn"]
