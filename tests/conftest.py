"""Shared fixtures. Each app is synthesized once per test session and shared by every test."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from stacks.build import MEMBER_STACK_NAME, build_app
from stacks.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


def new_app(outdir: Path, **context: Any) -> cdk.App:
    """An app with the feature flags of cdk.json, so tests see what a real synth produces."""
    return cdk.App(context={**CDK_CONTEXT, **context}, outdir=str(outdir))


@dataclass(frozen=True)
class SynthesizedApp:
    app: cdk.App
    assembly: cdk.cx_api.CloudAssembly

    def template_json(self, stack_name: str) -> dict[str, Any]:
        return self.assembly.get_stack_by_name(stack_name).template

    def template(self, stack_name: str) -> assertions.Template:
        return assertions.Template.from_json(self.template_json(stack_name))

    @property
    def stack_names(self) -> list[str]:
        return [stack.stack_name for stack in self.assembly.stacks]


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> None:
    """Nothing in the suite may reach AWS: fake credentials, no profile, one Region."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


@pytest.fixture(scope="session")
def example_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The example configuration, exactly as `make synth` builds it (without the nag plugin,
    which tests/test_nag.py runs over this same tree)."""
    app = new_app(tmp_path_factory.mktemp("example.out"))
    build_app(app, load_config("example"))
    return SynthesizedApp(app, app.synth())


@pytest.fixture(scope="session")
def member_template(example_app: SynthesizedApp) -> assertions.Template:
    return example_app.template(MEMBER_STACK_NAME)
