"""OrganizationStackSet: a service-managed StackSet that deploys a StackSetTemplate to OUs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

import aws_cdk as cdk
from aws_cdk import aws_cloudformation as cloudformation
from constructs import Construct

from guardrails.rollout.synthesizer import StackSetAdminSynthesizer
from guardrails.rollout.template import StackSetTemplate
from guardrails.rollout.version_reader import CodeVersionReader
from guardrails.shared.validation import (
    ACCOUNT_ID,
    ORGANIZATIONAL_UNIT,
    REGION,
    PropsError,
    check_not_empty,
    check_pattern,
    check_range,
)

STACK_SET_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


class CallAs(StrEnum):
    """Which account calls CloudFormation for the StackSet."""

    #: the organization's management account
    SELF = "SELF"
    #: a CloudFormation StackSets delegated administrator (member) account
    DELEGATED_ADMIN = "DELEGATED_ADMIN"


class AccountFilter(StrEnum):
    """How ``accounts`` narrow the accounts of the target OUs."""

    #: every account of the OUs (``accounts`` must be empty)
    NONE = "NONE"
    #: only the listed accounts of the OUs
    ONLY = "INTERSECTION"
    #: every account of the OUs except the listed ones
    EXCEPT = "DIFFERENCE"


class RegionConcurrency(StrEnum):
    PARALLEL = "PARALLEL"
    SEQUENTIAL = "SEQUENTIAL"


class OrganizationStackSet(Construct):
    """A service-managed StackSet (AWS Organizations permissions) of one :class:`StackSetTemplate`.

    Capabilities are read from the synthesized template: ``CAPABILITY_NAMED_IAM`` only when it
    has IAM resources with custom names, ``CAPABILITY_IAM`` when it has other IAM resources.
    The stack must use :class:`StackSetAdminSynthesizer`, which publishes the template. The
    StackSet-level ``Parameters`` pin every Lambda code object to the version current in each
    Region's asset bucket when this stack deploys (:class:`CodeVersionReader`); StackSet-level
    values also apply to accounts that auto-deployment adds later.

    :param template: what every stack instance deploys.
    :param stack_set_name: the StackSet's name, unique in the administrator account and Region
        (a contract: operators and ``aws cloudformation`` commands use it).
    :param organizational_unit_ids: target OUs (``ou-...``) or the root (``r-...``). StackSets
        never deploy to the management account, even when it is in a target.
    :param regions: where each target account gets a stack instance, in deployment order.
    :param call_as: ``SELF`` from the management account, ``DELEGATED_ADMIN`` from a delegated
        administrator.
    :param accounts: accounts that narrow the OUs according to ``account_filter``. Default: none.
    :param account_filter: ``ONLY`` deploys to the listed accounts of the OUs, ``EXCEPT`` to all
        other accounts of the OUs. Default: ``NONE`` (every account of the OUs).
    :param auto_deployment: deploy to accounts that join a target OU later, without an update.
        Default: true.
    :param retain_stacks_on_account_removal: with ``auto_deployment``, keep the stack (and its
        resources) in an account that leaves the target OUs. Default: true.
    :param max_concurrent_percentage: share of accounts updated at once per Region, 1-100.
        Default: 25.
    :param failure_tolerance_percentage: share of accounts per Region that may fail before the
        operation stops, 0-100. Default: 0 (stop at the first failure).
    :param region_concurrency: ``SEQUENTIAL`` finishes one Region before the next (in the order of
        ``regions``); ``PARALLEL`` does all at once. Default: ``PARALLEL``.
    :param description: the StackSet's description. Default: the template's description.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        template: StackSetTemplate,
        stack_set_name: str,
        organizational_unit_ids: Sequence[str],
        regions: Sequence[str],
        call_as: CallAs,
        accounts: Sequence[str] = (),
        account_filter: AccountFilter = AccountFilter.NONE,
        auto_deployment: bool = True,
        retain_stacks_on_account_removal: bool = True,
        max_concurrent_percentage: int = 25,
        failure_tolerance_percentage: int = 0,
        region_concurrency: RegionConcurrency = RegionConcurrency.PARALLEL,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        _validate(stack_set_name, organizational_unit_ids, regions, accounts, account_filter)
        check_range("OrganizationStackSet.max_concurrent_percentage", max_concurrent_percentage, 1, 100, "%")
        check_range("OrganizationStackSet.failure_tolerance_percentage", failure_tolerance_percentage, 0, 100, "%")
        synthesizer = cdk.Stack.of(self).synthesizer
        if not isinstance(synthesizer, StackSetAdminSynthesizer):
            raise PropsError(
                f"{self.node.path} stack synthesizer", type(synthesizer).__name__, "StackSetAdminSynthesizer"
            )
        unpinned = [region for region in regions if region not in template.regions]
        if unpinned:
            raise PropsError(f"{self.node.path} regions", unpinned, f"Regions of its template, {template.regions}")
        synthesizer.publish(template)
        parameters = []
        if pins := template.version_parameters():
            reader = CodeVersionReader.of(self, template.location)
            parameters = [
                cloudformation.CfnStackSet.ParameterProperty(
                    parameter_key=name, parameter_value=reader.version(key, r, template.checksum(key))
                )
                for name, key, r in pins
            ]
        self.stack_set_name = stack_set_name
        self.resource = cloudformation.CfnStackSet(
            self,
            "Resource",
            stack_set_name=stack_set_name,
            description=description or template.description,
            permission_model="SERVICE_MANAGED",
            call_as=call_as.value,
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=auto_deployment,
                retain_stacks_on_account_removal=retain_stacks_on_account_removal if auto_deployment else None,
            ),
            managed_execution={"Active": True},
            capabilities=template.capabilities,
            parameters=parameters or None,
            template_url=template.template_url,
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                max_concurrent_percentage=max_concurrent_percentage,
                failure_tolerance_percentage=failure_tolerance_percentage,
                region_concurrency_type=region_concurrency.value,
                region_order=list(regions),
            ),
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    regions=list(regions),
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(organizational_unit_ids),
                        accounts=list(accounts) or None,
                        account_filter_type=account_filter.value if accounts else None,
                    ),
                )
            ],
        )


def _validate(
    name: str,
    organizational_units: Sequence[str],
    regions: Sequence[str],
    accounts: Sequence[str],
    account_filter: AccountFilter,
) -> None:
    check_pattern("OrganizationStackSet.stack_set_name", name, STACK_SET_NAME, "a letter, then up to 127 of A-Za-z0-9-")
    check_not_empty("OrganizationStackSet.organizational_unit_ids", organizational_units)
    for unit in organizational_units:
        check_pattern(
            "OrganizationStackSet.organizational_unit_ids", unit, ORGANIZATIONAL_UNIT, "ou-xxxx-xxxxxxxx or r-xxxx"
        )
    check_not_empty("OrganizationStackSet.regions", regions)
    for region in regions:
        check_pattern("OrganizationStackSet.regions", region, REGION, "a Region name such as eu-west-1")
    for account in accounts:
        check_pattern("OrganizationStackSet.accounts", account, ACCOUNT_ID, "a 12-digit account id")
    if bool(accounts) == (account_filter is AccountFilter.NONE):
        raise PropsError(
            "OrganizationStackSet.accounts",
            list(accounts),
            "one or more accounts with account_filter ONLY or EXCEPT, and none with NONE",
        )
