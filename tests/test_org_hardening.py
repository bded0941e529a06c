"""Issue 14 template tests: generated wildcards narrowed (item 3), asset buckets (item 4) and only
the remediation role publishes findings (item 6)."""

from __future__ import annotations

import json
from typing import Any

from cdk_helpers import SynthesizedApp, resources_of

from guardrails.access_key_remediation import REMEDIATION_ROLE_NAME
from stacks.build import CENTRAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME, PIPELINE_STACK_NAME


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
    assert set(allow["Condition"]) == {"StringEquals", "ArnLike"}
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


def test_only_the_cloudformation_execution_role_changes_an_asset_bucket_policy(example_app: SynthesizedApp) -> None:
    """Everyone else is denied; the account's root user keeps Get/Put/DeleteBucketPolicy whatever the
    policy says (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketPolicy.html)."""
    template = example_app.template_json("SsmGuardrails-Assets-eu-west-1")
    (policy,) = resources_of(template, "AWS::S3::BucketPolicy").values()
    (deny,) = [s for s in _statements(policy["Properties"]) if s.get("Sid") == "OnlyCloudFormationChangesThePolicy"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) == {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
    role = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert json.dumps(role).endswith(':role/cdk-hnb659fds-cfn-exec-role-444444444444-eu-west-1"}')
