"""Shared fixtures. Each app is synthesized once per test session (once per xdist worker) and shared
by every test; botocore reads each of its model files once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import botocore.loaders
import botocore.session
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


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every botocore session of the run shares one data loader, so each model file is parsed once.

    ``mock_aws`` gives each test a new default boto3 session (moto's ``reset_boto3_session``), and a
    new session parses botocore's JSON again: the endpoints, then each service's model, about 0.1-0.4 s
    per test, most of the suite's moto set-up. The loader holds only those read-only files (the same
    sharing every client of one session already has); each test still gets its own session, clients,
    credentials and moto backends. boto3 appends its own data folder to the loader on every session:
    duplicates are dropped so the search path stays as it is for one session.
    """
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = loaders.get(search_path_string)
        if loader is None:
            loader = loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
        loader.search_paths[:] = dict.fromkeys(loader.search_paths)
        return loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared_loader)
        yield


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
