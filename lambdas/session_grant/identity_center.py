"""IAM Identity Center people in the session grant function: permission-set requesters and approvers.

An Identity Center role (``AWSReservedSSO_<permission set>_<suffix>``) is protected: nobody but
Identity Center may put a policy on it ("this role is only modifiable by AWS":
https://repost.aws/knowledge-center/identity-center-aws-reserved-sso). So a requester given as a
permission set gets the grant in the customer managed policy ``GRANTS_POLICY_ARN`` instead, which the
permission set references by name and path. That one policy holds every running grant of the account,
each as statements whose Sid ends with the execution id, each for one role session (``aws:userid``) and
until its expiry (``DateLessThan``). Every write drops expired statements. Writers (grant and revoke of
concurrent executions) take turns through a lock: a parameter created only if absent.

An approver given as a permission set has a role whose name differs per account, and ``aws:approve``
takes exact ARNs: the runbook's ResolveApprovers step asks the function for the configured approvers'
ARNs in this account (:func:`approver_arns`), and the Approve step waits for those.

Only boto3 and the standard library.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from botocore.exceptions import ClientError
from persons import IDENTITY_CENTER_PATH
from quota import GrantTooLargeError, expiry_of, policy_size

#: A managed policy's document: at most 6,144 characters without white space (IAM and AWS STS quotas,
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
MANAGED_POLICY_LIMIT = 6144
#: A lock older than this was left by an invocation that died (the function's timeout is 1 minute).
LOCK_STALE = timedelta(minutes=2)
LOCK_WAIT_SECONDS = 20


class Busy(RuntimeError):
    """Another invocation held the grants lock for the whole wait: nothing was written."""


class TooFewApprovers(RuntimeError):
    """Fewer configured approvers have a role in this account than approvals are needed."""


def permission_set_of(role_name: str, sets: set[str]) -> str | None:
    """The configured permission set whose Identity Center role ``role_name`` is, if any. The suffix
    is 16 characters, so the set ``Admin`` never matches ``AWSReservedSSO_Admin_ReadOnly_<suffix>``; the
    name is compared as the policies' ``ArnLike`` patterns compare it, case-sensitively."""
    for name in sets:
        if re.fullmatch(rf"AWSReservedSSO_{re.escape(name)}_[\w+=,.@-]{{16}}", role_name):
            return name
    return None


def configured_sets(variable: str) -> set[str]:
    return {name for name in os.environ.get(variable, "").split(",") if name}


# ------------------------------------------------------------------------------ approvers


def approver_arns(iam: Any) -> list[str]:
    """The configured approvers as ``aws:approve`` takes them: the IAM users and roles as configured,
    and the Identity Center role of each approver permission set in this account (its ARN with path)."""
    found = [arn for arn in os.environ.get("APPROVER_ARNS", "").split(",") if arn]
    sets = configured_sets("APPROVER_PERMISSION_SETS")
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=IDENTITY_CENTER_PATH):
        found += [role["Arn"] for role in page["Roles"] if permission_set_of(role["RoleName"], sets)]
    return found


def resolve_approvers(iam: Any) -> dict[str, Any]:
    """The ResolveApprovers step's answer: the Approve step's approvers, at least ``MIN_APPROVALS``."""
    found = approver_arns(iam)
    needed = int(os.environ.get("MIN_APPROVALS", "1"))
    if len(found) < needed:
        raise TooFewApprovers(
            f"{len(found)} of the configured approvers have a role in this account, {needed} approvals are needed: "
            "assign the approver permission sets in this account"
        )
    return {"Approvers": found}


# ------------------------------------------------------------------------------ the grants policy


def _sid_suffix(execution_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", execution_id)


def _of_grant(statement: dict[str, Any], suffix: str = "") -> bool:
    """Whether ``statement`` is a grant's (of the execution with Sid ``suffix``, when given)."""
    sid = statement.get("Sid", "")
    return sid.startswith("Grant") and sid.endswith(suffix)


def _document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return json.loads(document) if isinstance(document, str) else document


def _kept(statements: list[dict[str, Any]], now: datetime, dropping: str) -> list[dict[str, Any]]:
    """The statements that stay: the stack's own, and running grants of other executions."""
    kept = []
    for statement in statements:
        end = expiry_of({"Statement": [statement]})
        if not _of_grant(statement) or (not _of_grant(statement, dropping) and end is not None and end > now):
            kept.append(statement)
    return kept


def _write(iam: Any, arn: str, document: dict[str, Any]) -> None:
    """A new default version; older versions deleted first (IAM keeps at most five of a policy)."""
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)


