"""What 1,000 received messages cost, from list prices and the handler's measured duration.

``python bench/cost.py bench.json`` reads the JSON that ``bench/run.py --only load --json
bench.json`` writes (the handler's duration and peak memory per message size, measured on the
local cloud) and prints the Markdown table of docs/operations.md. The prices are the constants
below, each with the page it comes from; change them there when AWS changes them.

The counts per message follow what the library does: the S3 action writes the raw message once;
the reference handler reads it once, writes each attachment and message.json, and puts one
event (docs/handler.md). The test messages of ``bench/messages.py`` have 1, 2 and 3
attachments at 10 KB, 1 MB and 10 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# --- list prices, us-east-1, USD --------------------------------------------------------------
# Amazon SES pricing (aws.amazon.com/ses/pricing), "Inbound email", à la carte: per 1,000 emails
# received, and per 1,000 incoming mail chunks of 256 KB (every started chunk counts).
SES_PER_1000_MESSAGES = 0.10
SES_PER_1000_CHUNKS = 0.09
SES_CHUNK_BYTES = 256 * 1024
# AWS Lambda pricing (aws.amazon.com/lambda/pricing), first tier: per GB-second and per request.
LAMBDA_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
# Amazon S3 pricing (aws.amazon.com/s3/pricing), S3 Standard: PUT per 1,000, GET per 1,000,
# storage per GB-month (first 50 TB).
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
S3_GB_MONTH = 0.023
# Amazon EventBridge pricing (aws.amazon.com/eventbridge/pricing): custom events published, per
# million; each 64 KB chunk of an event counts as one event.
EVENTS_PER_EVENT = 1.00 / 1_000_000
# AWS KMS pricing (aws.amazon.com/kms/pricing): per 10,000 requests; per key and month.
KMS_PER_REQUEST = 0.03 / 10_000
KMS_KEY_MONTH = 1.00
# AWS PrivateLink pricing (aws.amazon.com/privatelink/pricing): per interface endpoint, per
# Availability Zone and hour (data processed is extra, $0.01 per GB).
ENDPOINT_AZ_HOUR = 0.01
# Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing): per standard-resolution alarm
# metric and month; per dashboard and month (the first three are free).
ALARM_MONTH = 0.10
DASHBOARD_MONTH = 3.00
HOURS_PER_MONTH = 730

#: Bench messages (bench/messages.py): size label -> (bytes, attachments).
MESSAGES = {"10 KB": (10_000, 1), "1 MB": (1_000_000, 2), "10 MB": (10_000_000, 3)}
MEMORY_MB = 512  # the reference handler's default


def per_thousand(label: str, duration_ms: float, architecture: str = "x86_64") -> dict[str, float]:
    """USD per 1,000 messages of ``label``, by item."""
    size, attachments = MESSAGES[label]
    chunks = math.ceil(size / SES_CHUNK_BYTES)
    gb_seconds = MEMORY_MB / 1024 * duration_ms / 1000
    puts = 1 + attachments + 1  # S3 action, attachments, message.json
    gets = 1  # the handler reads the raw message
    # Stored: the raw message, the decoded attachments (about 3/4 of their base64) and
    # message.json (a few KB); kept one month.
    stored_gb = (size + 0.75 * size + 4_000) / 1e9
    items = {
        "SES receiving": SES_PER_1000_MESSAGES / 1000 + chunks * SES_PER_1000_CHUNKS / 1000,
        "Lambda": gb_seconds * LAMBDA_GB_SECOND[architecture] + LAMBDA_PER_REQUEST,
        "S3 requests": puts * S3_PUT + gets * S3_GET,
        "S3 storage (1 month)": stored_gb * S3_GB_MONTH,
        "EventBridge": EVENTS_PER_EVENT,
        # Hardened: SSE-KMS with an S3 Bucket Key, so S3 asks KMS for a bucket-level key at most
        # about once per bucket key lifetime instead of once per object; counted here without
        # the Bucket Key (one request per object written or read) as an upper bound.
        "KMS (hardened, upper bound)": (puts + gets) * KMS_PER_REQUEST,
    }
    return {name: value * 1000 for name, value in items.items()}


def fixed_hardened(interface_endpoints: int = 2, azs: int = 2, alarms: int = 4) -> dict[str, float]:
    """USD per month that the hardened configuration costs whatever the traffic."""
    return {
        "customer managed KMS key": KMS_KEY_MONTH,
        f"{interface_endpoints} interface endpoints x {azs} AZ": interface_endpoints
        * azs
        * ENDPOINT_AZ_HOUR
        * HOURS_PER_MONTH,
        f"{alarms} alarms": alarms * ALARM_MONTH,
        "the receiver's dashboard (beyond 3 free)": DASHBOARD_MONTH,
    }


def table(durations: dict[str, float]) -> str:
    labels = list(MESSAGES)
    rows = {label: per_thousand(label, durations[label]) for label in labels}
    names = list(next(iter(rows.values())))
    lines = [
        "| per 1,000 messages | " + " | ".join(labels) + " |",
        "| --- | " + " | ".join("---:" for _ in labels) + " |",
        "| handler duration at 512 MB (measured) | "
        + " | ".join(f"{durations[label]:.0f} ms" for label in labels)
        + " |",
    ]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(f"${rows[lab][name]:.4f}" for lab in labels) + " |"
        )
    total = {lab: sum(v for k, v in rows[lab].items() if not k.startswith("KMS")) for lab in labels}
    lines.append(
        "| **total, default** | " + " | ".join(f"**${total[lab]:.4f}**" for lab in labels) + " |"
    )
    hardened = {lab: total[lab] + rows[lab]["KMS (hardened, upper bound)"] for lab in labels}
    lines.append(
        "| **total, hardened** | "
        + " | ".join(f"**${hardened[lab]:.4f}**" for lab in labels)
        + " |"
    )
    arm = {lab: per_thousand(lab, durations[lab], "arm64")["Lambda"] for lab in labels}
    lines.append(
        "| Lambda on arm64, same duration (not measured) | "
        + " | ".join(f"${arm[lab]:.4f}" for lab in labels)
        + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", type=Path, help="the --json output of bench/run.py")
    args = parser.parse_args(argv)
    raw = json.loads(args.bench_json.read_text())["sections"]["load"]["raw"]
    measured = raw["memory_sizes"][str(MEMORY_MB)]
    durations = {label: float(measured[label]["duration_ms"]) for label in MESSAGES}
    print(table(durations))
    print()
    fixed = fixed_hardened()
    for name, value in fixed.items():
        print(f"| {name} | ${value:.2f} |")
    print(f"| **total** | **${sum(fixed.values()):.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
