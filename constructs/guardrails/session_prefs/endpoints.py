"""The interface endpoints Session Manager needs in a VPC without internet access.

The endpoints and their security group are added to the VPC and to the :class:`guardrails.SessionPrefs`
scope as before (no construct level of their own), so their logical ids stay those of deployed stacks.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


def create_endpoints(scope: Construct, vpc: ec2.IVpc, *, kms: bool, logs: bool, s3: bool) -> None:
    """SSM, SSM messages and EC2 messages always; KMS, CloudWatch Logs and S3 when the preferences use them."""
    security_group = ec2.SecurityGroup(
        scope, "EndpointSecurityGroup", vpc=vpc, description="HTTPS from the VPC to Session Manager endpoints",
        allow_all_outbound=False,
    )  # fmt: skip
    security_group.add_ingress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS from the VPC")
    services = {
        "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
        "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
        "Ec2Messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
    }
    if kms:
        services["Kms"] = ec2.InterfaceVpcEndpointAwsService.KMS
    if logs:
        services["Logs"] = ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS
    for name, service in services.items():
        vpc.add_interface_endpoint(
            f"{name}Endpoint", service=service, security_groups=[security_group], private_dns_enabled=True,
            open=False,
        )  # fmt: skip
    if s3:
        vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
