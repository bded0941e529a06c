"""Service principals shared by the controls."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def systems_manager_of_this_account(scope: IConstruct) -> iam.IPrincipal:
    """Systems Manager acting for this account only (maintenance windows, Automation).

    ``aws:SourceAccount`` keeps another account's Systems Manager from assuming the role
    (confused deputy).
    """
    return iam.ServicePrincipal("ssm.amazonaws.com").with_conditions(
        {"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}}
    )
