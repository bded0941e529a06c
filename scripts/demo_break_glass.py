#!/usr/bin/env python3
"""A break-glass run end to end against moto, for the recording in docs/ (`make demo-break-glass`).

Starts moto's server on 127.0.0.1, publishes the operator settings and the break-glass document as
the stacks would, then plays the node and the clean-up: when the command is sent, the "node" stores
a new password; when the TTL has passed, the "clean-up" deletes it. The CLI itself runs unchanged
(`ssm-guardrails break-glass ...`) with AWS_ENDPOINT_URL pointing at moto. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import subprocess
import sys
import threading
import time

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


def play_node_and_cleanup(ssm: object, stop: threading.Event) -> None:
    """The node's part (store a password once the command exists) and the clean-up's (delete it after the TTL)."""
    name = f"/BreakGlass/pwd-{NODE}"
    while not stop.is_set() and not ssm.list_commands()["Commands"]:
        time.sleep(0.2)
    alphabet = string.ascii_letters + string.digits + "!#%+,.=?@^_~-"
    ssm.put_parameter(Name=name, Value="".join(secrets.choice(alphabet) for _ in range(24)), Type="SecureString")
    stop.wait(TTL_SECONDS + 2)
    ssm.delete_parameter(Name=name)


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log would fill the recording
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": REGION,
    }
    ssm = boto3.client(
        "ssm",
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="demo",
        aws_secret_access_key="demo",  # noqa: S106 (moto accepts any credentials)
    )
    ssm.put_parameter(Name="/guardrails/operator-settings", Value=json.dumps(SETTINGS), Type="String")
    ssm.create_document(
        Name="SsmGuardrails-BreakGlass", DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(DOCUMENT)
    )
    stop = threading.Event()
    threading.Thread(target=play_node_and_cleanup, args=(ssm, stop), daemon=True).start()
    command = [
        sys.executable,
        "-m",
        "ssm_guardrails_cli",
        "break-glass",
        NODE,
        "--reason",
        "INC-4711 root login broken",
    ]
    print("$ ssm-guardrails break-glass", NODE, "--reason 'INC-4711 root login broken'", flush=True)
    try:
        return subprocess.call(command, env=env)
    finally:
        stop.set()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
