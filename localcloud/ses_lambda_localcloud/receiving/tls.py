"""STARTTLS for the local receiver: a self-signed certificate made when the receiver starts.

SES's inbound endpoints offer STARTTLS (RFC 3207), and a receipt rule with ``TlsPolicy``
``Require`` makes SES bounce mail that was not received over TLS (SES API reference,
ReceiptRule, https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptRule.html). To
exercise both locally, the receiver offers STARTTLS with a throw-away certificate for
``localhost``/``127.0.0.1`` (RSA 2048, SHA-256, valid for a day), generated with
``cryptography`` (a dependency of moto) and kept in memory only: the key is written to a
private temporary directory just long enough for :mod:`ssl` to load it.

Clients cannot verify this certificate (it is self-signed): ``send`` and the tests connect with
an unverified context, which is what RFC 3207 opportunistic TLS between MTAs does too.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from pathlib import Path

CERTIFICATE_HOSTNAME = "localhost"


def self_signed_pem(hostname: str = CERTIFICATE_HOSTNAME) -> tuple[bytes, bytes]:
    """A new self-signed certificate and its private key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def server_context(hostname: str = CERTIFICATE_HOSTNAME) -> ssl.SSLContext:
    """A server-side TLS context with a freshly generated self-signed certificate."""
    cert_pem, key_pem = self_signed_pem(hostname)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory(prefix="ses-localcloud-tls-") as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def client_context() -> ssl.SSLContext:
    """A client-side context for the local receiver's self-signed certificate (unverified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
