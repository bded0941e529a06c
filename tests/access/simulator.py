"""Bridge from pytest to the offline IAM simulator.

`simulate` sends a whole batch of scenarios to ONE Node process (tests/access/simulate.js, which
runs @cloud-copilot/iam-simulate, pinned in package.json) and returns, per scenario id, the
decision (allowed, implicitly denied, explicitly denied) with the decisive statements. A
session fixture calls it once with every scenario of the session: starting Node and loading the
service reference costs about a second, a scenario about a millisecond.

A scenario the simulator cannot judge faithfully fails loudly, never with a silent decision:
an action or service that does not exist (this is how an invented action name is caught), an
ARN of no resource type of the action, a context key the action does not have, a context value
of the wrong type, an unknown condition key or operator, or a policy that does not validate.
`simulate` raises an AssertionError that lists every such id with its errors.

Protocol (one JSON list each way; the Python side builds it, tests rarely need it):
    request: {"id", "identityPolicies": [{"name", "policy"}], "resourcePolicy": doc | null,
              "scps": [doc], "permissionBoundaries": [doc], "standIns": bool,
              "request": {"principal", "action", "resource": {"resource", "accountId"},
                          "contextVariables": {key: str | [str]}}}
    result:  {"id", "decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | null,
              "statements": [{"policyType", "policy", "sid", "index"}], "errors": [str],
              "warnings": [str], "standIns": {key: stand-in key}}

The simulator is AGPL-3.0-or-later. It is a test-time tool only: it is never bundled into an
asset or distributed with the constructs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("simulate.js")
SIMULATOR_PACKAGE = "@cloud-copilot/iam-simulate"
#: The Node.js majors the Makefile accepts from PATH; any other major uses the pinned .node/.
SUPPORTED_NODE_MAJORS = (22, 24)
LOCAL_NODE = ROOT / ".node" / "node_modules" / ".bin" / "node"
BATCH_TIMEOUT_SECONDS = 300

_ACCOUNT = re.compile(r"^\d{12}$")


class SimulatorUnavailable(RuntimeError):
    """Node or the pinned simulator is missing: the machine is not bootstrapped."""


class Decision(StrEnum):
    """The final decision of AWS's policy evaluation for one request.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
    """

    ALLOWED = "Allowed"
    IMPLICIT_DENY = "ImplicitlyDenied"
    EXPLICIT_DENY = "ExplicitlyDenied"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOWED

    @property
    def denied(self) -> bool:
        return self is not Decision.ALLOWED


@dataclass(frozen=True)
class Request:
    """One API call as AWS authorizes it: who, which action, on which resource, with which
    request context. Context keys are exactly those AWS would send; the simulator adds none
    (not even aws:PrincipalArn or aws:userid), so a policy variable such as ${aws:userid} needs
    its key here. `resource_account` defaults to the account in the ARN, or the principal's
    account for "*"; pass it for ARNs without an account (S3 buckets)."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_account: str | None = None


@dataclass(frozen=True)
class PolicySet:
    """The policies that apply to one request.

    identity: the principal's identity policies, as documents (named identity[0], identity[1],
        ...) or as a mapping name -> document (the names appear in the decisive statements).
    resource: the resource's policy (bucket, topic, key or trust policy), if any.
    scps: SCPs attached to the principal's account, evaluated next to AWS's default
        FullAWSAccess SCP; empty means the account is in no organization.
    boundary: the principal's permissions boundary, if any.
    """

    identity: Sequence[dict[str, Any]] | Mapping[str, dict[str, Any]] = ()
    resource: dict[str, Any] | None = None
    scps: Sequence[dict[str, Any]] = ()
    boundary: dict[str, Any] | None = None

    def named_identity(self) -> list[tuple[str, dict[str, Any]]]:
        if isinstance(self.identity, Mapping):
            if "Statement" in self.identity:
                raise TypeError("PolicySet.identity takes a list of policy documents or a mapping name -> document")
            return [(str(name), doc) for name, doc in self.identity.items()]
        return [(f"identity[{index}]", doc) for index, doc in enumerate(self.identity)]


@dataclass(frozen=True)
class Statement:
    """A decisive statement: the policy type (identity, resource, scp, pb), the policy's name
    (None for a resource policy), the statement's Sid and 1-based index."""

    policy_type: str
    policy: str | None
    sid: str | None
    index: int | None

    def __str__(self) -> str:
        policy = f" '{self.policy}'" if self.policy else ""
        statement = f" statement '{self.sid}'" if self.sid else (f" statement #{self.index}" if self.index else "")
        return f"{self.policy_type} policy{policy}{statement}"


@dataclass(frozen=True)
class Result:
    """The simulator's answer for one scenario.

    decision: None when `errors` is not empty (the request could not be judged).
    statement: the first decisive statement: for an allow the first granting statement, for an
        explicit deny the denying statement; None for an implicit deny, where no statement
        decides (`statements` then names the policy types that lack an allow).
    warnings: things the evaluation depended on that the request lacked (a policy variable or
        a condition key missing from the request context), so a deny may be for the wrong reason.
    stand_ins: context keys the bridge renamed around a simulator gap (see simulate.js).
    """

    decision: Decision | None
    statement: Statement | None
    errors: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()
    warnings: tuple[str, ...] = ()
    stand_ins: Mapping[str, str] = field(default_factory=dict)


Scenario = tuple[str, PolicySet, Request]


