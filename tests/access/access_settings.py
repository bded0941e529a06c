"""The access suite's sample world: the example config, the sample accounts, and the principals."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cdk_helpers import ROOT
from cli_scenarios import cli_scenarios
from resolve import Environment

from stacks.config import load_config

CONFIG = load_config("example")
ORG = CONFIG.organization
DATA: dict[str, Any] = yaml.safe_load(Path(__file__).with_name("scenarios.yaml").read_text())
#: the table's scenarios, and the operator CLI's own calls (cli_scenarios.py; not in the README table)
SCENARIOS: list[dict[str, Any]] = DATA["scenarios"] + cli_scenarios(CONFIG)
CONTROLS = (
    "BreakGlass",
    "PasswordRotationWindow",
    "SessionPrefs",
    "SeparationOfDuties",
    "AccessKeyRemediation",
    "Rollout",
)
MEMBER = Environment(account="111122223333", region=ORG.home_region)
OTHER_REGION = next(region for region in ORG.regions if region != ORG.home_region)
CENTRAL = Environment(account=ORG.security_account, region=ORG.home_region)
ROLLOUT = Environment(account=ORG.delegated_admin_account, region=ORG.home_region)
OUTSIDER_ACCOUNT, OUTSIDER_ORG = "999999999999", "o-outsider000"
#: aws:PrincipalOrgPaths of a member account: organization, root, a target OU and a child OU of it
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths)
MEMBER_ORG_PATH = f"{ORG.id}/r-ab12/{ORG.target_ous[0]}/ou-ab12-55555555/"
OUTSIDE_TARGETS_ORG_PATH = f"{ORG.id}/r-ab12/ou-ab12-99999999/"
INSTANCE_ID, OTHER_INSTANCE_ID = "i-0123456789abcdef0", "i-0fedcba9876543210"
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SOURCES = ("stage", "stackset")
#: The other approval paths of SeparationOfDuties: a scenario with `path:` runs against the Member
#: stage of the example config with this `separation_of_duties` section changed (the approvers as
#: tests/test_separation_of_duties.py uses them); without `path:`, against the example's path. The
#: StackSet copy is the same transformation on every path: the example's scenarios prove it.
DEFAULT_PATH = CONFIG.controls.separation_of_duties.approval_path
APPROVAL_PATHS: dict[str, dict[str, Any]] = {
    "change_manager": {"approval_path": "change_manager"},
    "just_in_time": {
        "approval_path": "just_in_time",
        "just_in_time_approvers": [{"type": "SSOGroup", "id": "e8c17310-e011-7089-d989-10da1example"}],
        "just_in_time_node_tags": {"NodeAccess": ["ManualApproval"]},
    },
}
#: A just-in-time session runs with the access token's credentials, scoped by AWS's session
#: policy; its key statement, verbatim: only keys tagged SystemsManagerJustInTimeNodeAccessManaged=true.
#: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSystemsManagerJustInTimeAccessTokenSessionPolicy.html
JUST_IN_TIME_SESSION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SessionManagerKmsPermission",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey"],
            "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/SystemsManagerJustInTimeNodeAccessManaged": "true"}},
        }
    ],
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


#: Scenarios with `config:` run against the Member stage of another example config (scenarios.yaml).
CONFIGS = {"identity_center": "example-identity-center"}


def path_of(scenario: Mapping[str, Any]) -> str:
    """The templates a scenario runs against: another config's (``config:``), else its approval path's."""
    return scenario.get("config") or scenario.get("path", DEFAULT_PATH)


def sources_of(scenario: Mapping[str, Any]) -> tuple[str, ...]:
    return SOURCES if path_of(scenario) == DEFAULT_PATH else ("stage",)


def _session_window() -> Any:
    """The runbook's grant script: scenarios with ``grant:`` get the policy it would write."""
    spec = importlib.util.spec_from_file_location("session_window", ROOT / "lambdas/session_grant/persons.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["session_window"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SESSION_WINDOW = _session_window()
#: Broad rights an operator may hold besides the control's policy (PowerUserAccess allows every action
#: but IAM and Organizations: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/PowerUserAccess.html).
POWER_USER_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}],
}
TAG_ANY_NODE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
            "Resource": "*",
        }
    ],
}
