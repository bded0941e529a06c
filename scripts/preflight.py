"""Pre-flight of the organization rollout: run with StackSet-account credentials before the waves
deploy (`make preflight CONFIG=name`; the pipeline runs it before its Rollout stage).

1. Waves: lists the stack instances of every StackSet of both waves (ListStackInstances, CallAs of
   the config) and fails when an account has stacks of one wave but the config now puts it in the
   other (a canary added or removed). Both waves create the same named resources, so the rollout
   would fail in that account; each such account gets one line with the exact steps to move it.
   With ``rollout.auto_deployment`` on and canary accounts, it notes that AWS auto-deployment
   ignores account filters: a canary moved between target OUs gets the organization stacks (this
   check then names it); with it off, that accounts joining a target OU later get nothing.
2. Asset buckets: HeadBucket with ExpectedBucketOwner for the bucket name of every Region; a name
   owned by another account (403) fails, a missing bucket (404) fails with the command that creates
   it.
3. CloudTrail (``organization.cloudtrail: organization_trail``): in every Region of the config, an
   organization trail that applies there, is logging and records write management events
   (``ssm_guardrails_cli.trails``); with ``account_trails`` it notes that only ``doctor`` can check.

Exit status 0 when everything is ready, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "constructs")]

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from ssm_guardrails_cli.trails import covering_trail  # noqa: E402
from stacks.config import GuardrailsConfig, load_config  # noqa: E402
from stacks.org_rollout_stack import RolloutWave, rollout_waves  # noqa: E402


@dataclass(frozen=True)
class StackSetOfWave:
    wave: RolloutWave
    member: str  # MemberGlobal or MemberRegional

    @property
    def name(self) -> str:
        # the names OrgRolloutStack gives its StackSets
        return "-".join(filter(None, ["SsmGuardrails", self.member, self.wave.suffix]))


def stack_sets(config: GuardrailsConfig) -> list[StackSetOfWave]:
    members = (["MemberGlobal"] if config.controls.has_global_controls else []) + ["MemberRegional"]
    return [
        StackSetOfWave(wave, member)
        for wave in rollout_waves(config.organization, config.rollout.auto_deployment)
        for member in members
    ]


def accounts_with_instances(cloudformation: Any, stack_set_name: str, call_as: str) -> set[str]:
    """Accounts that have a stack instance of the StackSet (none when it does not exist yet)."""
    accounts: set[str] = set()
    token = None
    while True:
        kwargs = {"StackSetName": stack_set_name, "CallAs": call_as, **({"NextToken": token} if token else {})}
        try:
            page = cloudformation.list_stack_instances(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] == "StackSetNotFoundException":
                return accounts
            raise
        accounts.update(summary["Account"] for summary in page.get("Summaries", []))
        token = page.get("NextToken")
        if not token:
            return accounts


def wave_problems(config: GuardrailsConfig, cloudformation: Any) -> list[str]:
    org = config.organization
    canaries = set(org.canary_accounts)
    problems = []
    for stack_set in stack_sets(config):
        existing = accounts_with_instances(cloudformation, stack_set.name, org.call_as.value)
        is_canary_wave = stack_set.wave.suffix == "Canary"
        # accounts whose stacks are in this wave's StackSet but that the config puts in the other wave
        moving = sorted(existing - canaries if is_canary_wave else existing & canaries)
        other = stack_set.name.removesuffix("-Canary") if is_canary_wave else f"{stack_set.name}-Canary"
        for account in moving:
            problems.append(
                f"account {account} has stacks of {stack_set.name} but the config puts it in "
                f"{'the organization wave' if is_canary_wave else 'the canary wave'} ({other}): both create "
                f"the same named resources. Move it: aws cloudformation delete-stack-instances --stack-set-name "
                f"{stack_set.name} --call-as {org.call_as.value} --deployment-targets "
                f"OrganizationalUnitIds={','.join(org.target_ous)},Accounts={account},AccountFilterType=INTERSECTION "
                f"--regions {' '.join(_regions(config, stack_set))} --no-retain-stacks; wait for the operation to "
                f"succeed, then run the pipeline (or deploy the wave stacks) again"
            )
    return problems


#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
AUTO_DEPLOYMENT_DOC = "AWS: automatic deployments do not consider account level targeting filters"


def notes(config: GuardrailsConfig) -> list[str]:
    """What the pre-flight cannot check or prevent (never a failure): member accounts' own trails;
    what auto-deployment will and will not do with this config's account lists (the config already
    refuses only_accounts and exclude_accounts with auto-deployment on)."""
    org = config.organization
    trails = (
        ["note: organization.cloudtrail is account_trails: run ssm-guardrails doctor in each member account and Region"]
        if org.cloudtrail == "account_trails"
        else []
    )
    return trails + _auto_deployment_notes(config)


def _auto_deployment_notes(config: GuardrailsConfig) -> list[str]:
    org = config.organization
    if not config.rollout.auto_deployment:
        return [
            "note: rollout.auto_deployment is false: an account that joins a target OU later gets no stacks "
            "until the deployment targets change (add it to only_accounts, or run aws cloudformation "
            "create-stack-instances for it)"
        ]
    if org.canary_accounts:
        return [
            f"note: {AUTO_DEPLOYMENT_DOC}; a canary account moved between target OUs gets the organization "
            "wave's stacks, which fail on its named resources: this pre-flight then names it (move canaries "
            "only out of the target OUs, or not at all)"
        ]
    return []


def _regions(config: GuardrailsConfig, stack_set: StackSetOfWave) -> list[str]:
    org = config.organization
    return [org.home_region] if stack_set.member == "MemberGlobal" else list(org.regions)


def bucket_problems(config: GuardrailsConfig, s3_for_region: Any) -> list[str]:
    org = config.organization
    problems = []
    for region in org.regions:
        bucket = f"{config.rollout.asset_bucket_prefix}-{org.stack_set_account}-{region}"
        try:
            s3_for_region(region).head_bucket(Bucket=bucket, ExpectedBucketOwner=org.stack_set_account)
        except ClientError as error:
            code = str(error.response["Error"]["Code"])
            if code in ("404", "NoSuchBucket", "NotFound"):
                problems.append(
                    f"asset bucket {bucket} ({region}) does not exist: create it first with "
                    f'make cdk ARGS="deploy SsmGuardrails-Assets-{region}" (StackSet-account credentials)'
                )
            elif code in ("403", "AccessDenied", "Forbidden"):
                problems.append(
                    f"asset bucket {bucket} ({region}) is not owned by the StackSet account {org.stack_set_account} "
                    f"(or these credentials may not s3:ListBucket it): set rollout.asset_bucket_prefix to a name "
                    f"nobody holds, or drop {region} from organization.regions"
                )
            else:
                raise
    return problems


#: Who cannot call CloudTrail answers one of these.
ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def trail_problems(config: GuardrailsConfig, cloudtrail_for_region: Any) -> list[str]:
    """Every Region without an organization trail that feeds the alert rules (see module docstring)."""
    org = config.organization
    if org.cloudtrail != "organization_trail":
        return []
    problems = []
    for region in org.regions:
        try:
            arn, reasons = covering_trail(cloudtrail_for_region(region), region, organization_only=True)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ACCESS_DENIED:
                raise
            problems.append(
                f"cannot check CloudTrail in {region}: these credentials need cloudtrail:DescribeTrails, "
                "cloudtrail:GetTrailStatus and cloudtrail:GetEventSelectors"
            )
            continue
        if arn is None:
            problems.append(
                f"CloudTrail in {region}: {'; '.join(reasons)}. The alert rules of member accounts (KMS key "
                "changes, break-glass SendCommand) read CloudTrail events: create a multi-Region organization "
                "trail that records write management events, or, if every account has its own trail, set "
                "organization.cloudtrail: account_trails and run ssm-guardrails doctor in each account"
            )
    return problems


def run(config: GuardrailsConfig, cloudformation: Any, s3_for_region: Any, cloudtrail_for_region: Any) -> list[str]:
    return (
        wave_problems(config, cloudformation)
        + bucket_problems(config, s3_for_region)
        + trail_problems(config, cloudtrail_for_region)
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="example", help="config name (config/<name>.yaml) or path")
    parser.add_argument(
        "--role-arn",
        default="",
        help="a role of the StackSet account to assume first (the pipeline passes the account's CDK lookup "
        "role when the pipeline lives in another account)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    config = load_config(args.config)
    org = config.organization
    session = stack_set_account_session(args.role_arn, org.home_region)
    identity = session.client("sts", region_name=org.home_region).get_caller_identity()["Account"]
    if identity != org.stack_set_account:
        print(f"preflight: credentials of account {identity}; run it with credentials of the StackSet account "
              f"{org.stack_set_account}")  # fmt: skip
        return 1
    problems = run(
        config,
        session.client("cloudformation", region_name=org.home_region),
        lambda region: session.client("s3", region_name=region),
        lambda region: session.client("cloudtrail", region_name=region),
    )
    for line in notes(config) + problems:
        print(f"preflight: {line}")
    if not problems:
        print(f"preflight: waves, asset buckets and CloudTrail of {args.config} are ready")
    return 1 if problems else 0


def stack_set_account_session(role_arn: str, region: str) -> Any:
    """The caller's own session, or one of ``role_arn`` (AssumeRole) when given."""
    session = boto3.session.Session()
    if not role_arn:
        return session
    credentials = session.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="ssm-guardrails-preflight"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


if __name__ == "__main__":
    sys.exit(main())
