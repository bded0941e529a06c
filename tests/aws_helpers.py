"""Helpers for handler tests: inject AWS error responses in front of moto, record parameter writers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from moto.ssm.models import Parameter, SimpleSystemManagerBackend

ACCOUNT = "123456789012"  # moto's default account


def fail_first(client: Any, operation: str, code: str, times: int) -> list[int]:
    """Answer the first ``times`` HTTP attempts of ``operation`` with error ``code``; return the attempts.

    botocore calls every before-send handler and keeps the first answer, so an error handler
    registered next to moto's would not stop moto from carrying the request out (a parameter
    would be deleted behind the injected error). Instead, moto's handler is put behind a gate on
    this one client: the injected attempts never reach moto, later ones do.
    """
    attempts: list[int] = []

    def gate(request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        if event_name.endswith(f".{operation}"):
            attempts.append(1)
            if len(attempts) <= times:
                body = MockRawResponse(f'{{"__type":"{code}","message":"injected"}}')
                return AWSResponse(request.url, 400, {"x-amzn-requestid": "test"}, body)
        return botocore_stubber(event_name=event_name, request=request, **kwargs)

    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register("before-send", gate)
    return attempts


def topic_with_inbox(region: str, name: str) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """A moto SNS topic subscribed to an SQS queue, and a function that reads what reached it.

    Call inside ``mock_aws``. Each read returns the SNS envelopes (``Subject``, ``Message``) received
    since the last read.
    """
    sns = boto3.client("sns", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def read() -> list[dict[str, Any]]:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in received]

    return topic_arn, read


def instance_session(instance_id: str, role: str = "GuardrailsInstanceRole", account: str = ACCOUNT) -> str:
    """The ``LastModifiedUser`` Parameter Store records for a write made with an instance's own
    instance-profile credentials: a session of its role named after the instance id."""
    return f"arn:aws:sts::{account}:assumed-role/{role}/{instance_id}"


class ParameterWriters:
    """Make moto record who wrote each parameter version, so ``LastModifiedUser`` can be spoofed.

    moto 5.2 keeps no writer: ``Parameter.describe_response_object`` answers the fixed string
    ``"N/A"`` for every parameter, whoever called PutParameter. This patches moto (for one test,
    through ``monkeypatch``) so that:

    * ``SimpleSystemManagerBackend.put_parameter`` stamps the version it creates with a writer:
      the ARN set by ``acting_as`` if any, else ``default(name)``;
    * ``Parameter.describe_response_object`` (DescribeParameters) answers that writer.

    Everything else (dates, versions, paging, deletion) stays moto's own behaviour.
    """

    def __init__(self, monkeypatch: Any, default: Callable[[str], str]) -> None:
        self.default = default
        self.current: str | None = None
        put, describe = SimpleSystemManagerBackend.put_parameter, Parameter.describe_response_object
        writers = self

        def put_parameter(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            parameter = put(backend, name, *args, **kwargs)
            parameter.last_modified_user = writers.current or writers.default(name)
            return parameter

        def describe_response_object(parameter: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            response = describe(parameter, *args, **kwargs)
            response["LastModifiedUser"] = getattr(parameter, "last_modified_user", "N/A")
            return response

        monkeypatch.setattr(SimpleSystemManagerBackend, "put_parameter", put_parameter)
        monkeypatch.setattr(Parameter, "describe_response_object", describe_response_object)

    @contextmanager
    def acting_as(self, arn: str) -> Iterator[None]:
        """PutParameter calls inside this block are recorded as made by ``arn``."""
        self.current = arn
        try:
            yield
        finally:
            self.current = None
