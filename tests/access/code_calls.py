"""Every AWS call the code makes, found in the code itself (no hand-kept list stands in for it).

Sources (each call is a ``CodeCall``: where it is, the SDK's service and operation):
- Python that runs in AWS or on an operator's machine (``lambdas/``, ``ssm_documents/scripts/``,
  ``cli/``): boto3 client calls, read with the AST (python_calls);
- ``aws:executeAwsApi`` (and the other Service/Api actions) steps of the documents (document_calls);
- ``CallAwsService`` tasks of the synthesized state machines (state_machine_calls);
- custom resources' SDK calls (``Custom::AWS``, AwsCustomResource) in the templates (custom_resource_calls).

iam_actions() maps a call to the IAM actions AWS authorizes it as: the service's IAM prefix from
botocore's service model (``signingName``, else ``endpointPrefix``) and the operation name, except
where EXCEPTIONS (one table, each row with its AWS page) says otherwise. code_principals.py says
which principal makes each call.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import yaml
from botocore import xform_name


@dataclass(frozen=True)
class CodeCall:
    file: str  # relative to the repository, or "<template>:<logical id>" for template calls
    line: int
    service: str  # botocore service name (ssm, iam, ...)
    operation: str  # API operation name (GetParameter)
    function: str = ""  # the enclosing Python function (code_principals keys on it), or the resource

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f" ({self.function})" if self.function else "")


# ----------------------------------------------------------------------------- IAM actions

#: Calls whose IAM action is not <prefix>:<Operation>, with the page that says so. An empty tuple:
#: the call needs no permission.
EXCEPTIONS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    # "No permissions are required to perform this operation."
    ("sts", "GetCallerIdentity"): (
        (),
        "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
    ),
    # boto3's invoke is the Invoke operation, authorized as lambda:InvokeFunction:
    ("lambda", "Invoke"): (
        ("lambda:InvokeFunction",),
        "https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html",
    ),
    # HeadObject (no VersionId) is authorized as s3:GetObject:
    ("s3", "HeadObject"): (
        ("s3:GetObject",),
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html",
    ),
    # A whole service ("*"): CloudWatch signs as "monitoring"; its IAM prefix is "cloudwatch":
    ("monitoring", "*"): (
        ("cloudwatch:{operation}",),
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html",
    ),
}


@functools.cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> Any:
    return _botocore().get_service_model(service)


@functools.cache
def operations_by_method(service: str) -> dict[str, str]:
    """boto3 method name (get_parameter) -> operation name (GetParameter)."""
    return {xform_name(name): name for name in service_model(service).operation_names}


def signing_name(service: str) -> str:
    metadata = service_model(service).metadata
    return metadata.get("signingName") or metadata["endpointPrefix"]


def iam_actions(call: CodeCall) -> tuple[str, ...]:
    """The IAM actions AWS authorizes ``call`` as: <signing name>:<Operation>, or EXCEPTIONS' row."""
    prefix = signing_name(call.service)
    for key in ((call.service, call.operation), (prefix, "*")):
        if key in EXCEPTIONS:
            return tuple(action.format(operation=call.operation) for action in EXCEPTIONS[key][0])
    return (f"{prefix}:{call.operation}",)


# -------------------------------------------------------------------------------- Python

#: Client methods that are not API operations (get_paginator names one: recorded as that operation).
_NOT_OPERATIONS = {"get_waiter", "can_paginate", "close", "generate_presigned_url", "generate_presigned_post"}


def python_calls(path: Path, root: Path) -> list[CodeCall]:
    """boto3 client calls of one Python file. A client is recognized as ``<anything>.client("svc")``,
    a call of a module function that returns one (``_ssm()``, ``_client("ssm")``), or a name bound
    to either; a client passed in as a parameter is recognized by the method name, among the services
    the file creates clients of. Anything that looks like an API call but cannot be placed raises."""
    tree = ast.parse(path.read_text(), str(path))
    relative = str(path.relative_to(root))
    factories = _client_factories(tree)
    services = _services_created(tree, factories)
    calls: list[CodeCall] = []
    for function, node in _calls_with_function(tree):
        target = _method_and_receiver(node, relative)
        if target is None:
            continue
        methods, receiver = target
        service = _client_service(receiver, factories, _bindings(function, factories))
        if methods == ["get_paginator"] and node.args:
            methods = _method_names(node.args[0], relative, node.lineno)
        for method in methods:
            if method in _NOT_OPERATIONS or method.startswith("_"):
                continue
            found = service or _service_by_method(method, receiver, services, relative, node.lineno)
            if found is None or method not in operations_by_method(found):
                continue
            name = function.name if function else ""
            calls.append(CodeCall(relative, node.lineno, found, operations_by_method(found)[method], name))
    return calls


