"""Helpers shared by the template tests: apps built like `cdk synth` builds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions

ROOT = Path(__file__).resolve().parents[1]
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
#: What the cdk CLI adds to every synth: resource paths and asset metadata (cfn-lint recognises
#: CDK templates by the paths and skips rules that do not apply to generated templates).
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def new_app(outdir: Path, **context: Any) -> cdk.App:
    """An app as app.py makes it, with the feature flags of cdk.json, so tests see what a real
    synth produces (templates are checked by cfn-lint, not by CDK's built-in validator)."""
    return cdk.App(
        context={**CDK_CONTEXT, **CLI_CONTEXT, **context}, outdir=str(outdir), builtin_cloud_formation_validation=False
    )


@dataclass(frozen=True)
class SynthesizedApp:
    app: cdk.App
    assembly: cdk.cx_api.CloudAssembly

    def stack(self, stack_name: str) -> cdk.cx_api.CloudFormationStackArtifact:
        """The stack artifact named ``stack_name``, in the app or any of its stages."""
        found = [stack for stack in self.assembly.stacks_recursively if stack.stack_name == stack_name]
        assert len(found) == 1, f"expected one stack named {stack_name}, found {len(found)}"
        return found[0]

    def template_json(self, stack_name: str) -> dict[str, Any]:
        return self.stack(stack_name).template

    def template(self, stack_name: str) -> assertions.Template:
        return assertions.Template.from_json(self.template_json(stack_name))

    @property
    def stack_names(self) -> list[str]:
        return [stack.stack_name for stack in self.assembly.stacks_recursively]

    @property
    def template_paths(self) -> list[Path]:
        """Every template file the app wrote: stacks of every stage and the StackSet templates."""
        directories = {
            Path(self.assembly.directory),
            *(Path(s.assembly.directory) for s in self.assembly.stacks_recursively),
        }
        return sorted(path for directory in directories for path in directory.glob("*.template.json"))


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def only_resource(template: dict[str, Any], resource_type: str, id_contains: str = "") -> dict[str, Any]:
    found = [r for i, r in resources_of(template, resource_type).items() if id_contains in i]
    assert len(found) == 1, f"expected one {resource_type} matching {id_contains!r}, found {len(found)}"
    return found[0]


def flatten(value: Any) -> str:
    """Render an Fn::Join string with every intrinsic as <Ref> / <Logical.Attr> (for JSON bodies)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise ValueError(f"cannot flatten {value!r}")


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_document["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def nag_findings(app: cdk.App) -> list[str]:
    """Every unacknowledged cdk-nag AwsSolutions finding, as 'rule at construct path: what'."""
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks(app).validate_scope(app)
    return [
        f"{violation.rule_name} at {resource.construct_path}: {violation.description.splitlines()[0]}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def rendered(value: Any) -> Any:
    """``value`` with every intrinsic string rendered by :func:`flatten`, so tests compare plain text."""
    if isinstance(value, dict) and ("Fn::Join" in value or "Ref" in value or "Fn::GetAtt" in value):
        return flatten(value)
    if isinstance(value, dict):
        return {k: rendered(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rendered(v) for v in value]
    return value
