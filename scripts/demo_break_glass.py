#!/usr/bin/env python3
"""A break-glass run end to end against moto, for the recording in docs/ (`make demo-break-glass`).

Starts moto's server on 127.0.0.1, publishes the operator settings and the break-glass document as
the stacks would, then runs the CLI unchanged through scripts/cli_on_moto.py, whose stand-ins play
the node (Online; stores a new password when the command arrives, before the CLI can read) and the
clean-up (deletes it after the TTL). AWS_ENDPOINT_URL points the CLI at moto. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
NODE = "i-0123456789abcdef0"
TTL_SECONDS = 15  # the stacks allow 10-3600; short, so the recording stays short
SETTINGS = {
    "version": 1,
    "break_glass": {
        "document": "SsmGuardrails-BreakGlass",
        "parameter_prefix": "/BreakGlass",
        "ttl_seconds": TTL_SECONDS,
        "reset_after_hours": 8,
        "sweep_interval_minutes": 1,
        "key_arn": f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
}
DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "stand-in for the break-glass document (moto runs no script)",
    "parameters": {"PasswordLength": {"type": "String", "default": "24"}},
    "mainSteps": [{"action": "aws:runShellScript", "name": "Reset", "inputs": {"runCommand": ["true"]}}],
}
CLI_ON_MOTO = Path(__file__).resolve().parent / "cli_on_moto.py"


def start_moto(settings: dict[str, Any], document: dict[str, Any]) -> tuple[ThreadedMotoServer, dict[str, str]]:
    """A moto server on 127.0.0.1 with the settings and the document published; the environment for the CLI."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log would fill the recording
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",  # moto accepts any credentials
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id="demo", aws_secret_access_key="demo")  # noqa: S106  # fmt: skip
    ssm.put_parameter(Name="/guardrails/operator-settings", Value=json.dumps(settings), Type="String", Overwrite=True)
    ssm.create_document(Name=settings["break_glass"]["document"], DocumentType="Command", DocumentFormat="JSON",
                        Content=json.dumps(document))  # fmt: skip
    return server, env


def main() -> int:
    server, env = start_moto(SETTINGS, DOCUMENT)
    alphabet = string.ascii_letters + string.digits + "!#%+,.=?@^_~-"
    scenario = {"node_password": "".join(secrets.choice(alphabet) for _ in range(24)), "ttl": TTL_SECONDS,
                "parameter_prefix": "/BreakGlass"}  # fmt: skip
    command = [sys.executable, str(CLI_ON_MOTO), "break-glass", NODE, "--reason", "INC-4711 root login broken"]
    print("$ ssm-guardrails break-glass", NODE, "--reason 'INC-4711 root login broken'", flush=True)
    try:
        return subprocess.call(command, env={**os.environ, **env, "CLI_ON_MOTO": json.dumps(scenario)})
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
