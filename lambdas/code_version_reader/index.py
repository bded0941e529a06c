"""Custom::CodeObjectVersion: the current version id of a published Lambda code object, pinned only
when S3's SHA-256 of that version is the one synth computed.

Provider framework handler (the framework answers CloudFormation): Create and Update return the
version id as ``Data.VersionId``; Delete does nothing (the object stays, versions are kept).

HeadObject with ``ChecksumMode=ENABLED`` returns ``ChecksumSHA256`` (base64) of the version it
describes, the newest by default, with its ``VersionId`` in the same answer
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). A multipart upload has a
composite checksum (a checksum of the parts' checksums, ``-<parts>`` appended), which never equals
the file's SHA-256: such an object is refused like a changed one.
"""

from __future__ import annotations

from typing import Any

import boto3


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    props = event["ResourceProperties"]
    bucket, key, expected = props["Bucket"], props["Key"], props["ChecksumSHA256"]
    s3 = boto3.client("s3", region_name=props["Region"])
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    actual = head.get("ChecksumSHA256")
    if actual != expected:
        raise ValueError(
            f"s3://{bucket}/{key} version {head.get('VersionId')}: ChecksumSHA256 is {actual!r} "
            f"({head.get('ChecksumType', 'type not reported')}), synth wrote a file whose SHA-256 is {expected}: "
            "the object is not the code this template was built with; not pinning it"
        )
    return {"PhysicalResourceId": f"{bucket}/{key}", "Data": {"VersionId": head["VersionId"]}}
