"""What ``send`` and ``show`` print: a message's rules and actions, its function's attempts and
logs, and the objects written for it."""

from __future__ import annotations

import json
from typing import Any

from .target import Target


def messages(target: Target) -> list[dict[str, Any]]:
    return list(target.local("messages")["messages"])


def parsed_outputs(target: Target, record: dict[str, Any]) -> dict[str, Any]:
    """Every object stored while the message was processed, in any bucket (SES's S3 action,
    the reference handler, any function of the app), with the content of JSON documents (the
    reference handler's message.json). An object overwritten or deleted since shows as it is
    now, or as gone."""
    s3 = target.client("s3")
    found: dict[str, Any] = {}
    for written in record.get("objects") or []:
        bucket, key = written["bucket"], written["key"]
        entry: dict[str, Any] = {"size": written["size"]}
        if key.endswith(".json"):
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.ClientError as error:
                entry["text"] = f"(no longer readable: {error})"
            else:
                try:
                    entry["json"] = json.loads(body)
                except ValueError:
                    entry["text"] = body.decode("utf-8", "replace")
        found[f"s3://{bucket}/{key}"] = entry
    return found


def log_lines(target: Target, group: str, stream: str) -> list[str]:
    logs = target.client("logs")
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
            "events"
        ]
    except Exception as error:
        return [f"(logs unavailable: {error})"]
    return [str(e["message"]) for e in events]


def render(
    target: Target, record: dict[str, Any], *, logs: bool = True, documents: bool = True
) -> list[str]:
    lines: list[str] = []
    if record.get("status") == "rejected":
        for item in record.get("rejected", []):
            lines.append(
                f"REJECTED {item['recipient']} (from {record['mail_from'] or '<>'}): "
                f"{item['reply']}"
            )
        return lines
    lines.append(
        f"message {record['message_id']}  [{record['status']}]  from {record['mail_from']}  "
        f"to {', '.join(record['recipients'])}  {record['size']} bytes"
    )
    if record.get("subject") is not None:
        lines.append(f"  subject: {record['subject']}")
    lines.append(f"  rule set: {record.get('rule_set')}")
    lines.append(f"  received over TLS: {'yes' if record.get('tls') else 'no'}")
    if not record.get("rules"):
        lines.append("  no rule matched")
    for rule in record.get("rules", []):
        lines.append(f"  rule {rule['rule']} (recipients {', '.join(rule['recipients'])})")
        if rule.get("bounced"):
            bounced = rule["bounced"]
            lines.append(
                f"    bounced to {bounced['to'] or '<>'}: {bounced['smtpReplyCode']} "
                f"{bounced['statusCode']} {bounced['message']}"
            )
        for action in rule["actions"]:
            detail = action.get("detail", {})
            lines.append(f"    {action['type']}: {action['status']}" + _action_text(detail))
            if action["type"] == "Lambda":
                for attempt in detail.get("attempts", []):
                    outcome = "ok" if attempt["ok"] else "error"
                    lines.append(
                        f"      attempt {attempt['requestId']}: {outcome} in "
                        f"{attempt['durationMs']} ms"
                        + (
                            f" -> {json.dumps(attempt['result'])}"
                            if attempt["ok"]
                            else f" -> {json.dumps(attempt['error'])}"
                        )
                    )
                    lines += _environment_text(attempt)
                    if logs and "logLines" in attempt:
                        lines.append(f"        logs {attempt['logGroup']} {attempt['logStream']}:")
                        lines += [f"          {line}" for line in attempt["logLines"]]
                if detail.get("sent"):
                    relays = _relays(target)
                    for copy in detail["sent"]:
                        lines.append("      " + sent_line(copy, relays.get(copy["messageId"])))
                        lines += [f"        {name}: {value}" for name, value in copy["headers"]]
                if logs and detail.get("logGroup") and not detail.get("attempts"):
                    lines.append(f"      logs {detail['logGroup']} {detail['logStream']}:")
                    lines += [
                        f"        {line}"
                        for line in log_lines(target, detail["logGroup"], detail["logStream"])
                    ]
    lines += _events_text(target, record, logs=logs, documents=documents)
    for note in record.get("notes", []):
        lines.append(f"  note: {note}")
    if record.get("error"):
        lines.append(f"  error: {record['error']}")
    if documents:
        outputs = parsed_outputs(target, record)
        if outputs:
            lines.append("  objects written:")
        for location, entry in outputs.items():
            lines.append(f"    {location} ({entry['size']} bytes)")
            if "json" in entry:
                text = json.dumps(entry["json"], indent=2, ensure_ascii=False)
                lines += [f"      {line}" for line in text.splitlines()]
            elif "text" in entry:
                lines.append(f"      {entry['text']}")
    return lines


