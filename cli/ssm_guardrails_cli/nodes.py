"""Managed nodes: is the node there and online before anything is sent to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssm_guardrails_cli.errors import DENIED, CliError
from ssm_guardrails_cli.runtime import Exit, Runtime

#: The account a break-glass or rotated password belongs to, by the node's platform (the documents
#: reset root on Linux and the built-in Administrator on Windows: ssm_documents/break_glass.yaml).
LOGIN = {"Linux": "root", "Windows": "Administrator", "MacOS": "root"}


@dataclass(frozen=True)
class Node:
    node_id: str
    ping: str  # Online | ConnectionLost | Inactive, or "unknown" when the caller may not ask
    platform: str = ""

    @property
    def login(self) -> str:
        return LOGIN.get(self.platform, "root (Linux) or Administrator (Windows)")


def managed_node(rt: Runtime, ssm: Any, node_id: str) -> Node:
    """The node as Systems Manager sees it; CliError when it is unknown here or not online.

    DescribeInstanceInformation reports PingStatus Online, ConnectionLost or Inactive:
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html
    A caller without ssm:DescribeInstanceInformation skips this check (the wait still times out)."""
    from botocore.exceptions import ClientError

    try:
        found = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [node_id]}])
    except ClientError as error:
        if error.response["Error"]["Code"] in DENIED:
            return Node(node_id, "unknown")
        raise
    nodes = found.get("InstanceInformationList", [])
    if not nodes:
        raise CliError(
            Exit.FAILED,
            f"{node_id} is not a managed node in {rt.where()}: check the id and --region, "
            "and that SSM Agent runs on it with an instance profile",
        )
    info = nodes[0]
    if info.get("PingStatus") != "Online":
        seen = info.get("LastPingDateTime")
        since = f", last seen {seen:%Y-%m-%d %H:%M} UTC" if seen else ""
        raise CliError(
            Exit.FAILED,
            f"{node_id} is {info.get('PingStatus')}{since} in {rt.where()}: nothing was sent; "
            "start the node or fix its SSM Agent, then try again",
        )
    return Node(node_id, "Online", info.get("PlatformType", ""))
