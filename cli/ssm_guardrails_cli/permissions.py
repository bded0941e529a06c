"""The IAM actions each command calls, on which resources: the README's "permissions" table, what
`doctor` checks, and scenarios of the repository's IAM-simulator suite (so the CLI needs nothing
the controls do not grant)."""

from __future__ import annotations

from typing import NamedTuple

SETTINGS = "arn:{partition}:ssm:{region}:{account}:parameter/guardrails/operator-settings"


class Need(NamedTuple):
    action: str
    resource: str  # an ARN template: {partition} {region} {account} {node} and the control's settings
    context: dict[str, str] = {}  # request context AWS adds (templates like resource)  # noqa: RUF012


#: Parameter Store decrypts a SecureString with the caller's credentials:
#: https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
def _decrypt(parameter: str) -> Need:
    return Need(
        "kms:Decrypt",
        "{key_arn}",
        {"kms:ViaService": "ssm.{region}.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": parameter},
    )


#: command -> (control whose operators run it, the calls it makes)
COMMANDS: dict[str, tuple[str, list[Need]]] = {
    "break-glass": (
        "break_glass",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:SendCommand", "arn:{partition}:ssm:{region}:{account}:document/{document}"),
            Need("ssm:SendCommand", "arn:{partition}:ec2:{region}:{account}:instance/{node}"),
            Need("ssm:GetCommandInvocation", "*"),
            Need("ssm:GetParameter", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_prefix}/pwd-{node}"),
            _decrypt("arn:{partition}:ssm:{region}:{account}:parameter{parameter_prefix}/pwd-{node}"),
        ],
    ),
    "password": (
        "password_rotation",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:GetParameter", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
            Need("ssm:GetParameterHistory", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
            _decrypt("arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
        ],
    ),
    "report rotation": (
        "password_rotation",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need(
                "lambda:InvokeFunction",
                "arn:{partition}:lambda:{region}:{account}:function:{freshness_report_function}",
            ),
        ],
    ),
}
