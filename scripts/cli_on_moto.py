#!/usr/bin/env python3
"""Run the operator CLI, unchanged, against a moto server, with stand-ins for what moto cannot do.

`make demo-break-glass` and the terminal tests (tests/cli/test_cli_terminal.py) start the CLI through
this file in a real terminal. AWS_ENDPOINT_URL points boto3 at the moto server on 127.0.0.1. The
stand-ins, registered on the CLI's own clients before any call, play:

- the node: DescribeInstanceInformation answers Online (moto lacks it), and when SendCommand
  succeeds the node stores ``node_password`` at once (as the document does before it ends, so the
  CLI never reads before the node wrote: the demo's old race);
- the clean-up: it deletes the password ``ttl`` seconds after storing it;
- optionally a command that never ends (``command_status``), and Automation executions that moto
  lacks (``automation``: StartAutomationExecution returns ``execution_id``, GetAutomationExecution
  answers the listed executions in turn, the last one from then on);
- ``fail_after_password``: an exception raised once the password is read, before it is shown (the leak test);
- ``poll_seconds``: shorter polling, so a test waits less.

The scenario is JSON in the environment variable CLI_ON_MOTO. Nothing here reaches AWS.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from ssm_guardrails_cli import app, passwords, sessions
from ssm_guardrails_cli.runtime import Runtime

SCENARIO: dict[str, Any] = json.loads(os.environ.get("CLI_ON_MOTO", "{}"))


def _answer(client: Any, operation: str, respond: Any) -> None:
    def handler(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("http://127.0.0.1", 200, {}, None), respond(json.loads(params["body"] or b"{}"))

    client.meta.events.register(f"before-call.ssm.{operation}", handler)


def _dates(value: Any) -> Any:
    """ISO strings of *Time keys as the datetimes botocore would parse."""
    if isinstance(value, dict):
        return {k: (datetime.fromisoformat(v) if k.endswith("Time") else _dates(v)) for k, v in value.items()}
    return [_dates(v) for v in value] if isinstance(value, list) else value


def _play_node(ssm: Any) -> None:
    _answer(ssm, "DescribeInstanceInformation", lambda p: {"InstanceInformationList": [
        {"InstanceId": p["Filters"][0]["Values"][0], "PingStatus": "Online", "PlatformType": "Linux"}]})  # fmt: skip
    if "command_status" in SCENARIO:
        _answer(ssm, "GetCommandInvocation", lambda p: {"CommandId": p["CommandId"], "InstanceId": p["InstanceId"],
                "DocumentName": "", "Status": SCENARIO["command_status"]})  # fmt: skip
    if "node_password" in SCENARIO:
        writer = boto3.client("ssm")

        def store(parsed: dict[str, Any], **_: Any) -> None:
            name = f"{SCENARIO['parameter_prefix']}/pwd-{parsed['Command']['InstanceIds'][0]}"
            writer.put_parameter(Name=name, Value=SCENARIO["node_password"], Type="SecureString", Overwrite=True)
            clean_up = threading.Timer(SCENARIO.get("ttl", 15) - 0.3, writer.delete_parameter, kwargs={"Name": name})
            clean_up.daemon = True
            clean_up.start()

        ssm.meta.events.register("after-call.ssm.SendCommand", store)


def _play_automation(ssm: Any) -> None:
    answers = [_dates(a) for a in SCENARIO.get("automation", [])]
    if not answers:
        return
    _answer(ssm, "StartAutomationExecution", lambda p: {"AutomationExecutionId": SCENARIO["execution_id"]})
    _answer(ssm, "GetAutomationExecution", lambda p: {"AutomationExecution": answers.pop(0) if len(answers) > 1
            else answers[0]})  # fmt: skip


def _with_stand_ins(client: Any) -> Any:
    def client_with_stand_ins(self: Runtime, service: str, region: str | None = None) -> Any:
        known = (service, region or self.region) in self._clients
        made = client(self, service, region)
        if service == "ssm" and not known:
            _play_node(made)
            _play_automation(made)
        return made

    return client_with_stand_ins


def main() -> None:
    Runtime.client = _with_stand_ins(Runtime.client)  # type: ignore[method-assign]
    passwords.POLL_SECONDS = sessions.POLL_SECONDS = SCENARIO.get("poll_seconds", passwords.POLL_SECONDS)
    if SCENARIO.get("fail_after_password"):
        read = passwords.read_secret_after

        def read_then_fail(*args: Any) -> Any:
            password = read(*args).value  # a local holding the password, as in the crash the review found
            raise RuntimeError(f"injected failure after the password {password} was known")

        passwords.read_secret_after = read_then_fail  # type: ignore[assignment]
    sys.argv[0] = "ssm-guardrails"
    app.main()


if __name__ == "__main__":
    main()
