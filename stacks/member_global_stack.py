"""MemberGlobalStack: what exists once per member account, deployed in the home Region only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from guardrails import AccessKeyRemediation
from stacks.config import GuardrailsConfig


class MemberGlobalStack(cdk.Stack):
    """Account-wide controls: the ``access-keys-rotated`` rule evaluates global IAM users, so it
    runs in one Region (the home Region) or each user would be reported once per Region.
    Environment-agnostic like the regional stack; deploy it in the home Region."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="SSM Guardrails: account-wide controls (member account, home Region)", **kwargs
        )
        settings = config.controls.access_key_remediation
        if settings.enabled:
            org = config.organization
            topic_arn = f"arn:{cdk.Aws.PARTITION}:sns:{org.home_region}:{org.security_account}:{settings.topic_name}"
            self.access_key_remediation = AccessKeyRemediation(
                self,
                "AccessKeyRemediation",
                topic_arn=topic_arn,
                max_access_key_age=settings.max_access_key_age_days,
                maximum_execution_frequency=settings.maximum_execution_frequency,
                retry_attempts=settings.retry_attempts,
                retry_interval=cdk.Duration.seconds(settings.retry_interval_seconds),
                deactivate_after=settings.deactivate_after_days,
                exemption_tag=(settings.exemption_tag_key, settings.exemption_tag_value),
                include_email_tag=settings.include_email_tag,
                create_config_recorder=settings.create_config_recorder,
            )
