"""``zsbench compare BASE NEW``: two runs' results side by side, metric by metric, with a pass/fail verdict.

Each side is a result file written by ``zsbench eval`` (one JSON object, a JSON list, or JSON Lines; CLIP_benchmark's
files too), a folder of them (its ``*.json`` and ``*.jsonl`` files, not recursive, as ``zsbench build`` reads them),
or a CSV written by ``zsbench build`` (or CLIP_benchmark's ``build``).

Results are matched on (task, model, pretrained, dataset, language); within each match, every metric that both
sides have is one row: base, new, difference and a verdict against ``--fail`` thresholds, in the spirit of
pytest-benchmark's ``--benchmark-compare-fail``: ``--fail acc1:0.5pp,image_retrieval_recall@5:1pp`` (``pp`` =
percentage points = 0.01 absolute; a plain number is absolute, ``0.005``; ``*:1pp`` sets every metric's limit, a
named metric overrides it). Only a *drop* larger than the limit fails: every metric CLIP_benchmark and zsbench
write (acc1, acc5, mean_per_class_recall, mean_average_precision, image/text retrieval recall@k, and the
caption-selection and captioning scores of CLIP_benchmark) is higher-is-better; there is no lower-is-better metric to
handle. A drop equal to the limit passes (1e-9 is allowed for float rounding). A metric that was a number in BASE and
is null in NEW fails its limit: a result that became unmeasurable is not "no change".

Nothing is dropped silently: results (or single metrics) that only one side has are listed in a section of their
own; the provenance settings that differ between the two runs (precision, prompt set, captions, dataset size and
fingerprint mode, model weights, versions, ...) are shown above the tables, because they explain differences; when
one side has the same result twice (two files, or two lines of one file), the file read later wins (files in name
order within a folder, lines in file order) and a note says so. A CSV has no provenance (and cannot tell a null
metric from one its task does not have: an empty cell is an absent metric); the output says so.

Exit status: 1 when a metric dropped beyond its limit, 0 otherwise, 2 on bad input (one line): an unparseable
``--fail`` or one naming a metric neither side has, a path that is not a result file, no shared result at all.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.results import METRIC_ORDER, METRIC_SETTINGS, read_records, strict
from zsbench.errors import ZsbenchError

__all__ = [
    "Comparison",
    "Row",
    "Side",
    "Threshold",
    "add_compare_parser",
    "cmd_compare",
    "compare",
    "load_side",
    "parse_thresholds",
    "render",
]

# What a result is: the table groups by the first, the rows are identified by the rest (plus the metric).
KEY_FIELDS = ("task", "model", "pretrained", "dataset", "language")
ROW_FIELDS = ("model", "pretrained", "dataset", "language")
REQUIRED = ("dataset", "model", "pretrained", "task", "metrics")  # language is optional (old CLIP_benchmark files)
# A drop equal to the limit passes; this absorbs float rounding of e.g. 0.80 - 0.795 vs 0.5pp.
EPSILON = 1e-9
FORMATS = ("text", "markdown", "json")
# Notes beyond this many are counted in text/Markdown; --format json lists them all.
MAX_NOTES = 10
MAX_NAMED = 4  # results named per differing setting before "+N more"

Key = tuple[Any, ...]

BAD_SIDE_HINT = "pass result JSON/JSONL files written by zsbench eval, a folder of them, or a zsbench build CSV"


# --------------------------------------------------------------------------------------------------------------
# --fail thresholds


@dataclass(frozen=True)
class Threshold:
    """The largest drop a metric may have: ``absolute`` in the metric's own units, ``given`` as the user wrote it."""

    metric: str
    absolute: float
    given: str


