"""IAM Identity Center requesters and approvers on the ``approval_runbook`` and ``change_manager`` paths.

A permission set's role (``AWSReservedSSO_<name>_<suffix>``) is protected, so the grant function
cannot put a grant on it ("this role is only modifiable by AWS":
https://repost.aws/knowledge-center/identity-center-aws-reserved-sso). Instead the stack creates the
customer managed policy ``/ssm-guardrails/SsmGuardrails-SessionGrants``, which the requesters'
permission sets reference by name and path next to ``SsmGuardrailsSessionRequester``. The grant
function adds each approved grant to it as statements for the requesting session only (``aws:userid``)
and until the window ends (``DateLessThan``), removes them at the end, and drops expired ones on every
write (``lambdas/session_grant/identity_center.py``). Writers take turns through a lock parameter.

Approvers given as permission sets have a role name per account: the runbook's ResolveApprovers
step asks the grant function for their ARNs in this account, which it finds with ``iam:ListRoles``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from guardrails.separation_of_duties.grant_function import GrantFunction
from guardrails.shared.nag import acknowledge_wildcard_resource
from guardrails.shared.principals import POLICY_PATH, Principal, contract_policy, contract_policy_name

#: The grant function creates this parameter while it writes the grants policy and deletes it after
#: ("A parameter name can't be prefixed with aws or ssm":
#: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
LOCK_PARAMETER = "/guardrails/session-grants-lock"
GRANTS_JOB = "SessionGrants"
#: ``<path><name>`` of the grants policy: a contract (permission sets reference it; the guard protects it)
GRANTS_POLICY = POLICY_PATH + contract_policy_name(GRANTS_JOB, regional=False)


def grants_policy_arn(scope: Construct) -> str:
    """The grants policy's ARN, built from its contract name and path (it is named before it exists)."""
    return cdk.Stack.of(scope).format_arn(service="iam", region="", resource="policy",
                                          resource_name=GRANTS_POLICY.lstrip("/"))  # fmt: skip


class IdentityCenterGrants(Construct):
    """The grants policy of permission-set requesters and what the grant function needs for them.

    :param operator_sets: requesters given as permission sets (their grants go to the grants policy).
    :param approver_sets: approvers given as permission sets (resolved per account at request time).
    :param approvers: the other approvers, as IAM user or role ARNs (the resolved list starts with them).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operator_sets: Sequence[Principal],
        approver_sets: Sequence[Principal],
        approvers: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        self.operator_sets, self.approver_sets = list(operator_sets), list(approver_sets)
        self.approvers = list(approvers)
        self.grants_policy: iam.ManagedPolicy | None = None
        if operator_sets:
            self.grants_policy = contract_policy(
                self, "GrantsPolicy", GRANTS_JOB, regional=False,
                description="SeparationOfDuties: the running session grants of IAM Identity Center requesters "
                "(written by the session grant function only; reference it from the requesters' permission sets).",
                statements=[iam.PolicyStatement(
                    # A managed policy needs a statement: this one matches no request (every time is later).
                    sid="NoSessionUntilTheGrantFunctionAddsOne", effect=iam.Effect.DENY,
                    actions=["ssm:StartSession"], resources=["*"],
                    conditions={"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}},
                )],
            )  # fmt: skip

    @property
    def grants_policy_name(self) -> str | None:
        """``<path><name>`` of the grants policy (the organization guard protects it), if any."""
        return GRANTS_POLICY if self.grants_policy else None

    @property
    def grants_policy_arn(self) -> str:
        return grants_policy_arn(self)

    def serve(self, grant: GrantFunction) -> None:
        """Tell the grant function who the permission sets are, and let it do their part only."""
        function, stack = grant.function, cdk.Stack.of(self)
        people = [*self.operator_sets, *self.approver_sets]
        roles = [pattern for principal in people for pattern in principal.arn_patterns(self)]
        grant.role.add_to_policy(iam.PolicyStatement(
            sid="ReadThePermissionSetRolesTrustAndId", actions=["iam:GetRole"], resources=roles,
        ))  # fmt: skip
        for pattern in roles:
            acknowledge_wildcard_resource(
                grant.role.node.find_child("DefaultPolicy"), pattern,
                "A permission set's role has a suffix that differs per account: 16 '?' match exactly that "
                "suffix, so no other permission set's role matches; read-only (trust policy and role id).",
            )  # fmt: skip
        if self.operator_sets:
            function.add_environment("OPERATOR_PERMISSION_SETS", ",".join(p.name for p in self.operator_sets))
            function.add_environment("GRANTS_POLICY_ARN", self.grants_policy_arn)
            function.add_environment("GRANTS_LOCK_PARAMETER", LOCK_PARAMETER)
            grant.role.add_to_policy(iam.PolicyStatement(
                sid="WriteTheIdentityCenterGrantsPolicyOnly",
                actions=["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicyVersion",
                         "iam:DeletePolicyVersion"],
                resources=[self.grants_policy_arn],
            ))  # fmt: skip
            lock = stack.format_arn(service="ssm", resource="parameter", resource_name=LOCK_PARAMETER.lstrip("/"))
            grant.role.add_to_policy(iam.PolicyStatement(
                sid="TakeTurnsWritingTheGrantsPolicy",
                actions=["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"], resources=[lock],
            ))  # fmt: skip
        if self.approver_sets:
            function.add_environment("APPROVER_PERMISSION_SETS", ",".join(p.name for p in self.approver_sets))
            function.add_environment("APPROVER_ARNS", ",".join(self.approvers))
            grant.role.add_to_policy(
                iam.PolicyStatement(sid="FindTheApproverPermissionSetRoles", actions=["iam:ListRoles"], resources=["*"])
            )
            acknowledge_wildcard_resource(
                grant.role.node.find_child("DefaultPolicy"), "*",
                "iam:ListRoles takes no resource ARN; the function lists Identity Center's path only, to name the "
                "approver permission sets' roles (their names differ per account) to the approval step.",
            )  # fmt: skip
