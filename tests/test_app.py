"""Whole-app checks on the example configuration: cdk-nag, cfn-lint, the pinned CLI, snapshots."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from cdk_helpers import ROOT, SynthesizedApp, nag_findings, new_app, resources_of

from guardrails import PropsError, SeparationOfDuties
from guardrails.separation_of_duties.organization_guard import split_for_organizations
from stacks.build import (
    CENTRAL_STACK_NAME,
    MEMBER_GLOBAL_STACK_NAME,
    MEMBER_REGIONAL_STACK_NAME,
    PIPELINE_STACK_NAME,
    ROLLOUT_STACK_NAME,
    asset_bucket_stack_name,
    build_app,
    register_nag,
)
from stacks.config import load_config

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
#: the base64 SHA-256 of a synth-zipped code object, which changes with it (CodeVersionReader)
ASSET_CHECKSUM = re.compile(r'("ChecksumSHA256": )"[A-Za-z0-9+/]{43}="')

#: What `cdk ls` prints for the example: stage/stack for the stacks of a stage.
DISPLAY_NAMES = [
    f"Member/{MEMBER_GLOBAL_STACK_NAME}",
    f"Member/{MEMBER_REGIONAL_STACK_NAME}",
    f"Central/{CENTRAL_STACK_NAME}",
    f"Rollout/{ROLLOUT_STACK_NAME}Canary",
    f"Rollout/{ROLLOUT_STACK_NAME}",
    asset_bucket_stack_name("eu-west-1"),
    asset_bucket_stack_name("eu-central-1"),
    PIPELINE_STACK_NAME,
]
ALL_STACKS = [name.split("/")[-1] for name in DISPLAY_NAMES]


def test_every_stack_of_the_example_is_synthesized(example_app: SynthesizedApp) -> None:
    assert sorted(example_app.stack_names) == sorted(ALL_STACKS)


def test_cdk_nag_has_no_unacknowledged_finding(example_app: SynthesizedApp) -> None:
    findings = nag_findings(example_app.app)
    assert findings == [], "\n".join(findings)


def test_cdk_nag_fails_the_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    sns.Topic(cdk.Stack(app, "Bad"), "PlainTopic")  # no KMS, no TLS-only policy
    assert any(f.startswith("AwsSolutions-SNS3 at Bad/PlainTopic/Resource") for f in nag_findings(app))
    register_nag(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


@pytest.fixture(scope="module")
def lint_script() -> Any:
    """scripts/lint_templates.py: the one cfn-lint gate of `make lint-templates`, the pipeline and the tests."""
    spec = importlib.util.spec_from_file_location("lint_templates", ROOT / "scripts" / "lint_templates.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def identity_center_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthesizedApp, list[str]]:
    """config/example-identity-center.yaml (permission sets, a pathed role ARN, role names; the runbook
    path; the organization guard), synthesized once, with its cdk-nag findings."""
    app = new_app(tmp_path_factory.mktemp("identity-center.out"))
    build_app(app, load_config("example-identity-center"))
    findings = nag_findings(app)
    return SynthesizedApp(app, app.synth()), findings


@dataclass(frozen=True)
class Linted:
    """One cfn-lint run over both example apps' templates (its start-up, loading every resource
    schema, is most of its cost). A template byte-identical to one already in the run (the two apps
    share the pipeline, asset-bucket and central stacks) is linted once: cfn-lint reads nothing but
    the file's content, and its findings count for every copy."""

    returncode: int
    findings: list[str]
    linted_as: dict[Path, Path]  # each template -> the identical template that was linted

    def findings_of(self, templates: list[Path]) -> list[str]:
        names = {str(self.linted_as[path]) for path in templates}
        return [finding for finding in self.findings if finding.split(":", 1)[0] in names]


@pytest.fixture(scope="module")
def linted(
    example_app: SynthesizedApp, identity_center_app: tuple[SynthesizedApp, list[str]], lint_script: Any
) -> Linted:
    first_with_content: dict[bytes, Path] = {}
    linted_as = {
        path: first_with_content.setdefault(path.read_bytes(), path)
        for path in [*example_app.template_paths, *identity_center_app[0].template_paths]
    }
    returncode, findings = lint_script.lint(first_with_content.values())
    return Linted(returncode, findings, linted_as)


