"""Every object written to the local S3, in order: what ``send`` and ``show`` report as the
objects a message's processing wrote (by SES's S3 action or by any function, in any bucket).

The S3 patch (``moto_ext/patches/s3.py``) adds one entry per stored object (PutObject,
CopyObject, CompleteMultipartUpload all end in moto's ``put_object``). Process-wide, like moto's
backends; the local cloud's reset clears it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

#: Entries kept (the oldest are forgotten first); plenty for the messages ``show`` keeps.
LIMIT = 20_000


@dataclass(frozen=True)
class ObjectWrite:
    bucket: str
    key: str
    size: int
    at: float  # time.time() when stored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ObjectJournal:
    def __init__(self, limit: int = LIMIT) -> None:
        self._entries: deque[ObjectWrite] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, bucket: str, key: str, size: int) -> None:
        with self._lock:
            self._entries.append(ObjectWrite(bucket, key, size, time.time()))

    def between(self, start: float, end: float) -> list[ObjectWrite]:
        """The writes from ``start`` to ``end`` (``time.time()`` values), oldest first."""
        with self._lock:
            return [entry for entry in self._entries if start <= entry.at <= end]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


JOURNAL = ObjectJournal()
