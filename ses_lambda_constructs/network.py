"""A private network for the library's functions: isolated subnets and the endpoints they need."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgments import acknowledge, acknowledge_inline_policy
from .hardening import FunctionHardening

#: The AWS APIs the library's functions call from inside a VPC, besides S3 (a gateway endpoint of
#: its own): the SES API (the rule-set custom resource; a forwarder's sending) and EventBridge
#: (the reference handler publishing mail events). Logs, on-failure records and decryption of
#: SSE-KMS objects are done by Lambda, SQS's and S3's own service side, not from the function's
#: network (docs/ses-facts.md, "Functions in a VPC").
DEFAULT_INTERFACE_SERVICES = (
    ec2.InterfaceVpcEndpointAwsService.EMAIL,
    ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
)
#: With active tracing, the X-Ray daemon Lambda runs inside each execution environment uploads
#: the function's trace segments to the X-Ray API with the execution role's
#: ``xray:PutTraceSegments``; from a VPC function without internet access that needs the X-Ray
#: interface endpoint ("Visualize Lambda function invocations using AWS X-Ray", Lambda
#: Developer Guide; "Using AWS X-Ray with interface VPC endpoints", X-Ray Developer Guide).
TRACING_INTERFACE_SERVICES = (ec2.InterfaceVpcEndpointAwsService.XRAY,)


class PrivateNetwork(Construct):
    """A VPC without internet access in which the library's functions can run.

    - Isolated subnets in ``max_azs`` Availability Zones: no internet or NAT gateway, so a
      function reaches nothing but the endpoints below.
    - An S3 gateway endpoint (no hourly charge): raw and parsed mail, and the custom resource's
      answer to CloudFormation (a presigned S3 URL).
    - One interface endpoint per service in ``interface_services`` (by default every API the
      library's functions call: SES, EventBridge, and X-Ray for tracing), with private DNS,
      reachable on 443 from the VPC only. Each is billed per hour and per Availability Zone,
      plus data (docs/ses-facts.md, "Functions in a VPC").
    - Flow logs of all traffic into a log group of ``hardening`` (encrypted with its key).

    Pass ``FunctionHardening(vpc=network.vpc)`` (or :meth:`function_hardening`) to the receiver.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hardening: FunctionHardening | None = None,
        max_azs: int = 2,
        interface_services: Sequence[ec2.InterfaceVpcEndpointAwsService] | None = None,
        cidr: str = "10.80.0.0/20",
    ) -> None:
        """
        :param hardening: its ``encryption_key`` and ``log_retention`` apply to the flow logs.
            Default: ``FunctionHardening()``.
        :param max_azs: Availability Zones (subnets, and interface endpoint copies).
            Default: 2.
        :param interface_services: interface endpoints to define.
            Default: the SES API and EventBridge, and X-Ray when ``hardening.tracing`` is on.
        :param cidr: the VPC's IPv4 range. Default: ``10.80.0.0/20``.
        """
        super().__init__(scope, id)
        hardening = hardening or FunctionHardening()
        if interface_services is None:
            interface_services = (
                *DEFAULT_INTERFACE_SERVICES,
                *(TRACING_INTERFACE_SERVICES if hardening.tracing else ()),
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Functions", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            # The CDK closes the default security group with a Node.js custom resource; nothing
            # here uses that group (see the acknowledgment below).
            restrict_default_security_group=False,
        )
        self.vpc: ec2.IVpc = vpc
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                vpc,
                f"{pack}-VPCDefaultSecurityGroupClosed",
                "No resource in this VPC uses its default security group: every function and "
                "endpoint has a group of its own, and the subnets have no internet route.",
            )
        self.flow_logs: logs.ILogGroup = hardening.log_group(self, "FlowLogs")
        flow_log = vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        acknowledge_inline_policy(flow_log)
        self.s3_endpoint = vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3
        )
        # One group for the interface endpoints: HTTPS in from this VPC's range (a literal, so
        # that policy checks can see it is not the internet), nothing out.
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.interface_endpoints: list[ec2.InterfaceVpcEndpoint] = []
        for service in interface_services:
            name = service.short_name.title().replace("-", "").replace(".", "")
            self.interface_endpoints.append(
                vpc.add_interface_endpoint(
                    name,
                    service=service,
                    private_dns_enabled=True,
                    open=False,
                    security_groups=[self.endpoint_security_group],
                )
            )

    def function_hardening(self, base: FunctionHardening | None = None) -> FunctionHardening:
        """``base`` (default ``FunctionHardening()``) with its functions placed in this VPC."""
        return dataclasses.replace(base or FunctionHardening(), vpc=self.vpc)