def simulate(
    batch: Sequence[Scenario], *, check: bool = True, without_stand_ins: Collection[str] = ()
) -> dict[str, Result]:
    """Run every scenario of `batch` in one Node process; return the results by scenario id.

    check: raise an AssertionError listing every scenario the simulator rejected.
    without_stand_ins: ids sent without the bridge's stand-in keys, only for the test that
        proves the simulator gap they work around still exists.
    """
    ids = [scenario_id for scenario_id, _, _ in batch]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate scenario ids: {', '.join(duplicates)}")
    items = []
    local_errors: dict[str, list[str]] = {}
    for scenario_id, policies, request in batch:
        item, errors = _request_json(scenario_id, policies, request, stand_ins=scenario_id not in without_stand_ins)
        items.append(item)
        local_errors[scenario_id] = errors
    raw = _run(items)
    results = {}
    for entry in raw:
        scenario_id = entry["id"]
        errors = tuple(local_errors.get(scenario_id, [])) + tuple(entry["errors"])
        statements = tuple(
            Statement(s["policyType"], s.get("policy"), s.get("sid"), s.get("index")) for s in entry["statements"]
        )
        decision = Decision(entry["decision"]) if entry["decision"] and not errors else None
        decisive = statements[0] if statements and decision in (Decision.ALLOWED, Decision.EXPLICIT_DENY) else None
        results[scenario_id] = Result(
            decision=decision,
            statement=decisive,
            errors=errors,
            statements=statements,
            warnings=tuple(entry["warnings"]),
            stand_ins=dict(entry["standIns"]),
        )
    missing = set(ids) - set(results)
    if missing:
        raise RuntimeError(f"the simulator returned no result for: {', '.join(sorted(missing))}")
    if check:
        raise_for_invalid(results)
    return results


def raise_for_invalid(results: Mapping[str, Result]) -> None:
    """AssertionError listing every scenario the simulator could not judge, with its errors."""
    invalid = {scenario_id: result.errors for scenario_id, result in results.items() if result.errors}
    if not invalid:
        return
    lines = [
        f"the IAM simulator rejected {len(invalid)} of {len(results)} scenarios (an unknown action, "
        "an ARN of the wrong resource type, an unknown or mistyped context key, or an invalid policy):"
    ]
    for scenario_id, errors in sorted(invalid.items()):
        lines.append(f"  {scenario_id}:")
        lines.extend(f"    - {error}" for error in errors)
    raise AssertionError("\n".join(lines))


# ---------------------------------------------------------------------------------------------


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT.match(parts[4]):
        return parts[4]
    return None


def _request_json(
    scenario_id: str, policies: PolicySet, request: Request, *, stand_ins: bool
) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    account = request.resource_account or _account_of(request.resource)
    if account is None and request.resource == "*":
        account = _account_of(request.principal)
    if account is None:
        errors.append(f"no account for resource '{request.resource}': pass Request(resource_account=...)")
        account = "000000000000"
    context: dict[str, str | list[str]] = {}
    for key, value in request.context.items():
        if isinstance(value, str):
            context[key] = value
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            context[key] = list(value)
        else:
            errors.append(f"context key '{key}': values must be strings, got {value!r}")
    item = {
        "id": scenario_id,
        "identityPolicies": [{"name": name, "policy": doc} for name, doc in policies.named_identity()],
        "resourcePolicy": policies.resource,
        "scps": list(policies.scps),
        "permissionBoundaries": [policies.boundary] if policies.boundary is not None else [],
        "standIns": stand_ins,
        "request": {
            "principal": request.principal,
            "action": request.action,
            "resource": {"resource": request.resource, "accountId": account},
            "contextVariables": context,
        },
    }
    return item, errors


def _run(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        return []
    _check_installed()
    completed = subprocess.run(
        [node_executable(), str(SCRIPT)],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=BATCH_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode == 3:
        raise SimulatorUnavailable(completed.stderr.strip())
    if completed.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed (exit {completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout)


def _check_installed() -> None:
    """The simulator in node_modules is the version package.json pins (npm ci installs it)."""
    installed = ROOT / "node_modules" / SIMULATOR_PACKAGE / "package.json"
    if not installed.is_file():
        raise SimulatorUnavailable(
            f"{SIMULATOR_PACKAGE} is not installed in {ROOT / 'node_modules'}: run `make bootstrap` (npm ci)"
        )
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"].get(SIMULATOR_PACKAGE)
    version = json.loads(installed.read_text())["version"]
    if pinned and pinned != version:
        raise SimulatorUnavailable(
            f"node_modules has {SIMULATOR_PACKAGE} {version}, package.json pins {pinned}: run `make bootstrap` (npm ci)"
        )


@functools.cache
def node_executable() -> str:
    """Node.js as the Makefile picks it: the one on PATH when it is a supported major (make test
    has already put .node/ first when needed), else the pinned .node/ install, else any node on
    PATH (the simulator itself runs on any current Node.js)."""
    on_path = shutil.which("node", path=os.environ.get("PATH", os.defpath))
    if on_path and _node_major(on_path) in SUPPORTED_NODE_MAJORS:
        return on_path
    if LOCAL_NODE.exists():
        return str(LOCAL_NODE)
    if on_path:
        return on_path
    raise SimulatorUnavailable("Node.js is not on PATH and .node/ is not installed: run `make bootstrap`")


def _node_major(node: str) -> int | None:
    try:
        completed = subprocess.run(
            [node, "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True, timeout=30, check=True
        )
        return int(completed.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