def test_cfn_lint_reports_no_error_or_warning_on_any_template(example_app: SynthesizedApp, linted: Linted) -> None:
    """Every stack of every stage and the StackSet member templates; only `.cfnlintrc.yaml` ignores a rule."""
    templates = example_app.template_paths
    assert len([t for t in templates if t.name.endswith(".stackset.template.json")]) == 2
    assert len(templates) == len(ALL_STACKS) + 2
    assert linted.findings == [] and linted.returncode == 0, "\n".join(linted.findings)


def test_the_identity_center_example_passes_cdk_nag_and_cfn_lint(
    identity_center_app: tuple[SynthesizedApp, list[str]], linted: Linted
) -> None:
    """The whole Identity Center example app, StackSet templates included: no cdk-nag finding, and no
    cfn-lint finding in any of its templates."""
    synthesized, nag = identity_center_app
    assert nag == []
    assert len([t for t in synthesized.template_paths if t.name.endswith(".stackset.template.json")]) == 2
    assert linted.findings_of(synthesized.template_paths) == []


def test_a_guard_too_long_for_one_scp_is_split_over_two(identity_center_app: tuple[SynthesizedApp, list[str]]) -> None:
    """An SCP has at most 5,120 characters
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html): the Identity
    Center example's guard needs two, which together hold every statement of the guard, in order."""
    synthesized, _ = identity_center_app
    [control] = [c for c in synthesized.app.node.find_all() if isinstance(c, SeparationOfDuties)]
    stack = synthesized.stack("SsmGuardrails-OrganizationGuard")
    policies = [p["Properties"] for p in resources_of(stack.template, "AWS::Organizations::Policy").values()]
    assert [p["Name"] for p in policies] == ["SsmGuardrails-OrganizationGuard", "SsmGuardrails-OrganizationGuard-2"]
    assert all(len(json.dumps(p["Content"], separators=(",", ":"))) <= 5120 for p in policies)
    assert [s for p in policies for s in p["Content"]["Statement"]] == control.scp_document["Statement"]
    with pytest.raises(PropsError, match=r"organization\.guard_policy: got '.* characters'; allowed: at most 2 SCPs"):
        split_for_organizations({**control.scp_document, "Statement": control.scp_document["Statement"] * 2})


def test_cfn_lint_gate_fails_on_a_warning(tmp_path: Path, lint_script: Any) -> None:
    """W3701 (a Parameter Store name that begins with "ssm") is a warning in cfn-lint, and the
    deploy fails on it: the gate must not let warnings through."""
    template = {
        "Resources": {
            "KeyId": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/ssm-reserved/x", "Type": "String", "Value": "v"},
            }
        }
    }
    path = tmp_path / "reserved.template.json"
    path.write_text(json.dumps(template))
    returncode, findings = lint_script.lint([path])
    assert returncode != 0
    assert any(":W3701:" in finding for finding in findings), findings


def test_cfn_lint_ignore_list_gives_a_reason_for_every_rule(lint_script: Any) -> None:
    lines = lint_script.CONFIG_FILE.read_text().splitlines()
    ignored = [i for i, line in enumerate(lines) if line.strip().startswith("- ")]
    assert ignored, "the ignore list is empty: remove the file rather than keep an empty list"
    for index in ignored:
        assert lines[index - 1].strip().startswith("#"), f"no reason above {lines[index].strip()}"


def test_lint_templates_script_checks_every_template_of_the_assembly(
    example_app: SynthesizedApp, lint_script: Any
) -> None:
    """`make lint-templates` (and so the pipeline) must see the StackSet templates too."""
    found = {path.resolve() for path in lint_script.templates(Path(example_app.assembly.directory))}
    assert found == {path.resolve() for path in example_app.template_paths}


