"""code_version_pins: StackSet templates whose Lambda functions pin the S3 object version.

The StackSet templates read Lambda code from the organization asset bucket of ``${AWS::Region}``
by a content-hash key. Only the CDK publishing role may write those buckets, but a later
overwrite of a key would still reach every account that joins a target OU afterwards
(auto-deployment creates its stacks from the StackSet as it is then). So each function's
``Code.S3ObjectVersion`` names the object version approved when the wave stack deployed:

- the template declares one ``String`` parameter per code object and Region,
  ``CodeVersion<first 12 hex of the key><Region without dashes>``, and one condition per Region,
  ``InRegion<Region without dashes>`` (``Fn::Equals [AWS::Region, region]``);
- ``S3ObjectVersion`` is a chain of ``Fn::If`` over the Regions; the innermost else is
  ``AWS::NoValue`` (a Region the StackSet does not deploy to has no asset bucket anyway);
- the wave stack supplies the values as StackSet-level ``Parameters``, each read at deploy time
  with S3 ``HeadObject`` (:mod:`guardrails.rollout.version_reader`). StackSet-level values, not
  per-instance ``ParameterOverrides``: "Accounts added to the target OUs and their child OUs in
  the future will use the stack set default values and not the overridden values"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html).
  Hence one value per Region, chosen inside the template.

A template may declare at most 200 parameters
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html);
more code objects times Regions than that is refused at synth.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from guardrails.shared.validation import PropsError

#: CloudFormation's limit on parameters per template (cloudformation-limits.html above).
MAX_TEMPLATE_PARAMETERS = 200
_KEY = re.compile(r"[0-9a-f]{12}[^/]*")


def region_id(region: str) -> str:
    """``eu-west-1`` -> ``euwest1`` (logical ids are alphanumeric)."""
    return region.replace("-", "")


def parameter_name(key: str, region: str) -> str:
    """The template parameter that holds the version of object ``key`` in ``region``'s bucket."""
    if not _KEY.fullmatch(key):
        raise PropsError("Lambda code object key", key, "a CDK asset key (content hash, 12+ hex characters first)")
    return f"CodeVersion{key[:12]}{region_id(region)}"


def condition_name(region: str) -> str:
    return f"InRegion{region_id(region)}"


def check_parameter_count(where: str, existing: int, keys: Sequence[str], regions: Sequence[str]) -> None:
    """Refuse, in one line, a template that would declare more parameters than CloudFormation allows."""
    total = existing + len(keys) * len(regions)
    if total > MAX_TEMPLATE_PARAMETERS:
        raise PropsError(
            f"{where}: template parameters ({len(keys)} code objects x {len(regions)} Regions + {existing})",
            total,
            f"at most {MAX_TEMPLATE_PARAMETERS} (CloudFormation quota); deploy fewer Regions or functions per StackSet",
        )


def check_distinct_prefixes(where: str, keys: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for key in keys:
        other = seen.setdefault(key[:12], key)
        if other != key:
            raise PropsError(f"{where}: code object keys", f"{other} and {key}", "keys that differ in 12 characters")


def predicted_code_keys(stack: cdk.Stack) -> list[str]:
    """The keys of the file-asset Lambda code of ``stack`` (read from its constructs, before
    synthesis): every ``AWS::Lambda::Function`` whose code is an ``S3Key`` in a ``Fn::Sub`` bucket,
    as the default synthesizer writes file assets."""
    keys = set()
    for construct in stack.node.find_all():
        if isinstance(construct, lambda_.CfnFunction):
            code = stack.resolve(construct.code)
            if isinstance(code.get("s3Bucket"), dict) and "Fn::Sub" in code["s3Bucket"]:
                keys.add(code["s3Key"])
    return sorted(keys)


def pin_code_versions(
    template: dict[str, Any], org_bucket: str, regions: Sequence[str], where: str = "StackSetTemplate"
) -> list[str]:
    """Add the version parameters and Region conditions to ``template`` (in place) and pin every
    function that reads its code from ``org_bucket`` (a ``Fn::Sub`` string); return its keys."""
    functions = [
        resource["Properties"]["Code"]
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource.get("Properties", {}).get("Code", {}).get("S3Bucket") == {"Fn::Sub": org_bucket}
    ]
    keys = sorted({code["S3Key"] for code in functions})
    if not keys:
        return keys
    parameters = template.setdefault("Parameters", {})
    check_parameter_count(where, len(parameters), keys, regions)
    check_distinct_prefixes(where, keys)
    conditions = template.setdefault("Conditions", {})
    for region in regions:
        conditions[condition_name(region)] = {"Fn::Equals": [{"Ref": "AWS::Region"}, region]}
        for key in keys:
            parameters[parameter_name(key, region)] = {
                "Type": "String",
                "Description": f"S3 object version of {key} in the asset bucket of {region}",
                "AllowedPattern": ".+",
            }
    for code in functions:
        if "S3ObjectVersion" in code:
            raise PropsError(f"{where}: Lambda Code.S3ObjectVersion", code["S3ObjectVersion"], "none (set here)")
        code["S3ObjectVersion"] = version_expression(code["S3Key"], regions)
    return keys


def version_expression(key: str, regions: Sequence[str]) -> Mapping[str, Any]:
    """``Fn::If [InRegion<r1>, Ref <param r1>, Fn::If [..., Ref AWS::NoValue]]``."""
    expression: Mapping[str, Any] = {"Ref": "AWS::NoValue"}
    for region in reversed(regions):
        expression = {"Fn::If": [condition_name(region), {"Ref": parameter_name(key, region)}, expression]}
    return expression
