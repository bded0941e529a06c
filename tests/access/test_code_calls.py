"""Every AWS call the code makes has an allowed access scenario for the principal that makes it.

The calls come from the code (code_calls.py), the principals from one table (code_principals.py),
the scenarios from scenarios.yaml and the CLI's own list (access_settings.SCENARIOS), judged by the
simulator in test_access.py. A call is covered by an allowed scenario of its principal for each
of its IAM actions (a scenario's implied tagging action counts: implied.py).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from access_settings import SCENARIOS
from cdk_helpers import ROOT, SynthesizedApp
from code_calls import (
    EXCEPTIONS,
    CodeCall,
    custom_resource_calls,
    document_calls,
    iam_actions,
    python_calls,
    state_machine_calls,
)
from code_principals import CALLERS, CONDITIONAL, NotGranted, principals_of, uncovered
from implied import TAG_ON_CREATE, passes_tags
from service_reference import resource_types

PYTHON_SOURCES = ("lambdas", "ssm_documents/scripts", "cli/ssm_guardrails_cli")


def code_calls(root: Path, templates: list[Path]) -> list[CodeCall]:
    calls = [c for d in PYTHON_SOURCES for p in sorted((root / d).rglob("*.py")) for c in python_calls(p, root)]
    calls += [c for p in sorted((root / "ssm_documents").glob("*.yaml")) for c in document_calls(p, root)]
    for path in templates:
        template = json.loads(path.read_text())
        calls += state_machine_calls(template, path.name) + custom_resource_calls(template, path.name)
    return sorted(set(calls), key=lambda c: (c.file, c.line, c.operation))


def allowed_pairs() -> set[tuple[str, str]]:
    """(principal, IAM action) of every scenario expected allowed, with its implied tagging action."""
    pairs = set()
    for scenario in (s for s in SCENARIOS if s["expect"] == "allowed"):
        pairs.add((scenario["as"], scenario["action"]))
        rule = TAG_ON_CREATE.get(scenario["action"])
        if rule and passes_tags(scenario.get("context", {})):
            pairs.add((scenario["as"], rule.tagging_action))
    return pairs


@pytest.fixture(scope="module")
def repository_calls(example_app: SynthesizedApp) -> list[CodeCall]:
    """Every call of the repository's code and of the example's synthesized templates, scanned once."""
    return code_calls(ROOT, example_app.template_paths)


def test_every_code_call_has_an_allowed_scenario_for_its_principal(repository_calls: list[CodeCall]) -> None:
    problems = uncovered(repository_calls, allowed_pairs())
    assert not problems, "\n".join(problems)


def test_the_scan_reads_every_source(repository_calls: list[CodeCall]) -> None:
    """One known call of each source, so a scanner that finds nothing cannot pass the test above."""
    found = {(c.file.split(".")[0] if c.line == 0 else c.file, c.operation) for c in repository_calls}
    operations = {operation for _, operation in found}
    assert ("lambdas/session_grant/index.py", "PutRolePolicy") in found  # getattr(client, f"put_{kind}_policy")
    assert ("ssm_documents/scripts/session_window.py", "Invoke") in found  # the runbook only invokes the grant
    assert ("lambdas/session_tag_sweeper/index.py", "ListRolePolicies") in found  # paginator, f-string name
    assert ("cli/ssm_guardrails_cli/secret_text.py", "GetParameterHistory") in found  # client passed as a parameter
    assert ("ssm_documents/access_key_remediation.yaml", "ListDiscoveredResources") in found  # aws:executeAwsApi
    assert {"ListCommands", "SendCommand", "HeadObject"} <= operations  # state machine, custom resource
    assert all(c.function for c in repository_calls if c.line == 0)


def test_a_new_call_without_a_scenario_fails_naming_file_and_line(tmp_path: Path) -> None:
    handler = tmp_path / "lambdas" / "session_tag_sweeper" / "index.py"
    handler.parent.mkdir(parents=True)
    handler.write_text(
        textwrap.dedent(
            """\
            import boto3


            def handler(event, context):
                iam = boto3.client("iam")
                iam.list_role_policies(RoleName="Operator")
                boto3.client("ssm").delete_parameter(Name="/not/a/grant")
            """
        )
    )
    problems = uncovered(code_calls(tmp_path, []), allowed_pairs())
    assert problems == [
        "lambdas/session_tag_sweeper/index.py:7 (handler): ssm:DeleteParameter (ssm.DeleteParameter) "
        "has no allowed scenario as session_sweeper"
    ]


def test_a_call_from_a_location_without_a_principal_fails(tmp_path: Path) -> None:
    handler = tmp_path / "lambdas" / "new_control" / "index.py"
    handler.parent.mkdir(parents=True)
    handler.write_text(
        'import boto3\n\n\ndef handler(event, context):\n    boto3.client("kms").decrypt(CiphertextBlob=b"")\n'
    )
    problems = uncovered(code_calls(tmp_path, []), allowed_pairs())
    assert problems == [
        "lambdas/new_control/index.py:5 (handler): kms.Decrypt: no principal for this code location "
        "(add it to code_principals.CALLERS)"
    ]


def test_every_row_of_the_tables_is_used(repository_calls: list[CodeCall]) -> None:
    """A row whose code moved or was removed would silently stop applying to the code it meant."""
    calls = repository_calls
    used = set()
    for call in calls:
        for location in CALLERS:
            if principals_of(call, {location: ("x",)}) is not None:
                used.add(location)
    assert set(CALLERS) - used == set()
    assert all(isinstance(p, NotGranted) or p for p in CALLERS.values())
    made = {
        (location, action, principal)
        for call in calls
        for location in (f"{call.file}::{call.function}", call.file)
        for action in iam_actions(call)
        for principal in principals_made_by(call)
    }
    assert set(CONDITIONAL) - made == set()


def principals_made_by(call: CodeCall) -> tuple[str, ...]:
    found = principals_of(call)
    return found if isinstance(found, tuple) else ()


def test_a_custom_resource_sdk_call_is_found_and_needs_its_principal() -> None:
    """AwsCustomResource writes its SDK call as JSON in Create/Update/Delete (a made-up template)."""
    call = '{"service":"S3","action":"headObject","parameters":{"Bucket":"b","Key":"k"}}'
    template = {"Resources": {"ReaderAbc123": {"Type": "Custom::Thing", "Properties": {"Create": call}}}}
    [found] = custom_resource_calls(template, "Made-up.template.json")
    assert (found.service, found.operation, found.function) == ("s3", "HeadObject", "ReaderAbc123")
    assert uncovered([found], set(), {"template::Reader": ("code_version_reader",)}) == [
        "Made-up.template.json:0 (ReaderAbc123): s3:GetObject (s3.HeadObject) has no allowed scenario as code_version_reader"
    ]


def test_every_call_maps_to_actions_of_the_service_authorization_reference(repository_calls: list[CodeCall]) -> None:
    """The mapping (signing name + operation, or an EXCEPTIONS row) names real IAM actions."""
    for key, (_, page) in EXCEPTIONS.items():
        assert page.startswith("https://docs.aws.amazon.com/"), key
    unknown = []
    for call in repository_calls:
        for action in iam_actions(call):
            try:
                resource_types(action)
            except KeyError:
                unknown.append(f"{call.where}: {call.service}.{call.operation} -> {action}")
    assert not unknown, unknown
    assert iam_actions(CodeCall("x.py", 1, "cloudwatch", "PutMetricAlarm")) == ("cloudwatch:PutMetricAlarm",)