#: Values of the f-string placeholders the code builds method names with (``put_{who.kind}_policy``).
#: A grant or sweep handles roles, and IAM users only for the construct's ``operator_users``, which
#: the config (so every deployed app) does not offer: the user forms are left out here, and their
#: statements are checked on a construct with users (tests/test_separation_of_duties.py).
KINDS = ("role",)
FORMAT_VALUES: dict[str, tuple[str, ...]] = {"kind": KINDS, "who.kind": KINDS, "asker.kind": KINDS}


def _method_and_receiver(node: ast.Call, file: str) -> tuple[list[str], ast.AST] | None:
    """``client.method(...)`` or ``getattr(client, <name>)`` (called at once or later) -> (names, client)."""
    if isinstance(node.func, ast.Attribute):
        return [node.func.attr], node.func.value
    if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
        return _method_names(node.args[1], file, node.lineno), node.args[0]
    return None


def _method_names(node: ast.AST, file: str, line: int) -> list[str]:
    """A method name: a constant, or an f-string whose placeholders FORMAT_VALUES lists."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if not isinstance(node, ast.JoinedStr):
        raise ValueError(f"{file}:{line}: a client method named at run time: name it, or list it in FORMAT_VALUES")
    names = [""]
    for part in node.values:
        if isinstance(part, ast.Constant):
            names = [n + str(part.value) for n in names]
            continue
        expression = ast.unparse(part.value)  # type: ignore[attr-defined]
        if expression not in FORMAT_VALUES:
            raise ValueError(f"{file}:{line}: method name placeholder {{{expression}}} is not in FORMAT_VALUES")
        names = [n + value for n in names for value in FORMAT_VALUES[expression]]
    return names


def _calls_with_function(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | None, ast.Call]]:
    """Every call with its innermost enclosing function (None at module or class level)."""

    def visit(node: ast.AST, function: ast.FunctionDef | None) -> Iterator[tuple[ast.FunctionDef | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.Call):
                yield function, child
            yield from visit(child, inner)

    yield from visit(tree, None)


def _client_call_service(node: ast.AST) -> str | None:
    """``X.client("svc", ...)`` -> "svc"."""
    is_client = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
    if is_client and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _client_factories(tree: ast.Module) -> dict[str, str | None]:
    """Module functions that return a client: name -> service (None: the service is their first argument)."""
    factories: dict[str, str | None] = {}
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.Return) and node.value is not None and isinstance(node.value, ast.Call):
                call = node.value
                if _client_call_service(call):
                    factories[function.name] = _client_call_service(call)
                elif isinstance(call.func, ast.Attribute) and call.func.attr == "client" and call.args:
                    factories[function.name] = None  # boto3.client(service, ...)
    return factories


def _client_service(node: ast.AST, factories: dict[str, str | None], bound: dict[str, str]) -> str | None:
    if service := _client_call_service(node):
        return service
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in factories:
        service = factories[node.func.id]
        if service is None and node.args and isinstance(node.args[0], ast.Constant):
            return str(node.args[0].value)
        return service
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    return None


def _bindings(function: ast.FunctionDef | None, factories: dict[str, str | None]) -> dict[str, str]:
    if function is None:
        return {}
    bound: dict[str, str] = {}
    for node in ast.walk(function):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        pairs = (
            zip(target.elts, value.elts, strict=False)
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
            else [(target, value)]
        )
        for name, expression in pairs:
            if isinstance(name, ast.Name) and (service := _client_service(expression, factories, bound)):
                bound[name.id] = service
    return bound


def _services_created(tree: ast.Module, factories: dict[str, str | None]) -> set[str]:
    services = {s for node in ast.walk(tree) if (s := _client_call_service(node))}
    services |= {s for s in factories.values() if s}
    for node in ast.walk(tree):
        factory = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in factories
        if factory and factories[node.func.id] is None and node.args and isinstance(node.args[0], ast.Constant):
            services.add(str(node.args[0].value))
    return services


def _service_by_method(method: str, receiver: ast.AST, services: set[str], file: str, line: int) -> str | None:
    """A client passed in (a parameter, an attribute): the one service of the file that has ``method``.
    The CLI's settings helper gets its client from callers in other files: its service is the name."""
    candidates = [s for s in sorted(services) if method in operations_by_method(s)]
    named = isinstance(receiver, ast.Name) and receiver.id in _all_services()
    if named and method in operations_by_method(receiver.id):
        return receiver.id
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise ValueError(f"{file}:{line}: .{method}() is an operation of {candidates}: bind the client to a name")
    return None


