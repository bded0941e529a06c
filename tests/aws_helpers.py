"""Helpers for handler tests: inject AWS error responses in front of moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber


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
