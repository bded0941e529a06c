"""Shared fixtures. Each app is synthesized once per test session and shared by every test."""

from __future__ import annotations

import os

import pytest
from aws_cdk import assertions
from cdk_helpers import SynthesizedApp, new_app

from stacks.build import MEMBER_REGIONAL_STACK_NAME, build_app
from stacks.config import load_config


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
    return example_app.template(MEMBER_REGIONAL_STACK_NAME)