def test_pinned_cdk_cli_reads_the_cloud_assembly(example_app: SynthesizedApp) -> None:
    """The CLI in package.json must understand the assembly version aws-cdk-lib writes."""
    cdk_cli = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk_cli.exists():
        pytest.fail("node_modules is missing: run the tests through `make test`")
    result = subprocess.run(
        [str(cdk_cli), "ls", "--app", example_app.assembly.directory, "--no-notices"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(line.split()[0] for line in result.stdout.splitlines()) == sorted(DISPLAY_NAMES)
    assert "end-of-life" not in result.stderr + result.stdout


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """Asset hashes and checksums change with every handler edit; the snapshot must not."""
    text = ASSET_CHECKSUM.sub(r'\1"<asset-checksum>"', json.dumps(template))
    return json.loads(ASSET_HASH.sub("<asset-hash>", text))


@pytest.mark.parametrize("stack_name", ALL_STACKS)
def test_stack_matches_snapshot(example_app: SynthesizedApp, snapshot: Any, stack_name: str) -> None:
    """Run `make snapshot-update` after an intended change and review the diff."""
    assert normalized(example_app.template_json(stack_name)) == snapshot


def test_snapshot_normalization_hides_asset_hashes_only() -> None:
    template = {"Code": {"S3Key": "a" * 64 + ".zip"}, "Name": "pwd-" + "b" * 12, "ChecksumSHA256": "c" * 43 + "="}
    assert normalized(template) == {
        "Code": {"S3Key": "<asset-hash>.zip"},
        "Name": "pwd-" + "b" * 12,
        "ChecksumSHA256": "<asset-checksum>",
    }


def test_guardrails_is_importable_without_hiding_the_constructs_library() -> None:
    import constructs

    import guardrails

    assert not (ROOT / "constructs" / "__init__.py").exists()
    assert Path(guardrails.__file__).parent == ROOT / "constructs" / "guardrails"
    assert hasattr(constructs, "Construct")


def test_synth_needs_no_aws_lookup(example_app: SynthesizedApp) -> None:
    """No context provider (VPC, AMI, account...) was asked for, in any stage: synth works without credentials."""
    manifests = {Path(p).parent / "manifest.json" for p in example_app.template_paths}
    assert len(manifests) == 4  # the app and its three stages
    for path in manifests:
        manifest = json.loads(path.read_text())
        assert manifest.get("missing", []) == [], path
        assert manifest["artifacts"]  # the manifest was read


def _regional_templates(example_app: SynthesizedApp) -> list[dict[str, Any]]:
    stack_set = next(p for p in example_app.template_paths if "MemberRegional" in p.name and "stackset" in p.name)
    return [example_app.template_json(MEMBER_REGIONAL_STACK_NAME), json.loads(stack_set.read_text())]


def _carries(name: Any, part: dict[str, str]) -> bool:
    return isinstance(name, dict) and part in name.get("Fn::Join", ["", []])[1]


@pytest.mark.parametrize("kind", ["member stack", "StackSet template"])
def test_regional_template_has_no_account_wide_names(example_app: SynthesizedApp, kind: str) -> None:
    """The regional template lands in every Region of an account (the example has two): named IAM
    resources would collide, unless the name carries the Region (the operators' contract policies,
    which IAM Identity Center permission sets reference by name)."""
    template = _regional_templates(example_app)[["member stack", "StackSet template"].index(kind)]
    iam = {i: r for i, r in template["Resources"].items() if r["Type"].startswith("AWS::IAM::")}
    assert len(iam) > 5  # roles and policies exist; none of them may carry an account-wide name
    region = {"Ref": "AWS::Region"}
    named = [
        logical_id
        for logical_id, resource in iam.items()
        for key in {"RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName"}
        & set(resource["Properties"])
        if not _carries(resource["Properties"][key], region)
    ]
    assert named == []
    per_region = [i for i, r in iam.items() if "ManagedPolicyName" in r["Properties"]]
    # break-glass, session and password operators, session log readers, and the operators' CLI (2)
    assert len(per_region) == 6, per_region


@pytest.mark.parametrize(
    "handler",
    sorted([*ROOT.glob("lambdas/*/*.py"), *ROOT.glob("ssm_documents/scripts/*.py")]),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_handlers_import_only_boto3_and_the_standard_library(handler: Path) -> None:
    """Small cold starts and nothing to bundle: Lambda and Automation provide exactly these."""
    tree = ast.parse(handler.read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    # a module shipped next to the handler, in the same code asset, is no dependency
    siblings = {path.stem for path in handler.parent.glob("*.py")} if handler.parent.parent.name == "lambdas" else set()
    assert imported - sys.stdlib_module_names - {"boto3", "botocore", "__future__"} - siblings == set()
