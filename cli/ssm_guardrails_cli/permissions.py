"""The IAM actions each command calls, on which resources: the README's "permissions" table, what
`doctor` checks, and scenarios of the repository's IAM-simulator suite (so the CLI needs nothing
the controls do not grant)."""

from __future__ import annotations

from typing import NamedTuple

SETTINGS = "arn:{partition}:ssm:{region}:{account}:parameter/guardrails/operator-settings"


class Need(NamedTuple):
    action: str
    resource: str  # an ARN template: {partition} {region} {account} {node} {execution} and the control's settings
    context: dict[str, str | list[str]] = {}  # request context AWS adds (templates like resource)  # noqa: RUF012
    #: the command still works without it (it skips a check): doctor reports it, the command does not fail
    optional: bool = False


#: who runs a command -> the control that must be deployed for it
RUNNERS = {
    "break_glass_operator": "break_glass",
    "password_administrator": "password_rotation",
    "session_requester": "separation_of_duties",
    "session_approver": "separation_of_duties",
}
EXECUTION = "arn:{partition}:ssm:{home_region}:{account}:automation-execution/{execution}"
REQUEST_TAG: dict[str, str | list[str]] = {
    "aws:RequestTag/SsmGuardrailsRequest": "{runbook}",
    "aws:TagKeys": ["SsmGuardrailsRequest"],
}


#: Parameter Store decrypts a SecureString with the caller's credentials:
#: https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
def _decrypt(parameter: str) -> Need:
    return Need(
        "kms:Decrypt",
        "{key_arn}",
        {"kms:ViaService": "ssm.{region}.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": parameter},
    )


#: command -> (who runs it, the calls it makes)
COMMANDS: dict[str, tuple[str, list[Need]]] = {
    "break-glass": (
        "break_glass_operator",
        [
            Need("ssm:GetParameter", SETTINGS),
            # is the node online before anything is sent (skipped when not allowed)
            Need("ssm:DescribeInstanceInformation", "*", optional=True),
            Need("ssm:SendCommand", "arn:{partition}:ssm:{region}:{account}:document/{document}"),
            Need("ssm:SendCommand", "arn:{partition}:ec2:{region}:{account}:instance/{node}"),
            Need("ssm:GetCommandInvocation", "*"),
            Need("ssm:ListCommands", "*"),  # when the command was sent: the password must be newer
            Need("ssm:GetParameter", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_prefix}/pwd-{node}"),
            _decrypt("arn:{partition}:ssm:{region}:{account}:parameter{parameter_prefix}/pwd-{node}"),
        ],
    ),
    "password": (
        "password_administrator",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:GetParameter", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
            Need("ssm:GetParameterHistory", "arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
            _decrypt("arn:{partition}:ssm:{region}:{account}:parameter{parameter_path}/{node}"),
        ],
    ),
    "report rotation": (
        "password_administrator",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need(
                "lambda:InvokeFunction",
                "arn:{partition}:lambda:{region}:{account}:function:{freshness_report_function}",
            ),
        ],
    ),
    # the request carries the tag the operator policy requires and approvers are allowed to signal
    "request-session": (
        "session_requester",
        [
            Need("ssm:GetParameter", SETTINGS),
            # authorized on the runbook document and the new execution (and the optional automation
            # definition); the tag given at start needs AddTagsToResource on the new execution:
            # https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html
            *(
                Need("ssm:StartAutomationExecution", resource, REQUEST_TAG)
                for resource in (
                    "arn:{partition}:ssm:{home_region}:{account}:automation-definition/{runbook}:$DEFAULT",
                    "arn:{partition}:ssm:{home_region}:{account}:document/{runbook}",
                    EXECUTION,
                )
            ),
            Need("ssm:AddTagsToResource", EXECUTION, REQUEST_TAG),
            Need(
                "iam:PassRole",
                "arn:{partition}:iam::{account}:role/{runbook_role}",
                {"iam:PassedToService": "ssm.amazonaws.com"},
            ),
            Need("ssm:GetAutomationExecution", EXECUTION),
        ],
    ),
    "pending": (
        "session_approver",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:DescribeAutomationExecutions", "*"),
            Need("ssm:GetAutomationExecution", EXECUTION),
        ],
    ),
    "approve": (
        "session_approver",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:GetAutomationExecution", EXECUTION),
            Need("ssm:SendAutomationSignal", EXECUTION, {"aws:ResourceTag/SsmGuardrailsRequest": "{runbook}"}),
        ],
    ),
    # status and cancel look the id up as a command first (ListCommands), then as a session request
    "status (command)": ("break_glass_operator", [Need("ssm:GetParameter", SETTINGS), Need("ssm:ListCommands", "*")]),
    "cancel (command)": (
        "break_glass_operator",
        [Need("ssm:GetParameter", SETTINGS), Need("ssm:ListCommands", "*"), Need("ssm:CancelCommand", "*")],
    ),
    "status (request)": (
        "session_requester",
        [Need("ssm:GetParameter", SETTINGS), Need("ssm:GetAutomationExecution", EXECUTION)],
    ),
    # the runbook goes to its Revoke step on cancel, so a cancelled request leaves no grant behind
    "cancel (request)": (
        "session_requester",
        [
            Need("ssm:GetParameter", SETTINGS),
            Need("ssm:GetAutomationExecution", EXECUTION),
            Need("ssm:StopAutomationExecution", EXECUTION, {"aws:ResourceTag/SsmGuardrailsRequest": "{runbook}"}),
        ],
    ),
}
