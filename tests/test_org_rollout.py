"""Organization rollout: StackSets per wave, derived StackSet templates, asset buckets, the pipeline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_sns as sns
from aws_cdk import cloud_assembly_schema as cx
from cdk_helpers import ROOT, SynthesizedApp, flatten, new_app, rendered, resources_of

from guardrails import (
    AccountFilter,
    CallAs,
    OrganizationStackSet,
    OrgAssetLocation,
    PropsError,
    StackSetAdminSynthesizer,
    StackSetTemplate,
)
from guardrails.rollout.code_packages import published_key
from guardrails.rollout.template import _retarget, required_capabilities
from guardrails.rollout.version_pins import condition_name, parameter_name
from stacks.build import (
    MEMBER_GLOBAL_STACK_NAME,
    MEMBER_REGIONAL_STACK_NAME,
    PIPELINE_STACK_NAME,
    ROLLOUT_STACK_NAME,
    asset_bucket_stack_name,
    build_app,
)
from stacks.config import OrganizationConfig, load_config
from stacks.org_rollout_stack import rollout_waves

CANARY_STACK_NAME = f"{ROLLOUT_STACK_NAME}Canary"
EXAMPLE = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
STACK_SET_ADMIN = "444444444444"
MANAGEMENT = "111111111111"
CANARY = "333333333333"


def stack_sets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """StackSet properties by StackSet name."""
    found = resources_of(template, "AWS::CloudFormation::StackSet").values()
    return {r["Properties"]["StackSetName"]: r["Properties"] for r in found}


def stack_set_template_path(app: SynthesizedApp, member: str) -> Path:
    name = member.replace("-", "")  # artifact ids drop the dashes of construct ids
    return next(p for p in app.template_paths if name in p.name and p.name.endswith(".stackset.template.json"))


def asset_manifest(app: SynthesizedApp, stack_name: str) -> dict[str, Any]:
    stack = app.stack(stack_name)
    return json.loads((Path(stack.assembly.directory) / f"{stack.id}.assets.json").read_text())


@pytest.fixture(scope="module")
def canary(example_app: SynthesizedApp) -> dict[str, dict[str, Any]]:
    return stack_sets(example_app.template_json(CANARY_STACK_NAME))


@pytest.fixture(scope="module")
def organization(example_app: SynthesizedApp) -> dict[str, dict[str, Any]]:
    return stack_sets(example_app.template_json(ROLLOUT_STACK_NAME))


# --- StackSets --------------------------------------------------------------------------------


def test_each_wave_has_one_stack_set_per_member_stack(canary: dict, organization: dict) -> None:
    assert sorted(canary) == ["SsmGuardrails-MemberGlobal-Canary", "SsmGuardrails-MemberRegional-Canary"]
    assert sorted(organization) == ["SsmGuardrails-MemberGlobal", "SsmGuardrails-MemberRegional"]


@pytest.mark.parametrize(
    ("wave", "account_filter"),
    [("canary", "INTERSECTION"), ("organization", "DIFFERENCE")],
    ids=["canary: only the canary accounts", "organization: every other account"],
)
def test_waves_target_the_ous_with_the_canary_accounts_in_or_out(
    request: pytest.FixtureRequest, wave: str, account_filter: str
) -> None:
    for props in request.getfixturevalue(wave).values():
        (group,) = props["StackInstancesGroup"]
        assert group["DeploymentTargets"] == {
            "OrganizationalUnitIds": ["ou-ab12-11111111", "ou-ab12-22222222"],
            "Accounts": [CANARY],
            "AccountFilterType": account_filter,
        }


def test_global_stack_set_deploys_to_the_home_region_only_regional_to_every_region(organization: dict) -> None:
    assert organization["SsmGuardrails-MemberGlobal"]["StackInstancesGroup"][0]["Regions"] == ["eu-west-1"]
    regional = organization["SsmGuardrails-MemberRegional"]
    assert regional["StackInstancesGroup"][0]["Regions"] == ["eu-west-1", "eu-central-1"]
    assert regional["OperationPreferences"]["RegionOrder"] == ["eu-west-1", "eu-central-1"]


def test_only_the_organization_wave_deploys_automatically_to_new_accounts(canary: dict, organization: dict) -> None:
    for props in canary.values():
        assert props["AutoDeployment"] == {"Enabled": False}
    for props in organization.values():
        assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}


def test_stack_sets_are_service_managed_from_the_delegated_administrator(canary: dict, organization: dict) -> None:
    for props in [*canary.values(), *organization.values()]:
        assert props["PermissionModel"] == "SERVICE_MANAGED"
        assert props["CallAs"] == "DELEGATED_ADMIN"
        assert props["ManagedExecution"] == {"Active": True}
        assert props["OperationPreferences"] == {
            "MaxConcurrentPercentage": 25,
            "FailureTolerancePercentage": 0,
            "RegionConcurrencyType": "PARALLEL",
            "RegionOrder": props["StackInstancesGroup"][0]["Regions"],
        }


def test_named_iam_capability_only_where_the_template_names_iam_resources(organization: dict) -> None:
    assert organization["SsmGuardrails-MemberGlobal"]["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    # the operators' policies have names (with the Region) that IAM Identity Center permission sets reference
    assert organization["SsmGuardrails-MemberRegional"]["Capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_wave_stacks_live_in_the_stack_set_account_and_the_organization_follows_the_canary(
    example_app: SynthesizedApp,
) -> None:
    canary_stack, organization_stack = example_app.stack(CANARY_STACK_NAME), example_app.stack(ROLLOUT_STACK_NAME)
    for stack in (canary_stack, organization_stack):
        assert (stack.environment.account, stack.environment.region) == (STACK_SET_ADMIN, "eu-west-1")
        assert stack.assume_role_arn.endswith(f"cdk-hnb659fds-deploy-role-{STACK_SET_ADMIN}-eu-west-1")
    assert canary_stack.id in [d.id for d in organization_stack.dependencies]


# --- StackSet templates -----------------------------------------------------------------------


@pytest.mark.parametrize("member", [MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME])
def test_stack_set_template_is_the_member_template_with_organization_buckets(
    example_app: SynthesizedApp, member: str
) -> None:
    """Same resources, same logical ids, same properties; only the asset bucket, the code's key (the
    synth-zipped copy, same hash), the pinned object version (with its parameters and Region
    conditions) and the bootstrap check differ."""
    standalone = example_app.template_json(member)
    stack_set = json.loads(stack_set_template_path(example_app, member).read_text())
    assert "BootstrapVersion" in standalone["Parameters"]
    assert "Rules" not in stack_set
    regions = ["eu-west-1"] if member == MEMBER_GLOBAL_STACK_NAME else ["eu-west-1", "eu-central-1"]
    keys = {r["Properties"]["Code"]["S3Key"] for r in resources_of(standalone, "AWS::Lambda::Function").values()}
    assert set(stack_set["Parameters"]) == {
        parameter_name(published_key(key), region) for key in keys for region in regions
    }
    assert stack_set["Conditions"] == {
        **standalone.get("Conditions", {}),  # the member template's own (IAM alerts in us-east-1 only)
        **{condition_name(region): {"Fn::Equals": [{"Ref": "AWS::Region"}, region]} for region in regions},
    }
    for section in set(standalone) | set(stack_set):
        if section not in ("Resources", "Parameters", "Conditions", "Rules"):
            assert standalone.get(section) == stack_set.get(section), section
    differences = _differences(standalone["Resources"], stack_set["Resources"])
    assert differences, "the member stack has Lambda code"
    for path, before, after in differences:
        if path.endswith("/Code/S3ObjectVersion"):
            assert before is None and "Fn::If" in after, path
            continue
        if path.endswith("/Code/S3Key"):
            assert after == published_key(before), path
            continue
        assert path.endswith("/Code/S3Bucket/Fn::Sub"), path
        assert (before, after) == (
            "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
            f"ssm-guardrails-assets-{STACK_SET_ADMIN}-${{AWS::Region}}",
        )
    assert len([d for d in differences if d[0].endswith("/Code/S3ObjectVersion")]) == len(
        resources_of(standalone, "AWS::Lambda::Function")
    )


def _differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b)) for d in _differences(a.get(key), b.get(key), f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


@pytest.mark.parametrize(
    ("member", "stack_set_name"),
    [
        (MEMBER_GLOBAL_STACK_NAME, "SsmGuardrails-MemberGlobal"),
        (MEMBER_REGIONAL_STACK_NAME, "SsmGuardrails-MemberRegional"),
    ],
)
def test_stack_set_reads_the_published_template_from_the_home_region_bucket(
    example_app: SynthesizedApp, organization: dict, member: str, stack_set_name: str
) -> None:
    path = stack_set_template_path(example_app, member)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    bucket = f"ssm-guardrails-assets-{STACK_SET_ADMIN}-eu-west-1"
    url = flatten(organization[stack_set_name]["TemplateURL"])
    assert url == f"https://{bucket}.s3.eu-west-1.<AWS::URLSuffix>/{digest}.json"
    for wave in (CANARY_STACK_NAME, ROLLOUT_STACK_NAME):
        entry = asset_manifest(example_app, wave)["files"][digest]
        assert entry["source"] == {"path": path.name, "packaging": "file"}
        assert list(entry["destinations"].values()) == [
            {
                "bucketName": bucket,
                "objectKey": f"{digest}.json",
                "region": "eu-west-1",
                "assumeRoleArn": f"arn:${{AWS::Partition}}:iam::{STACK_SET_ADMIN}:role/"
                f"cdk-hnb659fds-file-publishing-role-{STACK_SET_ADMIN}-eu-west-1",
            }
        ]


def test_every_lambda_of_the_stack_set_templates_is_published_to_every_region(example_app: SynthesizedApp) -> None:
    manifest = asset_manifest(example_app, CANARY_STACK_NAME)
    keys = {d["objectKey"]: d for entry in manifest["files"].values() for d in entry["destinations"].values()}
    published = {
        (d["bucketName"], d["objectKey"]) for e in manifest["files"].values() for d in e["destinations"].values()
    }
    functions = []
    for member in (MEMBER_GLOBAL_STACK_NAME, MEMBER_REGIONAL_STACK_NAME):
        template = json.loads(stack_set_template_path(example_app, member).read_text())
        functions += resources_of(template, "AWS::Lambda::Function").values()
    assert len(functions) >= 5
    for function in functions:
        key = function["Properties"]["Code"]["S3Key"]
        assert key in keys
        for region in ("eu-west-1", "eu-central-1"):
            assert (f"ssm-guardrails-assets-{STACK_SET_ADMIN}-{region}", key) in published


def test_asset_files_exist_where_the_manifests_say(example_app: SynthesizedApp) -> None:
    for wave in (CANARY_STACK_NAME, ROLLOUT_STACK_NAME):
        stack = example_app.stack(wave)
        directory = Path(stack.assembly.directory)
        manifest_path = directory / f"{stack.id}.assets.json"
        cx.Manifest.load_asset_manifest(str(manifest_path))  # schema validation
        for entry in json.loads(manifest_path.read_text())["files"].values():
            assert (directory / entry["source"]["path"]).exists(), entry["source"]["path"]


def test_required_capabilities_follow_iam_resources_and_their_names() -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
    named = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "X"}}
    topic = {"Type": "AWS::SNS::Topic", "Properties": {}}
    assert required_capabilities({"Resources": {"T": topic}}) == []
    assert required_capabilities({"Resources": {"T": topic, "R": role}}) == ["CAPABILITY_IAM"]
    assert required_capabilities({"Resources": {"R": role, "P": named}}) == ["CAPABILITY_NAMED_IAM"]


def test_a_template_that_names_the_bootstrap_bucket_another_way_is_refused() -> None:
    bucket = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
    template = {"Resources": {"F": {"Type": "X", "Properties": {"Bucket": {"Fn::Sub": bucket}}}}}
    assert _retarget(template, bucket, "org-${AWS::Region}")["Resources"]["F"]["Properties"] == {
        "Bucket": {"Fn::Sub": "org-${AWS::Region}"}
    }
    hidden = {
        "Resources": {"F": {"Type": "X", "Properties": {"Bucket": {"Fn::Join": ["", ["cdk-hnb659fds-assets-", "x"]]}}}}
    }
    with pytest.raises(PropsError, match="a reference to cdk-hnb659fds-assets-"):
        _retarget(hidden, bucket, "org-${AWS::Region}")


# --- waves from the config --------------------------------------------------------------------


def _organization(**changes: Any) -> OrganizationConfig:
    return OrganizationConfig.model_validate({**EXAMPLE["organization"], **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"canary_accounts": []}, [("Organization", (), AccountFilter.NONE, True)]),
        (
            {"exclude_accounts": ["555555555555"]},
            [
                ("Canary", (CANARY,), AccountFilter.ONLY, False),
                ("Organization", ("555555555555", CANARY), AccountFilter.EXCEPT, True),
            ],
        ),
        (
            {"only_accounts": [CANARY, "555555555555", "666666666666"]},
            [
                ("Canary", (CANARY,), AccountFilter.ONLY, False),
                ("Organization", ("555555555555", "666666666666"), AccountFilter.ONLY, True),
            ],
        ),
    ],
)
def test_waves_never_overlap(changes: dict, expected: list) -> None:
    waves = rollout_waves(_organization(**changes))
    assert [(w.name, w.accounts, w.account_filter, w.auto_deployment) for w in waves] == expected


def test_auto_deployment_off_turns_it_off_for_the_organization_wave_only(tmp_path: Path) -> None:
    """rollout.auto_deployment: false (required with only_accounts or exclude_accounts, whose filters
    auto-deployment ignores). CloudFormation takes RetainStacksOnAccountRemoval only with Enabled."""
    app = _variant(tmp_path, {"exclude_accounts": ["555555555555"]}, rollout={"auto_deployment": False})
    for name in (ROLLOUT_STACK_NAME, CANARY_STACK_NAME):
        for props in stack_sets(app.template_json(name)).values():
            assert props["AutoDeployment"] == {"Enabled": False}


# --- variants of the organization layout --------------------------------------------------------


def _variant(
    tmp_path: Path, organization: dict[str, Any], pipeline: Any = None, rollout: Any = None, **context: Any
) -> SynthesizedApp:
    """The example organization with ``organization`` changes, no control, no pipeline unless given."""
    data = {"organization": {**EXAMPLE["organization"], **organization}, "controls": {}, "rollout": rollout or {}}
    if pipeline is not None:
        data["pipeline"] = pipeline
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    app = new_app(tmp_path / "out", **context)
    build_app(app, load_config(str(path)))
    return SynthesizedApp(app, app.synth())


def test_management_account_deploys_as_self_and_without_canary_one_wave(tmp_path: Path) -> None:
    rollout = {
        "retain_stacks_on_account_removal": False,
        "max_concurrent_percentage": 100,
        "failure_tolerance_percentage": 10,
        "region_concurrency": "sequential",
    }
    app = _variant(tmp_path, {"delegated_admin_account": None, "canary_accounts": []}, rollout=rollout)
    assert CANARY_STACK_NAME not in app.stack_names
    stack = app.stack(ROLLOUT_STACK_NAME)
    assert stack.environment.account == MANAGEMENT
    (regional,) = stack_sets(stack.template).values()  # no global controls: no global StackSet
    assert regional["CallAs"] == "SELF"
    assert regional["StackInstancesGroup"][0]["DeploymentTargets"] == {
        "OrganizationalUnitIds": ["ou-ab12-11111111", "ou-ab12-22222222"]
    }
    assert regional["Capabilities"] == []  # only the notifications topic and its key: no IAM at all
    assert regional["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert regional["OperationPreferences"] == {
        "MaxConcurrentPercentage": 100,
        "FailureTolerancePercentage": 10,
        "RegionConcurrencyType": "SEQUENTIAL",
        "RegionOrder": ["eu-west-1", "eu-central-1"],
    }
    assert app.stack(asset_bucket_stack_name("eu-west-1")).environment.account == MANAGEMENT


def test_a_custom_bootstrap_qualifier_names_every_role_and_bucket(tmp_path: Path) -> None:
    app = _variant(tmp_path, {}, **{"@aws-cdk/core:bootstrapQualifier": "guard1"})
    wave = app.stack(CANARY_STACK_NAME)
    assert wave.assume_role_arn.endswith(f"role/cdk-guard1-deploy-role-{STACK_SET_ADMIN}-eu-west-1")
    roles = {
        d["assumeRoleArn"]
        for e in asset_manifest(app, CANARY_STACK_NAME)["files"].values()
        for d in e["destinations"].values()
    }
    # no controls here, so no Lambda code: only templates, all published in the home Region
    assert roles == {
        f"arn:${{AWS::Partition}}:iam::{STACK_SET_ADMIN}:role/cdk-guard1-file-publishing-role-{STACK_SET_ADMIN}-eu-west-1"
    }
    bucket_policy = json.dumps(app.template_json(asset_bucket_stack_name("eu-west-1")))
    assert f"cdk-guard1-file-publishing-role-{STACK_SET_ADMIN}-eu-west-1" in bucket_policy
    stack_set_template = stack_set_template_path(app, MEMBER_REGIONAL_STACK_NAME).read_text()
    assert "cdk-guard1-assets" not in stack_set_template  # the member stack's bootstrap bucket was swapped


# --- asset buckets ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bucket_stack(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(asset_bucket_stack_name("eu-central-1"))


def test_asset_bucket_is_named_for_account_and_region_versioned_private_and_retained(bucket_stack: dict) -> None:
    (bucket,) = [b for i, b in resources_of(bucket_stack, "AWS::S3::Bucket").items() if "AccessLogs" not in i]
    props = bucket["Properties"]
    assert props["BucketName"] == f"ssm-guardrails-assets-{STACK_SET_ADMIN}-eu-central-1"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["DeletionPolicy"] == "Retain"


def _bucket_statements(bucket_stack: dict) -> dict[str, dict[str, Any]]:
    (policy,) = [p for i, p in resources_of(bucket_stack, "AWS::S3::BucketPolicy").items() if "AccessLogs" not in i]
    return {s.get("Sid", "TLS"): s for s in rendered(policy["Properties"]["PolicyDocument"]["Statement"])}


def test_asset_bucket_is_readable_by_the_organization_only(bucket_stack: dict) -> None:
    read = _bucket_statements(bucket_stack)["OrganizationReadsAssets"]
    assert read["Effect"] == "Allow" and read["Principal"] == {"AWS": "*"}
    # GetObjectVersion: the StackSet templates pin Code.S3ObjectVersion (test_code_version_pins.py)
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


def test_only_the_cdk_publishing_role_of_its_region_writes_the_asset_bucket(bucket_stack: dict) -> None:
    statements = _bucket_statements(bucket_stack)
    role = {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iam::{STACK_SET_ADMIN}:role/"
        f"cdk-hnb659fds-file-publishing-role-{STACK_SET_ADMIN}-eu-central-1"
    }
    upload = statements["PublisherUploadsAssets"]
    assert upload["Action"] == "s3:PutObject"
    assert upload["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role}}
    check = statements["PublisherChecksBucket"]
    assert sorted(check["Action"]) == ["s3:GetBucketLocation", "s3:GetEncryptionConfiguration", "s3:ListBucket"]
    deny = statements["OnlyThePublisherWrites"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert {"s3:PutObject*", "s3:DeleteObject*"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role}}
    tls = statements["TLS"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- pipeline ---------------------------------------------------------------------------------


def _stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def _actions_in_order(stage: dict[str, Any]) -> list[str]:
    return [a["Name"] for a in sorted(stage["Actions"], key=lambda a: (a["RunOrder"], a["Name"]))]


def test_pipeline_tests_then_delivers_central_canary_approval_organization(example_app: SynthesizedApp) -> None:
    stages = _stages(example_app.template_json(PIPELINE_STACK_NAME))
    assert [s["Name"] for s in stages] == ["Source", "Build", "UpdatePipeline", "Assets", "Central", "Rollout"]
    central, rollout = _actions_in_order(stages[4]), _actions_in_order(stages[5])
    assert central == ["Prepare", "Deploy"]  # a stage of one stack: change set, then execute
    assert rollout == [
        "Preflight",  # scripts/preflight.py: no account in both waves, buckets owned (issue 14)
        "SsmGuardrails-RolloutCanary.Prepare",
        "SsmGuardrails-RolloutCanary.Deploy",
        "SsmGuardrails-Rollout.ApproveOrganization",
        "SsmGuardrails-Rollout.Prepare",
        "SsmGuardrails-Rollout.Deploy",
    ]
    approval = next(a for a in stages[5]["Actions"] if a["Name"].endswith("ApproveOrganization"))
    assert approval["ActionTypeId"]["Category"] == "Approval"


def test_the_preflight_may_read_the_organizations_trails_and_nothing_more_of_cloudtrail(
    example_app: SynthesizedApp,
) -> None:
    """The pre-flight checks the organization trail (issue 23 item 14): DescribeTrails has no resource
    type; the trail reads are scoped to the management account, which owns an organization trail."""
    template = example_app.template_json(PIPELINE_STACK_NAME)
    preflight = next(
        p for p in resources_of(template, "AWS::CodeBuild::Project").values()
        if "make preflight" in json.dumps(p["Properties"]["Source"])
    )  # fmt: skip
    role = preflight["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    granted = [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    trail_reads = [s for s in granted if "cloudtrail:" in json.dumps(s["Action"])]
    assert [(s["Action"], flatten(s["Resource"])) for s in trail_reads] == [
        ("cloudtrail:DescribeTrails", "*"),
        (
            ["cloudtrail:GetEventSelectors", "cloudtrail:GetTrailStatus"],
            f"arn:aws:cloudtrail:*:{MANAGEMENT}:trail/*",
        ),
    ]


def test_pipeline_deploys_into_each_account_with_its_bootstrap_roles(example_app: SynthesizedApp) -> None:
    stages = {s["Name"]: s for s in _stages(example_app.template_json(PIPELINE_STACK_NAME))}
    deploy_roles = {
        a["Name"]: flatten(a["RoleArn"])
        for name in ("Central", "Rollout")
        for a in stages[name]["Actions"]
        if a["Name"].endswith("Deploy")
    }
    assert deploy_roles["Deploy"].endswith(":iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1")
    assert deploy_roles["SsmGuardrails-Rollout.Deploy"].endswith(
        f":iam::{STACK_SET_ADMIN}:role/cdk-hnb659fds-deploy-role-{STACK_SET_ADMIN}-eu-west-1"
    )


def test_pipeline_synth_step_runs_the_tests_and_the_synth_from_the_connection(example_app: SynthesizedApp) -> None:
    template = example_app.template_json(PIPELINE_STACK_NAME)
    source = _stages(template)[0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "example-org/ssm-guardrails"
    assert source["Configuration"]["BranchName"] == "main"
    projects = resources_of(template, "AWS::CodeBuild::Project")
    synth = next(p for i, p in projects.items() if "Synth" in i)
    build_spec = json.loads(synth["Properties"]["Source"]["BuildSpec"])
    assert build_spec["phases"]["build"]["commands"] == [
        "make test",
        "make synth CONFIG=example",
        "make lint-templates",
    ]
    (key,) = resources_of(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    stack = example_app.stack(PIPELINE_STACK_NAME)
    assert (stack.environment.account, stack.environment.region) == (STACK_SET_ADMIN, "eu-west-1")


def test_pipeline_from_an_s3_object_without_approval_in_its_own_account(tmp_path: Path) -> None:
    app = _variant(
        tmp_path,
        {},
        pipeline={
            "account": "555555555555",
            "source": {"s3": {"bucket": "my-sources", "object_key": "guardrails.zip"}},
            "approve_before_organization": False,
        },
    )
    template = app.template_json(PIPELINE_STACK_NAME)
    stages = _stages(template)
    assert stages[0]["Actions"][0]["ActionTypeId"]["Provider"] == "S3"
    assert stages[0]["Actions"][0]["Configuration"]["S3ObjectKey"] == "guardrails.zip"
    assert not [name for name in _actions_in_order(stages[-1]) if "Approve" in name]
    # the pre-flight reads the StackSet account through its CDK lookup role (read-only, trusts the
    # pipeline account after `cdk bootstrap --trust`), and may assume nothing else
    lookup_role = "arn:aws:iam::444444444444:role/cdk-hnb659fds-lookup-role-444444444444-eu-west-1"
    preflight = next(
        p for p in resources_of(template, "AWS::CodeBuild::Project").values()
        if "make preflight" in json.dumps(p["Properties"]["Source"])
    )  # fmt: skip
    assert f"make preflight CONFIG=example ROLE_ARN={lookup_role}" in preflight["Properties"]["Source"]["BuildSpec"]
    role = preflight["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    granted = [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": lookup_role} in granted
    assert not [s for s in granted if "cloudformation:ListStackInstances" in json.dumps(s)]


# --- construct props --------------------------------------------------------------------------

LOCATION = OrgAssetLocation(account=STACK_SET_ADMIN, regions=["eu-west-1"], home_region="eu-west-1")


def _admin_stack(tmp_path: Path) -> cdk.Stack:
    return cdk.Stack(
        new_app(tmp_path),
        "Admin",
        env=cdk.Environment(account=STACK_SET_ADMIN, region="eu-west-1"),
        synthesizer=StackSetAdminSynthesizer(),
    )


def _member(tmp_path: Path, env: cdk.Environment | None = None) -> cdk.Stack:
    stage = cdk.Stage(new_app(tmp_path), "Member")
    stack = cdk.Stack(stage, "M", env=env)
    sns.Topic(stack, "T")
    return stack


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"organizational_unit_ids": ["ou-1"]},
            "organizational_unit_ids: got 'ou-1'; allowed: ou-xxxx-xxxxxxxx or r-xxxx",
        ),
        ({"organizational_unit_ids": []}, "organizational_unit_ids: got []; allowed: at least one entry"),
        ({"regions": ["mars-1"]}, "regions: got 'mars-1'; allowed: a Region name"),
        ({"accounts": ["123"]}, "accounts: got '123'; allowed: a 12-digit account id"),
        (
            {"accounts": [CANARY]},
            "allowed: one or more accounts with account_filter ONLY or EXCEPT, and none with NONE",
        ),
        ({"account_filter": AccountFilter.EXCEPT}, "got []; allowed: one or more accounts with account_filter ONLY"),
        ({"stack_set_name": "1bad"}, "stack_set_name: got '1bad'; allowed: a letter"),
        ({"max_concurrent_percentage": 0}, "max_concurrent_percentage: got 0; allowed: a number from 1 to 100"),
        ({"failure_tolerance_percentage": 101}, "failure_tolerance_percentage: got 101"),
    ],
)
def test_bad_stack_set_props_fail_at_synth(tmp_path: Path, props: dict[str, Any], message: str) -> None:
    template = StackSetTemplate(_member(tmp_path / "m"), LOCATION)
    settings = {
        "template": template,
        "stack_set_name": "Good",
        "organizational_unit_ids": ["ou-ab12-11111111"],
        "regions": ["eu-west-1"],
        "call_as": CallAs.SELF,
        **props,
    }
    with pytest.raises(PropsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        OrganizationStackSet(_admin_stack(tmp_path / "a"), "Set", **settings)


def test_stack_set_needs_a_stack_that_publishes_its_template(tmp_path: Path) -> None:
    template = StackSetTemplate(_member(tmp_path / "m"), LOCATION)
    plain = cdk.Stack(
        new_app(tmp_path / "a"), "Plain", env=cdk.Environment(account=STACK_SET_ADMIN, region="eu-west-1")
    )
    with pytest.raises(
        PropsError, match="stack synthesizer: got 'DefaultStackSynthesizer'; allowed: StackSetAdminSynthesizer"
    ):
        OrganizationStackSet(
            plain,
            "Set",
            template=template,
            stack_set_name="S",
            organizational_unit_ids=["r-ab12"],
            regions=["eu-west-1"],
            call_as=CallAs.SELF,
        )


def test_stack_set_template_must_be_environment_agnostic_and_in_a_stage(tmp_path: Path) -> None:
    pinned = _member(tmp_path / "a", env=cdk.Environment(account=CANARY, region="eu-west-1"))
    with pytest.raises(PropsError, match="environment: got '333333333333/eu-west-1'; allowed: none"):
        StackSetTemplate(pinned, LOCATION)
    top_level = cdk.Stack(new_app(tmp_path / "b"), "TopLevel")
    with pytest.raises(PropsError, match="stage: got 'the app'"):
        StackSetTemplate(top_level, LOCATION)


def test_container_image_assets_are_refused(tmp_path: Path) -> None:
    member = _member(tmp_path / "m")
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "Dockerfile").write_text("FROM scratch\n")
    ecr_assets.DockerImageAsset(member, "Image", directory=str(tmp_path / "image"))
    template = StackSetTemplate(member, LOCATION)
    with pytest.raises(PropsError, match="got 'container image assets'; allowed: file assets only"):
        template.write(str(tmp_path))


def test_admin_synthesizer_needs_an_account_and_region(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="allowed: a stack with an account and a Region"):
        cdk.Stack(new_app(tmp_path), "Agnostic", synthesizer=StackSetAdminSynthesizer())


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"account": "12"}, "OrgAssetLocation.account: got '12'"),
        ({"prefix": "Bad_Prefix"}, "OrgAssetLocation.prefix: got 'Bad_Prefix'"),
        ({"home_region": "us-east-1"}, "OrgAssetLocation.home_region: got 'us-east-1'; allowed: one of regions"),
        ({"regions": []}, "OrgAssetLocation.regions: got []; allowed: at least one Region"),
    ],
)
def test_bad_asset_location_fails(props: dict[str, Any], message: str) -> None:
    settings = {"account": STACK_SET_ADMIN, "regions": ["eu-west-1"], "home_region": "eu-west-1", **props}
    with pytest.raises(PropsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        OrgAssetLocation(**settings)
