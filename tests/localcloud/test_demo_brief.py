"""``make demo`` prints a few lines per message (``--verbose``: the whole report)."""

from __future__ import annotations

from ses_lambda_localcloud import demo


def test_a_message_is_a_few_lines() -> None:
    record = {
        "message_id": "abc",
        "status": "done",
        "rules": [
            {
                "rule": "inbox",
                "actions": [
                    {"type": "S3", "status": "ok", "detail": {}},
                    {
                        "type": "Lambda",
                        "status": "ok",
                        "detail": {
                            "attempts": [
                                {"durationMs": 85.5, "coldStart": False, "logLines": ["x"] * 50}
                            ]
                        },
                    },
                ],
            }
        ],
    }
    assert demo._brief(record) == [
        "message abc [done]",
        "  rule inbox: S3 ok, Lambda ok (85.5 ms, warm)",
    ]