def existing_expiry(iam: Any, arn: str, execution_id: str) -> datetime | None:
    """The expiry this execution's grant already has (a retried step keeps its window)."""
    suffix = _sid_suffix(execution_id)
    mine = [s for s in _document(iam, arn).get("Statement", []) if _of_grant(s, suffix)]
    return expiry_of({"Statement": mine}) if mine else None


def put_grant(iam: Any, ssm: Any, arn: str, execution_id: str, grant: dict[str, Any], now: datetime) -> None:
    """Add ``grant``'s statements for ``execution_id`` (replacing earlier ones of it)."""
    suffix = _sid_suffix(execution_id)
    added = [{**s, "Sid": f"Grant{s['Sid']}{suffix}"} for s in grant["Statement"]]

    def change(document: dict[str, Any]) -> dict[str, Any]:
        updated = {**document, "Statement": [*_kept(document.get("Statement", []), now, suffix), *added]}
        if policy_size(updated) > MANAGED_POLICY_LIMIT:
            running = len({s["Sid"][-32:] for s in updated["Statement"] if _of_grant(s)}) - 1
            raise GrantTooLargeError(
                f"the grants policy {arn} holds {running} running grants and has no room for another "
                f"({MANAGED_POLICY_LIMIT} characters); ask again when one has ended"
            )
        return updated

    _locked_update(iam, ssm, arn, execution_id, change)


def remove_grant(iam: Any, ssm: Any, arn: str, execution_id: str, now: datetime) -> bool:
    """Remove ``execution_id``'s statements (and every expired grant); whether it had any."""
    suffix, removed = _sid_suffix(execution_id), []

    def change(document: dict[str, Any]) -> dict[str, Any]:
        statements = document.get("Statement", [])
        removed.extend(s for s in statements if _of_grant(s, suffix))
        return {**document, "Statement": _kept(statements, now, suffix)}

    _locked_update(iam, ssm, arn, execution_id, change)
    return bool(removed)


def _locked_update(iam: Any, ssm: Any, arn: str, execution_id: str, change: Any) -> None:
    lock = os.environ["GRANTS_LOCK_PARAMETER"]
    token = _acquire(ssm, lock, execution_id)
    try:
        before = _document(iam, arn)
        after = change(before)
        if after != before:
            _write(iam, arn, after)
    finally:
        _release(ssm, lock, token)


def _acquire(ssm: Any, name: str, execution_id: str) -> str:
    """PutParameter without Overwrite fails when the parameter exists (ParameterAlreadyExists):
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html"""
    token = f"{execution_id} {uuid4()} {time.time():.0f}"
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            ssm.put_parameter(Name=name, Value=token, Type="String", Overwrite=False)
            return token
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise
        if _broke_stale(ssm, name):
            continue
        if time.monotonic() > deadline:
            raise Busy(f"another session grant was being written for {LOCK_WAIT_SECONDS} s; ask again")
        time.sleep(0.5)


def _broke_stale(ssm: Any, name: str) -> bool:
    """Delete a lock left by an invocation that died; whether the lock is gone now."""
    try:
        held = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return True
        raise
    try:
        since = float(held.rsplit(" ", 1)[-1])
    except ValueError:  # not a lock this function wrote: as good as stale
        since = 0.0
    if time.time() - since <= LOCK_STALE.total_seconds():
        return False
    _release(ssm, name, held)
    return True


def _release(ssm: Any, name: str, token: str) -> None:
    """Delete the lock if it is still ``token`` (a lock broken as stale belongs to someone else)."""
    try:
        if ssm.get_parameter(Name=name)["Parameter"]["Value"] == token:
            ssm.delete_parameter(Name=name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("ParameterNotFound",):
            raise
