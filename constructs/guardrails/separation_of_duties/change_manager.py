"""The Change Manager approval path: the change template ``AllowSsmSessionStartTemplate``.

Change Manager is closed to new customers since November 2025; this path is for accounts that
already use it. Change Manager requires every new template version to be approved by a template
reviewer before change requests can use it (README "Walkthrough: Change Manager").
The template's ``aws:approve`` step holds the approval and Change Manager then runs
the runbook (built without its own approval step by :class:`ApprovalRunbook`), whose Grant step
reads this change request's approvers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.shared.documents import load_document

_TOKEN = r"\$\{Token\[[^\]]+\]\}"  # noqa: S105 (a regex, not a secret)
#: An approver: an IAM user, role or group of this account (partition and account may be tokens).
APPROVER_ARN = re.compile(
    rf"arn:(?:aws[a-z-]*|{_TOKEN}):iam::(?:\d{{12}}|{_TOKEN}):(user|role|group)/([\w+=,.@-]+/)*([\w+=,.@-]{{1,128}})"
)


def approver_parts(arn: str) -> tuple[str, str]:
    match = APPROVER_ARN.fullmatch(arn)
    assert match is not None  # validated
    return match.group(1), match.group(3)


class ChangeTemplate(Construct):
    """The change template; approvers are IAM users, roles or groups; ``min_approvals`` of them."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        runbook_name: str,
        approvers: Sequence[str],
        min_approvals: int,
        topic_arn: str,
    ) -> None:
        super().__init__(scope, id)
        content = load_document("allow_ssm_session_start_template")
        content["executableRunBooks"] = [{"name": runbook_name, "version": "$DEFAULT"}]
        # Per-level approval (see the comment in the template): the count sits under inputs, next
        # to EnhancedApprovals; approvers carry minRequiredApprovals 0 ("may contribute").
        inputs = content["mainSteps"][0]["inputs"]
        inputs["MinRequiredApprovals"] = min_approvals
        approvals = inputs["EnhancedApprovals"]
        approvals["NotificationArn"] = topic_arn
        approvals["Approvers"] = [
            {"approver": approver, "type": f"Iam{kind.capitalize()}", "minRequiredApprovals": 0}
            for kind, approver in (approver_parts(arn) for arn in approvers)
        ]
        self.content = content
        self.document = ssm.CfnDocument(
            self, "Document", name=name, document_type="Automation.ChangeTemplate",
            document_format="YAML", content=content, update_method="NewVersion",
        )  # fmt: skip
