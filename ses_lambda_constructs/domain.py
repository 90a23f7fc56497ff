"""The receiving domain: SES identity with Easy DKIM, the inbound MX record, optional MAIL FROM.

``ses.EmailIdentity`` with ``Identity.public_hosted_zone`` writes the DKIM records but never the
inbound MX record (aws-cdk#28822) and cannot verify a subdomain of the zone (aws-cdk#34341). This
construct writes every record itself, relative to the zone, so the identity may be the zone's
apex or any subdomain of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, CfnOutput, Duration, Fn, Stack, Token
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from constructs import Construct

from .limits import ValidationError, receiving_regions, validate_domain


@dataclass(frozen=True, kw_only=True)
class Domain:
    """One more domain for :class:`EmailReceiver` ``domains``: verified with its own zone, or
    with its records exposed as outputs when ``hosted_zone`` is not given."""

    domain_name: str
    hosted_zone: route53.IPublicHostedZone | None = None
    mail_from_subdomain: str | None = None


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record the domain needs; ``name`` is fully qualified, without the trailing dot."""

    name: str
    type: str
    value: str
    purpose: str


def inbound_smtp_endpoint(region: str) -> str:
    """The SES inbound SMTP endpoint of ``region``, the MX target of a receiving domain."""
    return f"inbound-smtp.{region}.amazonaws.com"


def check_receiving_region(scope: Construct) -> None:
    """Add an error to ``scope`` when its stack's region cannot receive email.

    In a region without SES receiving, CloudFormation fails with "Unrecognized resource types:
    [AWS::SES::ReceiptRuleSet, ...]". Env-agnostic stacks are checked at deploy time only.
    """
    region = Stack.of(scope).region
    if Token.is_unresolved(region):
        return
    allowed = receiving_regions(scope)
    if region not in allowed:
        Annotations.of(scope).add_error(
            f"region {region!r} cannot receive email with SES. Receiving regions: "
            f"{', '.join(sorted(allowed))}. If AWS has added {region!r} since, list it in the "
            "context key 'ses-lambda-constructs:extraReceivingRegions'."
        )


class ReceivingDomain(Construct):
    """A domain verified in SES for receiving: identity, Easy DKIM, inbound MX, MAIL FROM.

    With ``hosted_zone`` (pass it by attributes, e.g.
    ``PublicHostedZone.from_public_hosted_zone_attributes``; it is never looked up) the three
    DKIM CNAMEs and the MX record ``10 inbound-smtp.<region>.amazonaws.com`` are written into the
    zone. Without it, the records you must create are in :attr:`dns_records` and in stack outputs.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_name: str,
        hosted_zone: route53.IPublicHostedZone | None = None,
        mail_from_subdomain: str | None = None,
        mx_priority: int = 10,
        record_ttl: Duration = Duration.minutes(30),
    ) -> None:
        """
        :param domain_name: the domain that receives mail, e.g. ``mail.example.com``.
        :param hosted_zone: the public zone that holds ``domain_name`` (its apex or a parent).
            Default: no records are written; they are exposed as outputs instead.
        :param mail_from_subdomain: label of a custom MAIL FROM domain under ``domain_name``
            (e.g. ``bounce``), for mail you send; it cannot receive. Default: SES's own.
        :param mx_priority: priority of the inbound MX record. Default: 10.
        :param record_ttl: TTL of the records written. Default: 30 minutes.
        """
        super().__init__(scope, id)
        self.domain_name = validate_domain("domain_name", domain_name)
        if not 0 <= mx_priority <= 65535:
            raise ValidationError(f"mx_priority must be between 0 and 65535; got {mx_priority!r}")
        mail_from_domain = None
        if mail_from_subdomain is not None:
            if "." in mail_from_subdomain:
                raise ValidationError(
                    "mail_from_subdomain must be a single label such as 'bounce'; got "
                    f"{mail_from_subdomain!r}"
                )
            mail_from_domain = validate_domain(
                "mail_from_subdomain", f"{mail_from_subdomain}.{self.domain_name}"
            )
        if hosted_zone is not None:
            zone_name = hosted_zone.zone_name
            if not Token.is_unresolved(zone_name) and not Token.is_unresolved(self.domain_name):
                zone = zone_name.rstrip(".").lower()
                if self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
                    raise ValidationError(
                        f"domain_name {self.domain_name!r} is not inside hosted_zone {zone!r}"
                    )
        check_receiving_region(self)

        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=ses.Identity.domain(self.domain_name),
            mail_from_domain=mail_from_domain,
        )
        region = Stack.of(self).region
        records = [
            DnsRecord(
                name=getattr(self.identity, f"dkim_dns_token_name{i}"),
                type="CNAME",
                value=getattr(self.identity, f"dkim_dns_token_value{i}"),
                purpose=f"Easy DKIM token {i}",
            )
            for i in (1, 2, 3)
        ]
        records.append(
            DnsRecord(
                name=self.domain_name,
                type="MX",
                value=f"{mx_priority} {inbound_smtp_endpoint(region)}",
                purpose="inbound mail to SES",
            )
        )
        if mail_from_domain is not None:
            records += [
                DnsRecord(
                    name=mail_from_domain,
                    type="MX",
                    value=f"10 feedback-smtp.{region}.amazonses.com",
                    purpose="custom MAIL FROM (sending only)",
                ),
                DnsRecord(
                    name=mail_from_domain,
                    type="TXT",
                    value='"v=spf1 include:amazonses.com ~all"',
                    purpose="custom MAIL FROM SPF",
                ),
            ]
        #: Every DNS record the domain needs, whether written here or left to you.
        self.dns_records: tuple[DnsRecord, ...] = tuple(records)

        if hosted_zone is None:
            for index, record in enumerate(self.dns_records, start=1):
                CfnOutput(
                    self,
                    f"DnsRecord{index}",
                    description=f"Create this DNS record ({record.purpose})",
                    value=Fn.join(" ", [record.name, record.type, record.value]),
                )
            return

        for i in (1, 2, 3):
            route53.CnameRecord(
                self,
                f"DkimRecord{i}",
                zone=hosted_zone,
                # SES returns fully qualified names; the trailing dot stops Route 53 from
                # appending the zone name to them.
                record_name=f"{getattr(self.identity, f'dkim_dns_token_name{i}')}.",
                domain_name=getattr(self.identity, f"dkim_dns_token_value{i}"),
                ttl=record_ttl,
            )
        route53.MxRecord(
            self,
            "InboundMxRecord",
            zone=hosted_zone,
            record_name=self.domain_name,
            values=[
                route53.MxRecordValue(host_name=inbound_smtp_endpoint(region), priority=mx_priority)
            ],
            ttl=record_ttl,
        )
        if mail_from_domain is not None:
            route53.MxRecord(
                self,
                "MailFromMxRecord",
                zone=hosted_zone,
                record_name=mail_from_domain,
                values=[
                    route53.MxRecordValue(
                        host_name=f"feedback-smtp.{region}.amazonses.com", priority=10
                    )
                ],
                ttl=record_ttl,
            )
            route53.TxtRecord(
                self,
                "MailFromSpfRecord",
                zone=hosted_zone,
                record_name=mail_from_domain,
                values=["v=spf1 include:amazonses.com ~all"],
                ttl=record_ttl,
            )
