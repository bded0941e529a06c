"""StackSet templates pin each Lambda function's S3 object version (issue 14, item 4, third bullet).

StackSet-level parameter values also apply to accounts that auto-deployment adds later; per-instance
overrides do not: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
Parameter quota (200 per template): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from cdk_helpers import SynthesizedApp, flatten, new_app, resources_of
from moto import mock_aws

from guardrails import (
    CallAs,
    OrganizationStackSet,
    OrgAssetLocation,
    PropsError,
    StackSetAdminSynthesizer,
    StackSetTemplate,
)
from guardrails.rollout.code_packages import published_key, sha256_base64, write_zip
from guardrails.rollout.version_pins import (
    MAX_TEMPLATE_PARAMETERS,
    condition_name,
    parameter_name,
    pin_code_versions,
)
from stacks.build import MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME, ROLLOUT_STACK_NAME

CANARY_STACK_NAME = f"{ROLLOUT_STACK_NAME}Canary"
LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
ADMIN = "444444444444"
REGIONS = {MEMBER_GLOBAL_STACK_NAME: ["eu-west-1"], MEMBER_REGIONAL_STACK_NAME: ["eu-west-1", "eu-central-1"]}
STACK_SETS = {
    "SsmGuardrails-MemberGlobal": MEMBER_GLOBAL_STACK_NAME,
    "SsmGuardrails-MemberRegional": MEMBER_REGIONAL_STACK_NAME,
}


def _stack_set_template(app: SynthesizedApp, member: str) -> dict[str, Any]:
    name = member.replace("-", "")
    path = next(p for p in app.template_paths if name in p.name and p.name.endswith(".stackset.template.json"))
    return json.loads(path.read_text())


def _evaluate(value: Any, region: str, conditions: dict[str, Any]) -> Any:
    """Resolve the Fn::If chain as CloudFormation would in ``region``."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, then, otherwise = value["Fn::If"]
        left, right = conditions[name]["Fn::Equals"]
        assert left == {"Ref": "AWS::Region"}
        return _evaluate(then if right == region else otherwise, region, conditions)
    return value


@pytest.mark.parametrize("member", [MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME])
def test_every_function_pins_the_version_parameter_of_its_region(example_app: SynthesizedApp, member: str) -> None:
    template = _stack_set_template(example_app, member)
    functions = resources_of(template, "AWS::Lambda::Function").values()
    assert functions
    for function in functions:
        code = function["Properties"]["Code"]
        for region in REGIONS[member]:
            pinned = _evaluate(code["S3ObjectVersion"], region, template["Conditions"])
            assert pinned == {"Ref": parameter_name(code["S3Key"], region)}
            assert template["Parameters"][pinned["Ref"]]["Type"] == "String"
        assert _evaluate(code["S3ObjectVersion"], "us-east-1", template["Conditions"]) == {"Ref": "AWS::NoValue"}
    assert all(name.isalnum() for name in [*template["Parameters"], *template["Conditions"]])


@pytest.mark.parametrize("wave", [CANARY_STACK_NAME, ROLLOUT_STACK_NAME])
def test_stack_sets_supply_every_parameter_from_a_head_object_of_its_bucket_key_and_region(
    example_app: SynthesizedApp, wave: str
) -> None:
    stack = example_app.template_json(wave)
    readers = resources_of(stack, "Custom::CodeObjectVersion")
    for stack_set in resources_of(stack, "AWS::CloudFormation::StackSet").values():
        member = STACK_SETS[stack_set["Properties"]["StackSetName"].removesuffix("-Canary")]
        declared = _stack_set_template(example_app, member)["Parameters"]
        supplied = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Properties"]["Parameters"]}
        assert set(supplied) == set(declared)
        for name, value in supplied.items():
            reader_id, attribute = value["Fn::GetAtt"]
            assert attribute == "VersionId"
            properties = readers[reader_id]["Properties"]
            bucket, key, region = properties["Bucket"], properties["Key"], properties["Region"]
            assert bucket == f"ssm-guardrails-assets-{ADMIN}-{region}"
            assert key.endswith(".synth.zip")
            assert name == parameter_name(key, region) and region in REGIONS[member]
            # the checksum the reader demands is that of the very file the wave publishes there
            assert properties["ChecksumSHA256"] == sha256_base64(_published_file(example_app, wave, bucket, key))


