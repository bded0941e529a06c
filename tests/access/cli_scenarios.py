"""The operator CLI's own IAM needs (cli/ssm_guardrails_cli/permissions.py) as access scenarios.

Each call a CLI command makes becomes a scenario `cli.<command>.<n>`, expected allowed for the
role of the config that runs it, so the CLI needs nothing the controls do not grant. The
resources are the CLI's own ARN templates, filled with the example's names: the same templates
`ssm-guardrails doctor` checks.
"""

from __future__ import annotations

from typing import Any

from ssm_guardrails_cli.permissions import COMMANDS
from stacks.config import GuardrailsConfig

#: control of a command -> (the scenario principal that runs it, the control's name in the table)
RUNNERS = {
    "break_glass": ("break_glass_operator", "BreakGlass"),
    "password_rotation": ("password_administrator", "PasswordRotationWindow"),
}


def cli_scenarios(config: GuardrailsConfig) -> list[dict[str, Any]]:
    # {name} values of test_access.World.values(), kept as placeholders for the second formatting
    fill = {
        "partition": "aws",
        "region": "{region}",
        "account": "{account}",
        "node": "{instance_id}",
        "document": config.controls.break_glass.document_name,
        "parameter_prefix": config.controls.break_glass.parameter_prefix,
        "parameter_path": "/EC2Rescue/Passwords",
        "freshness_report_function": "{freshness_report_function}",
    }
    scenarios = []
    for command, (control, needs) in COMMANDS.items():
        principal, control_name = RUNNERS[control]
        key = "{break_glass_key}" if control == "break_glass" else "{rotation_key}"
        for index, need in enumerate(needs):
            values = {**fill, "key_arn": key}
            scenarios.append(
                {
                    "id": f"cli.{command.replace(' ', '-')}.{index}",
                    "control": control_name,
                    "as": principal,
                    "may": f"run `ssm-guardrails {command}`",
                    "action": need.action,
                    "resource": need.resource.format_map(values),
                    "context": {k: v.format_map(values) for k, v in need.context.items()},
                    "expect": "allowed",
                }
            )
    return scenarios
