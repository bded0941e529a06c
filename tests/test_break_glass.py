"""BreakGlass: what the example's member stack deploys, its variants, and its prop checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_helpers import (
    SynthesizedApp,
    as_list,
    flatten,
    nag_findings,
    new_app,
    only_resource,
    rendered,
    resources_of,
    statements,
)

from guardrails import BreakGlass, PropsError
from guardrails.break_glass import BreakGlassSettings
from stacks.build import MEMBER_REGIONAL_STACK_NAME

PASSWORD_ARN = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/BreakGlass/pwd-*"
NODE_PASSWORD_ARNS = [
    "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/BreakGlass/pwd-i-*",
    "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/BreakGlass/pwd-mi-*",
]
RESET_DOCUMENT = "SsmGuardrails-BreakGlass-AutomaticReset"
VIA_SSM = "ssm.<AWS::Region>.amazonaws.com"


@pytest.fixture(scope="module")
def member(example_app: SynthesizedApp) -> dict[str, Any]:
    return example_app.template_json(MEMBER_REGIONAL_STACK_NAME)


def _policy(template: dict[str, Any], id_contains: str) -> list[dict[str, Any]]:
    resource = only_resource(template, "AWS::IAM::ManagedPolicy", id_contains)
    return rendered(statements(resource["Properties"]["PolicyDocument"]))


def _actions(policy: list[dict[str, Any]]) -> set[str]:
    return {action for statement in policy for action in as_list(statement["Action"])}


# ------------------------------------------------------------------------------------------ key


def test_key_rotates_and_is_retained(member: dict[str, Any]) -> None:
    key = only_resource(member, "AWS::KMS::Key", "BreakGlassVaultKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    alias = only_resource(member, "AWS::KMS::Alias", "BreakGlassVaultKeyAlias")
    assert alias["Properties"]["AliasName"] == "alias/ssm-guardrails/break-glass"


def test_key_policy_lets_only_operators_decrypt_and_nodes_only_encrypt_via_ssm(member: dict[str, Any]) -> None:
    policy = rendered(
        statements(only_resource(member, "AWS::KMS::Key", "BreakGlassVaultKey")["Properties"]["KeyPolicy"])
    )
    by_sid = {statement["Sid"]: statement for statement in policy}
    assert set(by_sid) == {
        "KeyAdministrationWithoutUse",
        "EncryptPasswordsThroughParameterStore",
        "NamedReadersDecryptPasswordsThroughParameterStore",
        "NoDecryptForAnyoneButNamedReaders",
        "NoGrantsForAnyone",
    }
    for sid, action in [
        # Standard tier: Encrypt; Advanced tier: envelope encryption, GenerateDataKey (issue 23 item 4):
        # https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
        ("EncryptPasswordsThroughParameterStore", ["kms:Encrypt", "kms:GenerateDataKey"]),
        ("NamedReadersDecryptPasswordsThroughParameterStore", "kms:Decrypt"),
    ]:
        statement = by_sid[sid]
        assert statement["Action"] == action
        assert statement["Condition"]["StringEquals"] == {"kms:ViaService": VIA_SSM}
        assert statement["Condition"]["ArnLike"]["kms:EncryptionContext:PARAMETER_ARN"] == PASSWORD_ARN
    readers = by_sid["NamedReadersDecryptPasswordsThroughParameterStore"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert readers == ["arn:<AWS::Partition>:iam::<AWS::AccountId>:role/BreakGlassOperator"]


def test_key_administrators_may_not_use_the_key_or_create_grants(member: dict[str, Any]) -> None:
    """Issue 13 item 1: kms:Create* included kms:CreateGrant, and a grant is decrypt in disguise."""
    policy = rendered(
        statements(only_resource(member, "AWS::KMS::Key", "BreakGlassVaultKey")["Properties"]["KeyPolicy"])
    )
    admin = next(s for s in policy if s["Sid"] == "KeyAdministrationWithoutUse")
    actions = as_list(admin["Action"])
    assert not [a for a in actions if "*" in a], "admin actions are listed one by one"
    assert not {"kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"} & set(actions)
    assert not [a for a in actions if a.startswith(("kms:GenerateDataKey", "kms:Sign", "kms:Verify"))]
    # CloudFormation keeps managing the key: the lockout safety check needs PutKeyPolicy for the deployer
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:EnableKeyRotation", "kms:TagResource"} <= set(actions)
    assert not [s for s in policy if s["Effect"] == "Allow" and "kms:CreateGrant" in as_list(s["Action"])]


def test_key_policy_denies_decrypt_to_everyone_but_the_readers_and_grants_to_everyone(member: dict[str, Any]) -> None:
    policy = rendered(
        statements(only_resource(member, "AWS::KMS::Key", "BreakGlassVaultKey")["Properties"]["KeyPolicy"])
    )
    by_sid = {statement["Sid"]: statement for statement in policy}
    use = by_sid["NoDecryptForAnyoneButNamedReaders"]
    assert (use["Effect"], use["Principal"]) == ("Deny", {"AWS": "*"})
    assert sorted(as_list(use["Action"])) == ["kms:Decrypt", "kms:ReEncrypt*"]
    readers = by_sid["NamedReadersDecryptPasswordsThroughParameterStore"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert use["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": readers}}
    grants = by_sid["NoGrantsForAnyone"]
    assert (grants["Effect"], grants["Principal"], grants["Action"]) == ("Deny", {"AWS": "*"}, "kms:CreateGrant")
    assert "Condition" not in grants
    # nothing denies what CloudFormation needs to manage the key
    denied = {a for s in policy if s["Effect"] == "Deny" for a in as_list(s["Action"])}
    assert denied == {"kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant"}


def test_alias_and_reader_role_changes_reach_the_audit_topic(member: dict[str, Any]) -> None:
    """Issue 23 item 5: what the key policy cannot refuse is reported: the alias moved or deleted, and
    IAM changes to a reader role (in us-east-1 only, where IAM's events arrive:
    https://repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region)."""
    alias = only_resource(member, "AWS::Events::Rule", "BreakGlassVaultKeyAliasChangedRule")["Properties"]
    assert alias["EventPattern"]["detail"]["eventName"] == ["UpdateAlias", "DeleteAlias"]
    assert alias["EventPattern"]["detail"]["requestParameters"] == {"aliasName": ["alias/ssm-guardrails/break-glass"]}
    readers = only_resource(member, "AWS::Events::Rule", "BreakGlassVaultReaderRolesChangedRule")
    detail = readers["Properties"]["EventPattern"]["detail"]
    assert detail["eventSource"] == ["iam.amazonaws.com"]
    assert set(detail["eventName"]) == {
        "UpdateAssumeRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
        "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    }  # fmt: skip
    assert detail["requestParameters"] == {"roleName": ["BreakGlassOperator"]}
    condition = member["Conditions"][readers["Condition"]]
    assert condition == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    # nothing unconditional refers to it (the deploy would fail outside us-east-1)
    [rule_id] = [i for i in resources_of(member, "AWS::Events::Rule") if i.startswith("BreakGlassVaultReaderRoles")]
    unconditional = {i: r for i, r in member["Resources"].items() if "Condition" not in r}
    assert rule_id not in json.dumps(unconditional)


def test_key_policy_changes_grants_and_deletion_reach_the_audit_topic(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Events::Rule", "BreakGlassVaultKeyChangedRule")["Properties"]
    key_id = next(k for k in resources_of(member, "AWS::KMS::Key") if k.startswith("BreakGlassVaultKey"))
    assert rule["EventPattern"] == {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": ["PutKeyPolicy", "CreateGrant", "ScheduleKeyDeletion", "DisableKey"],
            "requestParameters": {"keyId": [{"Ref": key_id}, {"Fn::GetAtt": [key_id, "Arn"]}]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"]["Ref"].startswith("NotificationsTopic")
    assert {"$.detail.userIdentity.arn", "$.detail.eventName", "$.detail.requestParameters.keyId"} <= set(
        target["InputTransformer"]["InputPathsMap"].values()
    )


# ------------------------------------------------------------------------------------------ document


def test_document_is_a_named_command_document_updated_in_place(member: dict[str, Any]) -> None:
    document = only_resource(member, "AWS::SSM::Document", "BreakGlassDocument")["Properties"]
    assert document["Name"] == "SsmGuardrails-BreakGlass"
    assert document["DocumentType"] == "Command"
    assert document["UpdateMethod"] == "NewVersion"
    content = document["Content"]
    assert content["schemaVersion"] == "2.2"
    platforms = {step["precondition"]["StringEquals"][1]: step["action"] for step in content["mainSteps"]}
    assert platforms == {"Linux": "aws:runShellScript", "Windows": "aws:runPowerShellScript"}


def test_document_pins_key_and_prefix_so_operators_cannot_redirect_the_password(member: dict[str, Any]) -> None:
    parameters = only_resource(member, "AWS::SSM::Document", "BreakGlassDocument")["Properties"]["Content"][
        "parameters"
    ]
    key_arn = {"Fn::GetAtt": [next(k for k in resources_of(member, "AWS::KMS::Key") if "Vault" in k), "Arn"]}
    assert parameters["KmsKeyId"]["allowedValues"] == [key_arn]
    assert parameters["ParameterPrefix"]["allowedValues"] == ["/BreakGlass"]
    assert parameters["PasswordLength"]["default"] == "24"


# ------------------------------------------------------------------------------------------ IAM


def test_instance_policy_writes_node_id_names_one_level_deep_and_reads_nothing(member: dict[str, Any]) -> None:
    """Issue 23 items 3 and 4: pwd-i-* and pwd-mi-* only, nothing deeper (an IAM ``*`` also matches
    ``/``), and both tiers' key calls: Encrypt for Standard, GenerateDataKey for Advanced
    (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html)."""
    policy = _policy(member, "BreakGlassInstancePolicy")
    assert _actions(policy) == {"ssm:PutParameter", "kms:Encrypt", "kms:GenerateDataKey"}
    put = next(s for s in policy if s["Action"] == "ssm:PutParameter" and s["Effect"] == "Allow")
    assert sorted(put["Resource"]) == NODE_PASSWORD_ARNS
    deeper = next(s for s in policy if s["Action"] == "ssm:PutParameter" and s["Effect"] == "Deny")
    assert sorted(deeper["Resource"]) == [f"{arn}/*" for arn in NODE_PASSWORD_ARNS]
    encrypt = next(s for s in policy if "kms:Encrypt" in as_list(s["Action"]))
    assert sorted(encrypt["Action"]) == ["kms:Encrypt", "kms:GenerateDataKey"]
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": VIA_SSM}
    assert sorted(encrypt["Condition"]["ArnLike"]["kms:EncryptionContext:PARAMETER_ARN"]) == NODE_PASSWORD_ARNS


def test_operator_policy_is_attached_to_the_configured_roles(member: dict[str, Any]) -> None:
    resource = only_resource(member, "AWS::IAM::ManagedPolicy", "BreakGlassOperatorPolicy")
    assert resource["Properties"]["Roles"] == ["BreakGlassOperator"]
    policy = _policy(member, "BreakGlassOperatorPolicy")
    send = next(s for s in policy if s["Action"] == "ssm:SendCommand" and s["Effect"] == "Allow")
    assert sorted(send["Resource"]) == [
        "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*",
        "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:document/SsmGuardrails-BreakGlass",
        "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:managed-instance/*",
    ]
    never_reset = next(s for s in policy if s.get("Sid") == "NeverRunTheAutomaticResetDocument")
    assert (never_reset["Effect"], never_reset["Action"], never_reset["Resource"]) == (
        "Deny", "ssm:SendCommand", f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:document/{RESET_DOCUMENT}",
    )  # fmt: skip
    read = next(s for s in policy if s["Action"] == "ssm:GetParameter")
    assert read["Resource"] == PASSWORD_ARN
    decrypt = next(s for s in policy if s["Action"] == "kms:Decrypt")
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": VIA_SSM}}
    assert "ssm:GetParametersByPath" not in _actions(policy)


def test_cleanup_may_only_delete_break_glass_parameters(member: dict[str, Any]) -> None:
    policy = rendered(
        statements(
            only_resource(member, "AWS::IAM::Policy", "BreakGlassCleanupRoleDefaultPolicy")["Properties"][
                "PolicyDocument"
            ]
        )
    )
    deletes = next(s for s in policy if s.get("Sid") == "DeleteBreakGlassPasswords")
    assert deletes["Resource"] == PASSWORD_ARN
    assert {a for s in policy for a in as_list(s["Action"]) if a.startswith("ssm:")} == {
        "ssm:DeleteParameter",
        "ssm:DeleteParameters",
        "ssm:DescribeParameters",
    }


# ------------------------------------------------------------------------------------------ clean-up


def test_command_end_event_starts_cleanup_and_audit(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Events::Rule", "CommandFinishedRule")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["EC2 Command Invocation Status-change Notification"]
    assert pattern["detail"]["document-name"] == ["SsmGuardrails-BreakGlass", RESET_DOCUMENT]
    excluded = pattern["detail"]["status"][0]["anything-but"]
    assert {"Success", "Failed", "TimedOut", "Cancelled"}.isdisjoint(excluded)
    assert set(excluded) == {"Pending", "InProgress", "Delayed", "Cancelling"}
    arns = [t["Arn"]["Ref"] for t in rule["Targets"]]
    assert any("StateMachine" in arn for arn in arns) and any("NotificationsTopic" in arn for arn in arns)
    audit = next(t for t in rule["Targets"] if "NotificationsTopic" in t["Arn"]["Ref"])
    assert set(audit["InputTransformer"]["InputPathsMap"].values()) == {
        "$.detail.command-id",
        "$.detail.instance-id",
        "$.detail.status",
    }


def test_caller_is_audited_from_cloudtrail(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Events::Rule", "CommandStartedRule")["Properties"]
    assert rule["EventPattern"]["detail"]["eventName"] == ["SendCommand"]
    names = rule["EventPattern"]["detail"]["requestParameters"]["documentName"]
    assert names[:2] == ["SsmGuardrails-BreakGlass", RESET_DOCUMENT]
    transformer = rule["Targets"][0]["InputTransformer"]
    # who, and the operator's reason (the SendCommand Comment the CLI fills with --reason)
    assert {"$.detail.userIdentity.arn", "$.detail.requestParameters.comment"} <= set(
        transformer["InputPathsMap"].values()
    )


def test_sweeper_runs_on_schedule(member: dict[str, Any]) -> None:
    rule = only_resource(member, "AWS::Events::Rule", "SweepRule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"  # exposure bound: TTL + about a minute
    assert "CleanupFunction" in rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]


def test_cleanup_function_knows_prefix_and_ttl(member: dict[str, Any]) -> None:
    function = only_resource(member, "AWS::Lambda::Function", "BreakGlass")["Properties"]
    assert function["Environment"]["Variables"] == {
        "PARAMETER_PREFIX": "/BreakGlass",
        "TTL_SECONDS": "60",
        "TOPIC_ARN": {"Ref": next(k for k in resources_of(member, "AWS::SNS::Topic") if k.startswith("Notifications"))},
    }
    assert function["Runtime"] == "python3.14"
    assert function["Handler"] == "index.handler"


def test_cleanup_function_may_publish_alerts_to_the_audit_topic_and_use_its_key(member: dict[str, Any]) -> None:
    policy = rendered(
        statements(
            only_resource(member, "AWS::IAM::Policy", "BreakGlassCleanupRoleDefaultPolicy")["Properties"][
                "PolicyDocument"
            ]
        )
    )
    topic = next(k for k in resources_of(member, "AWS::SNS::Topic") if k.startswith("Notifications"))
    topic_key = next(k for k in resources_of(member, "AWS::KMS::Key") if k.startswith("NotificationsKey"))
    publish = next(s for s in policy if "sns:Publish" in as_list(s["Action"]))
    assert publish["Resource"] == f"<{topic}>"
    assert as_list(publish["Action"]) == ["sns:Publish"]
    key_use = next(s for s in policy if "kms:GenerateDataKey*" in as_list(s["Action"]))
    assert key_use["Resource"] == f"<{topic_key}.Arn>"
    # and no other key: in particular not the password key
    assert {s["Resource"] for s in policy if any(a.startswith("kms:") for a in as_list(s["Action"]))} == {
        f"<{topic_key}.Arn>"
    }


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    machine = only_resource(template, "AWS::StepFunctions::StateMachine")["Properties"]
    return json.loads(flatten(machine["DefinitionString"]))


def test_state_machine_waits_ttl_then_deletes_then_resets_after_success(member: dict[str, Any]) -> None:
    states = _definition(member)["States"]
    assert _definition(member)["StartAt"] == "WaitForTtl"
    assert states["WaitForTtl"] == {"Type": "Wait", "Seconds": 60, "Next": "DeletePasswordAfterTtl"}
    delete = states["DeletePasswordAfterTtl"]
    assert delete["Parameters"] == {"instance_id.$": "$.detail['instance-id']"}
    assert any("States.ALL" in retry["ErrorEquals"] for retry in delete["Retry"])
    assert delete["Next"] == "ResetNeeded"  # no look-up of the command: its comment proves nothing
    choices = states["ResetNeeded"]["Choices"]
    # A run of the reset document ends here, recognised by the document name (issue 23 item 1).
    assert choices[0] == {
        "Variable": "$.detail['document-name']", "StringEquals": RESET_DOCUMENT, "Next": "AutomaticResetCleanedUp",
    }  # fmt: skip
    assert choices[1] == {"Variable": "$.detail.status", "StringEquals": "Success", "Next": "WaitBeforeReset"}
    assert states["WaitBeforeReset"]["Seconds"] == 8 * 3600
    reset = states["ResetPasswordAgain"]
    assert reset["Resource"].endswith(":states:::aws-sdk:ssm:sendCommand")
    assert reset["Parameters"]["DocumentName"] == RESET_DOCUMENT


def test_only_the_state_machine_may_run_the_reset_document(member: dict[str, Any]) -> None:
    documents = {d["Properties"]["Name"]: d["Properties"] for d in resources_of(member, "AWS::SSM::Document").values()}
    assert documents["SsmGuardrails-BreakGlass"]["Content"] == documents[RESET_DOCUMENT]["Content"]
    reset_arn = f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:document/{RESET_DOCUMENT}"
    machine = rendered(
        statements(
            only_resource(member, "AWS::IAM::Policy", "BreakGlassCleanupStateMachineRoleDefaultPolicy")["Properties"][
                "PolicyDocument"
            ]
        )
    )
    send = next(s for s in machine if s["Action"] == "ssm:SendCommand")
    assert reset_arn in as_list(send["Resource"])
    assert not any(r.endswith("document/SsmGuardrails-BreakGlass") for r in as_list(send["Resource"]))


def test_state_machine_logs_and_traces(member: dict[str, Any]) -> None:
    machine = only_resource(member, "AWS::StepFunctions::StateMachine")["Properties"]
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_every_cleanup_failure_raises_an_alarm_to_the_audit_topic(member: dict[str, Any]) -> None:
    alarms = resources_of(member, "AWS::CloudWatch::Alarm")
    alarms = {i: a for i, a in alarms.items() if i.startswith("BreakGlass")}
    assert len(alarms) == 5
    for alarm in alarms.values():
        assert next(a["Ref"] for a in alarm["Properties"]["AlarmActions"]).startswith("NotificationsTopic")
    metrics = json.dumps(list(alarms.values()))
    # The sweep is watched on its own rule (issue 23 item 2): a disabled SweepRule stops its invocations.
    sweep = next(a["Properties"] for i, a in alarms.items() if i.startswith("BreakGlassSweepNotRunAlarm"))
    assert (sweep["Namespace"], sweep["MetricName"]) == ("AWS/Events", "Invocations")
    assert sweep["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": next(
        i for i in resources_of(member, "AWS::Events::Rule") if i.startswith("BreakGlassSweepRule")
    )}}]  # fmt: skip
    # 1-minute sweep: 5-minute periods over the interval + 15 minutes
    assert (sweep["Period"], sweep["EvaluationPeriods"], sweep["TreatMissingData"]) == (300, 4, "missing")
    assert sweep["InsufficientDataActions"] == sweep["AlarmActions"]
    for metric in (
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
        "Errors",
        "Throttles",
        "FailedInvocations",
    ):
        assert metric in metrics


def test_audit_topic_is_encrypted_and_tls_only(member: dict[str, Any]) -> None:
    topic = only_resource(member, "AWS::SNS::Topic", "NotificationsTopic")["Properties"]
    assert "KmsMasterKeyId" in topic
    policy = only_resource(member, "AWS::SNS::TopicPolicy", "NotificationsTopic")["Properties"]["PolicyDocument"]
    deny = [s for s in statements(policy) if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_output_or_name_carries_anything_secret(member: dict[str, Any]) -> None:
    assert member["Outputs"]["BreakGlassDocumentName"] == {"Value": "SsmGuardrails-BreakGlass"}
    # Names only: no output of the stack points at a parameter, a key or anything readable.
    assert set(member["Outputs"]) == {
        "BreakGlassDocumentName",
        "PasswordRotationproductionFreshnessReport",
        "NotificationsTopicArn",
    }


# ------------------------------------------------------------------------------------------ variants


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """Non-default props, all in one app so it is synthesized once."""
    app = new_app(tmp_path_factory.mktemp("variants.out"))
    stack = cdk.Stack(app, "NoReset")
    operator = iam.Role.from_role_name(stack, "Operator", "Ops")
    BreakGlass(stack, "BreakGlass", operators=[operator], settings=BreakGlassSettings(reset_after_hours=0))

    byo = cdk.Stack(app, "BringYourOwn")
    key = kms.Key(byo, "MyKey", enable_key_rotation=True)
    topic = sns.Topic(byo, "MyTopic", master_key=key)
    reader = iam.Role(byo, "Auditor", assumed_by=iam.AccountRootPrincipal())
    instance_role = iam.Role(byo, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    glass = BreakGlass(
        byo,
        "BreakGlass",
        operators=[iam.Role.from_role_name(byo, "Operator", "Ops")],
        key=key,
        audit_topic=topic,
        settings=BreakGlassSettings(ttl_seconds=300, parameter_prefix="/Team/Emergency"),
    )
    glass.grant_read_password(reader)
    glass.grant_start_break_glass(reader)
    glass.attach_to_instance_role(instance_role)

    granted = cdk.Stack(app, "Granted")
    glass = BreakGlass(granted, "BreakGlass", operators=[iam.Role.from_role_name(granted, "Operator", "Ops")])
    glass.grant_read_password(iam.Role(granted, "Auditor", assumed_by=iam.AccountRootPrincipal()))
    return SynthesizedApp(app, app.synth())


def test_variants_pass_cdk_nag(variants: SynthesizedApp) -> None:
    findings = nag_findings(variants.app)
    assert findings == [], "\n".join(findings)


def test_reset_can_be_disabled(variants: SynthesizedApp) -> None:
    states = _definition(variants.template_json("NoReset"))["States"]
    assert set(states) == {"WaitForTtl", "DeletePasswordAfterTtl"}
    assert states["DeletePasswordAfterTtl"]["End"] is True


def test_bring_your_own_key_and_topic_creates_neither(variants: SynthesizedApp) -> None:
    template = variants.template_json("BringYourOwn")
    assert list(resources_of(template, "AWS::KMS::Key")) == [
        k for k in resources_of(template, "AWS::KMS::Key") if k.startswith("MyKey")
    ]
    assert len(resources_of(template, "AWS::SNS::Topic")) == 1
    for document in resources_of(template, "AWS::SSM::Document").values():  # the operators' and the reset one
        content = document["Properties"]["Content"]
        assert content["parameters"]["ParameterPrefix"]["allowedValues"] == ["/Team/Emergency"]
    function = only_resource(template, "AWS::Lambda::Function")["Properties"]
    assert function["Environment"]["Variables"]["TTL_SECONDS"] == "300"


def test_grant_methods_and_instance_role_attachment(variants: SynthesizedApp) -> None:
    template = variants.template_json("BringYourOwn")
    auditor_policy = rendered(
        statements(only_resource(template, "AWS::IAM::Policy", "Auditor")["Properties"]["PolicyDocument"])
    )
    assert _actions([s for s in auditor_policy if s["Effect"] == "Allow"]) == {
        "ssm:GetParameter",
        "kms:Decrypt",
        "ssm:SendCommand",
        "ssm:ListCommands",
        "ssm:ListCommandInvocations",
        "ssm:GetCommandInvocation",
        "ssm:DescribeInstanceInformation",
    }
    # like the operators: never the reset document, never a change to the clean-up (issue 23 items 1, 2)
    denied = _actions([s for s in auditor_policy if s["Effect"] == "Deny"])
    assert {"ssm:SendCommand", "events:DisableRule", "states:StopExecution", "lambda:UpdateFunctionCode"} <= denied
    instance_policy = only_resource(template, "AWS::IAM::ManagedPolicy", "InstancePolicy")["Properties"]
    assert instance_policy["Roles"] == [
        {"Ref": next(iter(k for k in resources_of(template, "AWS::IAM::Role") if k.startswith("InstanceRole")))}
    ]


def test_grant_read_password_adds_the_reader_to_the_key_policy(variants: SynthesizedApp) -> None:
    template = variants.template_json("Granted")
    policy = rendered(
        statements(only_resource(template, "AWS::KMS::Key", "BreakGlassVaultKey")["Properties"]["KeyPolicy"])
    )
    decrypt = next(s for s in policy if s["Sid"] == "NamedReadersDecryptPasswordsThroughParameterStore")
    readers = decrypt["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert readers[0].endswith(":role/Ops")
    assert any(reader.startswith("<Auditor") for reader in readers), readers


# ------------------------------------------------------------------------------------------ props


def test_break_glass_needs_an_operator(tmp_path: Path) -> None:
    with pytest.raises(PropsError, match=r"^BreakGlass.operators: got \[\]; allowed: at least one entry$"):
        BreakGlass(cdk.Stack(new_app(tmp_path), "Props"), "BreakGlass", operators=[])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ttl_seconds": 9}, "BreakGlass.ttl_seconds: got 9; allowed: a number from 10 to 3600 seconds"),
        ({"ttl_seconds": 7200}, "BreakGlass.ttl_seconds: got 7200; allowed: a number from 10 to 3600 seconds"),
        ({"password_length": 13}, "BreakGlass.password_length: got 13; allowed: a number from 14 to 128"),
        ({"password_length": 129}, "BreakGlass.password_length: got 129"),
        (
            {"parameter_prefix": "BreakGlass"},
            "BreakGlass.parameter_prefix: got 'BreakGlass'; allowed: a parameter path",
        ),
        ({"parameter_prefix": "/BreakGlass/"}, "BreakGlass.parameter_prefix: got '/BreakGlass/'"),
        ({"parameter_prefix": "/aws/x"}, "does not start with /aws or /ssm"),
        (
            {"key_alias": "alias/aws/ssm"},
            "BreakGlass.key_alias: got 'alias/aws/ssm'; allowed: an alias outside alias/aws/",
        ),
        ({"key_alias": "break-glass"}, "BreakGlass.key_alias: got 'break-glass'; allowed: alias/<name>"),
        (
            {"reset_after_hours": 169},
            "BreakGlass.reset_after_hours: got 169; allowed: a number from 1 to 168 hours (0 disables)",
        ),
        (
            {"sweep_interval_minutes": 120},
            "BreakGlass.sweep_interval_minutes: got 120; allowed: a number from 1 to 60 minutes",
        ),
        (
            {"document_name": "AWS-Mine"},
            "BreakGlass.document_name: got 'AWS-Mine'; allowed: 3-113 letters, digits, _ . - "
            "(the reset document adds '-AutomaticReset'), not starting with aws",
        ),
        ({"document_name": "D" * 114}, "BreakGlass.document_name: got 'DDD"),
        ({"document_name": "x"}, "BreakGlass.document_name: got 'x'"),
        ({"ttl": 60}, "BreakGlass.ttl: got 60; allowed: one of document_name, key_alias,"),
        ({"ttl_seconds": "60"}, "BreakGlass.ttl_seconds: got '60'; allowed: Input should be a valid integer"),
    ],
)
def test_bad_settings_fail_at_synth_with_one_line(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError) as caught:
        BreakGlassSettings(**settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_grant_read_password_refuses_a_principal_without_arn(tmp_path: Path) -> None:
    stack = cdk.Stack(new_app(tmp_path), "Grant")
    glass = BreakGlass(stack, "BreakGlass", operators=[iam.Role.from_role_name(stack, "Operator", "Ops")])
    with pytest.raises(PropsError, match="reader: got"):
        glass.grant_read_password(iam.ServicePrincipal("lambda.amazonaws.com"))


def test_operators_may_not_switch_off_the_cleanup_and_changes_are_alerted(member: dict[str, Any]) -> None:
    """Issue 23 item 2: the operator policy denies every change to the clean-up's rules, state machine
    (and its executions) and function; CloudTrail alerts reach the audit topic for each."""
    policy = _policy(member, "BreakGlassOperatorPolicy")
    denies = {s["Sid"]: s for s in policy if s["Effect"] == "Deny"}
    rules = denies["NeverSwitchOffTheBreakGlassCleanupRules"]
    assert {"events:DisableRule", "events:DeleteRule", "events:PutRule", "events:RemoveTargets"} <= set(rules["Action"])
    watched = {r.strip("<>").split(".")[0].rstrip("0123456789ABCDEF") for r in as_list(rules["Resource"])}
    assert {"BreakGlassCommandFinishedRule", "BreakGlassCommandStartedRule", "BreakGlassSweepRule"} <= watched
    machine = denies["NeverStopOrChangeTheBreakGlassCleanup"]
    assert {"states:StopExecution", "states:UpdateStateMachine", "states:DeleteStateMachine"} == set(machine["Action"])
    function = denies["NeverChangeTheBreakGlassCleanupFunction"]
    assert {"lambda:PutFunctionConcurrency", "lambda:UpdateFunctionCode"} <= set(function["Action"])
    for rule_id in (
        "CleanupRulesChanged",
        "CleanupTargetsChanged",
        "CleanupStateMachineChanged",
        "CleanupFunctionChanged",
    ):
        rule = only_resource(member, "AWS::Events::Rule", f"BreakGlass{rule_id}Rule")["Properties"]
        assert rule["Targets"][0]["Arn"]["Ref"].startswith("NotificationsTopic")
