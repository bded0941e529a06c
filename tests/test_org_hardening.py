"""Issue 14 template tests: generated wildcards narrowed (item 3), asset buckets (item 4) and only
the remediation role publishes findings (item 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from access.resolve import Environment, ResolvedTemplate
from access.simulator import PolicySet, Request, simulate
from cdk_helpers import SynthesizedApp, resources_of

from guardrails.access_keys.remediation import REMEDIATION_ROLE_NAME
from stacks.build import CENTRAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME, PIPELINE_STACK_NAME


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy["PolicyDocument"]["Statement"] if "PolicyDocument" in policy else policy["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_asset_role_runs_only_the_asset_projects(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(PIPELINE_STACK_NAME)
    asset_projects = {i for i in resources_of(template, "AWS::CodeBuild::Project") if "Assets" in i}
    assert asset_projects
    seen = 0
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for statement in _statements(policy["Properties"]):
            actions = set(_as_list(statement["Action"]))
            if actions & {"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"}:
                seen += 1
                assert statement["Resource"] != "*", statement
            if "codebuild:CreateReport" in actions:
                # report groups named after one of the pipeline's projects, never report-group/*
                for resource in _as_list(statement["Resource"]):
                    assert not json.dumps(resource).endswith('report-group/*"]]}'), resource
    assert seen >= 2
    file_role_policies = [
        p for i, p in resources_of(template, "AWS::IAM::Policy").items() if i.startswith("PipelineAssetsFileRole")
    ]
    (policy,) = file_role_policies
    (build,) = [s for s in _statements(policy["Properties"]) if "codebuild:StartBuild" in _as_list(s["Action"])]
    assert build["Resource"] == [{"Fn::GetAtt": [project, "Arn"]} for project in sorted(asset_projects)]


def _is_remediation_role_pattern(value: Any) -> bool:
    """arn:<partition>:iam::*:role/<contract name>: the role in any account, nothing else."""
    return json.dumps(value).rstrip('"]}').endswith(f":iam::*:role/{REMEDIATION_ROLE_NAME}")


def _central_topic_policy(example_app: SynthesizedApp) -> list[dict[str, Any]]:
    template = example_app.template_json(CENTRAL_STACK_NAME)
    (policy,) = resources_of(template, "AWS::SNS::TopicPolicy").values()
    return _statements(policy["Properties"])


def test_only_remediation_roles_of_the_organization_publish_findings(example_app: SynthesizedApp) -> None:
    statements = _central_topic_policy(example_app)
    publish = [s for s in statements if "sns:Publish" in _as_list(s["Action"])]
    allows = [s for s in publish if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"AWS": "*"}
    assert set(allow["Condition"]) == {"StringEquals", "ArnLike", "ForAnyValue:StringLike"}
    assert set(allow["Condition"]["ForAnyValue:StringLike"]) == {"aws:PrincipalOrgPaths"}
    assert allow["Condition"]["StringEquals"]["aws:PrincipalOrgID"].startswith("o-")
    role_pattern = allow["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert _is_remediation_role_pattern(role_pattern)
    denies = [s for s in publish if s["Effect"] == "Deny" and "ArnNotLike" in s.get("Condition", {})]
    assert [d["Condition"]["ArnNotLike"]["aws:PrincipalArn"] for d in denies] == [role_pattern]


def test_the_central_key_admits_only_remediation_roles_through_sns(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(CENTRAL_STACK_NAME)
    (key,) = resources_of(template, "AWS::KMS::Key").values()
    (statement,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "RemediationRolesPublishThroughSns"
    ]
    assert _is_remediation_role_pattern(statement["Condition"]["ArnLike"]["aws:PrincipalArn"])
    assert statement["Condition"]["StringEquals"]["kms:ViaService"].startswith("sns.")


def test_the_remediation_role_carries_the_contract_name(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(MEMBER_GLOBAL_STACK_NAME)
    names = [r["Properties"].get("RoleName") for r in resources_of(template, "AWS::IAM::Role").values()]
    assert names.count(REMEDIATION_ROLE_NAME) == 1


ASSET_ACCOUNT = "444444444444"
EXECUTION_ROLE = f"arn:aws:iam::{ASSET_ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ASSET_ACCOUNT}-eu-west-1"


def test_only_the_cloudformation_execution_role_changes_an_asset_bucket_policy(example_app: SynthesizedApp) -> None:
    """Everyone else is denied; the account's root user keeps Get/Put/DeleteBucketPolicy whatever the
    policy says (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketPolicy.html)."""
    template = example_app.template_json("SsmGuardrails-Assets-eu-west-1")
    policies = resources_of(template, "AWS::S3::BucketPolicy").values()
    (deny,) = [
        s
        for p in policies
        for s in _statements(p["Properties"])
        if s.get("Sid") == "OnlyCloudFormationChangesTheBucket"
    ]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"} <= set(deny["Action"])
    role = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert json.dumps(role).endswith(':role/cdk-hnb659fds-cfn-exec-role-444444444444-eu-west-1"}')


#: What each bucket setting is changed with (Service Authorization Reference, Amazon S3 actions:
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html): e.g.
#: PutBucketVersioning (suspend), PutBucketLifecycleConfiguration and DeleteBucketLifecycle
#: (s3:PutLifecycleConfiguration), PutBucketLogging, PutBucketOwnershipControls and
#: DeleteBucketOwnershipControls (s3:PutBucketOwnershipControls).
BUCKET_SETTINGS = [
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
]


@pytest.fixture(scope="module")
def bucket_setting_decisions(example_app: SynthesizedApp) -> dict[str, bool]:
    """An administrator of the StackSet account (AdministratorAccess) and the CloudFormation
    execution role (same rights) change each setting of the eu-west-1 asset bucket."""
    env = Environment(account=ASSET_ACCOUNT, region="eu-west-1")
    name = "SsmGuardrails-Assets-eu-west-1"
    resolved = ResolvedTemplate(example_app.template_json(name), name, env)
    (policy,) = [
        resolved.resolve(properties["PolicyDocument"])
        for logical_id, properties in resolved.of_type("AWS::S3::BucketPolicy")
        if "AccessLogs" not in logical_id
    ]
    bucket = f"arn:aws:s3:::ssm-guardrails-assets-{ASSET_ACCOUNT}-eu-west-1"
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    batch = []
    for role in ("Administrator", EXECUTION_ROLE.split("/")[-1]):
        for action in BUCKET_SETTINGS:
            context = {"aws:PrincipalArn": f"arn:aws:iam::{ASSET_ACCOUNT}:role/{role}", "aws:SecureTransport": "true"}
            request = Request(f"arn:aws:sts::{ASSET_ACCOUNT}:assumed-role/{role}/s", action, bucket, context,
                              resource_account=ASSET_ACCOUNT)  # fmt: skip
            batch.append((f"{role} {action}", PolicySet(identity=[everything], resource=policy), request))
    return {key: result.decision.allowed for key, result in simulate(batch).items() if result.decision}


@pytest.mark.parametrize("action", BUCKET_SETTINGS)
def test_only_the_execution_role_changes_the_asset_buckets_settings(
    bucket_setting_decisions: dict[str, bool], action: str
) -> None:
    """Suspending versioning or expiring versions would undo the pinned code versions, turning
    logging off would hide who publishes: administrators are denied, the stack's role is not."""
    assert bucket_setting_decisions[f"Administrator {action}"] is False
    assert bucket_setting_decisions[f"{EXECUTION_ROLE.split('/')[-1]} {action}"] is True


