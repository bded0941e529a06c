"""Every EventBridge rule with an event pattern, matched against AWS-documented sample events.

For each rule (in every synthesized template: stacks of every stage and the StackSet templates)
the documented sample of its source must match, and near misses (another document, another status,
another detail-type) must not. The samples are data files in tests/events/, each with the page it
comes from; a case may set the fields the rule pins (document name, window id) from the
synthesized pattern, and everything else stays as documented.

The matcher is in-process: moto 5 does not implement TestEventPattern (its events backend raises
NotImplementedError), so ``matches`` implements the content-filtering rules the rules here use:
- an event matches when every field of the pattern matches, nested objects included, and it must
  contain every field the pattern names
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html);
- a field matches when any value of its array matches; when the event's value is an array, when
  any of its items does
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html);
- ``prefix``, ``suffix``, ``anything-but`` (value, list, or prefix/suffix) and ``exists``
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
Any other operator raises, so a rule that starts using one fails here until the matcher learns it.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from cdk_helpers import SynthesizedApp, resources_of

EVENTS = Path(__file__).parent / "events"

INVOCATION = "run_command_invocation_status_change.json"
COMMAND = "run_command_status_change.json"
CLOUDTRAIL = "ssm_api_call_via_cloudtrail.json"
KMS_CLOUDTRAIL = "kms_api_call_via_cloudtrail.json"
WINDOW_TASK = "maintenance_window_task_execution_state_change.json"
WINDOW_TARGET = "maintenance_window_task_target_invocation_state_change.json"
WINDOW_EXECUTION = "maintenance_window_execution_state_change.json"
EVENTS_CLOUDTRAIL = "events_api_call_via_cloudtrail.json"
STATES_CLOUDTRAIL = "states_api_call_via_cloudtrail.json"
LAMBDA_CLOUDTRAIL = "lambda_api_call_via_cloudtrail.json"
IAM_CLOUDTRAIL = "iam_api_call_via_cloudtrail.json"

Value = Any | Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Case:
    sample: str
    matches: bool
    why: str
    #: dotted paths into the event set to the pattern's literal value at the same path
    fill: tuple[str, ...] = ()
    #: dotted paths into the event set to a value (or to a function of the rendered pattern)
    change: dict[str, Value] = field(default_factory=dict)


def literal(pattern: dict[str, Any], path: str) -> Any:
    """The first plain value the pattern accepts at ``path``."""
    return next(value for value in _at(pattern, path) if not isinstance(value, dict))


def operand(pattern: dict[str, Any], path: str, operator: str) -> Any:
    return next(value[operator] for value in _at(pattern, path) if isinstance(value, dict) and operator in value)


def _at(document: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        document = document[key]
    return document


def _key_arn(pattern: dict[str, Any]) -> str:
    """The key ARN the pattern accepts (its keyId list is [key id, key ARN])."""
    return next(value for value in _at(pattern, "detail.requestParameters.keyId") if value.startswith("arn:"))


def _document_arn(pattern: dict[str, Any]) -> str:
    return "arn:aws:ssm:us-east-2:123456789012" + operand(pattern, "detail.requestParameters.documentName", "suffix")


#: Samples for every rule with an event pattern, by logical id (fnmatch). Statuses are values of the
#: API's status enums (checked below).
CASES: dict[str, list[Case]] = {
    "BreakGlassCommandFinishedRule*": [
        Case(INVOCATION, True, "documented event for our document; Success is final", fill=("detail.document-name",)),
        Case(INVOCATION, True, "a failed run is final too", ("detail.document-name",), {"detail.status": "Failed"}),
        Case(INVOCATION, False, "as documented: another document (AWS-RunPowerShellScript)"),
        Case(INVOCATION, False, "InProgress is not final", ("detail.document-name",), {"detail.status": "InProgress"}),
        Case(INVOCATION, False, "Cancelling is not final", ("detail.document-name",), {"detail.status": "Cancelling"}),
        Case(COMMAND, False, "the command-level event, not the per-node one", fill=("detail.document-name",)),
    ],
    "BreakGlassCommandStartedRule*": [
        Case(
            CLOUDTRAIL,
            True,
            "SendCommand naming our document",
            fill=("detail.eventName", "detail.requestParameters.documentName"),
        ),
        Case(
            CLOUDTRAIL,
            True,
            "SendCommand naming our document by ARN",
            fill=("detail.eventName",),
            change={"detail.requestParameters.documentName": _document_arn},
        ),
        Case(CLOUDTRAIL, False, "as documented: DeleteDocument"),
        Case(
            CLOUDTRAIL,
            False,
            "SendCommand of another document",
            fill=("detail.eventName",),
            change={"detail.requestParameters.documentName": "AWS-RunShellScript"},
        ),
        Case(
            CLOUDTRAIL,
            False,
            "SendCommand of a document whose name only ends like ours",
            fill=("detail.eventName",),
            change={
                "detail.requestParameters.documentName": lambda p: (
                    "Copy" + literal(p, "detail.requestParameters.documentName")
                )
            },
        ),
    ],
    "*VaultKeyChangedRule*": [
        Case(KMS_CLOUDTRAIL, True, "PutKeyPolicy on our password key, by key id", ("detail.requestParameters.keyId",)),
        Case(
            KMS_CLOUDTRAIL,
            True,
            "CreateGrant on our password key, by key ARN (as the CreateGrant page shows it)",
            change={"detail.eventName": "CreateGrant", "detail.requestParameters.keyId": _key_arn},
        ),
        Case(
            KMS_CLOUDTRAIL,
            True,
            "DisableKey of our password key (issue 23 item 5)",
            ("detail.requestParameters.keyId",),
            {"detail.eventName": "DisableKey"},
        ),
        Case(
            KMS_CLOUDTRAIL,
            True,
            "ScheduleKeyDeletion on our password key",
            ("detail.requestParameters.keyId",),
            {"detail.eventName": "ScheduleKeyDeletion"},
        ),
        Case(KMS_CLOUDTRAIL, False, "as documented: PutKeyPolicy on another key"),
        Case(
            KMS_CLOUDTRAIL,
            False,
            "a read of our key's policy",
            ("detail.requestParameters.keyId",),
            {"detail.eventName": "GetKeyPolicy"},
        ),
        Case(
            KMS_CLOUDTRAIL,
            False,
            "PutKeyPolicy on our key, but an SSM event",
            ("detail.requestParameters.keyId",),
            {"source": "aws.ssm"},
        ),
    ],
    "BreakGlassCleanupRulesChangedRule*": [
        Case(EVENTS_CLOUDTRAIL, True, "DisableRule of a clean-up rule", fill=("detail.requestParameters.name",)),
        Case(
            EVENTS_CLOUDTRAIL,
            True,
            "DeleteRule of a clean-up rule",
            ("detail.requestParameters.name",),
            {"detail.eventName": "DeleteRule"},
        ),
        Case(EVENTS_CLOUDTRAIL, False, "DisableRule of another rule"),
        Case(
            EVENTS_CLOUDTRAIL,
            False,
            "EnableRule of a clean-up rule (turning it back on is no threat)",
            ("detail.requestParameters.name",),
            {"detail.eventName": "EnableRule"},
        ),
    ],
    "BreakGlassCleanupTargetsChangedRule*": [
        Case(
            EVENTS_CLOUDTRAIL,
            True,
            "RemoveTargets from a clean-up rule (the rule is in requestParameters.rule)",
            change={
                "detail.eventName": "RemoveTargets",
                "detail.requestParameters": lambda p: {"rule": literal(p, "detail.requestParameters.rule")},
            },
        ),
        Case(
            EVENTS_CLOUDTRAIL,
            False,
            "RemoveTargets from another rule",
            change={"detail.eventName": "RemoveTargets", "detail.requestParameters": {"rule": "other"}},
        ),
    ],
    "BreakGlassCleanupStateMachineChangedRule*": [
        Case(
            STATES_CLOUDTRAIL, True, "UpdateStateMachine of the clean-up", ("detail.requestParameters.stateMachineArn",)
        ),
        Case(STATES_CLOUDTRAIL, False, "UpdateStateMachine of another state machine"),
        Case(
            STATES_CLOUDTRAIL,
            False,
            "a read of the clean-up state machine",
            ("detail.requestParameters.stateMachineArn",),
            {"detail.eventName": "DescribeStateMachine"},
        ),
    ],
    "BreakGlassCleanupFunctionChangedRule*": [
        Case(
            LAMBDA_CLOUDTRAIL,
            True,
            "UpdateFunctionConfiguration (versioned event name) of the clean-up function",
            ("detail.requestParameters.functionName",),
        ),
        Case(
            LAMBDA_CLOUDTRAIL,
            True,
            "PutFunctionConcurrency (throttling it to zero) by function ARN",
            change={
                "detail.eventName": "PutFunctionConcurrency20171031",
                "detail.requestParameters.functionName": lambda p: next(
                    v for v in _at(p, "detail.requestParameters.functionName") if v.startswith("arn:")
                ),
            },
        ),
        Case(LAMBDA_CLOUDTRAIL, False, "UpdateFunctionConfiguration of another function"),
        Case(
            LAMBDA_CLOUDTRAIL,
            False,
            "a read of the clean-up function",
            ("detail.requestParameters.functionName",),
            {"detail.eventName": "GetFunction20150331v2"},
        ),
    ],
    "*VaultKeyAliasChangedRule*": [
        Case(
            KMS_CLOUDTRAIL,
            True,
            "UpdateAlias moving our alias to another key",
            change={
                "detail.eventName": "UpdateAlias",
                "detail.requestParameters": lambda p: {
                    "aliasName": literal(p, "detail.requestParameters.aliasName"),
                    "targetKeyId": "another-key",
                },
            },
        ),
        Case(
            KMS_CLOUDTRAIL,
            False,
            "UpdateAlias of another alias",
            change={"detail.eventName": "UpdateAlias", "detail.requestParameters": {"aliasName": "alias/other"}},
        ),
    ],
    "*VaultReaderRolesChangedRule*": [
        Case(IAM_CLOUDTRAIL, True, "AttachRolePolicy on a reader role", ("detail.requestParameters.roleName",)),
        Case(
            IAM_CLOUDTRAIL,
            True,
            "UpdateAssumeRolePolicy of a reader role (who may assume it)",
            ("detail.requestParameters.roleName",),
            {"detail.eventName": "UpdateAssumeRolePolicy"},
        ),
        Case(IAM_CLOUDTRAIL, False, "AttachRolePolicy on another role"),
        Case(
            IAM_CLOUDTRAIL,
            False,
            "a read of a reader role",
            ("detail.requestParameters.roleName",),
            {"detail.eventName": "GetRole"},
        ),
    ],
    "PasswordRotation*InstanceFailedRule*": [
        Case(INVOCATION, True, "EC2Rescue failed on a node", ("detail.document-name",), {"detail.status": "Failed"}),
        Case(
            INVOCATION, True, "EC2Rescue timed out on a node", ("detail.document-name",), {"detail.status": "TimedOut"}
        ),
        Case(INVOCATION, False, "as documented for EC2Rescue: Success is no failure", fill=("detail.document-name",)),
        Case(INVOCATION, False, "another document failed", change={"detail.status": "Failed"}),
        Case(INVOCATION, False, "Delayed is not final", ("detail.document-name",), {"detail.status": "Delayed"}),
    ],
    "PasswordRotation*WindowFailedRule*": [
        Case(WINDOW_TASK, True, "documented task execution, TIMED_OUT, in our window", fill=("detail.window-id",)),
        Case(
            WINDOW_TARGET,
            True,
            "documented task target invocation, TIMED_OUT, in our window",
            fill=("detail.window-id",),
        ),
        Case(WINDOW_TASK, True, "a failed task", ("detail.window-id",), {"detail.status": "FAILED"}),
        Case(WINDOW_TASK, False, "as documented: another window"),
        Case(WINDOW_TASK, False, "a successful task", ("detail.window-id",), {"detail.status": "SUCCESS"}),
        Case(WINDOW_EXECUTION, False, "the window-level execution event", fill=("detail.window-id",)),
    ],
}

#: The API enum of the ``status`` field of each event type (botocore's model of the API
#: Reference: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandInvocation.html,
#: API_Command.html, API_MaintenanceWindowExecutionTaskInvocationIdentity.html); the documented
#: samples carry these names ("Success", "TIMED_OUT").
STATUS_ENUM = {
    "EC2 Command Invocation Status-change Notification": "CommandInvocationStatus",
    "EC2 Command Status-change Notification": "CommandStatus",
    "Maintenance Window Execution State-change Notification": "MaintenanceWindowExecutionStatus",
    "Maintenance Window Task Execution State-change Notification": "MaintenanceWindowExecutionStatus",
    "Maintenance Window Task Target Invocation State-change Notification": "MaintenanceWindowExecutionStatus",
}


# ------------------------------------------------------------------------------------------ matcher

MISSING = object()


class UnsupportedOperator(NotImplementedError):
    pass


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for key, condition in pattern.items():
        value = event.get(key, MISSING)
        if isinstance(condition, dict):
            if not matches(condition, value):
                return False
        elif not any(_filter_matches(one, value) for one in condition):
            return False
    return True


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _same(left: Any, right: Any) -> bool:
    """JSON equality: 1 is not true, "1" is not 1."""
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left == right
    return type(left) is type(right) and left == right


def _filter_matches(one: Any, value: Any) -> bool:
    if not isinstance(one, dict):
        return value is not MISSING and any(_same(item, one) for item in _items(value))
    (operator, argument), *others = one.items()
    if others:
        raise UnsupportedOperator(f"filter with several operators: {one}")
    if operator == "exists":  # leaf nodes only
        return (value is not MISSING and not isinstance(value, dict)) == argument
    if value is MISSING:
        return False
    if operator in ("prefix", "suffix"):
        if not isinstance(argument, str):
            raise UnsupportedOperator(f"{operator} with {argument!r}")
        check = str.startswith if operator == "prefix" else str.endswith
        return any(isinstance(item, str) and check(item, argument) for item in _items(value))
    if operator == "anything-but":
        if isinstance(argument, dict):
            return not _filter_matches(argument, value)
        excluded = _items(argument)
        return any(not any(_same(item, other) for other in excluded) for item in _items(value))
    raise UnsupportedOperator(f"operator {operator!r}: implement it in matches() from the EventBridge docs")


# ------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    template: str
    logical_id: str
    pattern: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.template}:{self.logical_id}"


def _render(value: Any, resources: dict[str, Any]) -> Any:
    """The pattern with references replaced by plausible concrete values."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        target = resources[value["Ref"]]["Type"]
        if target == "AWS::SSM::MaintenanceWindow":  # window ids are mw- and 17 hex digits
            return "mw-" + hashlib.sha256(value["Ref"].encode()).hexdigest()[:17]
        if target == "AWS::KMS::Key":  # key ids are UUIDs
            return _key_id(value["Ref"])
        if target in ("AWS::Events::Rule", "AWS::Lambda::Function"):  # Ref: the name
            return f"SsmGuardrails-{value['Ref']}"[:64]
        if target == "AWS::StepFunctions::StateMachine":  # Ref: the ARN
            return f"arn:aws:states:us-west-2:111122223333:stateMachine:{value['Ref']}"
        raise ValueError(f"no concrete value for a Ref to {target}: teach _render")
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        if resources[logical_id]["Type"] == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:us-west-2:111122223333:key/{_key_id(logical_id)}"
        if resources[logical_id]["Type"] == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:us-west-2:111122223333:function:SsmGuardrails-{logical_id}"[:140]
        raise ValueError(f"no concrete value for {value}: teach _render")
    if isinstance(value, dict):
        if any(key.startswith("Fn::") for key in value):
            raise ValueError(f"no concrete value for {value}: teach _render")
        return {key: _render(item, resources) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, resources) for item in value]
    return value