def parse_thresholds(spec: str) -> dict[str, Threshold]:
    """``"acc1:0.5pp,image_retrieval_recall@5:1pp,*:0.01"`` -> {metric: Threshold}; ZsbenchError on bad syntax."""
    thresholds: dict[str, Threshold] = {}
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise ZsbenchError("--fail is empty; give METRIC:LIMIT entries, e.g. --fail acc1:0.5pp,*:1pp")
    for entry in entries:
        metric, sep, limit = entry.rpartition(":")
        metric, limit = metric.strip(), limit.strip()
        if not sep or not metric or not limit:
            raise ZsbenchError(f"--fail entry {entry!r} is not METRIC:LIMIT; e.g. acc1:0.5pp, acc1:0.005 or *:1pp")
        if metric in thresholds:
            raise ZsbenchError(f"--fail names {metric!r} twice; give each metric one limit")
        thresholds[metric] = Threshold(metric, _parse_limit(entry, limit), limit)
    return thresholds


def _parse_limit(entry: str, limit: str) -> float:
    text = limit.lower()
    if text.endswith("%"):
        # "0.5%" reads as relative to some people and as points to others: ask for the unambiguous form.
        raise ZsbenchError(
            f"--fail entry {entry!r}: write percentage points as {limit[:-1]}pp (0.01 absolute each) "
            "or an absolute value; % is ambiguous"
        )
    points = text.endswith("pp")
    try:
        value = float(text[:-2] if points else text)
    except ValueError:
        raise ZsbenchError(
            f"--fail entry {entry!r}: {limit!r} is not a number; e.g. 0.5pp (percentage points) or 0.005 (absolute)"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ZsbenchError(f"--fail entry {entry!r}: the limit must be a finite number >= 0")
    if points:
        if value >= 100:
            raise ZsbenchError(f"--fail entry {entry!r}: a limit of 100pp or more can never fail")
        return value / 100.0
    if value >= 1:
        # Metrics are fractions in [0, 1]: an absolute limit of 1 can never fail, so "acc1:1" surely meant 1pp.
        raise ZsbenchError(
            f"--fail entry {entry!r}: metrics are fractions in [0, 1], so an absolute limit of {limit} can never "
            f"fail; did you mean {limit}pp?"
        )
    return value


# --------------------------------------------------------------------------------------------------------------
# reading one side


@dataclass
class Entry:
    record: dict[str, Any]
    source: str  # the file (and line, for JSON Lines duplicates) it came from


@dataclass
class Side:
    """One side of the comparison: what was read from ``path`` and notes about how."""

    label: str  # "BASE" or "NEW"
    path: Path
    files: list[Path] = field(default_factory=list)
    entries: dict[Key, Entry] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_records: int = 0

    @property
    def without_provenance(self) -> list[Key]:
        return [k for k, e in self.entries.items() if not isinstance(e.record.get("zsbench"), dict)]


def _key(record: dict[str, Any]) -> Key:
    return tuple(record.get(f) for f in KEY_FIELDS)


def _describe(key: Key) -> str:
    """``task model pretrained dataset language``, as a person reads a result's name."""
    return " ".join("-" if v is None else str(v) for v in key)


def _sort_key(key: Key) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def load_side(path: str | Path, label: str) -> Side:
    """Read one side; a later file (or line) with the same result replaces the earlier one, with a note."""
    path = Path(path)
    side = Side(label, path)
    if not path.exists():
        raise ZsbenchError(f"{label} {path} does not exist; {BAD_SIDE_HINT}")
    if path.is_dir():
        side.files = sorted(
            (p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file()), key=lambda p: p.name
        )
        csvs = sorted(p.name for p in path.iterdir() if p.suffix == ".csv" and p.is_file())
        # like zsbench build, a folder is not read recursively; subfolders with results are named, not skipped silently
        subs = sorted(
            p.name + "/" for p in path.iterdir() if p.is_dir() and (any(p.glob("*.json")) or any(p.glob("*.jsonl")))
        )
        if not side.files:
            extra = f" (it has {', '.join(csvs)}: pass a CSV itself)" if csvs else ""
            extra += f" (its subfolders {', '.join(subs)} have some: pass one of them)" if subs else ""
            raise ZsbenchError(f"{label} folder {path} holds no result files (*.json, *.jsonl){extra}; {BAD_SIDE_HINT}")
        if subs:
            side.notes.append(f"{label}: subfolders of {path} are not read: {', '.join(subs)}")
        if csvs:
            # a folder of eval results often also holds build's CSV of the same results: reading both would only
            # duplicate them, so the CSV is left out, and said so.
            side.notes.append(f"{label}: ignored {', '.join(csvs)} in {path} (a folder is read as its JSON files)")
    elif path.is_file():
        side.files = [path]
    else:
        raise ZsbenchError(f"{label} {path} is neither a file nor a folder; {BAD_SIDE_HINT}")
    for f in side.files:
        records = _read_csv(f, label) if f.suffix.lower() == ".csv" else _read_json(f, label)
        side.n_records += len(records)
        seen_here: dict[Key, int] = {}
        for i, record in enumerate(records, 1):
            key = _key(record)
            source = str(f) if len(records) == 1 else f"{f} (record {i})"
            earlier = side.entries.get(key)
            if earlier is not None:
                if key in seen_here:
                    side.notes.append(
                        f"{label}: {_describe(key)} is in {f} twice (records {seen_here[key]} and {i}); "
                        f"the later record is used"
                    )
                else:
                    side.notes.append(
                        f"{label}: {_describe(key)} is in {earlier.source} and {f}; the later file ({f.name}) is used"
                    )
            seen_here[key] = i
            side.entries[key] = Entry(_settings_out_of_metrics(record), source)
    return side


def _settings_out_of_metrics(record: dict[str, Any]) -> dict[str, Any]:
    """Move CLIP_benchmark's linear-probe settings out of ``metrics`` (a drop in ``weight_decay`` is no regression)
    into the provenance, where they show as settings that differ."""
    metrics = record.get("metrics") or {}
    moved = {k: metrics[k] for k in METRIC_SETTINGS if k in metrics}
    if not moved:
        return record
    out = {**record, "metrics": {k: v for k, v in metrics.items() if k not in moved}}
    if isinstance(record.get("zsbench"), dict):  # a record without provenance has no settings to compare (noted)
        out["zsbench"] = {**record["zsbench"], "metric_settings": moved}
    return out


def _read_json(path: Path, label: str) -> list[dict[str, Any]]:
    try:
        records = read_records(path)
    except (ZsbenchError, UnicodeDecodeError, ValueError) as e:  # not JSON / JSON Lines, or not text at all
        raise ZsbenchError(f"{label} {path} is not a result file ({_short(e)}); {BAD_SIDE_HINT}") from e
    except OSError as e:
        raise ZsbenchError(f"cannot read {label} {path}: {e.strerror or e}") from e
    if not records:
        raise ZsbenchError(f"{label} {path} is empty, not a result file; {BAD_SIDE_HINT}")
    for i, record in enumerate(records, 1):
        problem = _record_problem(record)
        if problem:
            where = f"{path}: record {i}" if len(records) > 1 else str(path)
            raise ZsbenchError(f"{label} {where} is not a result record ({problem}); {BAD_SIDE_HINT}")
    return records


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _record_problem(record: Any) -> str:
    """Why ``record`` is not a result record ("" if it is one)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        return f"no {', '.join(repr(k) for k in missing)}"
    for k in ("dataset", "model", "pretrained", "task"):
        if not isinstance(record[k], str):
            return f"{k!r} is not a string"
    if record.get("language") is not None and not isinstance(record["language"], str):
        return "'language' is not a string"
    metrics = record["metrics"]
    if not isinstance(metrics, dict):
        return "'metrics' is not an object"
    for name, value in metrics.items():
        if name in METRIC_SETTINGS:  # linear-probe settings (normalized is a bool): compared as settings below
            continue
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"metric {name!r} is {json.dumps(value)[:40]}, not a number"
    return ""


def _read_csv(path: Path, label: str) -> list[dict[str, Any]]:
    """A ``zsbench build`` CSV: identity columns, ``model_fullname``, one column per metric (empty = absent)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
            header = list(rows[0].keys()) if rows else []
    except (UnicodeDecodeError, csv.Error) as e:
        raise ZsbenchError(f"{label} {path} is not a zsbench build CSV ({_short(e)}); {BAD_SIDE_HINT}") from e
    except OSError as e:
        raise ZsbenchError(f"cannot read {label} {path}: {e.strerror or e}") from e
    if not rows:
        raise ZsbenchError(f"{label} {path} has no result rows; {BAD_SIDE_HINT}")
    missing = [k for k in ("dataset", "model", "pretrained", "task") if k not in header]
    if missing:
        raise ZsbenchError(
            f"{label} {path} is not a zsbench build CSV (no column {', '.join(missing)}); {BAD_SIDE_HINT}"
        )
    metric_columns = [c for c in header if c not in (*KEY_FIELDS, "model_fullname") and c is not None]
    records = []
    for line, row in enumerate(rows, 2):  # line 1 is the header
        if None in row:  # more cells than the header has columns
            raise ZsbenchError(f"{label} {path} line {line} has more cells than the header; not a zsbench build CSV")
        metrics: dict[str, Any] = {}
        for c in metric_columns:
            cell = (row.get(c) or "").strip()
            if not cell:
                continue  # build's CSV is the union of every task's columns: an empty cell is a metric not measured
            try:
                value = float(cell)
            except ValueError:
                raise ZsbenchError(
                    f"{label} {path} line {line} column {c!r} is {cell[:40]!r}, not a number; not a zsbench build CSV"
                ) from None
            metrics[c] = strict(value)  # "nan" -> null, as in result files
        record = {k: row.get(k) for k in ("dataset", "model", "pretrained", "task")}
        record["language"] = row.get("language") or None
        record["metrics"] = metrics
        records.append(record)
    return records


# --------------------------------------------------------------------------------------------------------------
# settings from the provenance block


def _shorten(value: Any) -> Any:
    """Long hex digests -> their first 12 characters; paths dropped (they differ between machines, hashes do not)."""
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items() if k != "path"}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value


