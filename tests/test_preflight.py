"""scripts/preflight.py against recorded-shape API responses (botocore Stubber: moto does not
implement service-managed StackSets' stack instances by OU).

Shapes: ListStackInstances returns Summaries with Account and Region, NextToken to page, and
StackSetNotFoundException for an unknown StackSet
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStackInstances.html);
HeadBucket with ExpectedBucketOwner answers 403 when another account owns the bucket and 404 when
no bucket has the name (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stacks.config import load_config

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("preflight", ROOT / "scripts" / "preflight.py")
assert spec and spec.loader
preflight = importlib.util.module_from_spec(spec)
sys.modules["preflight"] = preflight
spec.loader.exec_module(preflight)

CONFIG = load_config("example")
ORG = CONFIG.organization
CANARY = ORG.canary_accounts[0]
OTHER = "555555555555"


def _cloudformation(instances: dict[str, list[str]]) -> tuple[Any, Stubber]:
    client = boto3.client("cloudformation", region_name=ORG.home_region)
    stubber = Stubber(client)
    for stack_set in preflight.stack_sets(CONFIG):
        expected = {"StackSetName": stack_set.name, "CallAs": ORG.call_as.value}
        if stack_set.name not in instances:
            stubber.add_client_error(
                "list_stack_instances", "StackSetNotFoundException", http_status_code=404, expected_params=expected
            )
            continue
        accounts = instances[stack_set.name]
        summaries = [
            {"StackSetId": f"{stack_set.name}:1", "Region": ORG.home_region, "Account": a, "Status": "CURRENT"}
            for a in accounts
        ]
        # two pages: the script must follow NextToken
        stubber.add_response("list_stack_instances", {"Summaries": summaries[:1], "NextToken": "t"}, expected)
        stubber.add_response("list_stack_instances", {"Summaries": summaries[1:]}, {**expected, "NextToken": "t"})
    stubber.activate()
    return client, stubber


def test_no_problem_when_every_account_stays_in_its_wave() -> None:
    client, stubber = _cloudformation(
        {"SsmGuardrails-MemberGlobal-Canary": [CANARY, CANARY], "SsmGuardrails-MemberGlobal": [OTHER, OTHER]}
    )
    assert preflight.wave_problems(CONFIG, client) == []
    stubber.assert_no_pending_responses()


def test_a_new_canary_with_organization_stacks_is_refused_with_the_steps_to_move_it() -> None:
    client, _ = _cloudformation({"SsmGuardrails-MemberRegional": [OTHER, CANARY]})
    (problem,) = preflight.wave_problems(CONFIG, client)
    assert problem.startswith(f"account {CANARY} has stacks of SsmGuardrails-MemberRegional but the config puts it")
    assert "in the canary wave (SsmGuardrails-MemberRegional-Canary)" in problem
    assert "delete-stack-instances --stack-set-name SsmGuardrails-MemberRegional " in problem
    assert f"Accounts={CANARY},AccountFilterType=INTERSECTION" in problem
    assert f"--regions {' '.join(ORG.regions)}" in problem
    assert "\n" not in problem


def test_a_former_canary_with_canary_stacks_is_refused() -> None:
    client, _ = _cloudformation({"SsmGuardrails-MemberGlobal-Canary": [OTHER, CANARY]})
    (problem,) = preflight.wave_problems(CONFIG, client)
    assert problem.startswith(f"account {OTHER} has stacks of SsmGuardrails-MemberGlobal-Canary")
    assert f"--regions {ORG.home_region} --no-retain-stacks;" in problem


def _s3(answers: dict[str, int]) -> Any:
    clients = {}
    for region in ORG.regions:
        client = boto3.client("s3", region_name=region)
        stubber = Stubber(client)
        bucket = f"{CONFIG.rollout.asset_bucket_prefix}-{ORG.stack_set_account}-{region}"
        expected = {"Bucket": bucket, "ExpectedBucketOwner": ORG.stack_set_account}
        if answers.get(region, 200) == 200:
            stubber.add_response("head_bucket", {}, expected)
        else:
            stubber.add_client_error("head_bucket", str(answers[region]), http_status_code=answers[region],
                                     expected_params=expected)  # fmt: skip
        stubber.activate()
        clients[region] = client
    return clients.__getitem__


def test_buckets_owned_by_the_stack_set_account_pass() -> None:
    assert preflight.bucket_problems(CONFIG, _s3({})) == []


def test_a_bucket_name_owned_by_someone_else_is_refused() -> None:
    region = ORG.regions[-1]
    (problem,) = preflight.bucket_problems(CONFIG, _s3({region: 403}))
    assert problem.startswith(f"asset bucket ssm-guardrails-assets-{ORG.stack_set_account}-{region} ({region}) is not")
    assert "rollout.asset_bucket_prefix" in problem


def test_a_missing_bucket_is_refused_with_the_command_that_creates_it() -> None:
    region = ORG.regions[0]
    (problem,) = preflight.bucket_problems(CONFIG, _s3({region: 404}))
    assert f'deploy SsmGuardrails-Assets-{region}"' in problem


@pytest.mark.parametrize("code", ["500"])
def test_other_errors_are_not_hidden(code: str) -> None:
    with pytest.raises(Exception, match="500"):
        preflight.bucket_problems(CONFIG, _s3({ORG.regions[0]: int(code)}))


def test_a_separate_pipeline_account_reads_through_the_stack_set_accounts_role() -> None:
    """`--role-arn`: the pre-flight assumes the role first, so it answers as the StackSet account
    (moto gives assumed-role credentials the role's account, as STS does)."""
    from moto import mock_aws

    role_arn = f"arn:aws:iam::{ORG.stack_set_account}:role/cdk-hnb659fds-lookup-role-{ORG.stack_set_account}-eu-west-1"
    with mock_aws():
        own = preflight.stack_set_account_session("", ORG.home_region)
        assumed = preflight.stack_set_account_session(role_arn, ORG.home_region)
        assert own.client("sts", region_name=ORG.home_region).get_caller_identity()["Account"] != ORG.stack_set_account
        identity = assumed.client("sts", region_name=ORG.home_region).get_caller_identity()
    assert identity["Account"] == ORG.stack_set_account
    assert identity["Arn"].endswith("/ssm-guardrails-preflight")


def test_preflight_says_what_auto_deployment_does_with_canaries_and_when_it_is_off() -> None:
    """Automatic deployments do not consider account level targeting filters:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html"""
    (note,) = preflight.auto_deployment_notes(CONFIG)
    assert "do not consider account level targeting filters" in note and "canary account moved" in note
    off = CONFIG.model_copy(update={"rollout": CONFIG.rollout.model_copy(update={"auto_deployment": False})})
    (note,) = preflight.auto_deployment_notes(off)
    assert note.startswith("note: rollout.auto_deployment is false: an account that joins a target OU later")
    no_canary = CONFIG.model_copy(update={"organization": ORG.model_copy(update={"canary_accounts": []})})
    assert preflight.auto_deployment_notes(no_canary) == []
