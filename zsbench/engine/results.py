"""Result records: CLIP_benchmark's keys plus a ``zsbench`` provenance block; strict JSON; CSV/Markdown build."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write_json, atomic_write_text
from zsbench.errors import ZsbenchError

SCHEMA_VERSION = 1
IDENTITY_KEYS = ("dataset", "model", "pretrained", "task", "language")
# Stable CSV column order: identity first, then metrics in a fixed order, then anything else sorted.
METRIC_ORDER = ("acc1", "acc5", "mean_per_class_recall", "mean_average_precision")


def strict(value: Any) -> Any:
    """Replace NaN/inf by None recursively: CLIP_benchmark writes a bare ``NaN``, which is not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records from a JSON object, a JSON list, or JSON Lines (the InternVL fork's ``result.json``).

    Bare ``NaN`` tokens (CLIP_benchmark output) are read as null.
    """
    text = Path(path).read_text(encoding="utf-8").strip()
    if not text:
        return []

    def parse(s: str) -> Any:
        return json.loads(s, parse_constant=lambda _: None)

    try:
        obj = parse(text)
        return [strict(r) for r in (obj if isinstance(obj, list) else [obj])]
    except json.JSONDecodeError:
        pass
    try:
        return [strict(parse(line)) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise ZsbenchError(f"{path} is neither JSON nor JSON Lines ({e}); pass result files written by eval") from e


def same_job(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in IDENTITY_KEYS)


def write_record(path: str | Path, record: dict[str, Any], *, shared: bool) -> None:
    """Write ``record`` atomically.

    A path used by one job holds one JSON object, as in CLIP_benchmark. A path that several jobs of one
    invocation share (e.g. the seed README's ``--output result.json`` with several languages) holds JSON Lines,
    one record per job, so no result overwrites another; a rerun replaces its own line.
    """
    record = strict(record)
    path = Path(path)
    if not shared:
        atomic_write_json(path, record)
        return
    existing = read_records(path) if path.exists() else []
    kept = [r for r in existing if not same_job(r, record)]
    lines = [json.dumps(r, allow_nan=False) for r in [*kept, record]]
    atomic_write_text(path, "\n".join(lines) + "\n")


def has_record(path: str | Path, identity: dict[str, Any]) -> bool:
    """True if ``path`` holds a finished record for this job (``--skip_existing``)."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        return any(same_job(r, identity) and r.get("metrics") for r in read_records(path))
    except ZsbenchError:
        return False


def collect(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise ZsbenchError(f"result path {p} does not exist; pass result JSON files or folders holding them")
        files = sorted(p.glob("*.json")) + sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        for f in files:
            records.extend(read_records(f))
    return records


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: metrics as top-level keys + identity + ``model_fullname``, as CLIP_benchmark's build."""
    row = {k: record.get(k) for k in IDENTITY_KEYS}
    row.update(record.get("metrics") or {})
    row["model_fullname"] = f"{record.get('model')} {record.get('pretrained')}"
    return row


def columns_for(rows: list[dict[str, Any]]) -> list[str]:
    keys = {k for r in rows for k in r}
    metrics = [m for m in METRIC_ORDER if m in keys]
    recall = sorted((k for k in keys if "@" in k), key=lambda k: (int(k.rsplit("@", 1)[1]), not k.startswith("image")))
    fixed = [*IDENTITY_KEYS, "model_fullname", *metrics, *recall]
    return fixed + sorted(keys - set(fixed))


def to_csv(records: list[dict[str, Any]]) -> str:
    rows = [flatten(r) for r in records]
    cols = columns_for(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in cols})
    return buf.getvalue()


def to_markdown(records: list[dict[str, Any]], digits: int = 4) -> str:
    rows = [flatten(r) for r in records]
    cols = [c for c in columns_for(rows) if c not in ("model_fullname",)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append("" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
