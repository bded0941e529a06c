"""Every Step Functions state machine the app synthesizes, checked three ways.

1. asl-validator (pinned in package.json) checks schema, states, transitions and ARNs. One node
   process validates every definition of the session, plus two broken ones that must be rejected.
2. Our own check of JSONPath notation, which asl-validator does not make: a name in dot notation
   may only hold letters, digits and ``_``; anything else must be in bracket notation
   (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html:
   "You must use square bracket notation if your field name contains any character that is not
   included in the member-name-shorthand definition of the JsonPath ABNF rule"). This covers every
   path: InputPath, OutputPath, ResultPath, ItemsPath, Choice Variable and ``...Path`` operands,
   ``x.$`` entries of Parameters / ResultSelector / ItemSelector / Credentials, and every path inside
   an intrinsic function (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html).
3. Every path the definition reads resolves. The execution is walked state by state from the
   documented sample of the event that starts it; each task writes a result of the shape its API
   returns (the botocore model of the API, which the API Reference documents) at its ResultPath,
   so later states read real data, not guesses.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from cdk_helpers import ROOT, SynthesizedApp, resources_of

EVENTS = Path(__file__).parent / "events"
REGION, ACCOUNT = "eu-west-1", "123456789012"

#: The sample event each state machine starts from, by the detail-type of the rule that starts it.
SAMPLE_BY_DETAIL_TYPE = {
    "EC2 Command Invocation Status-change Notification": "run_command_invocation_status_change.json",
}

#: What a Lambda function returns (the task's result when its Resource is the function ARN:
#: https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html), by logical id pattern.
LAMBDA_RESULTS = {
    # expire() in lambdas/break_glass_cleanup/index.py
    "BreakGlassCleanupFunction*": {"action": "expire", "deleted": [], "kept": [], "absent": []},
}

#: Names that need no bracket notation: member-name-shorthand, as the Step Functions paths page
#: describes it (letters, digits, underscore).
SAFE_NAME = re.compile(r"[A-Za-z0-9_]+")

#: Top-level state fields that hold a path (a reference path or a path to a number or timestamp).
PATH_FIELDS = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "CausePath",
    "ErrorPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
)
#: State fields that are payload templates: their ``x.$`` entries are paths or intrinsic functions.
TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Credentials")


# ------------------------------------------------------------------------------------------ definitions


@dataclass(frozen=True)
class StateMachine:
    template: str
    logical_id: str
    definition: dict[str, Any]
    starting_detail_types: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.template}:{self.logical_id}"


def _render(value: Any, resources: dict[str, Any]) -> str:
    """A DefinitionString with its intrinsics replaced by plausible concrete values (so that
    asl-validator's ARN checks see real ARNs)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part, resources) for part in parts)
    if "Ref" in value:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if (resources[logical_id]["Type"], attribute) == ("AWS::Lambda::Function", "Arn"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
    raise ValueError(f"no concrete value for {value!r}: teach _render this intrinsic")


def _starting_detail_types(resources: dict[str, Any], logical_id: str) -> tuple[str, ...]:
    """detail-types of the rules that start the state machine with the whole event as its input."""
    found = []
    for rule_id, rule in resources.items():
        if rule["Type"] != "AWS::Events::Rule":
            continue
        for target in rule["Properties"].get("Targets", []):
            if target["Arn"] == {"Ref": logical_id}:
                # Without Input, InputPath or InputTransformer the target receives the whole event:
                # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html
                transformed = {"Input", "InputPath", "InputTransformer"} & set(target)
                assert not transformed, f"{rule_id} transforms the input of {logical_id}: model it in this test"
                found.extend(rule["Properties"]["EventPattern"]["detail-type"])
    return tuple(found)


@pytest.fixture(scope="module")
def state_machines(example_app: SynthesizedApp) -> list[StateMachine]:
    found = []
    for path in example_app.template_paths:
        template = json.loads(path.read_text())
        resources = template.get("Resources", {})
        for logical_id, resource in resources_of(template, "AWS::StepFunctions::StateMachine").items():
            properties = resource["Properties"]
            assert "DefinitionString" in properties, f"{path.name}:{logical_id}: only DefinitionString is read here"
            definition = json.loads(_render(properties["DefinitionString"], resources))
            starters = _starting_detail_types(resources, logical_id)
            found.append(StateMachine(path.name, logical_id, definition, starters))
    # Member regional stack and its StackSet template: the break-glass clean-up, twice.
    assert len(found) >= 2, "expected the break-glass state machine in the member and StackSet templates"
    return found


# ------------------------------------------------------------------------------------------ 1. asl-validator

#: Reads [{name, definition}] on stdin, writes [{name, valid, errors}]. ARN and path checks on.
VALIDATE_JS = r"""
const validator = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ name, definition }) => {
    const result = validator(definition, { checkArn: true, checkPaths: true });
    return { name, valid: result.isValid, errors: result.isValid ? [] : result.errorsText("\n").split("\n") };
  });
  process.stdout.write(JSON.stringify(results));
});
"""

#: Definitions asl-validator must reject, validated in the same run: proof that the gate can fail.
BROKEN_DEFINITIONS = {
    "broken: transition to a missing state": (
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}},
        "MISSING_TRANSITION_TARGET",
    ),
    "broken: Resource is not an ARN": (
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "cleanup-function", "End": True}}},
        "SCHEMA_VALIDATION_FAILED",
    ),
}


