"""The example's Central, MemberGlobal and MemberRegional templates deploy with CloudFormation.

moto's CloudFormation runs in-process (``mock_aws``: no server, no port, no Docker). Before the
deploy the test creates what a real account has first, the way ``cdk bootstrap`` and ``cdk deploy``
leave it: the bootstrap version parameter, the bootstrap asset bucket holding every file asset of
the stack (Lambda code zipped as the CDK CLI zips it, and the template, which CloudFormation reads
from the bucket as the CLI does with TemplateURL), and the IAM roles that the config names.

What this really covers: moto creates and checks the IAM roles, managed and inline policies, KMS
keys and aliases, SNS topics, SSM documents (content parsed, type and format checked), the SSM
parameter (name rules), log groups, Lambda functions (code fetched from the asset bucket),
EventBridge rules, and the state machine. moto accepts and skips without creating anything:
``AWS::Config::ConfigRule``, ``AWS::Config::RemediationConfiguration``, ``AWS::CloudWatch::Alarm``, ``AWS::Logs::MetricFilter``,
``AWS::SSM::MaintenanceWindow*`` and ``AWS::SNS::TopicPolicy`` (``SKIPPED_TYPES``; a test checks
that exactly these are skipped, so this list stays true when moto changes). The Provider-framework custom resource
(``Custom::SessionManagerPreferences``) is left out of the regional template: moto would have to
invoke its Lambda, which needs Docker. tests/test_session_prefs_handler.py covers its handler.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.exceptions
import pytest
from cdk_helpers import ROOT, SynthesizedApp, resources_of
from moto import mock_aws

from ssm_guardrails_cli.settings import SETTINGS_PARAMETER, SUPPORTED_VERSION
from stacks.build import CENTRAL_STACK_NAME, MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME
from stacks.config import load_config
from stacks.operator_settings import PARAMETER_NAME

CONFIG = load_config("example")
MEMBER_ACCOUNT = "123456789012"
REGION = CONFIG.organization.home_region
BOOTSTRAP_QUALIFIER = "hnb659fds"
#: Resource types moto's CloudFormation accepts but does not create (moto 5.2): the deploy test
#: says nothing about them; cfn-lint and the template tests do.
SKIPPED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::MetricFilter",
    "AWS::SNS::TopicPolicy",
    "AWS::Config::ConfigRule",
    "AWS::Config::RemediationConfiguration",
    "AWS::SSM::MaintenanceWindow",
    "AWS::SSM::MaintenanceWindowTarget",
    "AWS::SSM::MaintenanceWindowTask",
}
#: Needs Docker in moto (it invokes the provider's Lambda function): left out of the deploy.
CUSTOM_RESOURCE_TYPE = "Custom::SessionManagerPreferences"


@dataclass(frozen=True)
class Deployed:
    """A stack CloudFormation created on moto, and the resources it reports."""

    name: str
    template: dict[str, Any]
    status: str
    resource_types: dict[str, str]  # logical id -> the type moto reports ("" when it skipped it)
    physical_ids: dict[str, str]


def named_roles() -> list[str]:
    """Every IAM role the example config names (by name or ARN): the stacks attach policies to them."""
    return [role.name for role in CONFIG.controls.named_roles()]


def prepare_account(account: str) -> str:
    """What `cdk bootstrap` and the organization leave in an account and Region before a deploy:
    the bootstrap version parameter (the stacks' CheckBootstrapVersion rule reads it), the
    bootstrap asset bucket, and the roles the config names. Returns the bucket."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String"
    )
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{REGION}"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}],
    }
    for role in CONFIG.controls.named_roles():
        boto3.client("iam").create_role(RoleName=role.name, Path=role.path, AssumeRolePolicyDocument=json.dumps(trust))
    return bucket


