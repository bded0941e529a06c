"""Every error as one line that names the account and Region and says what to do next.

Nothing here prints an exception's arguments unless they come from AWS or botocore (their messages
hold names, not secrets); an unexpected exception is reported by type and place only, because its
message or its locals could hold a password.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

from ssm_guardrails_cli.runtime import Exit, Runtime

NODE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")  # the runbook's and SendCommand's instance id forms
#: Run Command ids and Automation execution ids are both UUIDs
#: (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html,
#: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
#: STS/SigV4 answers for credentials that are expired or not valid (any service can return them)
EXPIRED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


#: AWS answers that need a hint: what they mean here and what to do
HINTS = {
    "InvalidInstanceId": "the node is not a managed node here, not running, or its SSM Agent is offline: "
    "check the id, --region and the node",
    "AutomationExecutionNotFoundException": "no such request here: check the id, --region and --profile",
    "InvalidCommandId": "no such command here: check the id, --region and --profile",
    "ParameterNotFound": "no such parameter here: check the node id and --region",
    "InvalidAutomationExecutionParametersException": "the deployed runbook does not take these parameters: "
    "update the stacks, or leave out --reason",
}


class CliError(Exception):
    """A failure the command explains itself: exit code and one line."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_node(node: str) -> None:
    if not NODE_ID.match(node):
        raise CliError(Exit.USAGE, f"NODE {node!r} is not a node id: i-0123456789abcdef0 or mi-0123456789abcdef0")


def check_id(value: str, what: str = "ID") -> None:
    if not UUID.match(value):
        raise CliError(
            Exit.USAGE, f"{what} {value!r} is not a command or execution id (a UUID, from the command's output)"
        )


def explain(rt: Runtime, error: BaseException) -> tuple[Exit, str]:
    """(exit code, one line) for anything a command raised."""
    if isinstance(error, CliError):
        return error.code, str(error)
    from botocore import exceptions as boto

    if isinstance(error, boto.ClientError):
        return _client_error(rt, error.response.get("Error", {}), error.operation_name)
    if isinstance(error, boto.ProfileNotFound):
        return Exit.CREDENTIALS, (
            f"AWS profile {rt.profile!r} is not configured: list yours with `aws configure list-profiles`"
        )
    if isinstance(error, boto.NoRegionError):
        return Exit.USAGE, "no AWS Region: pass --region, set AWS_REGION, or set region in your profile"
    if isinstance(error, boto.NoCredentialsError):
        return Exit.CREDENTIALS, "no AWS credentials: pass --profile, or sign in (`aws sso login`, `aws configure`)"
    if isinstance(error, boto.TokenRetrievalError | boto.SSOTokenLoadError | boto.UnauthorizedSSOTokenError):
        profile = f" --profile {rt.profile}" if rt.profile else ""
        return Exit.CREDENTIALS, f"your AWS sign-in has expired: run `aws sso login{profile}` and try again"
    if isinstance(error, boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ReadTimeoutError):
        return Exit.FAILED, f"cannot reach AWS ({error}): check the network, proxy and --region"
    if isinstance(error, boto.BotoCoreError):
        return Exit.FAILED, f"{type(error).__name__}: {error}"
    return Exit.FAILED, _unexpected(error)


def _client_error(rt: Runtime, aws: dict[str, Any], operation: str) -> tuple[Exit, str]:
    code = aws.get("Code", "")
    message = (aws.get("Message") or "").strip() or "(AWS gave no message)"
    if code in DENIED:
        return Exit.DENIED, (
            f"{operation} denied in {rt.where()}: {message}; run `ssm-guardrails doctor` to see what your role may run"
        )
    if code in EXPIRED:
        profile = f" --profile {rt.profile}" if rt.profile else ""
        return Exit.CREDENTIALS, (
            f"your AWS credentials were refused ({code}): sign in again (for example `aws sso login{profile}`)"
        )
    hint = f"; {HINTS[code]}" if code in HINTS else ""
    return Exit.FAILED, f"{operation} failed in {rt.where()}: {code}: {message}{hint}"


def _unexpected(error: BaseException) -> str:
    """Type and innermost place only: the message or the locals could hold a password."""
    frames = traceback.extract_tb(error.__traceback__)
    place = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return (
        f"unexpected {type(error).__name__}{place} (its text is not shown: it could hold a secret); "
        "please report it with the command you ran"
    )