def test_no_function_of_the_app_gets_the_basic_execution_role(example_app: SynthesizedApp) -> None:
    """AWSLambdaBasicExecutionRole allows logs:CreateLogStream/PutLogEvents on every log group of the
    account (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html),
    session logs included."""
    assert example_app.template_paths
    for path in example_app.template_paths:
        assert "AWSLambdaBasicExecutionRole" not in path.read_text(), path.name


def test_the_provider_framework_writes_only_to_its_own_log_group(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(MEMBER_REGIONAL_STACK_NAME)
    (function,) = [
        f["Properties"]
        for i, f in resources_of(template, "AWS::Lambda::Function").items()
        if i.startswith("SessionPrefsProviderframeworkonEvent")
    ]
    (log_group,) = [i for i in resources_of(template, "AWS::Logs::LogGroup") if i.startswith("SessionPrefsProvider")]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
    role_id = function["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in template["Resources"][role_id]["Properties"]
    policies = [p["Properties"] for p in resources_of(template, "AWS::IAM::Policy").values()]
    (policy,) = [p for p in policies if {"Ref": role_id} in p["Roles"]]
    logs = [s for s in _statements(policy) if any(a.startswith("logs:") for a in _as_list(s["Action"]))]
    (statement,) = logs
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
    # the framework role also invokes the handler; nothing else (no logs:CreateLogGroup, no "*")
    others = {a for s in _statements(policy) if s not in logs for a in _as_list(s["Action"])}
    assert others == {"lambda:InvokeFunction", "lambda:GetFunction"}


def _service_statements(document: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s.get("Principal") == {"Service": service}]


def test_service_principals_of_the_notifications_key_carry_source_or_context_conditions(
    example_app: SynthesizedApp,
) -> None:
    """CloudWatch: aws:SourceAccount and aws:SourceArn (alarms of this account). EventBridge: only the
    encryption context of this account's topics, because SNS documents that source keys in a key
    policy are "not supported for EventBridge-to-encrypted topics"
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
    SNS encrypts with the context aws:sns:topicArn (key policy example of
    https://docs.aws.amazon.com/gamelift/latest/flexmatchguide/queue-notification-sns-sse.html)."""
    template = example_app.template_json(MEMBER_REGIONAL_STACK_NAME)
    (key,) = [k for i, k in resources_of(template, "AWS::KMS::Key").items() if i.startswith("NotificationsKey")]
    policy = key["Properties"]["KeyPolicy"]
    this_accounts_topics = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:", {"Ref": "AWS::Region"}, ":",
                          {"Ref": "AWS::AccountId"}, ":*"]]
    }  # fmt: skip
    (cloudwatch,) = _service_statements(policy, "cloudwatch.amazonaws.com")
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert json.dumps(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(':alarm:*"]]}')
    assert cloudwatch["Condition"]["ArnLike"]["kms:EncryptionContext:aws:sns:topicArn"] == this_accounts_topics
    events = _service_statements(policy, "events.amazonaws.com")
    assert events, "a rule targets the notifications topic, so EventBridge has a key statement"
    for statement in events:
        assert statement["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": this_accounts_topics}}
    # No service principal statement without a condition on any key of the member templates.
    for stack_name in (MEMBER_REGIONAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME, CENTRAL_STACK_NAME):
        for key in resources_of(example_app.template_json(stack_name), "AWS::KMS::Key").values():
            for statement in key["Properties"]["KeyPolicy"]["Statement"]:
                if "Service" in statement.get("Principal", {}):
                    assert statement.get("Condition"), (stack_name, statement)


