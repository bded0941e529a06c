"""Fixtures of the operator CLI tests (helpers: cli_helpers.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cli_helpers import REGION, SETTINGS
from moto import mock_aws

from ssm_guardrails_cli.settings import SETTINGS_PARAMETER


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(SETTINGS), Type="String")
        ssm.create_document(
            Name=SETTINGS["break_glass"]["document"],
            DocumentType="Command",
            DocumentFormat="JSON",
            Content=json.dumps(
                {"schemaVersion": "2.2", "description": "fake", "parameters": {"PasswordLength": {"type": "String"}},
                 "mainSteps": [{"action": "aws:runShellScript", "name": "x", "inputs": {"runCommand": ["true"]}}]}
            ),
        )  # fmt: skip
        yield ssm


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
