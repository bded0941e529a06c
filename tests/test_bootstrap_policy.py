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
from access.simulator import PolicySet, Request, simulate
from cdk_helpers import ROOT, SynthesizedApp, new_app, resources_of

from stacks.build import CENTRAL_STACK_NAME
from stacks.central_stack import KEY_TAG, CentralStack
from stacks.config import load_config

POLICY_FILE = ROOT / "bootstrap" / "central-execution-policy.json"
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS = ("create", "update", "delete")
#: Not a handler permission: CloudFormation resolves the template's BootstrapVersion parameter (type
#: AWS::SSM::Parameter::Value<String>, /cdk-bootstrap/<qualifier>/version) with the execution role,
#: which it uses "for all operations performed on that stack"
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
PARAMETER_RESOLUTION = {"ssm:GetParameters"}


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
    granted = [a for s in policy["Statement"] if s["Effect"] == "Allow" for a in _as_list(s["Action"])]
    assert not [a for a in granted if "*" in a]
    assert sorted(set(granted) - needed - PARAMETER_RESOLUTION) == []
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert [s["Sid"] for s in denies] == ["NeverTagAnyOtherKey"]


def test_only_key_creation_is_unscoped_and_only_with_the_central_tag(policy: dict[str, Any]) -> None:
    """kms:CreateKey has no resource to scope (the key does not exist yet), and tags passed to it
    need kms:TagResource "in an IAM policy that isn't restricted to particular KMS keys"
    (https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html); both are bound to
    the request carrying the central tag (aws:RequestTag, https://docs.aws.amazon.com/kms/latest/developerguide/abac.html)."""
    unscoped = [s for s in policy["Statement"] if "*" in _as_list(s["Resource"])]
    assert [(s["Action"], s["Condition"]) for s in unscoped] == [
        (["kms:CreateKey", "kms:TagResource"], {"StringEquals": {f"aws:RequestTag/{KEY_TAG[0]}": KEY_TAG[1]}})
    ]


def test_every_key_of_the_central_stack_carries_the_tag_the_policy_manages(
    central_templates: list[dict[str, Any]],
) -> None:
    for template in central_templates:
        keys = resources_of(template, "AWS::KMS::Key").values()
        assert keys
        for key in keys:
            assert {"Key": KEY_TAG[0], "Value": KEY_TAG[1]} in key["Properties"]["Tags"]


ROLE = "arn:aws:sts::222222222222:assumed-role/cdk-hnb659fds-cfn-exec-role-222222222222-eu-west-1/AWSCloudFormation"
KEY = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CENTRAL = {f"aws:RequestTag/{KEY_TAG[0]}": KEY_TAG[1], "aws:TagKeys": [KEY_TAG[0]]}
TAGGED = {f"aws:ResourceTag/{KEY_TAG[0]}": KEY_TAG[1]}
OTHER_TAG = {f"aws:ResourceTag/{KEY_TAG[0]}": "SomethingElse"}
#: (id, action, resource, request context, expected decision): the ABAC rules of
#: https://docs.aws.amazon.com/kms/latest/developerguide/tag-authorization.html as the execution role
#: meets them. A key of another stack has no central tag; tagging it would hand it over, so that is denied.
#: The kms:TagResource that CreateKey authorizes for its Tags has no key ARN yet: the simulator takes no
#: such request, so the statement that allows it is checked as written (test above).
KEY_REQUESTS = [
    ("create-tagged", "kms:CreateKey", "*", CENTRAL, True),
    ("create-untagged", "kms:CreateKey", "*", {}, False),
    ("create-other-tag", "kms:CreateKey", "*", {f"aws:RequestTag/{KEY_TAG[0]}": "Other", "aws:TagKeys": [KEY_TAG[0]]},
     False),
    ("put-policy-own-key", "kms:PutKeyPolicy", KEY, TAGGED, True),
    ("schedule-deletion-own-key", "kms:ScheduleKeyDeletion", KEY, TAGGED, True),
    ("put-policy-other-key", "kms:PutKeyPolicy", KEY, {}, False),
    ("disable-other-key", "kms:DisableKey", KEY, OTHER_TAG, False),
    ("schedule-deletion-other-key", "kms:ScheduleKeyDeletion", KEY, {}, False),
    ("hand-over-other-key", "kms:TagResource", KEY, CENTRAL, False),
    ("retag-own-key", "kms:TagResource", KEY, {**TAGGED, "aws:TagKeys": ["Team"], "aws:RequestTag/Team": "x"}, True),
    ("bootstrap-version", "ssm:GetParameters", "arn:aws:ssm:eu-west-1:222222222222:parameter/cdk-bootstrap/hnb659fds/version",
     {}, True),
    ("other-parameter", "ssm:GetParameters", "arn:aws:ssm:eu-west-1:222222222222:parameter/prod/db-password", {}, False),
]  # fmt: skip


#: The default key policy (what CDK writes too): the account's IAM policies decide, for the central
#: key and, in the worst case, for every other key of the account
#: (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
IAM_DECIDES = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "kms:*", "Resource": "*"}
    ],
}


@pytest.fixture(scope="module")
def key_decisions(policy: dict[str, Any]) -> dict[str, bool]:
    batch = [
        (
            name,
            PolicySet(identity=[policy], resource=IAM_DECIDES if resource.startswith("arn:aws:kms") else None),
            Request(ROLE, action, resource, context),
        )
        for name, action, resource, context, _ in KEY_REQUESTS
    ]
    return {name: result.decision.allowed for name, result in simulate(batch).items() if result.decision}


@pytest.mark.parametrize(("name", "expected"), [(r[0], r[4]) for r in KEY_REQUESTS], ids=[r[0] for r in KEY_REQUESTS])
def test_the_execution_role_reaches_only_keys_tagged_for_the_central_stack(
    key_decisions: dict[str, bool], name: str, expected: bool
) -> None:
    assert key_decisions[name] is expected


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
