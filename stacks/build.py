"""Builds the app from a validated configuration; shared by app.py and the tests."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import GuardrailsConfig
from stacks.member_stack import MemberStack

MEMBER_STACK_NAME = "SsmGuardrails-Member"


def build_app(app: cdk.App, config: GuardrailsConfig) -> list[cdk.Stack]:
    """Add every stack of ``config`` to ``app`` and return them."""
    return [MemberStack(app, MEMBER_STACK_NAME, controls=config.controls)]


def register_nag(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions pack at synth: any unacknowledged finding fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
