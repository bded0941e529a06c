"""Builds the app from a validated configuration; shared by app.py and the tests."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.central_stack import CentralStack
from stacks.config import GuardrailsConfig
from stacks.member_global_stack import MemberGlobalStack
from stacks.member_regional_stack import MemberRegionalStack

CENTRAL_STACK_NAME = "SsmGuardrails-Central"
MEMBER_GLOBAL_STACK_NAME = "SsmGuardrails-MemberGlobal"
MEMBER_REGIONAL_STACK_NAME = "SsmGuardrails-MemberRegional"


def build_app(app: cdk.App, config: GuardrailsConfig) -> list[cdk.Stack]:
    """Add every stack of ``config`` to ``app`` and return them."""
    return [
        CentralStack(app, CENTRAL_STACK_NAME, config=config),
        MemberGlobalStack(app, MEMBER_GLOBAL_STACK_NAME, config=config),
        MemberRegionalStack(app, MEMBER_REGIONAL_STACK_NAME, controls=config.controls),
    ]


def register_nag(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions pack at synth: any unacknowledged finding fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