#: How long a report waits for the deliveries of a message's events to finish.
EVENTS_WAIT_SECONDS = 30


def _events_text(
    target: Target, record: dict[str, Any], *, logs: bool, documents: bool
) -> list[str]:
    """The EventBridge events put for the message: the rules they matched, each target's
    outcome and, for a function, its attempts (result, logs)."""
    found = target.local(
        f"events?message={record['message_id']}&wait={EVENTS_WAIT_SECONDS}",
        timeout=EVENTS_WAIT_SECONDS + 10,
    )["events"]
    lines: list[str] = []
    for event in found:
        lines.append(
            f"  event {event['detail_type']!r} from {event['source']} on bus {event['bus']} "
            f"(id {event['event_id']})"
        )
        if documents:
            text = json.dumps(event["event"], indent=2, ensure_ascii=False)
            lines += [f"      {line}" for line in text.splitlines()]
        unmatched = event["rules_checked"] - len(event["matched"])
        for rule in event["matched"]:
            lines.append(f"    rule {rule['rule']}: matched")
            for outcome in rule["targets"]:
                lines.append(
                    f"      target {outcome['id']} {outcome['arn'].rsplit(':', 1)[-1]}: "
                    f"{outcome['status']} after {outcome['attempts']} attempt(s)"
                    + (f"  ERROR {outcome['error']}" if outcome.get("error") else "")
                    + (
                        f"  -> {outcome['dead_letter_queue'].rsplit(':', 1)[-1]}"
                        if outcome.get("dead_letter_queue")
                        else ""
                    )
                )
                for attempt in outcome.get("invocations", []):
                    result = attempt["result"] if attempt["ok"] else attempt["error"]
                    lines.append(
                        f"        invocation {attempt['requestId']}: "
                        f"{'ok' if attempt['ok'] else 'error'} in {attempt['durationMs']} ms "
                        f"-> {json.dumps(result)}"
                    )
                    if logs and attempt.get("logLines"):
                        lines += [f"          {line}" for line in attempt["logLines"]]
        if unmatched:
            lines.append(f"    {unmatched} other rule(s) of the bus did not match")
        if not event["complete"]:
            lines.append(f"    (deliveries still running after {EVENTS_WAIT_SECONDS} s)")
    return lines


def _environment_text(attempt: dict[str, Any]) -> list[str]:
    """Which interpreter ran the attempt (and whether it is a fallback), and if it was a cold
    start."""
    interpreter = attempt.get("interpreter") or {}
    if not interpreter:
        return []
    start = (
        f"cold start, init {attempt['initDurationMs']} ms"
        if attempt.get("coldStart")
        else "warm start"
    )
    text = (
        f"        {start} in environment {attempt.get('environment', '')[:8]} on Python "
        f"{interpreter['version']} ({interpreter['path']})"
    )
    if interpreter.get("fallback"):
        return [text, f"        FALLBACK from {interpreter['runtime']}: {interpreter['fallback']}"]
    return [text]


def sent_line(copy: dict[str, Any], relay: str | None = None) -> str:
    """One message SES sent: id, destinations, envelope sender, size, relay status."""
    relay = relay or copy.get("relay")
    return (
        f"SES sent {copy['messageId']} to {', '.join(copy['destinations'])} from "
        f"{copy['source']} ({copy['size']} bytes)" + (f"  [{relay}]" if relay else "")
    )


def _relays(target: Target) -> dict[str, str | None]:
    """The relay status of every sent message now (relaying runs in the background)."""
    try:
        sent = target.local("sent")["sent"]
    except Exception:
        return {}
    return {item["messageId"]: item.get("relay") for item in sent}


def _action_text(detail: dict[str, Any]) -> str:
    parts = []
    if "bucket" in detail:
        parts.append(f"s3://{detail['bucket']}/{detail['key']}")
    if "functionArn" in detail:
        parts.append(f"{detail['functionArn'].rsplit(':', 1)[-1]} ({detail['invocationType']})")
    if "disposition" in detail:
        parts.append(f"disposition {detail['disposition']}")
    if "error" in detail:
        error = detail["error"]
        parts.append(f"ERROR {error if isinstance(error, str) else json.dumps(error)}")
    if "bounce" in detail:
        parts.append(f"bounce {detail['bounce']['smtpReplyCode']} to {detail['bounce']['to']}")
    if "note" in detail:
        parts.append(f"({detail['note']})")
    return "  " + "  ".join(parts) if parts else ""
