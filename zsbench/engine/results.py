"""Result records: CLIP_benchmark's keys plus a ``zsbench`` provenance block; strict JSON; CSV/Markdown build."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write_json, atomic_write_text, describe_os_error
from zsbench.errors import OutputError, ZsbenchError

SCHEMA_VERSION = 1
# Linear-probe settings that CLIP_benchmark writes into ``metrics`` beside the scores (its key names, kept there for
# compatibility); anything that compares or aggregates metrics treats them as settings, never as scores.
METRIC_SETTINGS = ("weight_decay", "epochs", "seed", "fewshot_k", "normalized")
# CLIP_benchmark's key order: dataset, model, pretrained, task, metrics, language.
CLIP_BENCHMARK_KEYS = ("dataset", "model", "pretrained", "task", "metrics", "language")
IDENTITY_KEYS = ("dataset", "model", "pretrained", "task", "language")
# Stable CSV column order: identity first, then metrics in a fixed order, then anything else sorted.
METRIC_ORDER = (
    "acc1",
    "acc5",
    "mean_per_class_recall",
    "mean_average_precision",
    "lp_acc1",
    "lp_acc5",
    "lp_mean_per_class_recall",
    # captioning, in CLIP_benchmark's scorer order
    "Bleu_1",
    "Bleu_2",
    "Bleu_3",
    "Bleu_4",
    "METEOR",
    "ROUGE_L",
    "CIDEr",
    "SPICE",
    # image_caption_selection, in CLIP_benchmark's key order
    "image_acc",
    "text_acc",
    "acc",
)


def strict(value: Any) -> Any:
    """Replace NaN/inf by None recursively: CLIP_benchmark writes a bare ``NaN``, which is not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


@dataclass(frozen=True)
class ResultRecord:
    """One result: CLIP_benchmark's keys, the optional ``--dump_*`` lists, and zsbench's provenance block.

    ``as_dict`` is the JSON written to disk (CLIP_benchmark's key order, then ``zsbench``); ``from_dict`` reads one
    back and checks it, so a foreign or damaged record is one line naming its file instead of a wrong table.
    Records written by CLIP_benchmark itself have no provenance block (``provenance == {}``).
    """

    dataset: str
    metrics: dict[str, float | None]
    # CLIP_benchmark's build takes records without these too (hand-trimmed files, the fork's older lines)
    model: str | None = None
    pretrained: str | None = None
    task: str | None = None
    language: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    classnames: list[str] | None = None
    templates: Any = None

    @property
    def schema_version(self) -> int | None:
        return self.provenance.get("schema_version")

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {k: getattr(self, k) for k in CLIP_BENCHMARK_KEYS if getattr(self, k) is not None}
        if self.classnames is not None:
            record["classnames"] = self.classnames
        if self.templates is not None:
            record["templates"] = self.templates
        if self.provenance:
            record["zsbench"] = self.provenance
        return record

    @classmethod
    def from_dict(cls, record: Any, source: str = "a record") -> ResultRecord:
        if not isinstance(record, dict):
            raise ZsbenchError(f"{source}: a result record is a JSON object, got {type(record).__name__}")
        missing = [k for k in ("dataset", "metrics") if k not in record]
        if missing:
            raise ZsbenchError(f"{source}: not a result record (no {', '.join(missing)}); pass files written by eval")
        for key in ("dataset", "model", "pretrained", "task", "language"):
            if key in record and not isinstance(record[key], str):
                raise ZsbenchError(f"{source}: {key!r} must be a string, got {record[key]!r}")
        metrics = record["metrics"]
        # a linear probe's metrics also hold its settings, "normalized": true among them, as CLIP_benchmark writes them
        if not isinstance(metrics, dict) or not all(
            v is None or (isinstance(v, (int, float)) and (not isinstance(v, bool) or k in METRIC_SETTINGS))
            for k, v in metrics.items()
        ):
            raise ZsbenchError(f"{source}: 'metrics' must map names to numbers or null, got {metrics!r}")
        provenance = record.get("zsbench") or {}
        if not isinstance(provenance, dict):
            raise ZsbenchError(f"{source}: the 'zsbench' block must be an object")
        version = provenance.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ZsbenchError(
                f"{source}: result schema version {version!r} is newer than this zsbench reads ({SCHEMA_VERSION}); "
                "upgrade zsbench"
            )
        return cls(
            **{k: record[k] for k in CLIP_BENCHMARK_KEYS if k in record},
            provenance=provenance,
            classnames=record.get("classnames"),
            templates=record.get("templates"),
        )


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


def lock_path(path: str | Path) -> Path:
    """The sibling ``<output>.lock`` that serialises writers of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` (blocking) for a read-modify-replace of ``path``.

    The lock file is removed on release, so no ``.lock`` files pile up beside results. That is safe because a
    waiter that wakes up on an inode no longer at the path (its holder removed it) simply tries again.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock available
        yield
        return
    lock = lock_path(path)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(lock)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            break
        os.close(fd)  # the holder before us removed this lock file: take the current one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def existing_records(path: Path) -> list[dict[str, Any]]:
    """The records already in ``path`` ([] if absent); OutputError for a file that is not a result file."""
    if not path.exists():
        return []
    try:
        records = read_records(path)
    except (ZsbenchError, UnicodeDecodeError) as e:
        raise OutputError(not_a_result_file(path)) from e
    except OSError as e:
        raise OutputError(f"cannot read the existing output {path}: {describe_os_error(e)}") from e
    # A JSON file of something else (a config, a list) is not merged into: it is refused, never overwritten.
    if not all(isinstance(r, dict) and "dataset" in r and "metrics" in r for r in records):
        raise OutputError(not_a_result_file(path))
    return records


def not_a_result_file(path: str | Path) -> str:
    return f"output {path} exists and is not a result file (JSON or JSON Lines records); move it or choose another --output"


def write_record(path: str | Path, record: dict[str, Any], *, shared: bool = False) -> None:
    """Write ``record`` atomically, keeping every other job's record already in ``path``.

    A path that holds only this job's record (or nothing) gets one JSON object, as in CLIP_benchmark. A path that
    also holds other jobs' records -- several jobs of one invocation (``shared``, e.g. the seed README's
    ``--output result.json`` with several languages), or earlier or concurrent runs writing to the same file --
    becomes JSON Lines, one record per job, earlier jobs first; a rerun of a job replaces its own line. The
    read-modify-replace holds an exclusive lock on ``<path>.lock``, so concurrent runs never drop each other's
    records. An existing file that is not a result file is refused, never overwritten.

    Raises :class:`~zsbench.errors.OutputError` (one line) when the file cannot be written (read-only folder,
    disk full); the previous content, if any, is then left untouched and no partial file remains.
    """
    record = strict(record)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path):
            kept = [r for r in existing_records(path) if not same_job(r, record)]
            if not kept and not shared:
                atomic_write_json(path, record)
                return
            lines = [json.dumps(r, allow_nan=False) for r in [*kept, record]]
            atomic_write_text(path, "\n".join(lines) + "\n")
    except OSError as e:
        raise OutputError(f"cannot write result {path}: {describe_os_error(e)}") from e


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
            for n, record in enumerate(read_records(f), 1):
                records.append(ResultRecord.from_dict(record, f"{f} (record {n})").as_dict())
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
