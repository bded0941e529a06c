"""Pure helpers of the session grant function: who a caller is as a person, the grant policy, and
the content fingerprint of a document. No AWS calls: the handler (``index.py``) and the operator
CLI's ``doctor`` use the same rules.

**A person is a person** (README "What makes a person"). A role session counts as a person only when
the role makes its session name trustworthy; ``person_of`` reads the role's trust policy (GetRole's
``Role``) and returns the person, or raises :class:`UntrustedSessionName` naming the role and the
one-line fix:

* an IAM Identity Center role (path ``/aws-reserved/sso.amazonaws.com/``): Identity Center names the
  session after the user;
* a role trusted only by SAML providers: the IdP sets ``RoleSessionName`` in the assertion;
* a role whose every other trust statement pins ``sts:RoleSessionName`` (AWS principals: to
  ``${aws:username}``; OIDC providers: to a provider claim ``${...}``, because
  AssumeRoleWithWebIdentity lets the caller choose the name);
* a role that requires ``sts:SourceIdentity`` in every trust statement: the source identity is set
  once and persists through role chaining. Automation records only the session ARN, so the session
  name is taken as the claimed source identity and the grant requires ``aws:SourceIdentity`` to equal
  it: a session whose source identity differs gets nothing. Approvers cannot be checked that way
  (nothing is granted to them), so an approver's role must make its names trustworthy by itself.

Only boto3 and the standard library (here: the standard library only).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"
PINNED_TO_USERNAME = "${aws:username}"
FIX = (
    'add "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}} to every trust statement '
    "of the role (or use IAM Identity Center)"
)
_IDENTITY = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(user|role|assumed-role)/(.+)$")
_NODE = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
#: The partition, Region and account fields of an ARN (the only parts a deployment changes).
_ARN_FIELDS = re.compile(r"arn:(aws[a-z-]*|\$\{AWS::Partition\}):([a-z0-9-]+):([^:\"]*):([^:\"]*):")


class UntrustedSessionName(ValueError):
    """The role lets its callers choose their session names: a session name there proves no person."""


@dataclass(frozen=True)
class Identity:
    """An IAM user or a role session, from an ARN such as ``ExecutedBy``."""

    kind: str  # "user" or "role"
    name: str  # user or role name, without path
    session: str  # role session name; the user name for a user
    account: str
    partition: str

    @property
    def person(self) -> str:
        """The name compared between requester and approvers (any letter case)."""
        return self.session.lower()


@dataclass(frozen=True)
class Person:
    name: str  # lower case
    #: the grant must also require aws:SourceIdentity == the session name
    by_source_identity: bool = False


def identity(arn: str) -> Identity | None:
    """The caller an ARN names, or None for anything but an IAM user or an assumed-role session."""
    match = _IDENTITY.match(arn.strip())
    if not match:
        return None
    partition, _, account, kind, rest = match.groups()
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return Identity("role", role, session, account, partition) if session else None
    if kind == "user":
        name = rest.split("/")[-1]
        return Identity("user", name, name, account, partition)
    return None  # a role ARN names no person


# ------------------------------------------------------------------------------ trust policies


def trust_document(role: Mapping[str, Any]) -> dict[str, Any]:
    """GetRole's AssumeRolePolicyDocument: boto3 decodes it; the raw API returns URL-encoded JSON
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html)."""
    document = role.get("AssumeRolePolicyDocument") or {}
    return json.loads(unquote(document)) if isinstance(document, str) else dict(document)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_values(statement: Mapping[str, Any], key: str) -> dict[str, list[str]]:
    """Operator -> values of condition ``key`` (case-insensitive key match, as IAM matches keys)."""
    found: dict[str, list[str]] = {}
    for operator, block in (statement.get("Condition") or {}).items():
        for name, values in (block or {}).items():
            if name.lower() == key.lower():
                found[operator] = [str(v) for v in _as_list(values)]
    return found


def _pins_session_name(statement: Mapping[str, Any], allowed: re.Pattern[str]) -> bool:
    values = _condition_values(statement, "sts:RoleSessionName").get("StringEquals", [])
    return len(values) == 1 and bool(allowed.fullmatch(values[0]))


def _requires_source_identity(statement: Mapping[str, Any]) -> bool:
    found = _condition_values(statement, "sts:SourceIdentity")
    if found.get("Null") == ["false"]:
        return True
    return any(op.startswith("String") and op != "StringNotEquals" and values for op, values in found.items())


def _statement_kind(statement: Mapping[str, Any]) -> str:
    """'name' when the statement makes session names trustworthy, 'source' when it requires a source
    identity, '' otherwise."""
    principal = statement.get("Principal")
    kinds = set(principal) if isinstance(principal, dict) else {"AWS"}  # "*" is every AWS principal
    actions = {a.lower() for a in _as_list(statement.get("Action", []))}
    if kinds == {"Federated"} and actions <= {"sts:assumerolewithsaml", "sts:tagsession", "sts:setsourceidentity"}:
        return "name"
    if kinds == {"Federated"}:
        claim = re.compile(r"\$\{[^}]+\}")
        if _pins_session_name(statement, claim):
            return "name"
    elif kinds == {"AWS"} and _pins_session_name(statement, re.compile(re.escape(PINNED_TO_USERNAME))):
        return "name"
    return "source" if kinds != {"Service"} and _requires_source_identity(statement) else ""


def session_name_trust(role: Mapping[str, Any]) -> str:
    """How the role makes its session names trustworthy: ``identity-center``, ``name`` (SAML, or every
    statement pins the name) or ``source-identity``; else :class:`UntrustedSessionName`."""
    name = role.get("RoleName", "?")
    if str(role.get("Path", "/")).startswith(IDENTITY_CENTER_PATH):
        return "identity-center"
    allows = [s for s in trust_document(role).get("Statement", []) if s.get("Effect") == "Allow"]
    kinds = {_statement_kind(s) for s in allows}
    if allows and kinds == {"name"}:
        return "name"
    if allows and kinds <= {"name", "source"}:  # a session without a source identity gets nothing then
        return "source-identity"
    raise UntrustedSessionName(f"role {name} lets its callers choose their session names; to fix: {FIX}")


def person_of(who: Identity, role: Mapping[str, Any] | None, *, approver: bool = False) -> Person:
    """The person behind ``who``; ``role`` is GetRole's ``Role`` of ``who``'s role (None for a user).

    The check ``ssm-guardrails doctor`` can run for its caller:
    ``person_of(identity(caller_arn), iam.get_role(RoleName=identity(caller_arn).name)["Role"])``.
    """
    if who.kind == "user":
        return Person(who.person)
    if role is None:
        raise UntrustedSessionName(f"role {who.name}: its trust policy could not be read")
    trust = session_name_trust(role)
    if trust != "source-identity":
        return Person(who.person)
    if approver:
        raise UntrustedSessionName(
            f"role {who.name} only requires sts:SourceIdentity, which Automation does not record for an "
            f"approver; to fix: {FIX}"
        )
    return Person(who.person, by_source_identity=True)


# ------------------------------------------------------------------------------ the grant policy


def grant_policy(
    *,
    userid: str,
    node_id: str,
    account: str,
    regions: list[str],
    expires_at: str,
    partition: str = "aws",
    session_document: str = "SSM-SessionManagerRunShell",
    key_alias: str = "",
    source_identity: str = "",
) -> dict[str, Any]:
    """One node and the session document, one caller, one window, the session Regions; resuming the
    caller's own sessions only within the window. Resources name every Region (``*``) and
    ``aws:RequestedRegion`` limits them, so the policy stays small whatever the number of Regions."""
    if not _NODE.match(node_id):
        raise ValueError(f"not an instance or managed-node id: {node_id!r}")
    equals: dict[str, Any] = {"aws:userid": userid, "aws:RequestedRegion": sorted(regions)}
    if source_identity:
        equals["aws:SourceIdentity"] = source_identity
    only = {"StringEquals": equals, "DateLessThan": {"aws:CurrentTime": expires_at}}
    node = (
        f"arn:{partition}:ec2:*:{account}:instance/{node_id}"
        if node_id.startswith("i-")
        else f"arn:{partition}:ssm:*:{account}:managed-instance/{node_id}"
    )
    statements = [
        {
            "Sid": "StartSessionOnTheApprovedNode",
            "Effect": "Allow",
            "Action": "ssm:StartSession",
            "Resource": [node, f"arn:{partition}:ssm:*:{account}:document/{session_document}"],
            "Condition": {**only, "BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}},
        },
        {
            # Session Manager tags each session with aws:ssmmessages:session-id = the caller's aws:userid:
            # https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-examples.html
            "Sid": "ResumeOwnSessionsWithinTheWindow",
            "Effect": "Allow",
            "Action": "ssm:ResumeSession",
            "Resource": f"arn:{partition}:ssm:*:{account}:session/*",
            "Condition": {**only, "StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}},
        },
    ]
    if key_alias:
        statements.append(
            {
                "Sid": "EncryptTheSessionWithTheSessionKey",
                "Effect": "Allow",
                "Action": "kms:GenerateDataKey",
                "Resource": f"arn:{partition}:kms:*:{account}:key/*",
                "Condition": {**only, "ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


# ------------------------------------------------------------------------------ document fingerprint


def _placeholders(text: str, partition: str, region: str, account: str) -> str:
    def replace(match: re.Match[str]) -> str:
        part, service, arn_region, arn_account = match.groups()
        part = "${AWS::Partition}" if part == partition else part
        arn_region = "${AWS::Region}" if arn_region == region else arn_region
        arn_account = "${AWS::AccountId}" if arn_account == account else arn_account
        return f"arn:{part}:{service}:{arn_region}:{arn_account}:"

    return _ARN_FIELDS.sub(replace, text)


def _normalized(value: Any, partition: str, region: str, account: str) -> Any:
    if isinstance(value, str):
        return _placeholders(value, partition, region, account)
    if isinstance(value, list):
        return [_normalized(item, partition, region, account) for item in value]
    if isinstance(value, dict):
        return {key: _normalized(item, partition, region, account) for key, item in value.items()}
    return value


def content_sha256(content: Any, *, partition: str, region: str, account: str) -> str:
    """SHA-256 of the document content as canonical JSON (sorted keys, no white space, UTF-8), with the
    deployment's own partition, Region and account in every ARN replaced by CloudFormation's
    pseudo-parameter names: the same value at synth (from the template) and at run time (from
    GetDocument), in every account and Region the StackSet deploys to."""
    normalized = _normalized(content, partition, region, account)
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
