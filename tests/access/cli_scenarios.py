"""The operator CLI's own IAM needs (cli/ssm_guardrails_cli/permissions.py) as access scenarios.

Each call a CLI command makes becomes a scenario `cli.<command>.<n>`, expected allowed for the
role of the config that runs it, so the CLI needs nothing the controls do not grant. The
resources are the CLI's own ARN templates, filled with the example's names: the same templates
`ssm-guardrails doctor` checks.
"""

from __future__ import annotations

import re
from typing import Any

from ssm_guardrails_cli.permissions import COMMANDS, RUNNERS
from stacks.config import GuardrailsConfig

#: control of a command -> its name in the scenario table
CONTROL_NAMES = {
    "break_glass": "BreakGlass",
    "password_rotation": "PasswordRotationWindow",
    "separation_of_duties": "SeparationOfDuties",
}
#: Calls the CLI can make that the stacks' policies deliberately do not grant; the suite expects them
#: denied. `ssm-guardrails cancel` of a break-glass command needs ssm:CancelCommand, which has no
#: resource types (Service Authorization Reference, Systems Manager): granted, it would let an operator
#: cancel the automatic reset of the password it just read. README "Operator CLI" says so.
NOT_GRANTED_YET = {
    ("break_glass_operator", "ssm:CancelCommand"),
}
KEYS = {"break_glass": "{break_glass_key}", "password_rotation": "{rotation_key}"}


def cli_scenarios(config: GuardrailsConfig) -> list[dict[str, Any]]:
    # {name} values of world.World.values(), kept as placeholders for the second formatting
    fill = {
        "partition": "aws",
        "region": "{region}",
        "account": "{account}",
        "node": "{instance_id}",
        "document": config.controls.break_glass.document_name,
        "parameter_prefix": config.controls.break_glass.parameter_prefix,
        "parameter_path": "/EC2Rescue/Passwords",
        "freshness_report_function": "{freshness_report_function}",
        "home_region": "{region}",
        "execution": "4f9b0c1e-1111-2222-3333-444455556666",
        "runbook": "AllowStartSsmSession",
        "runbook_role": "SsmSessionControlChangeMangerRole",
    }
    scenarios = []
    for command, (principal, needs) in COMMANDS.items():
        control = RUNNERS[principal]
        values = {**fill, "key_arn": KEYS.get(control, "")}
        # one call is authorized on every resource its needs name for the action (a command
        # lists SendCommand's document and node, StartAutomationExecution's three resources)
        calls: dict[tuple[str, str], list[Any]] = {}
        for need in needs:
            context_key = repr(sorted(need.context.items()))
            calls.setdefault((need.action, context_key), []).append(need)
        for index, same_call in enumerate(calls.values()):
            first = same_call[0]
            scenarios.append(
                {
                    "id": f"cli.{re.sub(r'[^a-z0-9]+', '-', command).strip('-')}.{index}",
                    "control": CONTROL_NAMES[control],
                    "as": principal,
                    **_verdict(principal, first.action, f"run `ssm-guardrails {command}`"),
                    "action": first.action,
                    "resource": [need.resource.format_map(values) for need in same_call],
                    "context": {k: _filled(v, values) for k, v in first.context.items()},
                }
            )
    return scenarios


def _filled(value: str | list[str], values: dict[str, str]) -> str | list[str]:
    return [v.format_map(values) for v in value] if isinstance(value, list) else value.format_map(values)


def _verdict(principal: str, action: str, what: str) -> dict[str, str]:
    if (principal, action) in NOT_GRANTED_YET:
        return {"may_not": f"{what} fully (not granted: {action})", "expect": "denied"}
    return {"may": what, "expect": "allowed"}