@functools.cache
def _all_services() -> frozenset[str]:
    return frozenset(_botocore().get_available_services())


# ----------------------------------------------------------------------------- documents


def document_calls(path: Path, root: Path) -> list[CodeCall]:
    """Steps with ``Service``/``Api`` inputs (aws:executeAwsApi, aws:waitForAwsResourceProperty,
    aws:assertAwsResourceProperty): https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html"""
    text = path.read_text()
    document = yaml.safe_load(text)
    calls = []
    for step in document.get("mainSteps", []):
        inputs = step.get("inputs", {})
        if "Service" in inputs and "Api" in inputs:
            lines = enumerate(text.splitlines(), 1)
            line = next(number for number, text_line in lines if re.search(rf"name:\s*{step['name']}\b", text_line))
            calls.append(CodeCall(str(path.relative_to(root)), line, inputs["Service"], inputs["Api"], step["name"]))
    return calls


# ----------------------------------------------------------------------------- templates

_SDK_INTEGRATION = re.compile(r":states:::aws-sdk:(?P<service>[\w-]+):(?P<action>\w+)")


def state_machine_calls(template: dict[str, Any], stack: str) -> list[CodeCall]:
    """CallAwsService tasks (``arn:aws:states:::aws-sdk:<service>:<action>``):
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html"""
    calls = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        definition = json.dumps(resource["Properties"].get("DefinitionString", ""))
        for match in _SDK_INTEGRATION.finditer(definition):
            operation = match["action"][0].upper() + match["action"][1:]
            calls.append(CodeCall(f"{stack}", 0, _botocore_name(match["service"]), operation, logical_id))
    return calls


def custom_resource_calls(template: dict[str, Any], stack: str) -> list[CodeCall]:
    """AwsCustomResource SDK calls (``Custom::AWS``: Create/Update/Delete hold the call as JSON)."""
    calls = []
    for logical_id, resource in template["Resources"].items():
        if not resource["Type"].startswith("Custom::"):
            continue
        for event in ("Create", "Update", "Delete"):
            body = resource["Properties"].get(event)
            if not isinstance(body, str | dict) or "service" not in json.dumps(body):
                continue  # a Provider-framework resource (its function's code is scanned as Python)
            text = json.dumps(body)
            service = re.search(r'\\"service\\":\s*\\"([^\\"]+)\\"', text)
            action = re.search(r'\\"action\\":\s*\\"([^\\"]+)\\"', text)
            if service is None or action is None:
                raise ValueError(f"{stack}/{logical_id} {event}: no service/action in {text[:200]}")
            operation = action[1].removesuffix("Command")
            operation = operation[0].upper() + operation[1:]
            calls.append(CodeCall(stack, 0, _botocore_name(service[1]), operation, logical_id))
    return calls


def _botocore_name(sdk_service: str) -> str:
    """SDK v3 / Step Functions service names (S3, @aws-sdk/client-s3, ssm) -> botocore's."""
    name = sdk_service.removeprefix("@aws-sdk/client-").lower()
    if name not in _all_services():
        raise ValueError(f"unknown SDK service name '{sdk_service}'")
    return name
