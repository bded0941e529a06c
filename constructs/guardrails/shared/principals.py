"""Principals: the services the controls trust, and the people's roles as organizations really have them.

A person's role is named in one of three forms (every ``*_roles`` setting, every construct that names
operators or readers):

* a role name, ``BreakGlassOperator``: the role of that name, at path ``/``, in the deploying account;
* a role ARN with any path, ``arn:aws:iam::111122223333:role/ops/BreakGlassOperator``: matched as written;
* an IAM Identity Center permission set, ``{permission_set: BreakGlass}``: the role Identity Center
  creates for it in each account, ``AWSReservedSSO_<name>_<suffix>`` under
  ``/aws-reserved/sso.amazonaws.com/[<region>/]``. The suffix differs per account, so such a role is
  never named: key and resource policies match it by pattern, and identity policies reach it as
  customer managed policies with fixed names that the permission set references (it cannot be
  attached to: "Cannot perform the operation on the protected role ... this role is only modifiable
  by AWS", https://repost.aws/knowledge-center/identity-center-aws-reserved-sso).

:class:`Principal` is the one type for all three; :func:`roles_and_patterns` splits a list into the
roles a stack attaches policies to and the ``aws:PrincipalArn`` patterns key policies admit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from guardrails.shared.validation import PropsError

#: IAM role names: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
#: A role ARN of any partition, with an optional path of printable ASCII between slashes (same page).
ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/((?:[!-~]*/)?)([\w+=,.@-]{1,64})")
#: Permission set names: 1-32 of ``[\w+=,.@-]``:
#: https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreatePermissionSet.html
PERMISSION_SET_NAME = re.compile(r"[\w+=,.@-]{1,32}")

#: Where Identity Center creates a permission set's role. "If your identity source in IAM Identity
#: Center is hosted in us-east-1, there is no aws-region in the ARN", otherwise the path carries the
#: Region: https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html
IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"
#: The role's unique suffix, one ``?`` per character: 16 hex digits (same page's examples, e.g.
#: ``AWSReservedSSO_DatabaseAdministrator_1234567890abcdef``; 15 + 32 + 1 + 16 = 64, IAM's longest role
#: name). Exactly 16 characters, never ``*``: permission set names may contain ``_``, so with ``*``
#: the set ``Admin`` would match ``AWSReservedSSO_Admin_ReadOnly_<suffix>``, the role of the set
#: ``Admin_ReadOnly``. ``?`` matches one character in ArnLike:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
SUFFIX_PATTERN = "?" * 16

#: Customer managed policies a permission set can reference have a fixed name and this path in
#: every account ("You must have an IAM policy that matches the name and path in each AWS account
#: where you want to deploy your permission set": https://repost.aws/knowledge-center/identity-center-aws-reserved-sso;
#: https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetcustom.html).
POLICY_PATH = "/ssm-guardrails/"

ALLOWED_FORMS = (
    "a role name (BreakGlassOperator), a role ARN with any path "
    "(arn:aws:iam::111122223333:role/ops/BreakGlassOperator) or an IAM Identity Center permission set "
    "({permission_set: BreakGlass})"
)

Kind = Literal["role_name", "role_arn", "permission_set"]


@dataclass(frozen=True)
class Principal:
    """A person's role in one of the three forms; build it with :meth:`parse` (or the class methods)."""

    kind: Kind
    value: str

    # --------------------------------------------------------------------------- building

    @classmethod
    def from_role_name(cls, name: str) -> Principal:
        return cls.parse(name)

    @classmethod
    def from_role_arn(cls, arn: str) -> Principal:
        return cls.parse(arn)

    @classmethod
    def from_permission_set(cls, name: str) -> Principal:
        return cls.parse({"permission_set": name})

    @classmethod
    def parse(cls, value: Any, setting: str = "principal") -> Principal:
        """A :class:`Principal` from its config form; anything else raises :class:`PropsError`."""
        if isinstance(value, Principal):
            return value
        if isinstance(value, str) and ROLE_NAME.fullmatch(value):
            return cls("role_name", value)
        if isinstance(value, str) and ROLE_ARN.fullmatch(value):
            return cls("role_arn", value)
        if isinstance(value, Mapping) and set(value) == {"permission_set"}:
            name = value["permission_set"]
            if isinstance(name, str) and PERMISSION_SET_NAME.fullmatch(name):
                return cls("permission_set", name)
        raise PropsError(setting, _plain(value), ALLOWED_FORMS)

    # --------------------------------------------------------------------------- reading

    @property
    def attachable(self) -> bool:
        """Whether a stack may attach policies to the role (names and ARNs); a permission set's role
        is protected, so its policies are referenced by name from the permission set instead."""
        return self.kind != "permission_set"

    @property
    def name(self) -> str:
        """The role name (names and ARNs) or the permission set name."""
        return ROLE_ARN.fullmatch(self.value).group(4) if self.kind == "role_arn" else self.value  # type: ignore[union-attr]

    @property
    def path(self) -> str:
        """The role path (``/`` for a role name; Identity Center's for a permission set, without Region)."""
        if self.kind == "role_arn":
            return "/" + ROLE_ARN.fullmatch(self.value).group(3)  # type: ignore[union-attr]
        return IDENTITY_CENTER_PATH if self.kind == "permission_set" else "/"

    @property
    def key(self) -> tuple[str, str]:
        """What makes two entries the same principal: IAM names are case-insensitive, ARNs are not
        compared by account (a config names one account's roles, or every account's by name)."""
        if self.kind == "permission_set":
            return ("permission_set", self.value.lower())
        return ("role", (self.path + self.name).lower())

    def __str__(self) -> str:
        return f"permission set {self.value}" if self.kind == "permission_set" else self.value

    def config_form(self) -> str | dict[str, str]:
        return {"permission_set": self.value} if self.kind == "permission_set" else self.value

    # --------------------------------------------------------------------------- in a stack

    def arn_patterns(self, scope: IConstruct) -> list[str]:
        """``aws:PrincipalArn`` values (ArnLike) that match this principal's role in the stack's account.

        The partition and account are the stack's (tokens in an environment-agnostic stack), so one
        StackSet template matches the role in every account it lands in.
        """
        stack = cdk.Stack.of(scope)
        if self.kind == "role_arn":
            return [self.value]
        if self.kind == "role_name":
            return [f"arn:{stack.partition}:iam::{stack.account}:role/{self.value}"]
        role = f"AWSReservedSSO_{self.value}_{SUFFIX_PATTERN}"
        base = f"arn:{stack.partition}:iam::{stack.account}:role{IDENTITY_CENTER_PATH}"
        # Without a Region segment (identity source in us-east-1), and with one (any other Region).
        return [f"{base}{role}", f"{base}*/{role}"]

    def organization_arn_patterns(self) -> list[str]:
        """The same patterns for every account and partition (``arn:*:iam::*:``), for organization
        policies (SCPs) that cannot name one account; a role ARN is matched as written."""
        if self.kind == "role_arn":
            return [self.value]
        if self.kind == "role_name":
            return [f"arn:*:iam::*:role/{self.value}"]
        # One pattern for both paths (an SCP has 5,120 characters): ``*`` also spans the Region segment.
        # It can match more than the set's role only for a permission set named ``<x>_AWSReservedSSO_<name>``;
        # the guard's statements either restrict the principals they match or exempt passing the runbook
        # role, which grants nothing by itself.
        return [f"arn:*:iam::*:role{IDENTITY_CENTER_PATH}*AWSReservedSSO_{self.value}_{SUFFIX_PATTERN}"]

    def role(self, scope: Construct, id: str) -> iam.IRole:
        """The existing role, imported into ``scope`` so a stack can attach policies to it."""
        if self.kind == "role_name":
            return iam.Role.from_role_name(scope, id, self.value)
        if self.kind == "role_arn":
            return iam.Role.from_role_arn(scope, id, self.value, mutable=True)
        raise PropsError(str(id), str(self), "a role name or ARN: a permission set's role cannot be attached to")


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def roles_and_patterns(
    scope: Construct, id_prefix: str, principals: Sequence[iam.IRole | Principal]
) -> tuple[list[iam.IRole], list[str]]:
    """The roles to attach policies to, and the ``aws:PrincipalArn`` patterns of every principal.

    An ``iam.IRole`` counts as itself; a :class:`Principal` that can be attached to is imported into
    ``scope`` (id ``<id_prefix>-<name>``); a permission set adds patterns only.
    """
    roles: list[iam.IRole] = []
    patterns: list[str] = []
    for principal in principals:
        if isinstance(principal, Principal):
            patterns += principal.arn_patterns(scope)
            if principal.attachable:
                roles.append(principal.role(scope, f"{id_prefix}-{principal.name}"))
        else:
            roles.append(principal)
            patterns.append(principal.role_arn)
    return roles, patterns