def _node() -> str:
    local = ROOT / ".node" / "node_modules" / ".bin" / "node"  # where `make bootstrap` puts Node.js 22
    found = str(local) if local.exists() else shutil.which("node")
    if not found:
        pytest.fail("node not found: run the tests through `make test`")
    return found


@pytest.fixture(scope="module")
def asl_results(state_machines: list[StateMachine]) -> dict[str, dict[str, Any]]:
    module = ROOT / "node_modules" / "asl-validator"
    if not module.is_dir():
        pytest.fail("node_modules/asl-validator is missing: run the tests through `make test`")
    batch = [{"name": machine.name, "definition": machine.definition} for machine in state_machines]
    batch += [{"name": name, "definition": definition} for name, (definition, _) in BROKEN_DEFINITIONS.items()]
    result = subprocess.run(
        [_node(), "-e", VALIDATE_JS, str(module)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_every_state_machine_passes_asl_validator(
    state_machines: list[StateMachine], asl_results: dict[str, dict[str, Any]]
) -> None:
    failures = {
        machine.name: asl_results[machine.name]["errors"]
        for machine in state_machines
        if not asl_results[machine.name]["valid"]
    }
    assert failures == {}, json.dumps(failures, indent=2)


def test_asl_validator_rejects_broken_definitions(asl_results: dict[str, dict[str, Any]]) -> None:
    for name, (_, expected_error) in BROKEN_DEFINITIONS.items():
        assert not asl_results[name]["valid"], name
        assert any(expected_error in error for error in asl_results[name]["errors"]), asl_results[name]


# ------------------------------------------------------------------------------------------ JSONPath parsing


class PathError(ValueError):
    """A path that is not valid JSONPath for Step Functions, or names something absent."""


@dataclass(frozen=True)
class Selector:
    """A bracket selector other than a name or an index ('*', a filter, a slice...)."""

    text: str


def path_segments(path: str) -> list[str | int | Selector]:
    """The names, indexes and other selectors of ``path``, after ``$`` or ``$$``.

    A dot-notation name with a character outside letters, digits and ``_`` is an error: Step
    Functions requires bracket notation for it (amazon-states-language-paths.html, above).
    """
    if not path.startswith("$"):
        raise PathError(f"{path!r} does not start with $")
    position = 2 if path.startswith("$$") else 1
    segments: list[str | int | Selector] = []
    while position < len(path):
        if path.startswith(".[", position):  # `$.abc.['def ghi']`, as the Step Functions page writes it
            position += 1
        elif path[position] == ".":
            end = position + 1
            while end < len(path) and path[end] not in ".[":
                end += 1
            name = path[position + 1 : end]
            if name != "*" and not SAFE_NAME.fullmatch(name):
                raise PathError(f"{path!r}: {name!r} in dot notation must be in bracket notation: ['{name}']")
            segments.append(name if name != "*" else Selector("*"))
            position = end
        elif path[position] == "[":
            end = _closing_bracket(path, position)
            inner = path[position + 1 : end].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(re.sub(r"\\(.)", r"\1", inner[1:-1]))
            elif inner.isdigit():
                segments.append(int(inner))
            else:
                segments.append(Selector(inner))
            position = end + 1
        else:
            raise PathError(f"{path!r}: unexpected {path[position]!r} at {position}")
    return segments


def _closing_bracket(text: str, start: int) -> int:
    quote = None
    position = start + 1
    while position < len(text):
        character = text[position]
        if quote:
            if character == "\\":
                position += 1
            elif character == quote:
                quote = None
        elif character in "'\"":
            quote = character
        elif character == "]":
            return position
        position += 1
    raise PathError(f"{text!r}: unclosed [ at {start}")


def intrinsic_paths(expression: str) -> list[str]:
    """The JSONPaths among the arguments of an intrinsic function call, nested calls included.

    String literals are in single quotes, with backslash escapes (intrinsic-functions.html).
    """
    paths = []
    position = 0
    while position < len(expression):
        character = expression[position]
        if character == "'":
            position += 1
            while position < len(expression) and expression[position] != "'":
                position += 2 if expression[position] == "\\" else 1
            position += 1
        elif character == "$":
            start = position
            while (
                position < len(expression) and expression[position] not in ",)" and not expression[position].isspace()
            ):
                position = _closing_bracket(expression, position) + 1 if expression[position] == "[" else position + 1
            paths.append(expression[start:position])
        else:
            position += 1
    return paths


def _is_intrinsic(value: str) -> bool:
    return value.startswith("States.")


def _template_value_paths(value: str) -> list[str]:
    return intrinsic_paths(value) if _is_intrinsic(value) else [value]


# ------------------------------------------------------------------------------------------ every path


@dataclass(frozen=True)
class PathUse:
    where: str
    path: str


def _choice_rule_paths(rule: dict[str, Any], where: str) -> Iterator[PathUse]:
    for key, value in rule.items():
        if key == "Variable" or (key.endswith("Path") and isinstance(value, str)):
            yield PathUse(f"{where}.{key}", value)
        elif key in ("And", "Or"):
            for index, nested in enumerate(value):
                yield from _choice_rule_paths(nested, f"{where}.{key}[{index}]")
        elif key == "Not":
            yield from _choice_rule_paths(value, f"{where}.Not")


def _template_paths(template: Any, where: str) -> Iterator[PathUse]:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                for path in _template_value_paths(value):
                    yield PathUse(f"{where}.{key}", path)
            else:
                yield from _template_paths(value, f"{where}.{key}")
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from _template_paths(value, f"{where}[{index}]")


def all_paths(definition: dict[str, Any], where: str = "States") -> Iterator[PathUse]:
    """Every path the definition gives, in any field, nested state machines included."""
    for name, state in definition["States"].items():
        here = f"{where}.{name}"
        for key in PATH_FIELDS:
            if isinstance(state.get(key), str):
                for path in _template_value_paths(state[key]):  # CausePath/ErrorPath may be intrinsics
                    yield PathUse(f"{here}.{key}", path)
        for key in TEMPLATE_FIELDS:
            yield from _template_paths(state.get(key), f"{here}.{key}")
        for index, rule in enumerate(state.get("Choices", [])):
            yield from _choice_rule_paths(rule, f"{here}.Choices[{index}]")
        for index, catcher in enumerate(state.get("Catch", [])):
            if isinstance(catcher.get("ResultPath"), str):
                yield PathUse(f"{here}.Catch[{index}].ResultPath", catcher["ResultPath"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from all_paths(state[key], f"{here}.{key}.States")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from all_paths(branch, f"{here}.Branches[{index}].States")


def notation_problems(definition: dict[str, Any]) -> list[str]:
    problems = []
    for use in all_paths(definition):
        try:
            path_segments(use.path)
        except PathError as error:
            problems.append(f"{use.where}: {error}")
    return problems


# ------------------------------------------------------------------------------------------ 2. notation


def test_every_path_uses_bracket_notation_for_names_that_need_it(state_machines: list[StateMachine]) -> None:
    problems = [
        f"{machine.name} {problem}" for machine in state_machines for problem in notation_problems(machine.definition)
    ]
    assert problems == [], "\n".join(problems)


def test_the_break_glass_reset_reads_the_instance_id_in_bracket_notation(
    state_machines: list[StateMachine],
) -> None:
    """The defect of issue 16, pinned: found by the path walk, so the walk reaches intrinsics."""
    for machine in state_machines:
        uses = {use.where: use.path for use in all_paths(machine.definition)}
        assert uses["States.ResetPasswordAgain.Parameters.InstanceIds.$"] == "$.detail['instance-id']"


@pytest.mark.parametrize(
    ("state", "where"),
    [
        ({"Type": "Pass", "Parameters": {"ids.$": "States.Array($.detail.instance-id)"}}, "Parameters.ids.$"),
        (
            {"Type": "Pass", "Parameters": {"m.$": "States.Format('{} on {}', $.detail.status, $.detail.instance-id)"}},
            "Parameters.m.$",
        ),
        ({"Type": "Pass", "InputPath": "$.detail.command-id"}, "InputPath"),
        ({"Type": "Pass", "Parameters": {"nested": {"id.$": "$.detail.instance-id"}}}, "Parameters.nested.id.$"),
        ({"Type": "Pass", "ResultSelector": {"id.$": "$.detail.instance-id"}}, "ResultSelector.id.$"),
        (
            {"Type": "Map", "ItemsPath": "$.detail.instance-ids", "ItemProcessor": {"StartAt": "B", "States": {}}},
            "ItemsPath",
        ),
    ],
)
def test_notation_check_rejects_a_hyphenated_name_in_dot_notation(state: dict[str, Any], where: str) -> None:
    definition = {"StartAt": "A", "States": {"A": {**state, "End": True}}}
    problems = notation_problems(definition)
    assert len(problems) == 1 and problems[0].startswith(f"States.A.{where}:"), problems


def test_notation_check_rejects_a_choice_variable_in_dot_notation() -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Not": {"Variable": "$.detail.document-name", "IsPresent": True}, "Next": "A"}],
    }
    problems = notation_problems({"StartAt": "C", "States": {"C": choice, "A": {"Type": "Succeed"}}})
    assert problems and problems[0].startswith("States.C.Choices[0].Not.Variable:"), problems


def test_notation_check_accepts_bracket_notation_everywhere() -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.detail.['command-id']",
        "Parameters": {"ids.$": "States.Array($.detail['instance-id'], $['detail'][\"status\"])", "raw": "$.x-y"},
        "ResultPath": "$.result_1",
        "End": True,
    }
    assert notation_problems({"StartAt": "A", "States": {"A": state}}) == []


# ------------------------------------------------------------------------------------------ 3. resolution


def resolve(path: str, document: Any) -> Any:
    value = document
    for segment in path_segments(path):
        if isinstance(segment, Selector):
            raise PathError(f"{path!r}: selector [{segment.text}] is not modeled by this test")
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                raise PathError(f"{path!r}: no item {segment}")
        elif not isinstance(value, dict) or segment not in value:
            raise PathError(f"{path!r}: no field {segment!r}")
        value = value[segment]
    return value


def put(document: Any, path: str | None, value: Any) -> Any:
    """ResultPath semantics: ``$`` replaces the input, null discards the result, else the result
    is placed in a copy of the raw input
    (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html)."""
    if path is None:
        return document
    segments = path_segments(path)
    if not segments:
        return value
    result = copy.deepcopy(document)
    node = result
    for segment in segments[:-1]:
        node = node.setdefault(segment, {})
    node[segments[-1]] = value
    return result


def _skeleton(shape: Any, depth: int = 0) -> Any:
    """A value of every member of a botocore shape (the API Reference's response syntax)."""
    if shape.type_name == "structure":
        return {name: _skeleton(member, depth + 1) for name, member in shape.members.items()} if depth < 8 else {}
    if shape.type_name == "list":
        return [_skeleton(shape.member, depth + 1)]
    if shape.type_name == "map":
        return {"key": _skeleton(shape.value, depth + 1)}
    if shape.type_name == "string":
        return shape.enum[0] if shape.enum else f"<{shape.name}>"
    return {"integer": 1, "long": 1, "double": 1.0, "float": 1.0, "boolean": True}.get(shape.type_name, "<value>")


def task_result(resource: str) -> Any:
    """What a Task state returns before ResultSelector, by its Resource."""
    sdk = re.fullmatch(r"arn:aws:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)", resource)
    if sdk:
        # AWS SDK integrations return the API response, with the API's field names:
        # https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
        model = botocore.session.get_session().get_service_model(sdk["service"])
        action = sdk["action"]
        return _skeleton(model.operation_model(action[0].upper() + action[1:]).output_shape)
    function = re.fullmatch(r"arn:aws:lambda:[^:]+:\d{12}:function:(?P<name>[^:]+)", resource)
    if function:
        for pattern, result in LAMBDA_RESULTS.items():
            if fnmatch.fnmatchcase(function["name"], pattern):
                return copy.deepcopy(result)
    raise PathError(f"no modeled result for Resource {resource}: add it to task_result")


@dataclass
class Walk:
    """A walk of the execution: each state runs once, on the input of the first path that reaches it."""

    reads: list[PathUse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)

    def read(self, where: str, path: str, document: Any) -> Any:
        if path.startswith("$$"):
            return "<context object>"  # the context object, not the execution input
        self.reads.append(PathUse(where, path))
        try:
            return resolve(path, document)
        except PathError as error:
            self.problems.append(f"{where}: {error}")
            return None

    def build(self, template: Any, document: Any, where: str) -> Any:
        """A payload template (Parameters, ResultSelector) applied to ``document``."""
        if isinstance(template, dict):
            built = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    values = [self.read(f"{where}.{key}", p, document) for p in _template_value_paths(value)]
                    built[key[:-2]] = f"<{value}>" if _is_intrinsic(value) else values[0]
                else:
                    built[key] = self.build(value, document, f"{where}.{key}")
            return built
        if isinstance(template, list):
            return [self.build(value, document, f"{where}[{i}]") for i, value in enumerate(template)]
        return template


def walk(definition: dict[str, Any], execution_input: Any) -> Walk:
    """Input and output processing per state
    (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html):
    InputPath, Parameters, the result, ResultSelector, ResultPath (into the raw input), OutputPath."""
    run = Walk()
    pending = [(definition["StartAt"], execution_input)]
    while pending:
        name, raw_input = pending.pop(0)
        if name in run.visited:
            continue
        run.visited.add(name)
        state = definition["States"][name]
        here = f"States.{name}"
        kind = state["Type"]
        effective = raw_input
        if "InputPath" in state:
            effective = (
                {} if state["InputPath"] is None else run.read(f"{here}.InputPath", state["InputPath"], raw_input)
            )
        next_states: list[tuple[str, Any]] = []
        if kind == "Choice":
            for index, rule in enumerate(state["Choices"]):
                for use in _choice_rule_paths(rule, f"{here}.Choices[{index}]"):
                    run.read(use.where, use.path, effective)
                next_states.append((rule["Next"], effective))
            if "Default" in state:
                next_states.append((state["Default"], effective))
            output = effective
        elif kind in ("Task", "Pass", "Wait", "Succeed", "Fail"):
            for key in ("SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath"):
                if key in state:
                    run.read(f"{here}.{key}", state[key], effective)
            for key in ("CausePath", "ErrorPath"):
                for path in _template_value_paths(state[key]) if key in state else []:
                    run.read(f"{here}.{key}", path, effective)
            payload = run.build(state["Parameters"], effective, f"{here}.Parameters") if "Parameters" in state else None
            if kind == "Task":
                try:
                    result = task_result(state["Resource"])
                except PathError as error:
                    run.problems.append(f"{here}.Resource: {error}")
                    result = {}
            elif kind == "Pass":
                result = state.get("Result", effective if payload is None else payload)
            else:
                result = effective
            if "ResultSelector" in state:
                result = run.build(state["ResultSelector"], result, f"{here}.ResultSelector")
            output = put(raw_input, state.get("ResultPath", "$"), result) if kind in ("Task", "Pass") else result
            for catcher in state.get("Catch", []):
                error_output = {"Error": "States.TaskFailed", "Cause": "modeled error"}
                next_states.append((catcher["Next"], put(raw_input, catcher.get("ResultPath", "$"), error_output)))
        else:
            run.problems.append(f"{here}: state type {kind} is not modeled by this test; extend walk()")
            continue
        if "OutputPath" in state:
            output = {} if state["OutputPath"] is None else run.read(f"{here}.OutputPath", state["OutputPath"], output)
        if "Next" in state:
            next_states.append((state["Next"], output))
        pending.extend(next_states)
    return run


def _sample(file_name: str) -> dict[str, Any]:
    return json.loads((EVENTS / file_name).read_text())["event"]


def test_every_path_the_definition_reads_resolves_against_the_documented_event(
    state_machines: list[StateMachine],
) -> None:
    for machine in state_machines:
        assert machine.starting_detail_types, f"{machine.name}: no rule starts it; which input does it get?"
        for detail_type in machine.starting_detail_types:
            assert detail_type in SAMPLE_BY_DETAIL_TYPE, f"{machine.name}: add a sample event for {detail_type!r}"
            run = walk(machine.definition, _sample(SAMPLE_BY_DETAIL_TYPE[detail_type]))
            assert run.problems == [], f"{machine.name} started by {detail_type!r}:\n" + "\n".join(run.problems)
            assert run.visited == set(machine.definition["States"]), "the walk must reach every state"
            read = {use.path for use in run.reads}
            # The event fields and the task results the break-glass clean-up and reset depend on.
            assert {"$.detail['instance-id']", "$.detail['document-name']", "$.detail.status"} <= read
            assert {"$.Command.CommandId"} <= read


def test_the_sample_event_is_the_documented_run_command_invocation_event() -> None:
    sample = json.loads(
        (EVENTS / SAMPLE_BY_DETAIL_TYPE["EC2 Command Invocation Status-change Notification"]).read_text()
    )
    assert sample["source_url"].startswith("https://docs.aws.amazon.com/systems-manager/")
    assert sample["event"]["detail-type"] == "EC2 Command Invocation Status-change Notification"
    assert set(sample["event"]["detail"]) == {
        "command-id",
        "document-name",
        "instance-id",
        "requested-date-time",
        "status",
    }


def _one_task(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ssm:sendCommand", "Parameters": parameters}
    return {"StartAt": "T", "States": {"T": {**task, **extra, "End": True}}}


@pytest.mark.parametrize(
    ("definition", "reported"),
    [
        (_one_task({"InstanceIds.$": "States.Array($.detail['instance_id'])"}), "no field 'instance_id'"),
        (_one_task({"DocumentName.$": "$.detail.documentName"}), "no field 'documentName'"),
        (_one_task({"InstanceIds.$": "States.Array($.detail.instance-id)"}), "must be in bracket notation"),
        # The result is the API response (botocore model): CommandId, not CommandID.
        (_one_task({}, ResultSelector={"id.$": "$.Command.CommandID"}), "no field 'CommandID'"),
        (_one_task({}, ResultPath="$.reset", OutputPath="$.reset.Command.Comment"), None),
        (
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:ssm:sendCommand",
                        "ResultPath": "$.x",
                        "Next": "C",
                    },
                    "C": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.y.Command.Status", "IsPresent": True, "Next": "E"}],
                    },
                    "E": {"Type": "Succeed"},
                },
            },
            "no field 'y'",
        ),
    ],
)
def test_walk_reports_a_path_the_documented_event_or_result_does_not_have(
    definition: dict[str, Any], reported: str | None
) -> None:
    run = walk(definition, _sample(SAMPLE_BY_DETAIL_TYPE["EC2 Command Invocation Status-change Notification"]))
    if reported is None:
        assert run.problems == []
    else:
        assert len(run.problems) == 1 and reported in run.problems[0], run.problems


def test_walk_reports_a_task_whose_result_is_not_modeled() -> None:
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}},
    }
    problems = walk(definition, {}).problems
    assert len(problems) == 1 and "no modeled result" in problems[0], problems


@pytest.mark.parametrize(
    ("expression", "paths"),
    [
        ("States.Array($.a, $.b['c-d'])", ["$.a", "$.b['c-d']"]),
        ("States.Format('it costs $5, {}', $.price)", ["$.price"]),
        ("States.Format('quote \\' and {}', States.ArrayGetItem($.list, 0))", ["$.list"]),
        ("States.Array($['a, b'], $$.Execution.Id)", ["$['a, b']", "$$.Execution.Id"]),
    ],
)
def test_intrinsic_paths_finds_paths_and_skips_string_literals(expression: str, paths: list[str]) -> None:
    assert intrinsic_paths(expression) == paths
