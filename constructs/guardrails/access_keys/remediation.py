"""AccessKeyRemediation: every IAM access key older than N days is reported to one central topic.

Member side. AWS Config evaluates the managed rule ``access-keys-rotated`` (``ACCESS_KEYS_ROTATED``)
and, for each non-compliant IAM user, automatically runs an Automation document that resolves the
user name from the user id Config passes, reports each old key (id and age) to the central topic
and, when asked, deactivates keys past a second threshold.

IAM is global: deploy this once per account, in the home Region (the member global stack does),
or every user is reported once per Region. The construct refuses a second copy in one app for the
same account, and the fixed rule name makes CloudFormation refuse a second copy in one Region.

The optional AWS Config recorder (for accounts without one) is in :mod:`guardrails.access_keys.recorder`.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_config as config
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.access_keys.props import AccessKeyRemediationSettings
from guardrails.access_keys.recorder import acknowledge_recorder_wildcards, create_recorder
from guardrails.shared.documents import embed_script, load_document, pin_parameter
from guardrails.shared.nag import acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.principals import systems_manager_of_this_account
from guardrails.shared.validation import PropsError, check_pattern

_FREQUENCY = {
    "One_Hour": config.MaximumExecutionFrequency.ONE_HOUR,
    "Three_Hours": config.MaximumExecutionFrequency.THREE_HOURS,
    "Six_Hours": config.MaximumExecutionFrequency.SIX_HOURS,
    "Twelve_Hours": config.MaximumExecutionFrequency.TWELVE_HOURS,
    "TwentyFour_Hours": config.MaximumExecutionFrequency.TWENTY_FOUR_HOURS,
}
#: A contract: the central topic (:class:`AccessKeyFindings`) admits publishes from a role of this
#: name in any account of the organization, and from no other principal.
REMEDIATION_ROLE_NAME = "SsmGuardrailsAccessKeyRemediation"
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,256}")
_REGISTRY_KEY = "guardrails:access-key-remediation"


class AccessKeyRemediation(Construct):
    """Member side of the access-key control.

    :param topic_arn: the central findings topic (see :class:`AccessKeyFindings`), usually in
        another account.
    :param settings: what counts as old and what happens to it (:class:`AccessKeyRemediationSettings`;
        the README's "controls.access_key_remediation" table). Default: all defaults.
    :param config_rule_name: Default: ``access-keys-rotated`` (fixed, so a second copy in one
        account and Region fails to deploy instead of reporting twice).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_arn: str,
        settings: AccessKeyRemediationSettings | None = None,
        config_rule_name: str = "access-keys-rotated",
    ) -> None:
        super().__init__(scope, id)
        settings = settings or AccessKeyRemediationSettings()
        check_pattern(
            "AccessKeyRemediation.topic_arn",
            topic_arn,
            TOPIC_ARN,
            "an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>",
        )
        self.settings = settings
        max_access_key_age = settings.max_access_key_age_days
        exemption_tag = (settings.exemption_tag_key, settings.exemption_tag_value)
        _refuse_second_copy_in_one_account(self)
        self.topic_arn = topic_arn
        self.deactivates = settings.deactivate_after_days > 0
        self.automation_role = self._create_automation_role(exemption_tag)
        self.document = self._create_document(
            max_access_key_age, settings.deactivate_after_days, exemption_tag, settings.include_email_tag
        )
        recorder = create_recorder(self) if settings.create_config_recorder else None
        self.rule = config.ManagedRule(
            self,
            "Rule",
            identifier=config.ManagedRuleIdentifiers.ACCESS_KEYS_ROTATED,
            config_rule_name=config_rule_name,
            description=f"IAM users' active access keys are rotated within {max_access_key_age} days",
            input_parameters={"maxAccessKeyAge": max_access_key_age},
            maximum_execution_frequency=_FREQUENCY[settings.maximum_execution_frequency],
        )
        if recorder is not None:
            self.rule.node.add_dependency(recorder)
        self.remediation = config.CfnRemediationConfiguration(
            self,
            "Remediation",
            config_rule_name=self.rule.config_rule_name,
            target_type="SSM_DOCUMENT",
            target_id=self.document.ref,
            automatic=True,
            maximum_automatic_attempts=settings.retry_attempts,
            retry_attempt_seconds=settings.retry_interval_seconds,
            parameters={
                "AutomationAssumeRole": {"StaticValue": {"Values": [self.automation_role.role_arn]}},
                "ResourceId": {"ResourceValue": {"Value": "RESOURCE_ID"}},
            },
        )
        self._acknowledge_reviewed_wildcards()

    def _create_document(
        self, max_age: int, deactivate_after: int, exemption_tag: tuple[str, str], include_email_tag: bool
    ) -> ssm.CfnDocument:
        content = load_document("access_key_remediation")
        embed_script(content, "ReportOldKeys", "access_key_report")
        for parameter, value in [
            ("MaxAccessKeyAge", str(max_age)),
            ("DeactivateAfter", str(deactivate_after)),
            ("ExemptionTagKey", exemption_tag[0]),
            ("ExemptionTagValue", exemption_tag[1]),
            ("IncludeEmailTag", "true" if include_email_tag else "false"),
            ("TopicArn", self.topic_arn),
        ]:
            pin_parameter(content, parameter, value)
        return ssm.CfnDocument(
            self, "Document", document_type="Automation", document_format="YAML", content=content,
            update_method="NewVersion",
        )  # fmt: skip

    def _create_automation_role(self, exemption_tag: tuple[str, str]) -> iam.Role:
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "AutomationRole",
            role_name=REMEDIATION_ROLE_NAME,
            description="Runs the access-key remediation: reads keys, reports them centrally",
            assumed_by=systems_manager_of_this_account(self),
        )
        users = stack.format_arn(service="iam", region="", resource="user", resource_name="*")
        role.add_to_policy(
            iam.PolicyStatement(sid="ResolveUserName", actions=["config:ListDiscoveredResources"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadKeysAndTags", actions=["iam:ListAccessKeys", "iam:ListUserTags"], resources=[users]
            )
        )
        if self.deactivates:
            # Exempt users are refused by IAM too, not only by the script.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DeactivateOldKeysOfUsersNotExempt",
                    actions=["iam:UpdateAccessKey"],
                    resources=[users],
                    conditions={"StringNotEqualsIgnoreCase": {f"aws:ResourceTag/{exemption_tag[0]}": exemption_tag[1]}},
                )
            )
        role.add_to_policy(
            iam.PolicyStatement(sid="PublishFinding", actions=["sns:Publish"], resources=[self.topic_arn])
        )
        topic_region, topic_account = _topic_region_and_account(self.topic_arn)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseTheCentralTopicKeyThroughSns",
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=[f"arn:{stack.partition}:kms:{topic_region}:{topic_account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{topic_region}.amazonaws.com"}},
            )
        )
        return role

    def _acknowledge_reviewed_wildcards(self) -> None:
        policy = self.automation_role.node.find_child("DefaultPolicy")
        stack = cdk.Stack.of(self)
        topic_region, topic_account = _topic_region_and_account(self.topic_arn)
        acknowledge_wildcard_resource(
            policy,
            "*",
            "config:ListDiscoveredResources has no resource-level permissions; it maps a user id to a name.",
        )
        acknowledge_wildcard_resource(
            policy,
            stack.format_arn(service="iam", region="", resource="user", resource_name="*"),
            "Config may report any IAM user of the account; UpdateAccessKey (when on) excludes exempt users by tag.",
        )
        acknowledge_wildcard_resource(
            policy,
            f"arn:{stack.partition}:kms:{topic_region}:{topic_account}:key/*",
            "The central topic's key id is not known in the member account; use is limited to SNS in that "
            "account and Region (kms:ViaService), and the key policy admits only the organization.",
        )
        acknowledge_wildcard_action(
            policy, "kms:GenerateDataKey*", "SNS needs a data key of the central topic's key to accept a publish."
        )
        acknowledge_recorder_wildcards(self)


def _topic_region_and_account(topic_arn: str) -> tuple[str, str]:
    if cdk.Token.is_unresolved(topic_arn):
        parts = cdk.Arn.split(topic_arn, cdk.ArnFormat.NO_RESOURCE_NAME)
        return parts.region, parts.account
    _, _, _, region, account, _ = topic_arn.split(":")
    return region, account


def _refuse_second_copy_in_one_account(construct: AccessKeyRemediation) -> None:
    """Two copies would report every old key twice (or fail on the rule name at deploy)."""
    account = cdk.Stack.of(construct).account
    for other in construct.node.root.node.find_all():
        if (
            other is not construct
            and isinstance(other, AccessKeyRemediation)
            and cdk.Stack.of(other).account == account
        ):
            raise PropsError(
                "AccessKeyRemediation",
                construct.node.path,
                f"one per account; {other.node.path} already covers this account (IAM is global: home Region only)",
            )