def zipped(directory: Path) -> bytes:
    """A directory asset packaged as the CDK CLI packages it: a zip of its files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def publish_assets(stack: Any, bucket: str, template: dict[str, Any]) -> str:
    """Upload every file asset of ``stack`` to ``bucket``, the template as ``template``; return
    the template's URL (the CLI deploys with TemplateURL: templates over 51,200 bytes need it)."""
    assembly = Path(stack.assembly.directory)
    manifest = json.loads((assembly / f"{stack.id}.assets.json").read_text())
    s3 = boto3.client("s3", region_name=REGION)
    template_url = ""
    for entry in manifest["files"].values():
        source, packaging = assembly / entry["source"]["path"], entry["source"]["packaging"]
        (destination,) = entry["destinations"].values()
        key = destination["objectKey"]
        if source.name == stack.template_file:
            body, template_url = json.dumps(template).encode(), f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}"
        else:
            body = zipped(source) if packaging == "zip" else source.read_bytes()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert template_url, f"{stack.stack_name}: its template is not among its file assets"
    return template_url


def create_stack(name: str, template: dict[str, Any], **source: str) -> Deployed:
    """CreateStack (moto finishes the operation before it answers) and what it reports."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName=name, Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], **source)
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return Deployed(
        name=name,
        template=template,
        status=stack["StackStatus"],
        resource_types={r["LogicalResourceId"]: r["ResourceType"] for r in summaries},
        physical_ids={r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in summaries},
    )


def kms_tags_as_moto_reads_them(template: dict[str, Any]) -> dict[str, Any]:
    """moto 5.2 hands an ``AWS::KMS::Key``'s CloudFormation ``Tags`` ({Key, Value}) unchanged to its
    KMS tagger, which reads {TagKey, TagValue} (the KMS API's shape) and fails with KeyError: 'TagKey'.
    Real CloudFormation takes {Key, Value} (cfn-lint checks the template as synthesized); only the
    copy sent to moto is rewritten, so the key is created with its tags."""
    resources = {}
    for logical_id, resource in template["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if resource["Type"] == "AWS::KMS::Key" and tags:
            moto_tags = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags]
            resource = {**resource, "Properties": {**resource["Properties"], "Tags": moto_tags}}
        resources[logical_id] = resource
    return {**template, "Resources": resources}


def without_custom_resource(template: dict[str, Any]) -> dict[str, Any]:
    resources = {k: r for k, r in template["Resources"].items() if r["Type"] != CUSTOM_RESOURCE_TYPE}
    assert len(resources) == len(template["Resources"]) - 1, "the preferences custom resource is gone"
    return {**template, "Resources": resources}


@pytest.fixture(scope="module")
def deployed(example_app: SynthesizedApp) -> Iterator[dict[str, Deployed]]:
    """Central in the security account, then MemberGlobal and MemberRegional in a member account;
    moto stays on for the module's tests, which read the result back through the service APIs."""
    security_account = CONFIG.organization.security_account
    stacks: dict[str, Deployed] = {}
    with mock_aws():
        for account, stack_names in ((security_account, [CENTRAL_STACK_NAME]), (MEMBER_ACCOUNT, MEMBERS)):
            with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": account}):
                bucket = prepare_account(account)
                for name in stack_names:
                    artifact = example_app.stack(name)
                    template = kms_tags_as_moto_reads_them(artifact.template)
                    if name == MEMBER_REGIONAL_STACK_NAME:
                        template = without_custom_resource(template)
                    url = publish_assets(artifact, bucket, template)
                    stacks[name] = create_stack(name, template, TemplateURL=url)
        with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": MEMBER_ACCOUNT}):
            yield stacks


MEMBERS = [MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME]


def as_account(account: str) -> Any:
    """moto answers as this account (it reads MOTO_ACCOUNT_ID on every request)."""
    return mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": account})


def account_of(stack_name: str) -> str:
    return CONFIG.organization.security_account if stack_name == CENTRAL_STACK_NAME else MEMBER_ACCOUNT


def resources(deployed: dict[str, Deployed], resource_type: str) -> Iterator[tuple[Deployed, str, dict[str, Any]]]:
    """(stack, physical id, properties) of every resource of ``resource_type`` in the deployed stacks."""
    for stack in deployed.values():
        for logical_id, resource in resources_of(stack.template, resource_type).items():
            yield stack, stack.physical_ids[logical_id], resource.get("Properties", {})


@pytest.mark.parametrize("stack_name", [CENTRAL_STACK_NAME, *MEMBERS])
def test_stack_reaches_create_complete(deployed: dict[str, Deployed], stack_name: str) -> None:
    assert deployed[stack_name].status == "CREATE_COMPLETE"


@pytest.mark.parametrize("stack_name", [CENTRAL_STACK_NAME, *MEMBERS])
def test_moto_skips_only_the_listed_resource_types(deployed: dict[str, Deployed], stack_name: str) -> None:
    """What the deploy covers: every resource moto created; it skips (reports no type for) exactly
    the types of SKIPPED_TYPES that the template has."""
    stack = deployed[stack_name]
    created = {i for i, t in stack.resource_types.items() if i and t}
    resources = stack.template["Resources"]
    skipped = {r["Type"] for i, r in resources.items() if i not in created and "Condition" not in r}
    # The IAM reader-role alerts exist only where IAM's events arrive (us-east-1), not in REGION.
    assert not {i for i, r in resources.items() if r.get("Condition") == "InIamEventsRegion"} & created
    present = {r["Type"] for r in stack.template["Resources"].values()}
    assert skipped == SKIPPED_TYPES & present
    assert len(created) > len(stack.template["Resources"]) / 2


def test_documents_are_created_with_their_type_and_content(deployed: dict[str, Deployed]) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    found = list(resources(deployed, "AWS::SSM::Document"))
    assert len(found) == 4  # break-glass and its reset, access-key remediation, session request runbook
    for _stack, name, properties in found:
        if "Name" in properties:
            assert name == properties["Name"]
        document = ssm.get_document(Name=name, DocumentFormat="JSON")  # the content parsed by the service
        assert document["DocumentType"] == properties["DocumentType"]
        assert document["Status"] == "Active"
        content = document["Content"]
        # moto hands back the object CloudFormation gave it as is; AWS returns a JSON string
        assert_resolved(json.loads(content) if isinstance(content, str) else content, properties["Content"])


def test_the_grant_function_recognizes_the_deployed_runbook(deployed: dict[str, Deployed]) -> None:
    """The fingerprint in the grant function's configuration (computed at synth) is what the function
    computes from the stored runbook (GetDocument as JSON) in the member account: the runbook that
    CloudFormation deployed grants, and nothing else does."""
    spec = importlib.util.spec_from_file_location("persons_for_deploy", ROOT / "lambdas/session_grant/persons.py")
    persons = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = persons
    spec.loader.exec_module(persons)
    ((_, _, properties),) = [r for r in resources(deployed, "AWS::Lambda::Function")
                                     if "RUNBOOK_SHA256" in json.dumps(r[2].get("Environment", {}))]  # fmt: skip
    variables = properties["Environment"]["Variables"]
    content = boto3.client("ssm", region_name=REGION).get_document(
        Name=variables["RUNBOOK_NAME"], DocumentFormat="JSON"
    )
    stored = json.loads(content["Content"]) if isinstance(content["Content"], str) else content["Content"]
    where = {"partition": "aws", "region": REGION, "account": MEMBER_ACCOUNT}
    assert persons.content_sha256(stored, **where) == variables["RUNBOOK_SHA256"]
    assert persons.content_sha256({**stored, "description": "changed"}, **where) != variables["RUNBOOK_SHA256"]


def assert_resolved(deployed: Any, template: Any, where: str = "Content") -> None:
    """``deployed`` is ``template`` with every intrinsic function resolved to a string."""
    if isinstance(template, dict) and len(template) == 1 and next(iter(template)).startswith(("Fn::", "Ref")):
        assert isinstance(deployed, str) and deployed and "Fn::" not in deployed, where
    elif isinstance(template, dict):
        assert isinstance(deployed, dict) and deployed.keys() == template.keys(), where
        for key, value in template.items():
            assert_resolved(deployed[key], value, f"{where}.{key}")
    elif isinstance(template, list):
        assert isinstance(deployed, list) and len(deployed) == len(template), where
        for index, (got, value) in enumerate(zip(deployed, template, strict=True)):
            assert_resolved(got, value, f"{where}[{index}]")
    else:
        assert deployed == template, where


def test_key_aliases_name_rotating_keys(deployed: dict[str, Deployed]) -> None:
    kms = boto3.client("kms", region_name=REGION)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    expected = [properties["AliasName"] for _, _, properties in resources(deployed, "AWS::KMS::Alias")]
    assert sorted(expected) == sorted(
        [
            CONFIG.controls.break_glass.key_alias,
            CONFIG.controls.password_rotation.key_alias,
            "alias/session-manager/data",
            "alias/session-manager/logs",
        ]
    )
    for alias in expected:
        assert kms.get_key_rotation_status(KeyId=aliases[alias])["KeyRotationEnabled"], alias
    # just-in-time sessions may use only keys with this tag (AWSSystemsManagerJustInTimeAccessTokenSessionPolicy)
    tags = kms.list_resource_tags(KeyId=aliases["alias/session-manager/data"])["Tags"]
    assert {"TagKey": "SystemsManagerJustInTimeNodeAccessManaged", "TagValue": "true"} in tags


def parameter_value(deployed: dict[str, Deployed], name: str) -> str:
    names = [physical for _, physical, _ in resources(deployed, "AWS::SSM::Parameter")]
    assert name in names
    return boto3.client("ssm", region_name=REGION).get_parameter(Name=name)["Parameter"]["Value"]


def test_data_key_id_is_published_under_an_accepted_name(deployed: dict[str, Deployed]) -> None:
    key_id = parameter_value(deployed, "/guardrails/session-manager/data-key-id")
    # (moto's DescribeKey cannot read a key policy that CloudFormation created: ListAliases instead)
    aliases = boto3.client("kms", region_name=REGION).list_aliases()["Aliases"]
    assert key_id == next(a["TargetKeyId"] for a in aliases if a["AliasName"] == "alias/session-manager/data")


def test_operator_settings_resolve_to_what_was_deployed(deployed: dict[str, Deployed]) -> None:
    """The CLI reads this parameter instead of defaults: every name in it must be the deployed one."""
    assert SETTINGS_PARAMETER == PARAMETER_NAME  # the CLI reads what the stack writes
    settings = json.loads(parameter_value(deployed, SETTINGS_PARAMETER))
    assert settings["version"] == SUPPORTED_VERSION
    ssm = boto3.client("ssm", region_name=REGION)
    assert ssm.get_document(Name=settings["break_glass"]["document"])["DocumentType"] == "Command"
    aliases = {
        a["AliasName"]: a["TargetKeyId"] for a in boto3.client("kms", region_name=REGION).list_aliases()["Aliases"]
    }
    assert settings["break_glass"]["key_arn"].endswith(f":key/{aliases[CONFIG.controls.break_glass.key_alias]}")
    awslambda = boto3.client("lambda", region_name=REGION)
    for function in settings["password_rotation"]["freshness_report_functions"]:
        assert awslambda.get_function(FunctionName=function)["Configuration"]["FunctionName"] == function
    windows = CONFIG.controls.password_rotation.windows
    assert settings["password_rotation"]["max_age_days"] == max(w.max_password_age_days for w in windows)
    assert settings["separation_of_duties"]["home_region"] == REGION


def test_named_roles_and_policies_exist_and_attach_to_the_config_roles(deployed: dict[str, Deployed]) -> None:
    iam = boto3.client("iam")
    for _, name, properties in resources(deployed, "AWS::IAM::Role"):
        if "RoleName" in properties:
            assert iam.get_role(RoleName=properties["RoleName"])["Role"]["RoleName"] == name
    attached: dict[str, set[str]] = {
        role: {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
        for role in named_roles()
    }
    expected: dict[str, set[str]] = {role: set() for role in named_roles()}
    for _, policy_arn, properties in resources(deployed, "AWS::IAM::ManagedPolicy"):
        document = iam.get_policy_version(
            PolicyArn=policy_arn, VersionId=iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        assert document["Statement"], policy_arn
        if "ManagedPolicyName" in properties:
            # a contract name and path (permission sets reference both); regional ones end with the
            # Region, so every Region of an account has its own
            name = properties["ManagedPolicyName"]
            name = name if isinstance(name, str) else f"{name['Fn::Join'][1][0]}{REGION}"
            assert policy_arn.endswith(f":policy{properties.get('Path', '/')}{name}"), policy_arn
        for role in properties.get("Roles", []):
            if isinstance(role, str):
                expected[role].add(policy_arn)
    assert attached == expected
    # every role the config names gets at least one policy of a control
    assert all(expected.values()), expected


def test_topics_are_encrypted(deployed: dict[str, Deployed]) -> None:
    for stack, topic_arn, properties in resources(deployed, "AWS::SNS::Topic"):
        with as_account(account_of(stack.name)):
            attributes = boto3.client("sns", region_name=REGION).get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        assert attributes["KmsMasterKeyId"], topic_arn
        if "TopicName" in properties:
            assert topic_arn.endswith(f":{properties['TopicName']}")
    central_topic = f"arn:aws:sns:{REGION}:{CONFIG.organization.security_account}:" + (
        CONFIG.controls.access_key_remediation.topic_name
    )
    assert central_topic in {arn for _, arn, _ in resources(deployed, "AWS::SNS::Topic")}


def test_functions_run_the_published_code(deployed: dict[str, Deployed]) -> None:
    awslambda = boto3.client("lambda", region_name=REGION)
    functions = list(resources(deployed, "AWS::Lambda::Function"))
    assert len(functions) == 6  # the session grant function included
    for _, name, properties in functions:
        configuration = awslambda.get_function(FunctionName=name)["Configuration"]
        assert configuration["Handler"] == properties["Handler"]
        assert configuration["CodeSize"] > 0


def test_state_machine_is_created(deployed: dict[str, Deployed]) -> None:
    ((_, arn, _),) = resources(deployed, "AWS::StepFunctions::StateMachine")
    definition = json.loads(
        boto3.client("stepfunctions", region_name=REGION).describe_state_machine(stateMachineArn=arn)["definition"]
    )
    assert definition["StartAt"] in definition["States"]


@pytest.mark.parametrize(
    ("case", "resource"),
    [
        (
            # "Parameter names can't be prefixed with aws or ssm (case-insensitive)":
            # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
            "reserved-parameter-name",
            {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/ssm-guardrails/x", "Type": "String", "Value": "v"},
            },
        ),
        (
            # Content must be a valid document in DocumentFormat:
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-document.html
            "broken-document",
            {
                "Type": "AWS::SSM::Document",
                "Properties": {
                    "DocumentType": "Command",
                    "DocumentFormat": "YAML",
                    "Content": "mainSteps: [{",
                },
            },
        ),
    ],
)
def test_deploy_gate_fails_on_what_the_services_refuse(
    deployed: dict[str, Deployed], case: str, resource: dict[str, Any]
) -> None:
    template = {"Resources": {"Refused": resource}}
    try:
        status = create_stack(f"gate-{case}", template, TemplateBody=json.dumps(template)).status
    except botocore.exceptions.ClientError as error:
        status = error.response["Error"]["Code"]
    assert status != "CREATE_COMPLETE"
