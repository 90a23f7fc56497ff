"""Write the generated parity seeds: corpus messages mutated the way test_fuzz.py mutates them.

The seeds are committed (``seeds/mutated-*.eml``), so every interpreter reads the same bytes;
this script only documents and reproduces how they were made (fixed random seed). The
hand-written seeds beside them target the inputs known to parse differently across Python
versions (see docs/handler.md, "Same output on every supported Python").

Usage: python tests/parity/make_seeds.py
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "handler" / "emails"
SEEDS = HERE / "seeds"
COUNT = 48
INSERTS = [b"--", b"\r\n", b"=", b"=?utf-8?q?", b"\x00", b"boundary=", b":", b"\r\n ", b"<>", b","]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not buffer:
            break
        position = rng.randrange(len(buffer))
        action = rng.choice(["flip", "insert", "delete", "truncate", "duplicate"])
        if action == "flip":
            buffer[position] = rng.randrange(256)
        elif action == "insert":
            buffer[position:position] = rng.choice(INSERTS)
        elif action == "delete":
            del buffer[position : position + rng.randint(1, 16)]
        elif action == "truncate":
            del buffer[position:]
        else:
            buffer[position:position] = buffer[position : position + rng.randint(1, 64)]
    return bytes(buffer)


def main() -> None:
    rng = random.Random(20261201)
    corpus = sorted(CORPUS.glob("*.eml"))
    for old in SEEDS.glob("mutated-*.eml"):
        old.unlink()
    for number in range(COUNT):
        source = corpus[number % len(corpus)]
        (SEEDS / f"mutated-{number:02d}-{source.stem}.eml").write_bytes(
            mutate(source.read_bytes(), rng)
        )
    print(f"{COUNT} seeds written to {SEEDS}")


if __name__ == "__main__":
    main()