def _first(prov: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in prov:
            return prov[name]
    return None


def _identity(prov: dict[str, Any], part: str) -> Any:
    ident = prov.get("model_identity")
    return ident.get(part) if isinstance(ident, dict) else None


def _weights(prov: dict[str, Any]) -> Any:
    weights = _identity(prov, "weights")
    if isinstance(weights, dict) and weights.get("sha256"):
        return weights["sha256"]  # the same file at another path is the same weights
    if isinstance(weights, dict):
        return {k: v for k, v in weights.items() if k != "path"} or None
    return weights


def _dataset_info(prov: dict[str, Any], name: str) -> Any:
    info = prov.get("dataset_info")
    return info.get(name) if isinstance(info, dict) else None


# (label, getter): the recorded settings that can change a metric, in the order they are shown.
SETTINGS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("linear-probe settings", lambda p: p.get("metric_settings")),
    ("zsbench_version", lambda p: p.get("zsbench_version")),
    ("torch_version", lambda p: p.get("torch_version")),
    ("device_name", lambda p: p.get("device_name")),
    ("precision", lambda p: p.get("precision")),
    ("gpu_decode", lambda p: p.get("gpu_decode")),
    ("model weights (sha256)", _weights),
    ("model preprocess", lambda p: _identity(p, "preprocess")),
    ("model tokenizer", lambda p: _identity(p, "tokenizer")),
    ("model libraries", lambda p: _identity(p, "library")),
    ("prompt set", lambda p: _first(p, "template_set", "prompt_set", "templates_id")),
    ("prompts_sha256", lambda p: p.get("prompts_sha256")),
    ("n_prompts", lambda p: p.get("n_prompts")),
    ("captions_sha256", lambda p: p.get("captions_sha256")),
    ("n_captions", lambda p: p.get("n_captions")),
    (
        "caption preprocessing",
        lambda p: _first(p, "caption_preprocess", "caption_preprocessing", "captions_preprocess"),
    ),
    ("split", lambda p: p.get("split")),
    ("dataset fingerprint", lambda p: p.get("fingerprint")),
    ("n_images", lambda p: p.get("n_images")),
    ("n_evaluated", lambda p: p.get("n_evaluated")),
    ("skipped_corrupt", lambda p: p.get("skipped_corrupt")),
    ("allow_incomplete", lambda p: p.get("allow_incomplete")),
    ("absent classes", lambda p: _dataset_info(p, "absent_classes")),
    ("incomplete shards", lambda p: _dataset_info(p, "incomplete_shards")),
)


