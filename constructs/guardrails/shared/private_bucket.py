"""The one way this project makes an S3 bucket: S3-managed encryption, TLS only, no public access,
versioned, retained when its stack is deleted. Callers add what their bucket needs on top."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct


def private_bucket(scope: Construct, id: str, **props: Any) -> s3.Bucket:
    """An ``s3.Bucket`` with the project's defaults; ``props`` add to them or override them."""
    return s3.Bucket(
        scope,
        id,
        **{
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "versioned": True,
            "removal_policy": cdk.RemovalPolicy.RETAIN,
            **props,
        },
    )