def _key_id(logical_id: str) -> str:
    digest = hashlib.sha256(logical_id.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


@pytest.fixture(scope="module")
def rules(example_app: SynthesizedApp) -> list[Rule]:
    found = []
    for path in example_app.template_paths:
        template = json.loads(path.read_text())
        resources = template.get("Resources", {})
        for logical_id, rule in resources_of(template, "AWS::Events::Rule").items():
            properties = rule["Properties"]
            if "EventPattern" not in properties:
                assert "ScheduleExpression" in properties, f"{path.name}:{logical_id}: neither pattern nor schedule"
                continue  # scheduled rules have no event to match
            found.append(Rule(path.name, logical_id, _render(properties["EventPattern"], resources)))
    assert len(found) >= 8, "the example has four pattern rules, in the member and the StackSet templates"
    return found


def _cases_for(rule: Rule) -> list[Case]:
    keys = [key for key in CASES if fnmatch.fnmatchcase(rule.logical_id, key)]
    assert len(keys) == 1, f"{rule.name}: expected one CASES entry, found {keys}; add documented samples for it"
    return CASES[keys[0]]


def _load(sample: str) -> dict[str, Any]:
    return json.loads((EVENTS / sample).read_text())


def event_for(case: Case, pattern: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(_load(case.sample)["event"])
    changes = {path: literal(pattern, path) for path in case.fill}
    changes |= {path: value(pattern) if callable(value) else value for path, value in case.change.items()}
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = event
        for key in parents:
            node = node[key]
        node[last] = value
    return event


# ------------------------------------------------------------------------------------------ tests


def test_every_rule_has_cases_and_every_case_has_a_rule(rules: list[Rule]) -> None:
    missing = []
    for rule in rules:
        try:
            _cases_for(rule)
        except AssertionError as error:
            missing.append(str(error))
    assert missing == [], "\n".join(missing)
    unused = [key for key in CASES if not any(fnmatch.fnmatchcase(rule.logical_id, key) for rule in rules)]
    assert unused == [], f"CASES entries that match no rule: {unused}"
    for key, cases in CASES.items():
        assert {case.matches for case in cases} == {True, False}, f"{key}: needs a matching sample and a near miss"


def test_documented_samples_match_and_near_misses_do_not(rules: list[Rule]) -> None:
    wrong = []
    for rule in rules:
        for case in _cases_for(rule):
            if matches(rule.pattern, event_for(case, rule.pattern)) != case.matches:
                expected = "match" if case.matches else "not match"
                wrong.append(f"{rule.name}: {case.sample} ({case.why}) should {expected} {json.dumps(rule.pattern)}")
    assert wrong == [], "\n".join(wrong)


def test_status_values_are_values_of_the_api_enum(rules: list[Rule]) -> None:
    """A misspelt status in a pattern (or in a near miss) would never match, silently."""
    model = botocore.session.get_session().get_service_model("ssm")
    wrong = []
    for rule in rules:
        statuses = rule.pattern.get("detail", {}).get("status")
        used = [
            value
            for one in statuses or []
            for value in _items(one.get("anything-but") if isinstance(one, dict) else one)
        ]
        used += [
            event_for(case, rule.pattern)["detail"].get("status")
            for case in _cases_for(rule)
            if "status" in case.change
        ]
        for detail_type in rule.pattern["detail-type"]:
            if not used:
                continue
            assert detail_type in STATUS_ENUM, f"{rule.name}: add the status enum of {detail_type!r}"
            enum = model.shape_for(STATUS_ENUM[detail_type]).enum
            wrong += [f"{rule.name}: {value!r} is no {STATUS_ENUM[detail_type]}" for value in used if value not in enum]
    assert wrong == [], "\n".join(wrong)


def test_every_sample_names_its_documentation_page_and_is_used() -> None:
    used = {case.sample for cases in CASES.values() for case in cases}
    files = {path.name for path in EVENTS.glob("*.json")}
    assert used == files, f"unused samples: {files - used}; missing samples: {used - files}"
    for name in files:
        document = _load(name)
        assert document["source_url"].startswith("https://docs.aws.amazon.com/"), name
        assert {"source", "detail-type", "detail"} <= set(document["event"]), name


# ------------------------------------------------------------------------------------------ the matcher itself


def test_matcher_follows_the_documented_examples() -> None:
    # eb-event-patterns-arrays.html: the first item of the pattern matches the event's second item.
    pattern = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
        ]
    }
    event = {
        "resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        ]
    }
    assert matches(pattern, event)
    # eb-event-patterns-content-based-filtering.html: prefix, anything-but (value, list, prefix), exists.
    assert matches({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"})
    assert not matches({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-03T18:43:48Z"})
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}}, {"detail": {"state": "running"}})
    assert not matches(
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, {"detail": {"state": "stopped"}}
    )
    assert not matches(
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, {"detail": {"state": "initializing"}}
    )
    assert matches({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"state": ["initializing", "running"]}})
    assert matches({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"c-count": {"c1": 100}}})
    assert matches({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"})
    # eb-create-pattern.html: the event must contain every field the pattern names.
    assert not matches({"detail": {"state": [{"anything-but": "initializing"}]}}, {"detail": {}})
    assert not matches({"detail": {"state": ["running"]}}, {"detail-type": "x"})
    assert not matches({"x-limit": [123]}, {"x-limit": "123"})


def test_matcher_refuses_operators_it_does_not_implement() -> None:
    with pytest.raises(UnsupportedOperator):
        matches({"detail": {"size": [{"numeric": [">", 0]}]}}, {"detail": {"size": 1}})
    with pytest.raises(UnsupportedOperator):
        matches({"source": [{"prefix": {"equals-ignore-case": "aws."}}]}, {"source": "aws.ssm"})


def test_a_rule_without_cases_is_reported() -> None:
    with pytest.raises(AssertionError, match="add documented samples"):
        _cases_for(Rule("t.template.json", "NewSessionStartedRuleABCD1234", {"source": ["aws.ssm"]}))