@dataclass
class SettingDiff:
    """One setting with one (base, new) pair of values, and the shared results where it is so."""

    setting: str
    base: Any
    new: Any
    results: list[Key]


# --------------------------------------------------------------------------------------------------------------
# the comparison


@dataclass
class Row:
    task: str
    model: str
    pretrained: str
    dataset: str
    language: str | None
    metric: str
    base: float | None
    new: float | None
    threshold: Threshold | None

    @property
    def diff(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def verdict(self) -> str:
        """``ok`` / ``FAIL`` against the threshold; ``""`` without one; ``n/a`` when BASE has no number."""
        if self.threshold is None:
            return ""
        if self.base is None:
            return "n/a"
        if self.new is None:
            return "FAIL"  # a number that became null is not "no change"
        return "FAIL" if self.base - self.new > self.threshold.absolute + EPSILON else "ok"


@dataclass
class OneSided:
    """A result, or some metrics of a shared result, that only one side has."""

    key: Key
    metrics: dict[str, Any]
    whole: bool  # the whole result (else: only these metrics of a result both sides have)


@dataclass
class Comparison:
    base: Side
    new: Side
    thresholds: dict[str, Threshold]
    rows: list[Row]
    only_base: list[OneSided]
    only_new: list[OneSided]
    settings: list[SettingDiff]
    n_shared: int

    @property
    def notes(self) -> list[str]:
        notes = [*self.base.notes, *self.new.notes]
        for side in (self.base, self.new):
            missing = side.without_provenance
            if missing:
                what = "has" if len(missing) == len(side.entries) else f"has {len(missing)} results with"
                notes.append(
                    f"{side.label} {side.path} {what} no zsbench provenance block (a CSV or a CLIP_benchmark "
                    "result): its settings cannot be compared"
                )
        return notes

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "FAIL"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def tasks(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.task, []).append(row)
        return out


def _metric_sort(name: str) -> tuple[Any, ...]:
    """CSV column order (results.columns_for): fixed metrics, then recall@k by k (image first), then the rest."""
    if name in METRIC_ORDER:
        return (0, METRIC_ORDER.index(name), 0, name)
    head, _, k = name.rpartition("@")
    if head and k.isdigit():
        return (1, int(k), not name.startswith("image"), name)
    return (2, 0, 0, name)


def compare(base: str | Path, new: str | Path, thresholds: dict[str, Threshold] | None = None) -> Comparison:
    """Read both sides and compare every shared (task, model, pretrained, dataset, language, metric).

    Raises :class:`ZsbenchError` on a path that is not a result file, when the sides share no result, or when a
    threshold names a metric that neither side has (a typo would otherwise never fail).
    """
    thresholds = dict(thresholds or {})
    b, n = load_side(base, "BASE"), load_side(new, "NEW")
    known = {m for side in (b, n) for e in side.entries.values() for m in e.record["metrics"]}
    unknown = sorted(m for m in thresholds if m != "*" and m not in known)
    if unknown:
        metrics = ", ".join(sorted(known, key=_metric_sort))
        raise ZsbenchError(f"--fail names {', '.join(unknown)}, which neither side has; metrics: {metrics}")
    shared = sorted(set(b.entries) & set(n.entries), key=_sort_key)
    if not shared:
        first_base, first_new = (_describe(min(s.entries, key=_sort_key)) for s in (b, n))
        raise ZsbenchError(
            f"BASE {b.path} ({len(b.entries)} results) and NEW {n.path} ({len(n.entries)} results) share no result "
            f"(same task, model, pretrained, dataset, language); e.g. BASE has {first_base}, NEW has {first_new}"
        )
    rows: list[Row] = []
    only_base = [
        OneSided(k, b.entries[k].record["metrics"], True)
        for k in sorted(set(b.entries) - set(n.entries), key=_sort_key)
    ]
    only_new = [
        OneSided(k, n.entries[k].record["metrics"], True)
        for k in sorted(set(n.entries) - set(b.entries), key=_sort_key)
    ]
    for key in shared:
        bm, nm = b.entries[key].record["metrics"], n.entries[key].record["metrics"]
        task, model, pretrained, dataset, language = key
        for metric in sorted(set(bm) | set(nm), key=_metric_sort):
            if metric in bm and metric in nm:
                limit = thresholds.get(metric, thresholds.get("*"))
                rows.append(Row(task, model, pretrained, dataset, language, metric, bm[metric], nm[metric], limit))
        if set(bm) - set(nm):
            only_base.append(OneSided(key, {m: bm[m] for m in bm if m not in nm}, False))
        if set(nm) - set(bm):
            only_new.append(OneSided(key, {m: nm[m] for m in nm if m not in bm}, False))
    return Comparison(b, n, thresholds, rows, only_base, only_new, _setting_diffs(b, n, shared), len(shared))


def _setting_diffs(b: Side, n: Side, shared: list[Key]) -> list[SettingDiff]:
    groups: dict[tuple[str, str, str], SettingDiff] = {}
    for key in shared:
        bp, np_ = b.entries[key].record.get("zsbench"), n.entries[key].record.get("zsbench")
        if not isinstance(bp, dict) or not isinstance(np_, dict):
            continue  # said once in the notes
        for label, get in SETTINGS:
            bv, nv = get(bp), get(np_)
            if bv == nv:
                continue
            group = (label, json.dumps(bv, sort_keys=True, default=str), json.dumps(nv, sort_keys=True, default=str))
            groups.setdefault(group, SettingDiff(label, bv, nv, [])).results.append(key)
    order = {label: i for i, (label, _) in enumerate(SETTINGS)}
    return sorted(groups.values(), key=lambda d: (order[d.setting], -len(d.results)))


# --------------------------------------------------------------------------------------------------------------
# output


def _num(v: Any) -> str:
    return "null" if v is None else f"{v:.4f}"


def _pp(d: float | None) -> str:
    return "-" if d is None else f"{d * 100:+.2f}pp"


def _value(v: Any) -> str:
    if v is None:
        return "(not recorded)"
    v = _shorten(v)
    if isinstance(v, (dict, list, bool)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _limit_text(t: Threshold | None) -> str:
    return "-" if t is None else t.given


def _scope(d: SettingDiff, n_shared: int) -> str:
    if len(d.results) == n_shared:
        return f"all {n_shared} shared results"
    names = ", ".join(_describe(k) for k in d.results[:MAX_NAMED])
    more = f", +{len(d.results) - MAX_NAMED} more" if len(d.results) > MAX_NAMED else ""
    return f"{len(d.results)} of {n_shared} shared results: {names}{more}"


def _header_lines(c: Comparison) -> list[str]:
    lines = []
    for side in (c.base, c.new):
        files = f"{len(side.files)} file{'s' if len(side.files) != 1 else ''}"
        lines.append(f"{side.label + ':':5} {side.path}  ({len(side.entries)} results, {files})")
    if c.thresholds:
        limits = ", ".join(f"{m} {t.given}" for m, t in c.thresholds.items())
        lines.append(f"--fail: {limits} (a drop larger than its limit fails)")
    else:
        lines.append("--fail: none (nothing can fail; e.g. --fail acc1:0.5pp,*:1pp)")
    return lines


def _notes(c: Comparison) -> list[str]:
    notes = c.notes
    if len(notes) > MAX_NOTES:
        notes = [*notes[:MAX_NOTES], f"... and {len(notes) - MAX_NOTES} more notes (--format json lists them all)"]
    return notes


def _summary(c: Comparison) -> str:
    compared = f"{len(c.rows)} metric{'s' if len(c.rows) != 1 else ''} of {c.n_shared} shared results compared"
    one_sided = len(c.only_base) + len(c.only_new)
    tail = (
        f"; {one_sided} {'entry' if one_sided == 1 else 'entries'} only on one side (listed above)" if one_sided else ""
    )
    if not c.thresholds:
        return f"{compared}, no --fail limits{tail}"
    failed = c.failed
    if not failed:
        return f"OK: {compared}, none dropped beyond its limit{tail}"
    worst = ", ".join(
        f"{r.metric} of {r.model} {r.pretrained} {r.dataset} {r.language or '-'} "
        f"{'became null' if r.new is None else _pp(r.diff)} (limit {_limit_text(r.threshold)})"
        for r in failed[:MAX_NAMED]
    )
    more = f", +{len(failed) - MAX_NAMED} more" if len(failed) > MAX_NAMED else ""
    return f"FAIL: {len(failed)} of {compared} dropped beyond the limit: {worst}{more}{tail}"


def _table_cells(c: Comparison, rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    head = [*ROW_FIELDS, "metric", "base", "new", "diff"]
    if c.thresholds:
        head += ["limit", "verdict"]
    body = []
    for r in rows:
        cells = [r.model, r.pretrained, r.dataset, r.language or "-", r.metric, _num(r.base), _num(r.new), _pp(r.diff)]
        if c.thresholds:
            cells += [_limit_text(r.threshold), r.verdict or "-"]
        body.append(cells)
    return head, body


def _one_sided_cells(items: list[OneSided]) -> list[list[str]]:
    out = []
    for item in items:
        metrics = ", ".join(
            f"{m}={_num(v)}" for m, v in sorted(item.metrics.items(), key=lambda kv: _metric_sort(kv[0]))
        )
        what = "" if item.whole else " (only these metrics)"
        out.append([*("-" if v is None else str(v) for v in item.key), (metrics or "(no metrics)") + what])
    return out


NUMERIC = {"base", "new", "diff"}


def _aligned(head: list[str], body: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        cells = [cell.rjust(w) if h in NUMERIC else cell.ljust(w) for cell, w, h in zip(row, widths, head)]
        return (indent + "  ".join(cells)).rstrip()

    return [fmt(head), *(fmt(r) for r in body)]


def render_text(c: Comparison) -> str:
    lines = _header_lines(c)
    lines.append("")
    if c.settings:
        lines.append("Settings that differ between the runs (they can explain differences below):")
        for d in c.settings:
            lines.append(f"  {d.setting}: {_value(d.base)} -> {_value(d.new)}  ({_scope(d, c.n_shared)})")
    elif not any(side.without_provenance for side in (c.base, c.new)):
        lines.append("Settings: the recorded settings of the shared results are the same")
    notes = _notes(c)
    if notes:
        lines.append("Notes:")
        lines.extend(f"  {note}" for note in notes)
    for task, rows in c.tasks().items():
        lines += ["", task]
        lines += _aligned(*_table_cells(c, rows))
    for side, items in (("BASE", c.only_base), ("NEW", c.only_new)):
        if items:
            lines += ["", f"Only in {side} (not compared):"]
            lines += _aligned([*KEY_FIELDS, "metrics"], _one_sided_cells(items))
    lines += ["", _summary(c)]
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(head: list[str], body: list[list[str]]) -> list[str]:
    align = ["---:" if h in NUMERIC else "---" for h in head]
    rows = [head, align, *body]
    return ["| " + " | ".join(_md_escape(cell) if row is not align else cell for cell in row) + " |" for row in rows]


def render_markdown(c: Comparison) -> str:
    lines = ["## zsbench compare", ""]
    lines += [f"- {_md_escape(line)}" for line in _header_lines(c)]
    if c.settings:
        lines += ["", "### Settings that differ between the runs", ""]
        for d in c.settings:
            scope = _md_escape(_scope(d, c.n_shared))
            lines.append(f"- **{_md_escape(d.setting)}**: `{_value(d.base)}` -> `{_value(d.new)}` ({scope})")
    notes = _notes(c)
    if notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {_md_escape(n)}" for n in notes]
    for task, rows in c.tasks().items():
        lines += ["", f"### {task}", ""]
        lines += _md_table(*_table_cells(c, rows))
    for side, items in (("BASE", c.only_base), ("NEW", c.only_new)):
        if items:
            lines += ["", f"### Only in {side} (not compared)", ""]
            lines += _md_table([*KEY_FIELDS, "metrics"], _one_sided_cells(items))
    lines += ["", f"**{_md_escape(_summary(c))}**"]
    return "\n".join(lines)


def _key_dict(key: Key) -> dict[str, Any]:
    return dict(zip(KEY_FIELDS, key))


def to_dict(c: Comparison) -> dict[str, Any]:
    """Everything the text shows, untruncated, as plain JSON-able data (values exact, not rounded)."""

    def side(s: Side) -> dict[str, Any]:
        return {"path": str(s.path), "files": [str(f) for f in s.files], "n_results": len(s.entries)}

    def one_sided(items: list[OneSided]) -> list[dict[str, Any]]:
        return [{**_key_dict(i.key), "metrics": i.metrics, "whole_result": i.whole} for i in items]

    return strict(
        {
            "base": side(c.base),
            "new": side(c.new),
            "thresholds": {m: {"absolute": t.absolute, "given": t.given} for m, t in c.thresholds.items()},
            "settings_differ": [
                {"setting": d.setting, "base": d.base, "new": d.new, "results": [_key_dict(k) for k in d.results]}
                for d in c.settings
            ],
            "notes": c.notes,
            "tasks": {
                task: [
                    {
                        **{f: getattr(r, f) for f in ROW_FIELDS},
                        "metric": r.metric,
                        "base": r.base,
                        "new": r.new,
                        "diff": r.diff,
                        "limit": None if r.threshold is None else r.threshold.absolute,
                        "verdict": r.verdict or None,
                    }
                    for r in rows
                ]
                for task, rows in c.tasks().items()
            },
            "only_in_base": one_sided(c.only_base),
            "only_in_new": one_sided(c.only_new),
            "summary": {
                "shared_results": c.n_shared,
                "compared_metrics": len(c.rows),
                "failed": len(c.failed),
                "exit_code": c.exit_code,
                "text": _summary(c),
            },
        }
    )


def render(c: Comparison, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(to_dict(c), indent=2, allow_nan=False, default=str)
    if fmt == "markdown":
        return render_markdown(c)
    return render_text(c)


# --------------------------------------------------------------------------------------------------------------
# command line (wired into zsbench/cli.py by two lines)


def add_compare_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to ``zsbench``'s subparsers."""
    p = sub.add_parser(
        "compare",
        help="compare two runs' results metric by metric; exit 1 when a metric drops more than --fail allows",
        description="Compare two runs' results metric by metric: one table per task (base, new, difference, "
        "verdict), the settings that differ between the runs, and the results only one side has. Exit status: 1 "
        "when a metric dropped more than --fail allows, 0 otherwise, 2 on bad input.",
    )
    p.add_argument("base", metavar="BASE", help="result JSON/JSONL file, a folder of them, or a zsbench build CSV")
    p.add_argument("new", metavar="NEW", help="the same, for the run to check against BASE")
    p.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="METRIC:LIMIT,...",
        help="largest allowed drop per metric: pp = percentage points (0.01 absolute), a plain number is absolute, "
        "'*' is every metric, e.g. acc1:0.5pp,image_retrieval_recall@5:1pp,*:0.02; may be repeated. Exit 1 when a "
        "metric drops by more (all metrics here are higher-is-better)",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="text (aligned columns; default), markdown, json")
    p.add_argument("--html", default=None, help="also write an HTML report with difference charts here (matplotlib)")
    p.set_defaults(func=cmd_compare)
    return p


def cmd_compare(args: argparse.Namespace) -> int:
    """``zsbench compare``: print the comparison; 1 if a metric dropped beyond its limit, else 0."""
    thresholds = parse_thresholds(",".join(args.fail)) if args.fail else {}  # syntax first: before reading files
    if args.html:
        from zsbench.engine.html_report import check_html_path, compare_report

        check_html_path(args.html)  # matplotlib and the path, before any file is read
    comparison = compare(args.base, args.new, thresholds)
    if args.html:
        compare_report(comparison, args.html).write()
    print(render(comparison, args.format))
    return comparison.exit_code
