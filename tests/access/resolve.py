"""Synthesized templates resolved to concrete policies for one sample account and Region.

The access scenarios judge the policies CloudFormation would create: every ``Ref``, ``Fn::GetAtt``,
``Fn::Join`` and ``Fn::Sub`` is replaced with the value it takes in ``Environment``. Physical ids
that CloudFormation generates are made up deterministically (a role is ``<stack>-<logical id>``, a
key id is a UUID derived from its logical id): scenarios name resources through this module, never
by literal, so the made-up ids never matter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Environment:
    account: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


class ResolvedTemplate:
    """One template with its intrinsics resolved in ``env``."""

    def __init__(self, template: dict[str, Any], stack_name: str, env: Environment) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.stack_name = stack_name
        self.env = env

    # ------------------------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                return self.get_att(*argument)
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
            if function == "Fn::Sub":
                return _SUB_VARIABLE.sub(lambda m: str(self._sub_variable(m[1])), argument)
            if function.startswith("Fn::"):
                raise NotImplementedError(f"{function} in {self.stack_name}")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub_variable(self, name: str) -> Any:
        return self.get_att(*name.split(".", 1)) if "." in name else self.ref(name)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.env.account,
            "AWS::Region": self.env.region,
            "AWS::Partition": self.env.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.template["Parameters"][name].get("Default", "")
        resource_type = self.resources[name]["Type"]
        if resource_type in ("AWS::SNS::Topic", "AWS::IAM::ManagedPolicy", "AWS::StepFunctions::StateMachine"):
            return self.arn(name)
        if resource_type == "AWS::KMS::Key":
            return self.key_id(name)
        return self.physical_name(name)

    def get_att(self, name: str, attribute: str) -> str:
        if attribute in ("Arn", "TopicArn"):
            return self.arn(name)
        if attribute == "KeyId":
            return self.key_id(name)
        if attribute == "Name" and self.resources[name]["Type"] == "AWS::StepFunctions::StateMachine":
            return self.physical_name(name)
        raise NotImplementedError(f"Fn::GetAtt {name}.{attribute}")

    # ---------------------------------------------------------------------------- physical ids

    _NAME_PROPERTIES = (
        "RoleName",
        "ManagedPolicyName",
        "TopicName",
        "Name",
        "FunctionName",
        "LogGroupName",
        "StateMachineName",
        "AliasName",
        "BucketName",
    )

    def physical_name(self, logical_id: str) -> str:
        properties = self.resources[logical_id].get("Properties", {})
        for key in self._NAME_PROPERTIES:
            if key in properties:
                return str(self.resolve(properties[key]))
        return f"{self.stack_name}-{logical_id}"[:64]

    def key_id(self, logical_id: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{logical_id}"))

    def arn(self, logical_id: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        env = self.env
        arns = {
            "AWS::IAM::Role": lambda: env.arn("iam", f"role/{name}", region=""),
            "AWS::IAM::ManagedPolicy": lambda: env.arn("iam", f"policy/{name}", region=""),
            "AWS::KMS::Key": lambda: env.arn("kms", f"key/{self.key_id(logical_id)}"),
            "AWS::SNS::Topic": lambda: env.arn("sns", name),
            "AWS::Lambda::Function": lambda: env.arn("lambda", f"function:{name}"),
            "AWS::Logs::LogGroup": lambda: env.arn("logs", f"log-group:{name}:*"),
            "AWS::Events::Rule": lambda: env.arn("events", f"rule/{name}"),
            "AWS::StepFunctions::StateMachine": lambda: env.arn("states", f"stateMachine:{name}"),
            "AWS::SSM::Document": lambda: env.arn("ssm", f"document/{name}"),
            "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{name}",
            "AWS::CloudWatch::Alarm": lambda: env.arn("cloudwatch", f"alarm:{name}"),
            "AWS::SSM::MaintenanceWindow": lambda: env.arn("ssm", f"maintenancewindow/{name}"),
            "AWS::SSM::MaintenanceWindowTask": lambda: env.arn("ssm", f"windowtask/{name}"),
        }
        return arns[resource_type]()

    # ------------------------------------------------------------------------------- lookups

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource.get("Properties", {})

    def policies_of_role(self, role_name: str) -> list[dict[str, Any]]:
        """Every identity policy this template attaches to the role ``role_name`` (an existing role
        named by the config, or one the template creates): managed policies and inline policies."""
        documents = []
        for policy_type, document_key in (
            ("AWS::IAM::ManagedPolicy", "PolicyDocument"),
            ("AWS::IAM::Policy", "PolicyDocument"),
        ):
            for _, properties in self.of_type(policy_type):
                if role_name in self.resolve(properties.get("Roles", [])):
                    documents.append(self.resolve(properties[document_key]))
        for logical_id, properties in self.of_type("AWS::IAM::Role"):
            if self.physical_name(logical_id) == role_name:
                documents += [self.resolve(p["PolicyDocument"]) for p in properties.get("Policies", [])]
                documents += [
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                    for arn in self.resolve(properties.get("ManagedPolicyArns", []))
                    if arn.endswith(":policy/AdministratorAccess")
                ]
        return documents

    def managed_policy(self, id_prefix: str) -> dict[str, Any]:
        """The document of the one managed policy whose logical id starts with ``id_prefix``."""
        (document,) = [
            self.resolve(p["PolicyDocument"])
            for i, p in self.of_type("AWS::IAM::ManagedPolicy")
            if i.startswith(id_prefix)
        ]
        return document

    def policy_named(self, path_and_name: str) -> dict[str, Any]:
        """The document of the customer managed policy ``/<path>/<name>`` (names resolved for this
        environment): what an IAM Identity Center permission set references."""
        (document,) = self.policies_named(path_and_name)
        return document

    def policies_named(self, path_and_name: str) -> list[dict[str, Any]]:
        """The same, as a list: empty where this template has no such policy (another approval path)."""
        return [
            self.resolve(p["PolicyDocument"])
            for _, p in self.of_type("AWS::IAM::ManagedPolicy")
            if f"{p.get('Path', '/')}{self.resolve(p.get('ManagedPolicyName', ''))}" == path_and_name
        ]

    def key_with_alias(self, alias: str) -> tuple[str, dict[str, Any]]:
        """(key ARN, key policy) of the key that ``alias`` names."""
        for _, properties in self.of_type("AWS::KMS::Alias"):
            if properties["AliasName"] == alias:
                target = properties["TargetKeyId"]
                logical_id = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
                return self.arn(logical_id), self.resolve(self.resources[logical_id]["Properties"]["KeyPolicy"])
        raise KeyError(alias)

    def key_tags(self, alias: str) -> dict[str, str]:
        """The tags of the key that ``alias`` names (as aws:ResourceTag/<key> reads them)."""
        for _, properties in self.of_type("AWS::KMS::Alias"):
            if properties["AliasName"] == alias:
                target = properties["TargetKeyId"]
                logical_id = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
                tags = self.resolve(self.resources[logical_id]["Properties"].get("Tags", []))
                return {tag["Key"]: tag["Value"] for tag in tags}
        raise KeyError(alias)

    def tags_of(self, resource_type: str, id_prefix: str) -> dict[str, str]:
        """The tags of the one resource whose logical id starts with ``id_prefix`` (aws:ResourceTag/<key>)."""
        ((_, properties),) = [(i, p) for i, p in self.of_type(resource_type) if i.startswith(id_prefix)]
        return {tag["Key"]: tag["Value"] for tag in self.resolve(properties.get("Tags", []))}

    def key(self, id_prefix: str) -> tuple[str, dict[str, Any]]:
        """(key ARN, key policy) of the one key whose logical id starts with ``id_prefix``."""
        ((logical_id, properties),) = [(i, p) for i, p in self.of_type("AWS::KMS::Key") if i.startswith(id_prefix)]
        return self.arn(logical_id), self.resolve(properties["KeyPolicy"])

    def topic(self, id_prefix: str) -> tuple[str, dict[str, Any] | None]:
        """(topic ARN, topic policy or None) of the one topic whose logical id starts with ``id_prefix``."""
        ((logical_id, _),) = [(i, p) for i, p in self.of_type("AWS::SNS::Topic") if i.startswith(id_prefix)]
        topic_arn = self.arn(logical_id)
        for _, properties in self.of_type("AWS::SNS::TopicPolicy"):
            if topic_arn in self.resolve(properties["Topics"]):
                return topic_arn, self.resolve(properties["PolicyDocument"])
        return topic_arn, None

    def logical_id_of(self, resource_type: str, id_prefix: str) -> str:
        ((logical_id, _),) = [(i, p) for i, p in self.of_type(resource_type) if i.startswith(id_prefix)]
        return logical_id

    def name_of(self, resource_type: str, id_prefix: str) -> str:
        ((logical_id, _),) = [(i, p) for i, p in self.of_type(resource_type) if i.startswith(id_prefix)]
        return self.physical_name(logical_id)

    def arn_of(self, resource_type: str, id_prefix: str) -> str:
        ((logical_id, _),) = [(i, p) for i, p in self.of_type(resource_type) if i.startswith(id_prefix)]
        return self.arn(logical_id)
