"""CentralStack: organization-wide destinations, in the security account's home Region."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from guardrails import AccessKeyFindings
from stacks.config import GuardrailsConfig

#: Every KMS key of this stack carries this tag: the security account's CloudFormation execution
#: policy (bootstrap/central-execution-policy.json) creates keys only with it (aws:RequestTag) and
#: manages only keys that carry it (aws:ResourceTag). CloudFormation passes a key's Tags to
#: CreateKey itself (the AWS::KMS::Key provider's create handler), so the tag is there from the start.
KEY_TAG = ("SsmGuardrailsStack", "SsmGuardrails-Central")


class CentralStack(cdk.Stack):
    """Topics that every member account reports to. Its environment is fixed by the config
    (security account, home Region) because member accounts build the topic ARNs from them."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailsConfig, **kwargs: Any) -> None:
        org = config.organization
        super().__init__(
            scope,
            id,
            env=cdk.Environment(account=org.security_account, region=org.home_region),
            description="SSM Guardrails: organization-wide findings (security account)",
            **kwargs,
        )
        cdk.Tags.of(self).add(*KEY_TAG, include_resource_types=["AWS::KMS::Key"])
        settings = config.controls.access_key_remediation
        if settings.enabled:
            findings = AccessKeyFindings(
                self,
                "AccessKeyFindings",
                organization_id=org.id,
                organizational_unit_ids=org.target_ous,
                settings=settings,
            )
            cdk.CfnOutput(self, "AccessKeyFindingsTopicArn", value=findings.topic_arn)
