"""The session grant function (``lambdas/session_grant``): the only principal that writes grants.

Its role may put, read and delete inline policies of the operator principals (IAM has no condition
key for an inline policy's name, so the ``SsmGuardrailsSessionGrant-`` prefix is the function's own
rule and, with ``organization.guard_policy``, the organization guard's), read the trust policies of
the operator and approver roles, read executions and the two documents, and publish refusals. The
runbook role may only invoke it.

The function compares each document's stored content with the content synthesized here: the
fingerprint (:func:`document_fingerprint`) is computed by the function's own code
(``lambdas/session_grant/persons.py``), so synth and run time cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from types import ModuleType
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.shared.guardrail_function import LAMBDAS_DIR, GuardrailFunction
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.validation import PropsError

_PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId"}


@cache
def _persons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("session_grant_persons", LAMBDAS_DIR / "session_grant" / "persons.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _rendered(value: Any, setting: str) -> Any:
    """CloudFormation's intrinsics as their pseudo-parameter placeholders: only ``Ref`` of the
    partition, Region and account and ``Fn::Join`` of them are allowed in a fingerprinted document."""
    if isinstance(value, list):
        return [_rendered(item, setting) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in _PSEUDO:
        return "${" + value["Ref"] + "}"
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_rendered(part, setting)) for part in parts)
    if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
        raise PropsError(setting, value, "ARNs built from names (a deploy-time reference cannot be fingerprinted)")
    return {key: _rendered(item, setting) for key, item in value.items()}


def document_fingerprint(scope: Construct, content: Mapping[str, Any], setting: str) -> str:
    """The SHA-256 the grant function expects of the stored content of ``content``."""
    stack = cdk.Stack.of(scope)
    rendered = _rendered(stack.resolve(content), setting)
    where = {
        name: value if not cdk.Token.is_unresolved(value) else "${" + pseudo + "}"
        for name, value, pseudo in (
            ("partition", stack.partition, "AWS::Partition"),
            ("region", stack.region, "AWS::Region"),
            ("account", stack.account, "AWS::AccountId"),
        )
    }
    return _persons().content_sha256(rendered, **where)


class GrantFunction(Construct):
    """The grant function ``function_name`` with role ``role_name``.

    :param environment: what the function checks against (runbook and template names and
        fingerprints, operators, Regions, maximum validity; see ``lambdas/session_grant/index.py``).
    :param operators: operator roles and users: the only principals it writes grants on.
    :param approver_roles: approver role ARNs whose trust policies it reads.
    :param documents: ARNs of the runbook and (Change Manager) the template it reads.
    :param alert_topic: refusals and the function's alarms go here.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_name: str,
        role_name: str,
        environment: Mapping[str, str],
        operators: Mapping[str, Sequence[str]],
        approver_roles: Sequence[str],
        documents: Sequence[str],
        terminate_sessions: bool,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.guardrail = GuardrailFunction(
            self, "Function", handler="session_grant",
            description="SeparationOfDuties: checks an approved request and writes or removes its session grant",
            environment={**environment, "ALERT_TOPIC_ARN": alert_topic.topic_arn}, alarm_topic=alert_topic,
            alarm_on_throttles=True,
        )  # fmt: skip
        self.function, self.role = self.guardrail.function, self.guardrail.role
        self.function.node.default_child.function_name = function_name
        self.role.node.default_child.role_name = role_name
        self.function_arn = stack.format_arn(
            service="lambda", resource="function", resource_name=function_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )  # fmt: skip
        self.role_arn = stack.format_arn(service="iam", region="", resource="role", resource_name=role_name)
        for kind, arns in operators.items():
            if arns:
                noun = kind.capitalize()
                self._allow(f"WriteSessionGrantsOn{noun}OperatorsOnly", [
                    f"iam:Get{noun}", f"iam:Put{noun}Policy", f"iam:Delete{noun}Policy", f"iam:List{noun}Policies",
                    f"iam:Get{noun}Policy"], list(arns))  # fmt: skip
        if approver_roles:
            self._allow("ReadTheApproversTrustPolicies", ["iam:GetRole"], list(approver_roles))
        executions = stack.format_arn(service="ssm", resource="automation-execution", resource_name="*")
        self._allow("ReadTheExecutionToCheckIt", ["ssm:GetAutomationExecution"], [executions])
        self._allow("ReadTheDeployedDocuments", ["ssm:DescribeDocument", "ssm:GetDocument"], list(documents))
        alert_topic.grant_publish(self.role)
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard_action(policy, "kms:GenerateDataKey*", "Granted by topic.grant_publish: refusals "
                                    "are encrypted with the alert topic's own key.")  # fmt: skip
        acknowledge_wildcard_resource(policy, executions, "Reads the execution whose id it is given (known only "
                                      "at run time) and its parent change request, to check them.")  # fmt: skip
        if terminate_sessions:
            sessions = stack.format_arn(service="ssm", resource="session", resource_name="*")
            self._allow("FindSessionsOnTheNode", ["ssm:DescribeSessions"], ["*"])
            self._allow("EndTheRequestersSessions", ["ssm:TerminateSession"], [sessions])
            acknowledge_wildcard_resource(policy, "*", "ssm:DescribeSessions takes no resource ARN.")
            acknowledge_wildcard_resource(
                policy, sessions, "Session ids are not known before the window ends; the function ends only the "
                "requesting session's sessions on the node.",
            )  # fmt: skip

    def _allow(self, sid: str, actions: list[str], resources: list[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    def allow_invoke(self, grantee: iam.Role) -> None:
        """Let ``grantee`` (the runbook role) invoke the function, and nothing else of it."""
        grantee.add_to_policy(
            iam.PolicyStatement(sid="InvokeTheGrantFunctionOnly", actions=["lambda:InvokeFunction"],
                                resources=[self.function_arn])
        )  # fmt: skip

    def protected_arns(self) -> list[str]:
        return [self.function_arn, self.role_arn]
