"""Who makes each AWS call the code makes: one table, code location -> principal(s) of scenarios.yaml.

A location is a path (a file, or a directory ending in "/": every call in it), ``<path>::<function>``
(the calls of that Python function, or of that document step), or ``template::<logical id prefix>``
(a state machine or a custom resource of a synthesized template). The most specific location wins.
A new handler, command or resource gets its row here; its calls then need allowed scenarios
(tests/access/test_code_calls.py).

A location whose calls are made by a principal this project does not grant maps to a ``NotGranted``
with the reason the README gives; its calls are listed, not judged. So are the CLI calls the stacks
do not grant yet (cli_scenarios.NOT_GRANTED_YET, whose scenarios expect them denied until then).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cli_scenarios import NOT_GRANTED_YET
from code_calls import CodeCall, iam_actions


@dataclass(frozen=True)
class NotGranted:
    reason: str


CLI_RUNNERS = ("break_glass_operator", "password_administrator", "session_requester", "session_approver")
CLI = "cli/ssm_guardrails_cli/"

CALLERS: dict[str, tuple[str, ...] | NotGranted] = {
    # Lambda functions: their execution roles
    "lambdas/break_glass_cleanup/": ("break_glass_cleanup",),
    "lambdas/rotation_freshness/": ("freshness_report",),
    "lambdas/session_prefs/": ("session_prefs_handler",),
    "lambdas/session_tag_sweeper/": ("session_sweeper",),
    "lambdas/session_grant/": ("session_grant_function",),
    "lambdas/code_version_reader/": ("code_version_reader",),
    # Automation scripts and steps: the document's assume role
    "ssm_documents/scripts/session_window.py": ("session_runbook",),
    "ssm_documents/scripts/access_key_report.py": ("access_key_remediation",),
    "ssm_documents/access_key_remediation.yaml": ("access_key_remediation",),
    # State machines and custom resources (template::<logical id prefix>): their roles
    "template::BreakGlassCleanupStateMachine": ("break_glass_state_machine",),
    # The operator CLI: the role of the config that runs the command (cli/.../permissions.py RUNNERS)
    f"{CLI}settings.py::load_settings": CLI_RUNNERS,
    f"{CLI}nodes.py::managed_node": ("break_glass_operator",),
    f"{CLI}passwords.py::run_break_glass": ("break_glass_operator",),
    f"{CLI}passwords.py::_send": ("break_glass_operator",),
    f"{CLI}passwords.py::_invocation": ("break_glass_operator",),
    f"{CLI}passwords.py::poll": ("break_glass_operator",),
    f"{CLI}secret_text.py::read_secret": ("break_glass_operator", "password_administrator"),
    f"{CLI}reports.py::run_rotation_report": ("password_administrator",),
    f"{CLI}reports.py::run_access_key_report": NotGranted(
        "README: no role of the config has config:GetComplianceDetailsByConfigRule; grant it to whoever reports"
    ),
    f"{CLI}reports.py::_user_names": NotGranted(
        "README: no role of the config has config:ListDiscoveredResources; grant it to whoever reports"
    ),
    f"{CLI}sessions.py::_start": ("session_requester",),
    f"{CLI}sessions.py::_decision": ("session_requester",),
    f"{CLI}approvals.py::run_pending": ("session_approver",),
    f"{CLI}approvals.py::_pending_row": ("session_approver",),
    f"{CLI}approvals.py::run_approve": ("session_approver",),
    f"{CLI}tracking.py::_find": ("break_glass_operator", "session_requester"),
    f"{CLI}tracking.py::run_cancel": ("break_glass_operator", "session_requester"),
    f"{CLI}runtime.py::where": NotGranted("sts:GetCallerIdentity needs no permission (the account in messages)"),
    f"{CLI}doctor.py::run_doctor": NotGranted("sts:GetCallerIdentity needs no permission"),
    f"{CLI}doctor.py::runbook_check": NotGranted("README: doctor reads the runbook's versions only if allowed"),
    f"{CLI}doctor.py::_caller_role": NotGranted("README: doctor reads your own role with iam:GetRole only if allowed"),
    f"{CLI}doctor.py::_may_run": NotGranted("README: doctor uses iam:SimulatePrincipalPolicy only if allowed"),
    f"{CLI}trails.py::covering_trail": NotGranted(
        "README: doctor and make preflight read the CloudTrail trails where the caller may (no role of the config)"
    ),
}


#: Calls the example configuration never makes: (location, IAM action, principal) -> when they are
#: made. Listed, not judged; each row must match a call (test_every_row_of_the_tables_is_used).
CONDITIONAL: dict[tuple[str, str, str], str] = {
    (f"{CLI}secret_text.py::read_secret", "ssm:GetParameterHistory", "break_glass_operator"):
        "break-glass reads its password with with_writer=False (no history)",
    (f"{CLI}tracking.py::_find", "ssm:ListCommands", "session_requester"):
        "status/cancel: a session requester may not list commands; the id is then looked up as a request",
    (f"{CLI}tracking.py::_find", "ssm:GetAutomationExecution", "break_glass_operator"):
        "status/cancel: a break-glass operator's ids are commands, found by ListCommands first",
    (f"{CLI}tracking.py::run_cancel", "ssm:CancelCommand", "session_requester"):
        "cancel: a session requester's ids are requests (StopAutomationExecution)",
    (f"{CLI}tracking.py::run_cancel", "ssm:StopAutomationExecution", "break_glass_operator"):
        "cancel: a break-glass operator's ids are commands (CancelCommand)",
    ("ssm_documents/scripts/access_key_report.py", "iam:UpdateAccessKey", "access_key_remediation"):
        "only with deactivate_after_days > 0; the example's 0 is asserted by access-keys.remediate.abuse.deactivate",
    ("lambdas/session_grant/index.py::_userid", "iam:GetUser", "session_grant_function"):
        "only for the construct's operator_users (IAM users), which the config does not offer",
}  # fmt: skip


def conditional(call: CodeCall, action: str, principal: str) -> bool:
    return any(
        (location, action, principal) in CONDITIONAL for location in (f"{call.file}::{call.function}", call.file)
    )


def principals_of(
    call: CodeCall, table: dict[str, tuple[str, ...] | NotGranted] = CALLERS
) -> tuple[str, ...] | NotGranted | None:
    """The principals of ``call``'s location (None: the location has no row)."""
    keys = [f"template::{call.function}"] if call.line == 0 else [f"{call.file}::{call.function}", call.file]
    keys += [prefix for prefix in table if prefix.endswith("/") and call.file.startswith(prefix)]
    for key in keys:
        for location, principals in table.items():
            if key == location or (location.startswith("template::") and key.startswith(location)):
                return principals
    return None


def uncovered(
    calls: Iterable[CodeCall], allowed: set[tuple[str, str]], table: dict[str, tuple[str, ...] | NotGranted] = CALLERS
) -> list[str]:
    """Each call whose location has no principal, or whose IAM action has no allowed scenario
    (``allowed``: (principal, action) pairs) for a principal of its location: file, line, why."""
    problems = []
    for call in calls:
        principals = principals_of(call, table)
        if principals is None:
            problems.append(
                f"{call.where}: {call.service}.{call.operation}: no principal for this code location (add it to code_principals.CALLERS)"
            )
            continue
        if isinstance(principals, NotGranted):
            continue
        for principal in principals:
            for action in iam_actions(call):
                if (principal, action) in NOT_GRANTED_YET or conditional(call, action, principal):
                    continue
                if (principal, action) not in allowed:
                    problems.append(
                        f"{call.where}: {action} ({call.service}.{call.operation}) has no allowed scenario as {principal}"
                    )
    return problems