def test_the_topic_policy_scopes_alarms_and_keeps_eventbridge_unconditioned(example_app: SynthesizedApp) -> None:
    """EventBridge: "You can't use Condition blocks in Amazon SNS topic policies for EventBridge"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions)."""
    template = example_app.template_json(MEMBER_REGIONAL_STACK_NAME)
    (policy,) = [p for i, p in resources_of(template, "AWS::SNS::TopicPolicy").items() if i.startswith("Notifications")]
    document = policy["Properties"]["PolicyDocument"]
    (cloudwatch,) = _service_statements(document, "cloudwatch.amazonaws.com")
    assert set(cloudwatch["Condition"]) == {"ArnLike", "StringEquals"}
    (events,) = _service_statements(document, "events.amazonaws.com")
    assert "Condition" not in events
    assert events["Resource"] == {"Ref": next(i for i in resources_of(template, "AWS::SNS::Topic"))}


def test_asset_bucket_writes_are_audited_by_server_access_logs(example_app: SynthesizedApp) -> None:
    """Default rollout.asset_bucket_audit: access_logs. S3 server access logs record each request with
    its requester (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html); the log
    bucket admits logging.s3.amazonaws.com for this bucket and account only
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html)."""
    template = example_app.template_json("SsmGuardrails-Assets-eu-west-1")
    buckets = resources_of(template, "AWS::S3::Bucket")
    (asset_id,) = [i for i in buckets if not i.startswith("AssetBucketAccessLogs")]
    (log_id,) = [i for i in buckets if i.startswith("AssetBucketAccessLogs")]
    assert buckets[asset_id]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_id},
        "LogFilePrefix": "asset-bucket/",
    }
    log_bucket = buckets[log_id]["Properties"]
    assert log_bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert buckets[log_id]["DeletionPolicy"] == "Retain"
    (policy,) = [
        p
        for p in resources_of(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_id}
    ]
    (logging,) = [
        s for s in _statements(policy["Properties"]) if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert logging["Action"] == "s3:PutObject"
    assert logging["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [asset_id, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": "444444444444"},
    }
