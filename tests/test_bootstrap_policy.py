"""Issue 14 item 2: the security account's CloudFormation execution policy
(bootstrap/central-execution-policy.json) allows exactly what the central stack needs.

What a resource type needs is what its CloudFormation resource provider declares: each registry
schema lists, per handler, the permissions the caller needs
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html,
"handlers ... permissions"). cfn-lint ships those schemas per Region; the test reads the home
Region's. CloudFormation performs every stack operation with the execution role's permissions when
one is passed (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from cdk_helpers import ROOT, SynthesizedApp, new_app, resources_of

from stacks.build import CENTRAL_STACK_NAME
from stacks.central_stack import CentralStack
from stacks.config import load_config

POLICY_FILE = ROOT / "bootstrap" / "central-execution-policy.json"
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS = ("create", "update", "delete")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def handler_permissions(resource_type: str, region: str) -> set[str]:
    """The permissions of the create, update and delete handlers of ``resource_type``."""
    index = json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text())
    return {p for name in HANDLERS for p in schema.get("handlers", {}).get(name, {}).get("permissions", [])}


def allowed(policy: dict[str, Any], action: str) -> bool:
    """Whether some Allow statement names ``action`` (IAM matches actions case-insensitively)."""
    return any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower())
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for pattern in _as_list(statement["Action"])
    )


def missing_permissions(policy: dict[str, Any], template: dict[str, Any], region: str) -> dict[str, list[str]]:
    needed = {r["Type"] for r in template["Resources"].values() if not r["Type"].startswith("Custom::")}
    gaps = {t: sorted(a for a in handler_permissions(t, region) if not allowed(policy, a)) for t in sorted(needed)}
    return {t: actions for t, actions in gaps.items() if actions}


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return json.loads(POLICY_FILE.read_text())


@pytest.fixture(scope="module")
def central_templates(example_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The example's central template and one with every option on (queue, email subscription)."""
    config = load_config("example")
    findings = config.controls.access_key_remediation.model_copy(
        update={"create_queue": True, "email_subscribers": ["security@example.com"]}
    )
    everything = config.model_copy(
        update={"controls": config.controls.model_copy(update={"access_key_remediation": findings})}
    )
    app = new_app(tmp_path_factory.mktemp("central.out"))
    CentralStack(app, "Central", config=everything, stack_name=CENTRAL_STACK_NAME)
    variant = SynthesizedApp(app, app.synth()).template_json(CENTRAL_STACK_NAME)
    return [example_app.template_json(CENTRAL_STACK_NAME), variant]


def test_the_policy_allows_every_handler_permission_of_the_central_stack(
    policy: dict[str, Any], central_templates: list[dict[str, Any]]
) -> None:
    region = load_config("example").organization.home_region
    types = {r["Type"] for t in central_templates for r in t["Resources"].values()}
    assert {"AWS::KMS::Key", "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::SNS::Subscription"} <= types
    for template in central_templates:
        assert missing_permissions(policy, template, region) == {}


def test_the_check_fails_on_a_type_the_policy_does_not_cover(policy: dict[str, Any]) -> None:
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function"}, "Key": {"Type": "AWS::KMS::Key"}}}
    gaps = missing_permissions(policy, template, "eu-west-1")
    assert list(gaps) == ["AWS::Lambda::Function"]
    assert "lambda:CreateFunction" in gaps["AWS::Lambda::Function"]


def test_the_policy_allows_nothing_the_central_stack_does_not_need(
    policy: dict[str, Any], central_templates: list[dict[str, Any]]
) -> None:
    """No wildcard action, and every action is a handler permission of a central resource type."""
    region = load_config("example").organization.home_region
    needed = {
        p for t in central_templates for r in t["Resources"].values() for p in handler_permissions(r["Type"], region)
    }
    granted = [a for s in policy["Statement"] for a in _as_list(s["Action"])]
    assert not [a for a in granted if "*" in a]
    assert sorted(set(granted) - needed) == []
    assert {s["Effect"] for s in policy["Statement"]} == {"Allow"}


def test_only_key_creation_is_unscoped(policy: dict[str, Any]) -> None:
    """kms:CreateKey has no resource to scope (the key does not exist yet):
    https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html"""
    unscoped = [s for s in policy["Statement"] if "*" in _as_list(s["Resource"])]
    assert [(s["Action"], s["Resource"]) for s in unscoped] == [("kms:CreateKey", "*")]


def test_the_scoped_resources_match_the_central_stacks_names(
    policy: dict[str, Any], central_templates: list[dict[str, Any]]
) -> None:
    """Topics are named ssm-guardrails-* (the example's topic_name); CloudFormation names a queue
    without QueueName <stack name>-<logical id>-<random>, so the stack name prefixes it
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html)."""
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    topic_pattern = by_sid["ManageTheGuardrailsTopicsAndTheirSubscriptions"]["Resource"]
    config = load_config("example")
    for template in central_templates:
        for topic in resources_of(template, "AWS::SNS::Topic").values():
            name = topic["Properties"]["TopicName"]
            arn = f"arn:aws:sns:{config.organization.home_region}:{config.organization.security_account}:{name}"
            assert fnmatch.fnmatchcase(arn, topic_pattern), (arn, topic_pattern)
        for queue in resources_of(template, "AWS::SQS::Queue").values():
            assert "QueueName" not in queue["Properties"]
    assert by_sid["ManageTheCentralStacksQueues"]["Resource"].endswith(f":{CENTRAL_STACK_NAME}-*")
