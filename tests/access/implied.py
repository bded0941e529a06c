"""Actions AWS authorizes in addition to the one called: tags given at creation or start.

A call that passes tags (``Tags``/``TagSpecifications``: the request context then carries
``aws:RequestTag/<key>`` and ``aws:TagKeys``) is also authorized as the service's tagging action on
the new resource, with the same tag keys. The suite judges that request too, on the scenario's ARN
of the new resource's type; a scenario without such an ARN fails (service_reference.missing_required
already asks for it where the type is required).

One row per action, each with the AWS page that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service_reference import types_of


@dataclass(frozen=True)
class TaggingRule:
    tagging_action: str
    new_resource_type: str
    source: str
    extra_context: Mapping[str, str] = field(default_factory=dict)


TAG_ON_CREATE: dict[str, TaggingRule] = {
    # "Example 4: Allow a user to run an automation document when a specific tag parameter is provided
    # for the automation execution": ssm:AddTagsToResource on automation-execution/*.
    "ssm:StartAutomationExecution": TaggingRule(
        "ssm:AddTagsToResource",
        "automation-execution",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html",
    ),
    # A change request is an automation execution of the change template, tagged like one (same page).
    "ssm:StartChangeRequestExecution": TaggingRule(
        "ssm:AddTagsToResource",
        "automation-execution",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-identity-based-policies.html",
    ),
    # "To create an SSM parameter, you must have the IAM permissions ssm:PutParameter and
    # ssm:AddTagsToResource" (tags given at creation):
    "ssm:PutParameter": TaggingRule(
        "ssm:AddTagsToResource",
        "parameter",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html",
    ),
    # "To tag resources on creation, users must have permissions to use the action that creates the
    # resource, such as ec2:RunInstances ... [and] ec2:CreateTags"; ec2:CreateAction names the call:
    "ec2:RunInstances": TaggingRule(
        "ec2:CreateTags",
        "instance",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
        {"ec2:CreateAction": "RunInstances"},
    ),
}

TAG_CONTEXT_PREFIXES = ("aws:RequestTag/", "aws:TagKeys")


def passes_tags(context: Mapping[str, object]) -> bool:
    return any(key.startswith(TAG_CONTEXT_PREFIXES) for key in context)


def implied_requests(
    action: str, arns: list[str], context: Mapping[str, object]
) -> tuple[list[tuple[str, str, dict[str, object]]], list[str]]:
    """([(tagging action, ARN, context)], problems) for a call of ``action`` on ``arns``."""
    rule = TAG_ON_CREATE.get(action)
    if rule is None or not passes_tags(context):
        return [], []
    new = [arn for arn in arns if rule.new_resource_type in types_of(action, arn)]
    if not new:
        return [], [f"{action} passes tags: name the new {rule.new_resource_type} ({rule.source})"]
    # only global keys carry over: the tagging action has none of the creating action's own keys
    tagging_context = {key: value for key, value in context.items() if key.startswith("aws:")}
    return [(rule.tagging_action, arn, {**tagging_context, **rule.extra_context}) for arn in new], []
