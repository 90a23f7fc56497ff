"""Asset: the reference handler's Lambda asset, zipped, what is in it, and what it does not need.

The asset is the directory the demo stack's function with ``Handler: handler.lambda_handler``
points to (``aws:asset:path`` in a synthesized ``cdk.out``). It is zipped in memory; "imported
in a run" is the set of its files that were loaded while the handler processed a message with
attachments (``handler_child.py``), so "never imported" is a candidate for pruning, not proof.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import BENCH, Section, child_env, fmt_bytes, markdown_table, run_child

#: What the Lambda Python runtime provides itself (boto3 and its dependencies).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _files(code_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in code_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def zip_sizes(code_dir: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    """Zipped size of the whole directory and (raw, compressed) bytes of every file."""
    buffer = io.BytesIO()
    per_file: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(code_dir):
            archive.write(path, path.relative_to(code_dir).as_posix())
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        for info in archive.infolist():
            per_file[info.filename] = (info.file_size, info.compress_size)
    return len(buffer.getvalue()), per_file


def _group(name: str, depth: int) -> str:
    parts = name.split("/")
    if len(parts) <= depth:
        return name
    return "/".join(parts[:depth]) + "/"


def _loaded_files(code_dir: Path, message: Path) -> list[str]:
    env = child_env({"PYTHONDONTWRITEBYTECODE": "1"})
    result, _ = run_child(
        [str(BENCH / "handler_child.py"), "invoke", str(code_dir), str(message)], env=env
    )
    return list(result["loaded_files"])


def run(code_dir: Path, message: Path) -> Section:
    section = Section("asset", "3. Lambda asset")
    total_zip, per_file = zip_sizes(code_dir)
    raw_total = sum(raw for raw, _ in per_file.values())
    loaded = set(_loaded_files(code_dir, message))

    # Top level, with how much of each was imported in a run.
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"files": 0, "raw": 0, "zip": 0, "imported": 0}
    )
    for name, (raw, packed) in per_file.items():
        group = groups[_group(name, 1)]
        group["files"] += 1
        group["raw"] += raw
        group["zip"] += packed
        group["imported"] += name in loaded
    section.row(
        "Zipped size of the reference handler's asset",
        f"{fmt_bytes(total_zip)} ({len(per_file)} files, {fmt_bytes(raw_total)} unzipped)",
    )
    section.details.append(
        "Top-level contents of the asset (zip: deflate level 9, in memory):\n\n"
        + markdown_table(
            ["entry", "files", "unzipped", "zipped", "share of zip", "files imported in a run"],
            [
                [
                    name,
                    g["files"],
                    fmt_bytes(g["raw"]),
                    fmt_bytes(g["zip"]),
                    f"{100 * g['zip'] / total_zip:.0f}%",
                    g["imported"],
                ]
                for name, g in sorted(groups.items(), key=lambda item: -item[1]["zip"])
            ],
        )
    )

    # Candidates for pruning.
    candidates: list[tuple[str, int, int, str]] = []
    counted: set[str] = set()

    def add(label: str, names: list[str], why: str) -> None:
        names = [n for n in names if n not in counted]
        counted.update(names)
        if names:
            raw = sum(per_file[n][0] for n in names)
            packed = sum(per_file[n][1] for n in names)
            candidates.append((label, raw, packed, why))

    add(
        "*.dist-info/",
        [n for n in per_file if n.split("/")[0].endswith(".dist-info")],
        "pip's install metadata; nothing reads it at run time (no importlib.metadata lookup)",
    )
    for package in RUNTIME_PROVIDED:
        add(
            f"{package}/",
            [n for n in per_file if n.split("/")[0] == package],
            "the Lambda Python runtime ships it with boto3/botocore",
        )
    # Powertools subpackages none of whose files were imported.
    sub: dict[str, list[str]] = defaultdict(list)
    for name in per_file:
        if name.startswith("aws_lambda_powertools/"):
            sub[_group(name, 2)].append(name)
    for group_name, names in sorted(sub.items(), key=lambda item: item[0]):
        if group_name.endswith("/") and not any(n in loaded for n in names):
            add(group_name, names, "Powertools feature the handler never imports")
    # Inside utilities/: only jmespath_utils is imported (by the logger).
    utilities: dict[str, list[str]] = defaultdict(list)
    for name in per_file:
        if name.startswith("aws_lambda_powertools/utilities/"):
            utilities[_group(name, 3)].append(name)
    unused_utilities = [
        n for names in utilities.values() if not any(n in loaded for n in names) for n in names
    ]
    add(
        "aws_lambda_powertools/utilities/* (never imported ones)",
        unused_utilities,
        "Powertools utilities the handler never imports",
    )

    saving_raw = sum(c[1] for c in candidates)
    saving_zip = sum(c[2] for c in candidates)
    section.row(
        "Looks unneeded (see the list below)",
        f"{fmt_bytes(saving_zip)} of the zip ({100 * saving_zip / total_zip:.0f}%), "
        f"{fmt_bytes(saving_raw)} unzipped",
        "nothing it does not need",
        saving_zip == 0,
    )
    section.details.append(
        "What looks unneeded, with the saving if pruned (zipped):\n\n"
        + markdown_table(
            ["candidate", "unzipped", "zipped", "why"],
            [[c[0], fmt_bytes(c[1]), fmt_bytes(c[2]), c[3]] for c in candidates],
        )
    )
    if candidates:
        kept = sorted(
            {
                _group(n, 3 if n.startswith("aws_lambda_powertools/utilities/") else 2)
                for n in loaded
                if n.startswith("aws_lambda_powertools/")
            }
        )
        section.notes.append(
            f"Pruning the list above would take the zip from {fmt_bytes(total_zip)} to about "
            f"{fmt_bytes(total_zip - saving_zip)}. The Powertools parts the handler imported: "
            + ", ".join(f"`{k}`" for k in kept)
            + ". What stands in the way: the library's bundler (`ses_lambda_constructs/"
            "bundling.py`) copies everything `pip install` puts into the target, the whole "
            "aws-lambda-powertools distribution with its dependencies and metadata. "
            "`gate.py` is not imported by the reference handler but is the entry point of "
            "the verdict gate function, which is built from the same bundle."
        )
    imported_zip = sum(per_file[n][1] for n in loaded if n in per_file)
    section.row(
        "Files imported while handling a message",
        f"{len(loaded)} of {len(per_file)} files, {fmt_bytes(imported_zip)} zipped",
    )
    section.notes += [
        f"Asset directory measured: the staged `aws:asset:path` of the demo stack's "
        f"reference handler ({code_dir.name}).",
        "'Imported in a run' comes from one invocation that parsed a message with attachments "
        "and wrote it to S3 (moto); code only reached on error paths may be missing from it, so "
        "pruning should keep whatever the handler's error paths import.",
    ]
    section.raw = {
        "zip_bytes": total_zip,
        "unzipped_bytes": raw_total,
        "files": len(per_file),
        "groups": dict(groups),
        "candidates": candidates,
        "loaded": sorted(loaded),
    }
    return section