def organization_arn_patterns(principals: Sequence[iam.IRole | Principal]) -> list[str]:
    """Every principal's ARN patterns for organization policies (SCPs: any account and partition);
    an ``iam.IRole`` counts by its name."""
    found: list[str] = []
    for principal in principals:
        if isinstance(principal, Principal):
            found += principal.organization_arn_patterns()
        else:
            found.append(f"arn:*:iam::*:role/{principal.role_name}")
    return found


def contract_policy_name(job: str, *, regional: bool) -> str:
    """The fixed name of the customer managed policy for ``job`` (see :data:`POLICY_PATH`).

    Regional stacks deploy to every Region of an account and IAM names are account-wide, so a
    regional policy carries its Region: ``SsmGuardrails-<job>-<region>`` (a token in StackSet
    templates, resolved per stack instance).
    """
    return f"SsmGuardrails-{job}-{cdk.Aws.REGION}" if regional else f"SsmGuardrails-{job}"


def contract_policy(scope: Construct, id: str, job: str, *, regional: bool, **props: Any) -> iam.ManagedPolicy:
    """A customer managed policy with the fixed name and path of ``job`` (a contract: IAM Identity Center
    permission sets reference it by name and path)."""
    return iam.ManagedPolicy(
        scope, id, managed_policy_name=contract_policy_name(job, regional=regional), path=POLICY_PATH, **props
    )


def systems_manager_of_this_account(scope: IConstruct) -> iam.IPrincipal:
    """Systems Manager acting for this account only (maintenance windows, Automation).

    ``aws:SourceAccount`` keeps another account's Systems Manager from assuming the role
    (confused deputy).
    """
    return iam.ServicePrincipal("ssm.amazonaws.com").with_conditions(
        {"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}}
    )
