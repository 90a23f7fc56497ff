"""SES v2 ``SendEmail`` with raw content as SES does it; every send goes to the outbox.

Corrections to moto 5.2.5's ``sesv2`` ``SendEmail`` for ``Content.Raw``:

- moto decodes the message as strict UTF-8, so 8-bit MIME in any other charset (Latin-1,
  KOI8-R...) fails with a server error. SES accepts 8-bit MIME parts
  (https://docs.aws.amazon.com/ses/latest/dg/send-email-raw.html, "Using MIME"): the bytes are
  kept as they are here.
- moto adds the message's own To/Cc/Bcc addresses to the ``Destination`` given. SES sends raw
  content to ``Destination`` when one is given, and to the header addresses only when it is
  not (API_SendEmail, ``Destination``; that is how Bcc works in raw sending).
- From must be a verified identity (the address, or a domain that covers it), else
  ``MessageRejected`` (send-email-raw.html: "You can only send email from verified email
  addresses or domains"). Identities created by the stack's ``AWS::SES::EmailIdentity`` count
  as verified at once (see ``moto_ext.cfn.ses``).
- SES writes its own ``Message-ID`` and ``Date``, replacing any the message has
  (https://docs.aws.amazon.com/ses/latest/dg/header-fields.html, "Amazon SES header fields",
  Considerations), so a reply to a sent message refers to SES's identifier.
- At most 40 MB after base64 encoding (https://docs.aws.amazon.com/ses/latest/dg/quotas.html,
  "Message quotas"), read as 40,000,000 bytes like the reference forwarder's
  ``MAX_SEND_BASE64_BYTES``: the page does not say which MB it means, and the smaller reading is
  the one a sender can rely on.

Each accepted message is appended to moto's SES backend (``sent_messages``, as moto does) and
to the local cloud's outbox.
"""

from __future__ import annotations

import base64
import json
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

from ...outbox import OUTBOX, OUTBOX_LIMIT, SentMessage
from ..moto_internals import (
    MessageRejectedError,
    RawMessage,
    SESV2Response,
    get_random_message_id,
    ses_backends,
)
from .patching import patch

MAX_BASE64_BYTES = 40_000_000


def apply() -> None:
    @patch(SESV2Response, "send_email")
    def send_email(self: SESV2Response) -> str:
        params = json.loads(self.body)
        content = params.get("Content") or {}
        if "Raw" not in content:
            return send_email.original(self)  # type: ignore[attr-defined,no-any-return]
        encoded = content["Raw"].get("Data", "")
        if len(encoded) > MAX_BASE64_BYTES:
            raise MessageRejectedError(
                f"Message length is {len(encoded)} bytes after base64 encoding; the maximum "
                f"is {MAX_BASE64_BYTES}"
            )
        raw = base64.b64decode(encoded)
        header = BytesHeaderParser().parsebytes(raw)
        source = params.get("FromEmailAddress") or parseaddr(str(header.get("From", "")))[1]
        backend = ses_backends[self.current_account][self.region]
        if not source or not backend._is_verified_address(source):
            raise MessageRejectedError(
                "Email address is not verified. The following identities failed the check in "
                f"region {self.region.upper()}: {source or '(no From)'}"
            )
        given = params.get("Destination") or {}
        destinations = [
            address
            for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
            for address in given.get(kind, [])
        ]
        if not destinations:
            values = [str(header[k]) for k in ("To", "Cc", "Bcc") if header.get(k)]
            destinations = [address for _, address in getaddresses(values) if address]
        if not destinations:
            raise MessageRejectedError("The message has no recipient")
        message_id = get_random_message_id()
        raw = _with_ses_headers(raw, message_id)
        text = raw.decode("utf-8", "surrogateescape")
        backend.sent_messages.append(RawMessage(message_id, source, destinations, text))
        # moto's copy is bounded like the outbox (a local bound for long runs).
        del backend.sent_messages[:-OUTBOX_LIMIT]
        backend.sent_message_count += len(destinations)
        OUTBOX.add(
            SentMessage(
                message_id=message_id,
                source=source,
                destinations=tuple(destinations),
                raw=raw,
                access_key_id=self.get_access_key(),
            )
        )
        return json.dumps({"MessageId": message_id})


#: The domain of the Message-ID SES writes. The guide does not spell the field's form; sent mail
#: shows ``<message id>@email.amazonses.com`` (in us-east-1), used here in every region.
SES_MESSAGE_ID_DOMAIN = "email.amazonses.com"


def _with_ses_headers(raw: bytes, message_id: str) -> bytes:
    """``raw`` with SES's ``Message-ID`` and ``Date`` in place of the message's own, the rest of
    its bytes as they were."""
    from email.utils import formatdate

    head, separator, body = raw.partition(b"\r\n\r\n")
    newline = b"\r\n"
    if not separator:
        head, separator, body = raw.partition(b"\n\n")
        newline = b"\n"
    kept: list[bytes] = []
    skipping = False
    for line in head.split(newline) if head else []:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skipping = name in (b"message-id", b"date")
        if not skipping:
            kept.append(line)
    added = [
        f"Message-ID: <{message_id}@{SES_MESSAGE_ID_DOMAIN}>".encode(),
        f"Date: {formatdate(usegmt=True)}".encode(),
    ]
    return newline.join(added + kept) + (separator or newline * 2) + body
