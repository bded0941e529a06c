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
    (note,) = preflight.notes(CONFIG)
    assert "do not consider account level targeting filters" in note and "canary account moved" in note
    off = CONFIG.model_copy(update={"rollout": CONFIG.rollout.model_copy(update={"auto_deployment": False})})
    (note,) = preflight.notes(off)
    assert note.startswith("note: rollout.auto_deployment is false: an account that joins a target OU later")
    no_canary = CONFIG.model_copy(update={"organization": ORG.model_copy(update={"canary_accounts": []})})
    assert preflight.notes(no_canary) == []


# --- CloudTrail -------------------------------------------------------------------------------
# Shapes: DescribeTrails(includeShadowTrails) lists the trails that apply in the Region, organization
# trails included; GetTrailStatus and GetEventSelectors take the trail's ARN (an organization trail
# seen from a member account needs it):
# https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html
# https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetTrailStatus.html
# https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetEventSelectors.html

ORG_TRAIL = f"arn:aws:cloudtrail:{ORG.home_region}:{ORG.management_account}:trail/{ORG.id}/org-trail"
ALL_MANAGEMENT = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}


def _trail(**changes: Any) -> dict[str, Any]:
    return {
        "Name": "org-trail",
        "TrailARN": ORG_TRAIL,
        "HomeRegion": ORG.home_region,
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": True,
        **changes,
    }


def _cloudtrail(trails: list[dict[str, Any]], logging: bool = True, selectors: dict | None = None) -> Any:
    """The same answers in every Region (a multi-Region trail applies to each)."""
    clients = {}
    for region in ORG.regions:
        client = boto3.client("cloudtrail", region_name=region)
        stubber = Stubber(client)
        stubber.add_response("describe_trails", {"trailList": trails}, {"includeShadowTrails": True})
        applying = [t for t in trails if t["IsOrganizationTrail"]]
        if applying and (applying[0]["IsMultiRegionTrail"] or applying[0]["HomeRegion"] == region):
            stubber.add_response("get_trail_status", {"IsLogging": logging}, {"Name": applying[0]["TrailARN"]})
            if logging:
                stubber.add_response(
                    "get_event_selectors",
                    {"TrailARN": applying[0]["TrailARN"], **(selectors or ALL_MANAGEMENT)},
                    {"TrailName": applying[0]["TrailARN"]},
                )
        stubber.activate()
        clients[region] = client
    return clients.__getitem__


def test_a_logging_multi_region_organization_trail_with_management_events_passes() -> None:
    assert preflight.trail_problems(CONFIG, _cloudtrail([_trail()])) == []


@pytest.mark.parametrize(
    ("trails", "logging", "selectors", "reason"),
    [
        ([], True, None, "no organization trail applies to"),
        ([_trail(IsOrganizationTrail=False)], True, None, "no organization trail applies to"),
        ([_trail()], False, None, "is not logging"),
        (
            [_trail()],
            True,
            {"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]},
            "records no write management events",
        ),
        (
            [_trail()],
            True,
            {"EventSelectors": [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]},
            "records no write management events (or excludes kms.amazonaws.com",
        ),
        (
            [_trail()],
            True,
            {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]},
            "records no write management events",
        ),
    ],
    ids=["no trail", "an account's own trail", "stopped", "read-only", "KMS excluded", "data events only"],
)
def test_a_region_without_a_usable_organization_trail_is_a_problem(
    trails: list, logging: bool, selectors: dict | None, reason: str
) -> None:
    problems = preflight.trail_problems(CONFIG, _cloudtrail(trails, logging, selectors))
    assert [p.split(":")[0] for p in problems] == [f"CloudTrail in {r}" for r in ORG.regions]
    assert all(reason in p and "organization.cloudtrail: account_trails" in p for p in problems), problems


def test_a_single_region_organization_trail_covers_its_home_region_only() -> None:
    problems = preflight.trail_problems(CONFIG, _cloudtrail([_trail(IsMultiRegionTrail=False)]))
    other = [r for r in ORG.regions if r != ORG.home_region]
    assert [p.split(":")[0] for p in problems] == [f"CloudTrail in {r}" for r in other]
    assert f"applies to {ORG.home_region} only" in problems[0]


def test_advanced_selectors_of_write_management_events_pass() -> None:
    selectors = {
        "AdvancedEventSelectors": [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ]
            }
        ]
    }
    assert preflight.trail_problems(CONFIG, _cloudtrail([_trail()], selectors=selectors)) == []


def test_credentials_without_cloudtrail_reads_are_told_what_they_need() -> None:
    def denied(region: str) -> Any:
        client = boto3.client("cloudtrail", region_name=region)
        stubber = Stubber(client)
        stubber.add_client_error("describe_trails", "AccessDeniedException", http_status_code=400)
        stubber.activate()
        return client

    problems = preflight.trail_problems(CONFIG, denied)
    assert problems == [
        f"cannot check CloudTrail in {r}: these credentials need cloudtrail:DescribeTrails, "
        "cloudtrail:GetTrailStatus and cloudtrail:GetEventSelectors"
        for r in ORG.regions
    ]


def test_account_trails_are_left_to_doctor() -> None:
    accounts = CONFIG.model_copy(update={"organization": ORG.model_copy(update={"cloudtrail": "account_trails"})})
    assert preflight.trail_problems(accounts, lambda region: pytest.fail("no CloudTrail call")) == []
    assert preflight.notes(accounts)[0].startswith("note: organization.cloudtrail is account_trails")
