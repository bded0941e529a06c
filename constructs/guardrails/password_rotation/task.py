"""The maintenance window that rotates the passwords: window, target, service role and EC2Rescue task.

Everything is created directly in the :class:`guardrails.PasswordRotationWindow` scope, so the
logical ids (and the generated window name) stay those of deployed stacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from guardrails.shared.principals import systems_manager_of_this_account

EC2RESCUE_DOCUMENT = "AWSSupport-RunEC2RescueForWindowsTool"
#: Where EC2Rescue ResetAccess stores passwords; fixed by the tool.
PASSWORD_PATH = "/EC2Rescue/Passwords"  # noqa: S105 (a path, not a password)


def create_window(
    scope: Construct,
    *,
    window_name: str | None,
    schedule: str,
    schedule_timezone: str | None,
    duration: cdk.Duration,
    cutoff: cdk.Duration,
    tag_filters: Mapping[str, Sequence[str]],
    owner_information: str | None,
) -> tuple[ssm.CfnMaintenanceWindow, ssm.CfnMaintenanceWindowTarget]:
    """The window, and its target: every instance that matches every tag key (with any of its values)."""
    window = ssm.CfnMaintenanceWindow(
        scope,
        "Window",
        name=window_name or cdk.Names.unique_resource_name(scope, max_length=128, separator="-"),
        description="Rotates the local Administrator password of tagged Windows instances (EC2Rescue)",
        schedule=schedule,
        schedule_timezone=schedule_timezone,
        duration=int(duration.to_hours()),
        cutoff=int(cutoff.to_hours()),
        allow_unassociated_targets=False,
    )
    target = ssm.CfnMaintenanceWindowTarget(
        scope,
        "Target",
        window_id=window.ref,
        resource_type="INSTANCE",
        targets=[
            ssm.CfnMaintenanceWindowTarget.TargetsProperty(key=f"tag:{key}", values=values)
            for key, values in tag_filters.items()
        ],
        owner_information=owner_information,
    )
    return window, target


def create_window_role(scope: Construct, tag_filters: Mapping[str, Sequence[str]]) -> iam.Role:
    """The window's service role: EC2Rescue ResetAccess on instances that carry the target tags only."""
    stack = cdk.Stack.of(scope)
    role = iam.Role(
        scope,
        "WindowRole",
        description="Maintenance window service role: runs EC2Rescue ResetAccess on the targeted instances",
        assumed_by=systems_manager_of_this_account(scope),
    )
    document_arn = stack.format_arn(service="ssm", account="", resource="document", resource_name=EC2RESCUE_DOCUMENT)
    role.add_to_policy(
        iam.PolicyStatement(sid="RunEc2RescueDocument", actions=["ssm:SendCommand"], resources=[document_arn])
    )
    # Only instances that carry the target tags: a changed target cannot reach other instances.
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OnTaggedInstancesOnly",
            actions=["ssm:SendCommand"],
            resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
            conditions={"StringEquals": {f"ssm:resourceTag/{key}": values for key, values in tag_filters.items()}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="FollowAndCancelCommands",
            actions=[
                "ssm:ListCommands",
                "ssm:ListCommandInvocations",
                "ssm:GetCommandInvocation",
                "ssm:CancelCommand",
            ],
            resources=["*"],
        )
    )
    return role


def create_task(
    scope: Construct,
    *,
    window: ssm.CfnMaintenanceWindow,
    target: ssm.CfnMaintenanceWindowTarget,
    role: iam.IRole,
    key: kms.IKey,
    log_group: logs.ILogGroup,
    max_concurrency: str,
    max_errors: str,
    priority: int,
    task_timeout: cdk.Duration,
) -> ssm.CfnMaintenanceWindowTask:
    """EC2Rescue ResetAccess on the target, storing the passwords under ``key``, output to ``log_group``."""
    run_command = ssm.CfnMaintenanceWindowTask.MaintenanceWindowRunCommandParametersProperty(
        comment="SSM Guardrails password rotation (EC2Rescue ResetAccess)",
        parameters={"Command": ["ResetAccess"], "Parameters": [key.key_id]},
        timeout_seconds=int(task_timeout.to_seconds()),
        cloud_watch_output_config=ssm.CfnMaintenanceWindowTask.CloudWatchOutputConfigProperty(
            cloud_watch_log_group_name=log_group.log_group_name, cloud_watch_output_enabled=True
        ),
    )
    return ssm.CfnMaintenanceWindowTask(
        scope,
        "Task",
        window_id=window.ref,
        task_type="RUN_COMMAND",
        task_arn=EC2RESCUE_DOCUMENT,
        targets=[ssm.CfnMaintenanceWindowTask.TargetProperty(key="WindowTargetIds", values=[target.ref])],
        service_role_arn=role.role_arn,
        max_concurrency=max_concurrency,
        max_errors=max_errors,
        priority=priority,
        task_invocation_parameters=ssm.CfnMaintenanceWindowTask.TaskInvocationParametersProperty(
            maintenance_window_run_command_parameters=run_command
        ),
    )


def output_log_statements(log_group: logs.ILogGroup) -> list[iam.PolicyStatement]:
    """SSM Agent sends the command output to CloudWatch Logs with the instance's credentials."""
    return [
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]),
    ]
