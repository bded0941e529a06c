"""The just-in-time approval path: Systems Manager just-in-time node access.

The construct deploys the approval policies (``ManualApprovalPolicy`` and optionally a Cedar
``AutoApprovalPolicy`` document); operators get only the request calls. Works with IAM Identity
Center users, which cannot be given inline policies by a runbook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.shared.validation import PropsError, check_range, check_tag_filters

#: Approver types of a just-in-time ManualApprovalPolicy (EnhancedApprovals).
JIT_APPROVER_TYPES = ("SSOUser", "SSOGroup", "IAMUser")
JIT_ACCESS_DURATION_RANGE_HOURS = (1, 336)


class JustInTimeApproval(Construct):
    """The manual approval policy ``policy_name`` and, with ``cedar``, the auto-approval policy."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        approvers: Sequence[tuple[str, str]],
        node_tags: Mapping[str, Sequence[str]],
        access_duration: cdk.Duration,
        cedar: str | None,
        policy_name: str,
    ) -> None:
        super().__init__(scope, id)
        content = {
            "schemaVersion": "0.3",
            "description": "SeparationOfDuties: a session needs a manual approval by the configured approvers.",
            "accessDuration": int(access_duration.to_seconds()),
            "accessTokenRole": "SSM-JustInTimeAccessTokenRole",
            "targets": [{"Key": f"tag:{key}", "Values": list(values)} for key, values in node_tags.items()],
            "mainSteps": [
                {
                    "name": "ManualApproval",
                    "action": "aws:approve",
                    "timeoutSeconds": 86400,
                    "inputs": {
                        "Message": "A just-in-time session request is waiting for your approval.",
                        "MinRequiredApprovals": 1,
                        "EnhancedApprovals": {
                            "Approvers": [{"approver": approver, "type": kind} for kind, approver in approvers]
                        },
                    },
                }
            ],
        }
        self.manual_approval_policy = ssm.CfnDocument(
            self, "ManualApprovalPolicy", name=policy_name, document_type="ManualApprovalPolicy",
            document_format="YAML", content=content, update_method="NewVersion",
        )  # fmt: skip
        self.auto_approval_policy: ssm.CfnDocument | None = None
        if cedar:
            # The auto-approval policy is Cedar text, one per account and Region
            # (https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-just-in-time-node-access-create-auto-approval-policies.html);
            # a document's content may be JSON, YAML or TEXT
            # (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html).
            # CDK's CfnDocument takes an object as content; CloudFormation gets the Cedar text as a string.
            self.auto_approval_policy = ssm.CfnDocument(
                self, "AutoApprovalPolicy", name="SSM-JustInTimeAccessAutoApprovalPolicy",
                document_type="AutoApprovalPolicy", document_format="TEXT", content={}, update_method="NewVersion",
            )  # fmt: skip
            self.auto_approval_policy.add_property_override("Content", cedar)
            # cfn-lint's E3051 parses every document's content as JSON or YAML; Cedar text is neither.
            self.auto_approval_policy.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3051"]}})

    @staticmethod
    def tag_keys(
        tag_keys: Sequence[str], approval_path: str, node_tags: Mapping[str, Sequence[str]] | None
    ) -> list[str]:
        """The node tag keys operators may not set or remove: ``tag_keys`` and, on the just-in-time
        path, the manual approval policy's node tag keys (re-tagging a node out of or into the
        policy changes which approval it needs)."""
        return sorted({*tag_keys, *((node_tags or {}) if approval_path == "just_in_time" else {})})

    @staticmethod
    def operator_statements() -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="RequestJustInTimeAccess",
                actions=["ssm:StartAccessRequest", "ssm:GetAccessToken", "ssm:DescribeSessions"],
                resources=["*"],
            )
        ]


def validate_just_in_time(
    name: str,
    approvers: Sequence[tuple[str, str]],
    operator_users: set[str],
    node_tags: Mapping[str, Sequence[str]] | None,
    access_duration: cdk.Duration,
    cedar: str | None,
) -> None:
    if not approvers:
        raise PropsError(f"{name}.just_in_time_approvers", [], "1-5 (type, id) pairs")
    if len(approvers) > 5:
        raise PropsError(f"{name}.just_in_time_approvers", len(approvers), "at most 5 approvers per level")
    for pair in approvers:
        if not (isinstance(pair, tuple) and len(pair) == 2 and pair[0] in JIT_APPROVER_TYPES and pair[1]):
            raise PropsError(
                f"{name}.just_in_time_approvers", pair, f"(type, id) with type one of {', '.join(JIT_APPROVER_TYPES)}"
            )
        if pair[0] == "IAMUser" and pair[1] in operator_users:
            raise PropsError(f"{name}.just_in_time_approvers", pair, "approvers who are not operators")
    check_tag_filters(f"{name}.just_in_time_node_tags", node_tags or {})
    check_range(
        f"{name}.just_in_time_access_duration",
        access_duration.to_seconds() / 3600,
        *JIT_ACCESS_DURATION_RANGE_HOURS,
        unit="hours",
    )
    if cedar is not None:
        check_cedar(f"{name}.just_in_time_auto_approval_cedar", cedar, effect="permit")


def check_cedar(setting: str, text: str, effect: str | None = None) -> None:
    """A basic structural check of Cedar policy text: every statement starts with ``permit`` or
    ``forbid`` (only ``effect`` when given), ends with ``;``, and its braces, brackets and parentheses
    balance outside string literals. Comments (``// ...``) are ignored."""
    if not isinstance(text, str) or not text.strip():
        raise PropsError(setting, text, "Cedar policy text with at least one statement")
    effects = (effect,) if effect else ("permit", "forbid")
    statements, current, stack = [], [], []
    pairs = {")": "(", "}": "{", "]": "["}
    in_string = escaped = False
    for line in text.splitlines():
        index = 0
        while index < len(line):
            char = line[index]
            if in_string:
                escaped, in_string = (not escaped and char == "\\"), (escaped or char != '"')
            elif char == '"':
                in_string = True
            elif line.startswith("//", index):
                break
            elif char in "({[":
                stack.append(char)
            elif char in pairs:
                if not stack or stack.pop() != pairs[char]:
                    raise PropsError(setting, _short(text), f"balanced parentheses and braces (unexpected {char!r})")
            elif char == ";" and not stack:
                statements.append("".join(current).strip())
                current = []
                index += 1
                continue
            current.append(char)
            index += 1
        current.append("\n")
    if in_string:
        raise PropsError(setting, _short(text), "closed string literals")
    if stack:
        raise PropsError(setting, _short(text), f"balanced parentheses and braces ({''.join(stack)} left open)")
    if "".join(current).strip():
        raise PropsError(setting, _short(text), "statements that end with ';'")
    for statement in statements:
        if not re.match(rf"^({'|'.join(effects)})\s*\(", statement):
            raise PropsError(setting, _short(statement), f"statements that start with {' or '.join(effects)} (")


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= 80 else one_line[:77] + "..."
