"""BreakGlass: on-demand emergency root/Administrator password for Linux and Windows nodes.

An operator runs the construct's Command document against a managed node. The node sets a new
random password for ``root`` (Linux) or the built-in Administrator (Windows), stores it as a
SecureString ``<prefix>/pwd-<instance-id>`` under a dedicated KMS key, and the parameter is deleted
after a short TTL by two independent paths:

* the per-instance Run Command status event starts a state machine that waits the TTL and then
  deletes the parameter if it is at least TTL old (a newer run on the same node is left alone);
* a scheduled sweeper (every minute by default) deletes every break-glass parameter older than the
  TTL, so a password outlives its TTL by at most about a minute (one sweep interval plus one run)
  when the event path fails.

A parameter last written by anyone but its own node is deleted at once by either path, with an
alert to the audit topic. The key admits only the operators (and readers granted later) to decrypt,
and nobody to create grants; every PutKeyPolicy, CreateGrant and ScheduleKeyDeletion on it is
notified to the audit topic (see ``PasswordVault``).

Optionally the state machine runs the document again after ``reset_after`` so that the revealed
password stops working (like Windows LAPS post-authentication reset).

One module per concern, each creating its resources directly in this construct's scope (the
logical ids are those of deployed stacks, so no concern gets a construct level of its own):

* :mod:`guardrails.break_glass.props`: the settings, each declared once;
* :mod:`guardrails.break_glass.document`: the Command document and the operators' start statements;
* :mod:`guardrails.break_glass.cleanup`: the clean-up function and state machine (TTL, reset);
* :mod:`guardrails.break_glass.rules`: the rules that start clean-up and audit, and the alarms;
* :class:`guardrails.PasswordVault`: the key and the reader/writer statements.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from guardrails.break_glass.cleanup import create_cleanup_function, create_state_machine
from guardrails.break_glass.document import (
    create_document,
    create_reset_document,
    node_arns,
    reset_document_name,
    start_statements,
)
from guardrails.break_glass.props import BreakGlassSettings
from guardrails.break_glass.rules import create_alarms, create_rules
from guardrails.break_glass.tamper import protect_cleanup
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.nag import acknowledge_grant, acknowledge_wildcard_action, acknowledge_wildcard_resource
from guardrails.shared.password_vault import PasswordVault
from guardrails.shared.principals import Principal, contract_policy, roles_and_patterns
from guardrails.shared.validation import check_not_empty


class BreakGlass(Construct):
    """Emergency root/Administrator access on demand, with a password readable only for a short time.

    :param operators: roles that may run break-glass and read the password: ``iam.IRole`` or
        :class:`guardrails.shared.Principal` (role name, role ARN with a path, IAM Identity Center
        permission set). Roles get the managed policy ``operator_policy`` (fixed name
        ``SsmGuardrails-BreakGlassOperator-<region>``, path ``/ssm-guardrails/``, which a permission set
        references instead); all are the only principals the key policy lets decrypt. At least one.
    :param settings: every user setting, with its default and allowed range
        (:class:`BreakGlassSettings`; the README's "controls.break_glass" table). Default: all defaults.
    :param key: bring your own KMS key; its policy is then yours to scope (see README). Default: a
        dedicated key with rotation on, retained on stack deletion.
    :param key_alias: alias of the created key. Default: ``alias/ssm-guardrails/break-glass``.
    :param key_admins: principals that administer (never use) the created key. Default: the
        account root, i.e. IAM policies in this account decide.
    :param audit_topic: SNS topic for audit notifications, clean-up alarms and alerts (a password
        written by another principal, a change to the key). Default: a new topic encrypted with a
        new KMS key. The clean-up function may publish to it (and use its key, for a topic created
        with ``master_key``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        operators: Sequence[iam.IRole | Principal],
        settings: BreakGlassSettings | None = None,
        key: kms.IKey | None = None,
        key_admins: Sequence[iam.IPrincipal] | None = None,
        audit_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        settings = settings or BreakGlassSettings()
        check_not_empty("BreakGlass.operators", operators)
        ttl = cdk.Duration.seconds(settings.ttl_seconds)
        reset_after = cdk.Duration.hours(settings.reset_after_hours)
        sweep_interval = cdk.Duration.minutes(settings.sweep_interval_minutes)
        parameter_prefix, document_name = settings.parameter_prefix, settings.document_name
        self.settings = settings
        self.ttl = ttl
        self.parameter_prefix = parameter_prefix
        self.document_name = document_name
        stack = cdk.Stack.of(self)
        self.vault = PasswordVault(
            self,
            "Vault",
            parameter_name_pattern=f"{parameter_prefix[1:]}/pwd-*",
            description="SSM Guardrails break-glass passwords",
            key=key,
            key_alias=settings.key_alias,
            key_admins=key_admins,
        )
        self.key = self.vault.key
        self.parameter_arn_pattern = self.vault.parameter_arn_pattern
        self.document = create_document(
            self, document_name=document_name, password_length=settings.password_length,
            parameter_prefix=parameter_prefix, key_arn=self.key.key_arn,
        )  # fmt: skip
        self.document_arn = stack.format_arn(service="ssm", resource="document", resource_name=document_name)
        self.reset_document_name = reset_document_name(document_name)
        self.reset_document = create_reset_document(
            self, document_name=document_name, password_length=settings.password_length,
            parameter_prefix=parameter_prefix, key_arn=self.key.key_arn,
        )  # fmt: skip
        self.reset_document_arn = stack.format_arn(
            service="ssm", resource="document", resource_name=self.reset_document_name
        )
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="Lets a managed node store its own break-glass password (write only, no read).",
            # Node ids only (i-, mi-), one level under the prefix: what the clean-up sweeps.
            statements=self.vault.writer_statements(
                [f"{parameter_prefix[1:]}/pwd-i-*", f"{parameter_prefix[1:]}/pwd-mi-*"]
            ),
        )
        operator_roles, operator_patterns = roles_and_patterns(self, "Operator", operators)
        self.operator_policy = contract_policy(
            self,
            "OperatorPolicy",
            "BreakGlassOperator",
            regional=True,
            description="Lets a break-glass operator run the document and read the password before it expires.",
            statements=[
                *start_statements(self, self.document_arn, self.reset_document_arn),
                *self.vault.reader_statements(),
            ],
            roles=operator_roles,
        )
        for role in operator_roles:  # named readers (their IAM changes are alerted), then permission sets
            self.vault.allow_reader(role)
        self.vault.allow_reader_patterns(operator_patterns)

        self.audit_topic = audit_topic or EncryptedTopic(self, "Audit", description="break-glass audit").topic
        self.key_changed_rule = self.vault.notify_key_changes(self.audit_topic)
        self.cleanup_function = create_cleanup_function(
            self, parameter_prefix=parameter_prefix, parameter_arn_pattern=self.parameter_arn_pattern, ttl=ttl,
            audit_topic=self.audit_topic,
        )  # fmt: skip
        self.state_machine = create_state_machine(
            self, cleanup_function=self.cleanup_function, ttl=ttl, reset_after=reset_after,
            reset_document_name=self.reset_document_name, reset_document_arn=self.reset_document_arn,
        )  # fmt: skip
        self.cleanup_rules = create_rules(
            self, document_names=[document_name, self.reset_document_name], ttl=ttl, sweep_interval=sweep_interval,
            state_machine=self.state_machine, cleanup_function=self.cleanup_function, audit_topic=self.audit_topic,
        )  # fmt: skip
        create_alarms(
            self, state_machine=self.state_machine, command_finished_rule=self.cleanup_rules[0],
            sweep_rule=self.cleanup_rules[2], sweep_interval=sweep_interval, audit_topic=self.audit_topic,
        )  # fmt: skip
        self.change_alert_rules = protect_cleanup(self)
        self._acknowledge_reviewed_wildcards()

    def _acknowledge_reviewed_wildcards(self) -> None:
        """Each wildcard below was reviewed; the reason is what a security reviewer reads."""
        password_names = self.parameter_arn_pattern
        instances, managed_instances = node_arns(self)
        cleanup_policy = self.cleanup_function.role.node.find_child("DefaultPolicy")
        state_machine_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        node_password_names = [
            cdk.Stack.of(self).format_arn(
                service="ssm", resource="parameter", resource_name=f"{self.parameter_prefix[1:]}/pwd-{kind}-*"
            )
            for kind in ("i", "mi")
        ]
        reviewed = [
            *(
                (
                    self.instance_policy,
                    names,
                    "Write-only (PutParameter) to node-id names one level under the prefix (deeper names are "
                    "denied): IAM offers no policy variable for the caller's instance id in an SSM parameter "
                    "ARN. No read, no decrypt.",
                )
                for names in node_password_names
            ),
            (
                self.operator_policy,
                password_names,
                "Operators read break-glass passwords only (<prefix>/pwd-*), decryptable via SSM only.",
            ),
            (
                self.operator_policy,
                instances,
                "Break-glass must reach any EC2 node of the account; SendCommand is tied to this document.",
            ),
            (
                self.operator_policy,
                managed_instances,
                "Break-glass must reach any hybrid (mi-) node; SendCommand is tied to this document.",
            ),
            (
                self.operator_policy,
                "*",
                "ssm:ListCommands, ListCommandInvocations, GetCommandInvocation and DescribeInstanceInformation have "
                "no resource-level permissions; they show command and node status, never a password.",
            ),
            (cleanup_policy, password_names, "The clean-up deletes break-glass passwords under the prefix only."),
            (
                cleanup_policy,
                "*",
                "ssm:DescribeParameters has no resource-level permissions; it returns "
                "metadata (name, modification time), never a value.",
            ),
            (
                state_machine_policy,
                instances,
                "The automatic reset runs the reset document on the EC2 node that ran break-glass.",
            ),
            (
                state_machine_policy,
                managed_instances,
                "The automatic reset runs the reset document on the hybrid node that ran break-glass.",
            ),
            (
                state_machine_policy,
                "*",
                "X-Ray and CloudWatch Logs delivery have no resource-level permissions "
                "(statements generated by CDK for tracing and logging).",
            ),
            (
                state_machine_policy,
                f"{self.cleanup_function.function.function_arn}:*",
                "Generated by CDK: invoke the clean-up function's versions and aliases.",
            ),
        ]
        for policy, resource, reason in reviewed:
            acknowledge_wildcard_resource(policy, resource, reason)
        acknowledge_wildcard_action(
            cleanup_policy,
            "kms:GenerateDataKey*",
            "Granted by topic.grant_publish on the audit topic's own key: SNS needs a data key to accept the alert.",
        )

    # ----------------------------------------------------------------------------- public API

    def attach_to_instance_role(self, role: iam.IRole) -> None:
        """Let the nodes that use ``role`` store their break-glass password (write only)."""
        self.instance_policy.attach_to_role(role)

    def grant_start_break_glass(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` run the break-glass document on any managed node and follow its status; like
        the operators, it may not run the reset document or change the clean-up."""
        for statement in [*start_statements(self, self.document_arn, self.reset_document_arn), *self.cleanup_denies]:
            if grantee.grant_principal.add_to_principal_policy(statement).statement_added:
                acknowledge_grant(
                    grantee,
                    statement,
                    "Break-glass reaches any node but only with this document; command status calls take no ARN.",
                )

    def grant_read_password(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read and decrypt break-glass passwords (through Parameter Store only).

        The grantee is also added to the key policy of the created key, which admits no one else.
        """
        self.vault.grant_read(grantee)