def _published_file(app: SynthesizedApp, stack_name: str, bucket: str, key: str) -> Path:
    artifact = app.stack(stack_name)
    directory = Path(artifact.assembly.directory)
    manifest = json.loads((directory / f"{artifact.id}.assets.json").read_text())
    (source,) = {
        entry["source"]["path"]
        for entry in manifest["files"].values()
        for destination in entry["destinations"].values()
        if (destination["bucketName"], destination["objectKey"]) == (bucket, key)
    }
    assert all(
        e["source"]["packaging"] == "file"
        for e in manifest["files"].values()
        if any(d["objectKey"] == key for d in e["destinations"].values())
    )
    return directory / source


def test_the_version_reader_may_only_get_the_objects_it_reads_and_write_its_own_logs(
    example_app: SynthesizedApp,
) -> None:
    stack = example_app.template_json(ROLLOUT_STACK_NAME)
    readers = resources_of(stack, "Custom::CodeObjectVersion").values()
    objects = {f"arn:<AWS::Partition>:s3:::{r['Properties']['Bucket']}/{r['Properties']['Key']}" for r in readers}
    assert len(objects) == len(readers) == 2 + 4 * 2  # global: 2 functions (sweeper, grant) x 1 Region; regional: 4 x 2
    (policy,) = [
        p
        for p in resources_of(stack, "AWS::IAM::Policy").values()
        if any(s["Action"] == "s3:GetObject" for s in p["Properties"]["PolicyDocument"]["Statement"])
    ]
    (role_id,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
    assert "ManagedPolicyArns" not in stack["Resources"][role_id]["Properties"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    assert set(by_action) == {'["logs:CreateLogStream", "logs:PutLogEvents"]', '"s3:GetObject"'}
    assert {flatten(r) for r in by_action['"s3:GetObject"']["Resource"]} == objects
    (function,) = [
        r for r in resources_of(stack, "AWS::Lambda::Function").values()
        if r["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    ]  # fmt: skip
    log_group = by_action['["logs:CreateLogStream", "logs:PutLogEvents"]']["Resource"]["Fn::GetAtt"][0]
    assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
    assert function["Properties"]["Handler"] == "index.handler"


@pytest.mark.parametrize("wave", [CANARY_STACK_NAME, ROLLOUT_STACK_NAME])
def test_wave_stacks_publish_their_own_function_code_to_the_bootstrap_bucket(
    example_app: SynthesizedApp, wave: str
) -> None:
    """The reader's handler and its provider framework."""
    artifact = example_app.stack(wave)
    directory = Path(artifact.assembly.directory)
    manifest = json.loads((directory / f"{artifact.id}.assets.json").read_text())
    functions = resources_of(artifact.template, "AWS::Lambda::Function").values()
    assert len(functions) == 2
    bucket = f"cdk-hnb659fds-assets-{ADMIN}-eu-west-1"
    for function in functions:
        code = function["Properties"]["Code"]
        assert code["S3Bucket"] == bucket
        (entry,) = [e for h, e in manifest["files"].items() if code["S3Key"] == f"{h}.zip"]
        source = directory / entry["source"]["path"]
        # the handler's folder is zipped by cdk-assets; CDK ships the framework's code zipped
        assert source.is_dir() if entry["source"]["packaging"] == "zip" else source.suffix == ".zip"
        assert list(entry["destinations"].values()) == [
            {
                "bucketName": bucket,
                "objectKey": code["S3Key"],
                "region": "eu-west-1",
                "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::{ADMIN}:role/cdk-hnb659fds-file-publishing-role-{ADMIN}-eu-west-1",
            }
        ]


def _template(keys: int) -> dict[str, Any]:
    bucket = "org-${AWS::Region}"
    return {
        "Resources": {
            f"F{i}": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": {"Fn::Sub": bucket}, "S3Key": f"{i:012x}{'f' * 52}.zip"}},
            }
            for i in range(keys)
        }
    }


def test_pinning_adds_one_parameter_per_key_and_region_and_one_condition_per_region() -> None:
    template = _template(2)
    keys = pin_code_versions(template, "org-${AWS::Region}", ["eu-west-1", "eu-central-1"])
    assert keys == [f"{0:012x}{'f' * 52}.zip", f"{1:012x}{'f' * 52}.zip"]
    assert len(template["Parameters"]) == 4
    assert set(template["Conditions"]) == {condition_name("eu-west-1"), condition_name("eu-central-1")}
    assert parameter_name(keys[0], "eu-central-1") == "CodeVersion000000000000eucentral1"


def test_more_parameters_than_cloudformation_allows_fail_at_synth_in_one_line() -> None:
    regions = ["eu-west-1", "eu-central-1"]
    pin_code_versions(_template(MAX_TEMPLATE_PARAMETERS // 2), "org-${AWS::Region}", regions)
    with pytest.raises(PropsError) as error:
        pin_code_versions(_template(MAX_TEMPLATE_PARAMETERS // 2 + 1), "org-${AWS::Region}", regions, "Member")
    message = str(error.value)
    assert "\n" not in message
    assert "Member: template parameters (101 code objects x 2 Regions + 0): got 202; allowed: at most 200" in message


def test_keys_that_share_their_first_12_characters_are_refused() -> None:
    template = _template(1)
    template["Resources"]["G"] = json.loads(json.dumps(template["Resources"]["F0"]))
    template["Resources"]["G"]["Properties"]["Code"]["S3Key"] = f"{0:012x}{'e' * 52}.zip"
    with pytest.raises(PropsError, match="keys that differ in 12 characters"):
        pin_code_versions(template, "org-${AWS::Region}", ["eu-west-1"])


@mock_aws
def test_head_object_returns_the_version_a_pinned_get_then_reads() -> None:
    """What the custom resource reads (HeadObject's VersionId) is the approved object, even after
    the key is overwritten (moto, versioned bucket)."""
    s3 = boto3.client("s3", region_name="eu-central-1")
    bucket = f"ssm-guardrails-assets-{ADMIN}-eu-central-1"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=bucket, Key="abc.zip", Body=b"approved")
    approved = s3.head_object(Bucket=bucket, Key="abc.zip")["VersionId"]
    assert approved == put["VersionId"]
    s3.put_object(Bucket=bucket, Key="abc.zip", Body=b"overwritten")
    assert s3.get_object(Bucket=bucket, Key="abc.zip", VersionId=approved)["Body"].read() == b"approved"


def test_a_stack_set_region_without_version_parameters_and_an_unknown_template_region_are_refused(
    tmp_path: Path,
) -> None:
    location = OrgAssetLocation(account=ADMIN, regions=["eu-west-1", "eu-central-1"], home_region="eu-west-1")
    member = cdk.Stack(cdk.Stage(new_app(tmp_path / "m"), "Member"), "M")
    with pytest.raises(PropsError, match="regions: got 'us-east-1'; allowed: one of the asset buckets'"):
        StackSetTemplate(member, location, ["us-east-1"])
    template = StackSetTemplate(member, location, ["eu-west-1"])
    admin = cdk.Stack(
        new_app(tmp_path / "a"),
        "Admin",
        env=cdk.Environment(account=ADMIN, region="eu-west-1"),
        synthesizer=StackSetAdminSynthesizer(),
    )
    with pytest.raises(PropsError, match=r"regions: got \['eu-central-1'\]; allowed: Regions of its template"):
        OrganizationStackSet(
            admin,
            "Set",
            template=template,
            stack_set_name="S",
            organizational_unit_ids=["r-ab12"],
            regions=["eu-west-1", "eu-central-1"],
            call_as=CallAs.SELF,
        )


# --- the code objects' checksums -------------------------------------------------------------------


def _reader() -> Any:
    spec = importlib.util.spec_from_file_location("code_version_reader", LAMBDAS / "code_version_reader" / "index.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(request: str, body_sha256: str, key: str = "abc.synth.zip") -> dict[str, Any]:
    bucket = f"ssm-guardrails-assets-{ADMIN}-eu-central-1"
    return {
        "RequestType": request,
        "PhysicalResourceId": f"{bucket}/{key}",
        "ResourceProperties": {"Bucket": bucket, "Key": key, "Region": "eu-central-1", "ChecksumSHA256": body_sha256},
    }


def _bucket_with(body: bytes, checksum: bool = True) -> str:
    """A versioned asset bucket holding ``body``, uploaded as cdk-assets does (ChecksumAlgorithm SHA256)."""
    s3 = boto3.client("s3", region_name="eu-central-1")
    bucket = f"ssm-guardrails-assets-{ADMIN}-eu-central-1"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
    return s3.put_object(Bucket=bucket, Key="abc.synth.zip", Body=body, **extra)["VersionId"]


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


@mock_aws
def test_the_reader_pins_the_version_whose_sha256_synth_computed() -> None:
    version = _bucket_with(b"approved code")
    answer = _reader().handler(_event("Create", _sha256(b"approved code")), None)
    assert answer == {
        "PhysicalResourceId": f"ssm-guardrails-assets-{ADMIN}-eu-central-1/abc.synth.zip",
        "Data": {"VersionId": version},
    }


@mock_aws
@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_the_reader_refuses_an_object_that_is_not_the_synthesized_file(request_type: str) -> None:
    _bucket_with(b"other code under the same key")
    with pytest.raises(
        ValueError, match=r"abc.synth.zip version .*: ChecksumSHA256 is '.*' \(.*\), synth wrote a file"
    ):
        _reader().handler(_event(request_type, _sha256(b"approved code")), None)


@mock_aws
def test_the_reader_refuses_an_object_uploaded_without_a_sha256_checksum() -> None:
    """Without ChecksumAlgorithm SHA256 at upload, HeadObject has no ChecksumSHA256 to compare
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html)."""
    _bucket_with(b"approved code", checksum=False)
    with pytest.raises(ValueError, match="ChecksumSHA256 is None"):
        _reader().handler(_event("Create", _sha256(b"approved code")), None)


def test_the_reader_deletes_nothing() -> None:
    event = _event("Delete", "x")
    assert _reader().handler(event, None) == {"PhysicalResourceId": event["PhysicalResourceId"]}


def test_synth_zips_are_reproducible_and_keep_the_executable_bit(tmp_path: Path) -> None:
    """cdk-assets skips a key that exists, so the same source must give the same bytes on every synth."""
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "index.py").write_text("def handler(event, context): ...\n")
    (source / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (source / "pkg" / "run.sh").chmod(0o755)
    write_zip(source, tmp_path / "a.zip")
    os.utime(source / "index.py", (0, 0))  # a checkout at another time
    write_zip(source, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == ["index.py", "pkg/run.sh"]
        modes = {info.filename: info.external_attr >> 16 & 0o777 for info in archive.infolist()}
        assert modes == {"index.py": 0o644, "pkg/run.sh": 0o755}
        assert archive.read("index.py") == b"def handler(event, context): ...\n"


def test_stack_set_code_gets_its_own_keys_with_the_parameter_prefix_kept() -> None:
    key = f"{'a' * 64}.zip"
    assert published_key(key) == f"{'a' * 64}.synth.zip"
    assert published_key(published_key(key)) == published_key(key)
    assert parameter_name(published_key(key), "eu-west-1") == parameter_name(key, "eu-west-1")
