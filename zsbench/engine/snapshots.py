"""Regression cases as data: ``expected/<model>/<dataset>__<language>.json`` snapshot files.

A snapshot holds the settings of one run, the ``published`` numbers (a paper's; never rewritten), the
``expected`` numbers a run is compared with (equal to ``published`` until a snapshot update for a new
checkpoint rewrites them; absent or null for a new case, which fails until ``--snapshot-update`` records them),
a tolerance (absolute; one number or per metric), and the provenance of the last update. Adding a file adds a
case; nothing is listed twice.

A linear-probe case is ``<dataset>__<language>__linear_probe[_<variant>].json``, beside the zero-shot case of the
same dataset. Its ``settings`` object holds the probe's flags (``fewshot_k``, ``fewshot_seeds``, ...: the
``EvalConfig`` fields of the same names) and its ``expected`` block the probe's settings among the scores
(``fewshot_k``, ``epochs``, ``normalized``, ...), which are compared for equality, never within the tolerance.

``expected`` has two forms. Flat (``{"acc1": 0.83, ...}``): one set of numbers for every device and precision,
the form of the published cases. Keyed by device kind and precision, as transformers' ``Expectations``:
``{"default": {...}, "cpu/fp32": {...}, "cuda/bf16": {...}, "cuda": {...}}``, each entry an object of metrics or
null (no numbers yet). A run compares with its exact ``<device>/<precision>`` entry, else its device's entry, else
``default``; the entry used is recorded in the case's report row and JUnit properties. ``--snapshot-update`` writes
a keyed file's ``<device>/<precision>`` entry only (a flat file stays flat), never ``published``. The form is told
by the keys, so a flat file stays valid as it is (there is no separate case schema version to bump).

Every file is validated into a :class:`Case` when it is read. A file that cannot be one (not JSON, not an
object, a missing or misspelt key, a wrong type, a negative or non-finite tolerance, ...) becomes an
:class:`InvalidCase` that names the file and what is wrong: the pytest plugin turns it into one failing case, so
one bad file never stops the other cases from running, and :func:`load_cases` refuses it with a one-line error.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write_text
from zsbench.engine.results import METRIC_SETTINGS
from zsbench.errors import ZsbenchError

DEFAULT_TOLERANCE = 0.002
# Keys of a keyed "expected": "default", a device kind, or "<device kind>/<precision>" with the precision names a
# result records (zsbench.models.base.resolve_precision: "amp" and "auto" resolve to one of these before a run).
DEFAULT_ENTRY = "default"
DEVICE_KINDS = ("cpu", "cuda", "mps")
RUN_PRECISIONS = ("fp32", "fp16", "bf16", "amp_fp16", "amp_bf16")
# Markers pytest itself acts on: a snapshot naming one would skip, xfail or re-parametrize its case behind the
# reader's back.
RESERVED_MARKERS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "xdist_group"})
_MARKER_RE = re.compile(r"\w+", re.ASCII)


class SnapshotError(ZsbenchError):
    """A snapshot file under ``expected/`` that is not a valid regression case (the message names the file)."""


def marker_name(value: str) -> str:
    """A pytest marker for a dataset or model name: ``vtab/flowers`` -> ``vtab_flowers``."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", value)


# key -> what it must be; a key not listed here is refused (a misspelt "tolerence" would silently use the default)
_REQUIRED_TEXT = ("model_type", "model", "pretrained", "dataset", "language", "task")
_OPTIONAL_TEXT = ("id", "source", "command", "pretrained_source", "model_group", "dataset_root", "split")
_OTHER_KEYS = (
    "recall_k",
    "markers",
    "tolerance",
    "published",
    "expected",
    "provenance",
    "settings",
    "only_expected_metrics",
)
KNOWN_KEYS = frozenset(_REQUIRED_TEXT + _OPTIONAL_TEXT + _OTHER_KEYS)


# "settings" key -> what its value must be; each is the EvalConfig field of the same name (the CLI flag
# --<key>). All but "seed" are the linear probe's, and refused on another task: they would change nothing there.
SETTINGS_KEYS = {
    "train_split": "a split name or an array of them",
    "val_split": "a split name, an array of them, or null",
    "val_proportion": "a number > 0 and < 1, or null",
    "fewshot_k": "-1 (all) or an integer >= 1",
    "fewshot_epochs": "an integer >= 1",
    "fewshot_lr": "a finite number > 0",
    "fewshot_seeds": "a non-empty array of integers, or null",
    "seed": "an integer",
    "normalize": "true or false",
}
_GENERAL_SETTINGS = frozenset({"seed"})
PROBE_TASK = "linear_probe"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split_names(value: Any) -> list[str] | None:
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list) and names and all(isinstance(n, str) and n.strip() for n in names):
        return list(names)
    return None


def _setting(key: str, value: Any) -> tuple[bool, Any]:
    """(valid, the EvalConfig value) of one ``settings`` entry."""
    if key == "train_split":
        names = _split_names(value)
        return names is not None, names
    if key == "val_split":
        names = _split_names(value)
        return value is None or names is not None, names
    if key == "val_proportion":
        ok = value is None or (_is_number(value) and 0 < value < 1)
        return ok, None if value is None else [float(value)]
    if key == "fewshot_k":
        return _is_int(value) and (value == -1 or value >= 1), value
    if key == "fewshot_epochs":
        return _is_int(value) and value >= 1, value
    if key == "fewshot_lr":
        return _is_number(value) and math.isfinite(value) and value > 0, float(value) if _is_number(value) else value
    if key == "fewshot_seeds":
        ok = value is None or (isinstance(value, list) and bool(value) and all(_is_int(v) for v in value))
        return ok, None if value is None else list(value)
    if key == "seed":
        return _is_int(value), value
    return isinstance(value, bool), value  # normalize


def entry_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a key of a keyed ``expected`` (None when it can)."""
    device, _, precision = key.partition("/")
    if key == DEFAULT_ENTRY or (device in DEVICE_KINDS and (not precision or precision in RUN_PRECISIONS)):
        return None
    return (
        f'"expected" key "{key}" is not "{DEFAULT_ENTRY}", a device kind ({", ".join(DEVICE_KINDS)}) or '
        f'"<device>/<precision>" with precision one of {", ".join(RUN_PRECISIONS)} (e.g. "cuda/bf16")'
    )


def run_entry(device: str | None, precision: str | None) -> str:
    """The exact entry key of a run, from its result's ``device`` ("cuda:1" -> "cuda") and ``precision``."""
    kind = str(device or "cpu").split(":", 1)[0]
    return f"{kind}/{precision}" if precision else kind


def is_setting(metric: str) -> bool:
    """A value among a result's metrics that is a setting (the probe's weight_decay, epochs, ...): compared for
    equality, never within a tolerance."""
    return metric in METRIC_SETTINGS


@dataclass(frozen=True, eq=False)
class Case:
    """One validated snapshot file: every field has the type its name promises (see :func:`load_snapshot`)."""

    path: Path
    id: str
    model_type: str
    model: str
    pretrained: str
    dataset: str
    language: str
    task: str
    expected: dict[str, float | None]
    published: dict[str, float | None] | None = None
    tolerance: float | dict[str, float] = DEFAULT_TOLERANCE
    markers: tuple[str, ...] = ()
    dataset_root: str | None = None
    split: str = "test"
    recall_k: tuple[int, ...] | None = None
    model_group: str | None = None
    pretrained_source: str | None = None
    command: str | None = None
    source: str | None = None
    provenance: dict[str, Any] | None = None
    # Task settings as EvalConfig fields (validated "settings" of the file), e.g. {"fewshot_k": 5}.
    settings: dict[str, Any] = field(default_factory=dict)
    # True: compare only the metrics "expected" lists; the run's others are shown, not compared (a source that
    # publishes one metric per task, e.g. DataComp's main metric). False: an unknown metric fails the case.
    only_expected_metrics: bool = False
    # The file's JSON as read, kept only so that a snapshot update rewrites the file with its own key order.
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    # A keyed "expected": entry key -> metrics (None: no numbers yet); None for a flat file. ``expected`` is then the
    # entry in use: "default" as read, the run's own after :meth:`for_run`.
    expectations: dict[str, dict[str, Any] | None] | None = None
    entry: str = DEFAULT_ENTRY  # the key of the entry ``expected`` holds
    run_key: str | None = None  # the run's exact "<device>/<precision>" (set by for_run): where an update writes

    def for_run(self, device: str | None, precision: str | None) -> Case:
        """The case as a run on ``device`` in ``precision`` sees it: ``expected`` is the exact
        ``<device>/<precision>`` entry, else the device's, else ``default`` (empty when none has numbers, so the
        case is new for this run). A flat file has one entry, ``default``, for every run."""
        exact = run_entry(device, precision)
        if self.expectations is None:
            return dataclasses.replace(self, run_key=exact)
        for key in (exact, exact.split("/", 1)[0], DEFAULT_ENTRY):
            numbers = self.expectations.get(key)
            if numbers:
                return dataclasses.replace(self, expected=dict(numbers), entry=key, run_key=exact)
        return dataclasses.replace(self, expected={}, entry=exact, run_key=exact)

    @property
    def is_new(self) -> bool:
        """No numbers recorded yet (a new checkpoint): the case fails until a ``--snapshot-update``."""
        return not self.expected

    @property
    def is_gpu(self) -> bool:
        return "gpu" in self.markers

    @property
    def model_key(self) -> str:
        """Cases with the same key share one loaded model (and one xdist group)."""
        return f"{self.model_type}:{self.model_family}:{self.pretrained}"

    @property
    def model_family(self) -> str:
        # The _classification/_retrieval adapters share weights and differ only in the transform.
        return self.model_group or self.model

    def tolerance_for(self, metric: str, override: float | None = None) -> float:
        if override is not None:
            return override
        tol = self.tolerance
        if isinstance(tol, dict):
            return float(tol.get(metric, tol.get("default", DEFAULT_TOLERANCE)))
        return float(tol)


# scripts/expected_from_readme.py writes this source for the seed README's 54 results (and its --check compares
# exactly those with the README); cases of other documents (the fine-tuned models' internvl_g/README.md) name theirs.
SEED_README_SOURCE = "InternVL clip_benchmark README: "


def from_seed_readme(case: Case) -> bool:
    """A published result of InternVL's clip_benchmark README (what ``zsbench plan --readme`` plans)."""
    return case.published is not None and (case.source or "").startswith(SEED_README_SOURCE)


@dataclass(frozen=True, eq=False)
class InvalidCase:
    """A snapshot file that is not a valid case; ``error`` names the file and every problem found."""

    path: Path
    id: str
    error: str
    # The file's own markers when they are valid, so ``-m "gpu and internvl_c"`` still selects (and fails) it.
    markers: tuple[str, ...] = ()


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; in a snapshot the first one would then be silently ignored.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid_tolerance(value: Any) -> bool:
    # A tolerance of 1 or more accepts any value of a metric in [0, 1]: the case could never fail.
    return _is_number(value) and math.isfinite(value) and 0 <= value < 1


def _is_keyed(expected: dict[str, Any]) -> bool:
    # An entry is an object (metrics are numbers, null or a probe's boolean), and no metric is named "default",
    # a device kind or "<x>/<y>": such a key, or any object value, makes the whole block keyed.
    return any(isinstance(v, dict) for v in expected.values()) or any(
        k == DEFAULT_ENTRY or k in DEVICE_KINDS or "/" in k for k in expected
    )


class _Checker:
    """Collects every problem of one snapshot, so one run of the suite shows all that is wrong with the file."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def text(self, key: str, required: bool) -> str | None:
        if key not in self.data:
            if required:
                self.problems.append(f'missing key "{key}"')
            return None
        value = self.data[key]
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f'"{key}" must be a non-empty string, got {_kind(value)}')
            return None
        return value

    def metrics(self, key: str) -> dict[str, float | None] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problems.append(f'"{key}" must be an object of metric -> number or null, got {_kind(value)}')
            return None
        return self._metric_values(f'"{key}"', value)

    def expectations(self) -> tuple[dict[str, Any], dict[str, dict[str, Any] | None] | None]:
        """(the default numbers, the keyed entries or None for a flat ``expected``)."""
        value = self.data.get("expected")
        if not isinstance(value, dict) or not _is_keyed(value):
            return self.metrics("expected") or {}, None
        entries: dict[str, dict[str, Any] | None] = {}
        for key, numbers in value.items():
            problem = entry_key_problem(key)
            if problem is not None:
                if not isinstance(numbers, dict):  # a metric among entries: the two forms mixed
                    problem += f'; a keyed "expected" holds only entries (put flat metrics under "{DEFAULT_ENTRY}")'
                self.problems.append(problem)
                continue
            if numbers is not None and not isinstance(numbers, dict):
                self.problems.append(f'"expected"."{key}" must be an object of metric -> number or null, got '
                                     f"{_kind(numbers)}")  # fmt: skip
                continue
            entries[key] = None if numbers is None else self._metric_values(f'"expected"."{key}"', numbers)
        return dict(entries.get(DEFAULT_ENTRY) or {}), entries

    def _metric_values(self, where: str, value: dict[str, Any]) -> dict[str, Any]:
        for metric, number in value.items():
            if is_setting(metric) and isinstance(number, bool):
                continue  # the probe's "normalized": true
            if number is not None and not (_is_number(number) and math.isfinite(number)):
                what = repr(number) if _is_number(number) else _kind(number)
                self.problems.append(f'{where}."{metric}" must be a finite number or null, got {what}')
        return dict(value)

    def settings(self, task: str | None) -> dict[str, Any]:
        value = self.data.get("settings")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f'"settings" must be an object of task setting -> value, got {_kind(value)}')
            return {}
        out: dict[str, Any] = {}
        for key, setting in value.items():
            if key not in SETTINGS_KEYS:
                close = difflib.get_close_matches(key, sorted(SETTINGS_KEYS), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.problems.append(f'unknown key "settings"."{key}"{hint}; known: {", ".join(SETTINGS_KEYS)}')
                continue
            ok, converted = _setting(key, setting)
            if not ok:
                what = json.dumps(setting) if isinstance(setting, (int, float, str, bool)) else _kind(setting)
                self.problems.append(f'"settings"."{key}" must be {SETTINGS_KEYS[key]}, got {what}')
            elif key not in _GENERAL_SETTINGS and task is not None and task != PROBE_TASK:
                self.problems.append(f'"settings"."{key}" is a {PROBE_TASK} setting, but "task" is "{task}"')
            else:
                out[key] = converted
        if out.get("val_split") is not None and out.get("val_proportion") is not None:
            self.problems.append('"settings" has both "val_split" and "val_proportion"; give one of them')
        return out

    def tolerance(self, expected: dict[str, Any] | None) -> float | dict[str, float]:
        value = self.data.get("tolerance", DEFAULT_TOLERANCE)
        need = "a finite number >= 0 and < 1"
        if isinstance(value, dict):
            for metric, number in value.items():
                if not _valid_tolerance(number):
                    what = repr(number) if _is_number(number) else _kind(number)
                    self.problems.append(f'"tolerance"."{metric}" must be {need}, got {what}')
                elif expected and metric != "default" and metric not in expected:
                    self.problems.append(f'"tolerance" names metric "{metric}", which "expected" does not have')
                elif is_setting(metric):
                    self.problems.append(f'"tolerance" names "{metric}", a setting that must be equal, not close')
            return dict(value)
        if value is None:
            return DEFAULT_TOLERANCE
        if not _valid_tolerance(value):
            what = repr(value) if _is_number(value) else _kind(value)
            self.problems.append(f'"tolerance" must be {need} (or an object of metric -> tolerance), got {what}')
            return DEFAULT_TOLERANCE
        return float(value)

    def markers(self) -> tuple[str, ...]:
        value = self.data.get("markers")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problems.append(f'"markers" must be an array of names, got {_kind(value)}')
            return ()
        good = []
        for m in value:
            if not isinstance(m, str) or not _MARKER_RE.fullmatch(m):
                self.problems.append(f'"markers" entry {json.dumps(m)} is not a name of letters, digits and _')
            elif m in RESERVED_MARKERS:
                self.problems.append(f'"markers" entry "{m}" is a pytest marker that would change how the case runs')
            else:
                good.append(m)
        return tuple(good)

    def recall_k(self) -> tuple[int, ...] | None:
        value = self.data.get("recall_k")
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in value)
        ):
            self.problems.append(f'"recall_k" must be null or a non-empty array of integers >= 1, got {value!r}')
            return None
        return tuple(value)

    def unknown_keys(self) -> None:
        for key in self.data:
            if key not in KNOWN_KEYS:
                close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.problems.append(f'unknown key "{key}"{hint}')


def _parse(path: Path) -> dict[str, Any]:
    """The file's JSON object; raises SnapshotError (without the path) saying why it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SnapshotError(f"not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise SnapshotError(f"cannot read the file ({e.strerror or e})") from e
    if not text.strip():
        raise SnapshotError("empty file; a snapshot is one JSON object")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKeyError as e:
        raise SnapshotError(f'key "{e.args[0]}" appears twice') from e
    except json.JSONDecodeError as e:
        raise SnapshotError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    if not isinstance(data, dict):
        raise SnapshotError(f"holds {_kind(data)}; a snapshot is one JSON object")
    return data


def load_snapshot(path: str | Path) -> Case:
    """One snapshot file as a validated :class:`Case`; raises :class:`SnapshotError` naming the file and every
    problem (unreadable, not JSON, not an object, missing/unknown keys, wrong types, bad tolerance)."""
    path = Path(path)
    try:
        data = _parse(path)
    except SnapshotError as e:
        raise SnapshotError(f"snapshot {path}: {e} (fix the file, or delete it to drop the case)") from None
    return _case_from_data(path, data)


def _case_from_data(path: Path, data: dict[str, Any]) -> Case:
    """``data`` (a snapshot's JSON object) validated into a :class:`Case`; raises :class:`SnapshotError`."""
    check = _Checker(data)
    check.unknown_keys()
    text = {key: check.text(key, required=True) for key in _REQUIRED_TEXT}
    optional = {key: check.text(key, required=False) for key in _OPTIONAL_TEXT}
    # No "expected" block (or null): a new checkpoint's case, which fails until --snapshot-update records it.
    expected, expectations = check.expectations()
    published = check.metrics("published")
    every_metric = {m: None for numbers in (expectations or {}).values() for m in numbers or {}}
    tolerance = check.tolerance(every_metric or expected)
    markers = check.markers()
    recall_k = check.recall_k()
    settings = check.settings(text["task"])
    only_expected = data.get("only_expected_metrics", False)
    if not isinstance(only_expected, bool):
        check.problems.append(f'"only_expected_metrics" must be true or false, got {_kind(only_expected)}')
    provenance = data.get("provenance")
    if provenance is not None and not isinstance(provenance, dict):
        check.problems.append(f'"provenance" must be an object or null, got {_kind(provenance)}')
    if check.problems:
        raise SnapshotError(
            f"snapshot {path}: {'; '.join(check.problems)} (fix the file, or delete it to drop the case)"
        )
    model, dataset, language = text["model"], text["dataset"], text["language"]
    return Case(
        path=path,
        id=optional["id"] or default_case_id(str(model), str(dataset), str(language), str(text["task"])),
        model_type=str(text["model_type"]),
        model=str(model),
        pretrained=str(text["pretrained"]),
        dataset=str(dataset),
        language=str(language),
        task=str(text["task"]),
        expected=expected,
        published=published,
        tolerance=tolerance,
        markers=markers,
        dataset_root=optional["dataset_root"],
        split=optional["split"] or "test",
        recall_k=recall_k,
        model_group=optional["model_group"],
        pretrained_source=optional["pretrained_source"],
        command=optional["command"],
        source=optional["source"],
        provenance=provenance,
        settings=settings,
        only_expected_metrics=only_expected is True,
        data=data,
        expectations=expectations,
    )


def default_case_id(model: str, dataset: str, language: str, task: str) -> str:
    """``<model>-<dataset>-<language>``; a linear-probe case adds ``-linear_probe`` so that it never takes the id
    of the zero-shot case on the same dataset (the 54 paper ids stay as they are)."""
    base = f"{model}-{marker_name(dataset)}-{language}"
    return f"{base}-{task}" if task == PROBE_TASK else base


def snapshot_file_name(dataset: str, language: str, task: str | None = None) -> str:
    """``<dataset>__<language>.json`` for a dataset's own zero-shot task, ``<dataset>__<language>__<task>.json``
    otherwise (a probe case lives beside the zero-shot case of the same dataset)."""
    stem = f"{dataset.replace('/', '-')}__{language}"
    return f"{stem}__{task}.json" if task == PROBE_TASK else f"{stem}.json"


def _salvaged_markers(path: Path) -> tuple[str, ...]:
    try:
        data = _parse(path)
    except SnapshotError:
        return ()
    check = _Checker(data)
    markers = check.markers()
    return () if check.problems else markers


def scan_cases(expected_dir: str | Path) -> list[Case | InvalidCase]:
    """Every ``*.json`` under ``expected_dir``, each a :class:`Case` or, when it is not valid, an
    :class:`InvalidCase` naming the file and the problem; one bad file never hides the others."""
    root = Path(expected_dir)
    if not root.is_dir():
        return []
    out: list[Case | InvalidCase] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).as_posix()
        try:
            case = load_snapshot(path)
        except SnapshotError as e:
            out.append(InvalidCase(path, f"invalid-snapshot:{rel}", str(e), _salvaged_markers(path)))
            continue
        if case.id in seen:
            # Two files with one id would run as one pytest id (pytest renames them) and one report row.
            error = (
                f'snapshot {path}: case id "{case.id}" is also the id of {seen[case.id]} (give one of them its own '
                '"id", or delete it to drop the case)'
            )
            out.append(InvalidCase(path, f"invalid-snapshot:{rel}", error, case.markers))
            continue
        seen[case.id] = path
        out.append(case)
    return out


def load_cases(expected_dir: str | Path) -> list[Case]:
    """The valid cases under ``expected_dir``; raises :class:`SnapshotError` (one line, naming the first bad file)
    when any file is not a valid snapshot, so that no caller works from a partial set of cases unknowingly."""
    entries = scan_cases(expected_dir)
    bad = [e for e in entries if isinstance(e, InvalidCase)]
    if bad:
        more = f" (and {len(bad) - 1} more invalid snapshot file(s))" if len(bad) > 1 else ""
        raise SnapshotError(bad[0].error + more)
    return [e for e in entries if isinstance(e, Case)]


@dataclass
class Comparison:
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r["ok"] for r in self.rows)

    def table(self) -> str:
        head = f"{'metric':<28} {'expected':>12} {'measured':>12} {'diff':>10} {'tol':>8}  ok"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r['metric']:<28} {_fmt(r['expected']):>12} {_fmt(r['measured']):>12} {_fmt(r['diff']):>10} "
                f"{_tol(r):>8}  {'yes' if r['ok'] else 'NO'}"
            )
        return "\n".join(lines)


def _tol(row: dict[str, Any]) -> str:
    return "equal" if row.get("kind") == "setting" else f"{row['tolerance']:.4f}"


def _fmt(v: Any) -> str:
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    return f"{v:.6f}" if isinstance(v, float) else str(v)


def compare_case(case: Case, measured: dict[str, Any], tolerance: float | None = None) -> Comparison:
    """Every expected metric against the measured one; ``null`` must stay ``null`` (e.g. acc5 with < 5 classes)."""
    result = Comparison()
    expected = case.expected
    for metric in list(expected) + [m for m in measured if m not in expected]:
        exp, got = expected.get(metric), measured.get(metric)
        if is_setting(metric):
            # a setting (epochs, fewshot_k, normalized, the chosen weight_decay) is equal or it is another run
            same = metric in expected and isinstance(exp, bool) == isinstance(got, bool) and exp == got
            result.rows.append({"metric": metric, "expected": exp, "measured": got, "diff": None, "tolerance": 0.0,
                                "ok": same, "kind": "setting"})  # fmt: skip
            continue
        tol = case.tolerance_for(metric, tolerance)
        if exp is None or got is None or (isinstance(got, float) and math.isnan(got)):
            ok, diff = (exp is None and (got is None or (isinstance(got, float) and math.isnan(got)))), None
            if metric not in expected:
                ok = case.only_expected_metrics  # else a metric the snapshot does not know: update it deliberately
        else:
            diff = got - exp
            ok = abs(diff) <= tol
        result.rows.append({"metric": metric, "expected": exp, "measured": got, "diff": diff, "tolerance": tol,
                            "ok": ok, "kind": "score"})  # fmt: skip
    return result


def portable(value: Any, replacements: dict[str, str]) -> Any:
    """``value`` with machine-specific path prefixes replaced (repository root, cache dir, home)."""
    if isinstance(value, str):
        for prefix, name in replacements.items():
            if prefix and value.startswith(prefix):
                return name + value[len(prefix) :]
        return value
    if isinstance(value, dict):
        return {k: portable(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, replacements) for v in value]
    return value


def _path_replacements(case: Case) -> dict[str, str]:
    import os

    from zsbench.paths import default_cache_dir

    path = Path(case.path).resolve()
    # the folder that holds expected/ (the repository), wherever the case file sits below it
    repo = str(next((p.parent for p in path.parents if p.name == "expected"), Path.cwd())) + os.sep
    # Longest prefix first, so a cache dir inside the home folder is named as the cache dir.
    # Later entries win when two prefixes are the same folder (e.g. a repository checked out as $HOME).
    table = {os.path.expanduser("~") + os.sep: "~/", str(default_cache_dir()) + os.sep: "$ZSBENCH_CACHE_DIR/", repo: ""}
    return dict(sorted(table.items(), key=lambda kv: -len(kv[0])))


def update_snapshot(case: Case, measured: dict[str, Any], provenance: dict[str, Any]) -> Case:
    """Rewrite the numbers (never ``published``) and ``provenance``, atomically, without machine paths; returns the
    case as the file now holds it.

    A flat ``expected`` is replaced; a keyed one gets (or replaces) only the run's ``<device>/<precision>`` entry
    (``case.run_key``, from :meth:`Case.for_run`; the result's device and precision otherwise), so a CPU update never
    touches the GPU numbers and a fallback entry is never overwritten by one device's measurement.
    """
    data = dict(case.data)
    numbers = dict(measured)
    expectations = case.expectations
    key = case.entry
    if expectations is None:
        data["expected"] = numbers
    else:
        key = case.run_key or run_entry(provenance.get("device"), provenance.get("precision"))
        expectations = {**expectations, key: numbers}
        data["expected"] = {**data["expected"], key: numbers}
    data["provenance"] = portable(provenance, _path_replacements(case))
    atomic_write_text(case.path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return dataclasses.replace(case, expected=numbers, provenance=data["provenance"], data=data,
                               expectations=expectations, entry=key)  # fmt: skip


# Model families whose cases share one marker (``-m internvl_c`` selects the classification and retrieval adapters).
_FAMILY_PREFIXES = (("internvl_c_", "internvl_c"), ("internvl_g_", "internvl_g"), ("zsbench-tiny", "zsbench_tiny"))


def family_marker(model: str) -> str:
    """The model-family marker of the existing cases: ``internvl_c_retrieval`` -> ``internvl_c``."""
    return next((family for prefix, family in _FAMILY_PREFIXES if model.startswith(prefix)), marker_name(model))


def case_markers(model: str, pretrained: str, task: str, dataset: str) -> list[str]:
    """``[tiny|gpu, family, task, dataset]`` as the existing cases: built-in weights run on CPU, any other
    checkpoint is a heavy (``gpu``) case."""
    weight = "tiny" if pretrained.startswith("builtin:") else "gpu"
    kind = [PROBE_TASK, "probe"] if task == PROBE_TASK else [task.removeprefix("zeroshot_")]
    return list(dict.fromkeys([weight, family_marker(model), *kind, marker_name(dataset)]))


def relative_to_folder(value: str, folder: str | Path) -> str | None:
    """``value`` as a POSIX path relative to ``folder`` when it lies under it, else None."""
    try:
        return Path(value).expanduser().resolve().relative_to(Path(folder).expanduser().resolve()).as_posix() or "."
    except (ValueError, OSError):
        return None


def portable_pretrained(value: str, pretrained_dir: str | Path) -> str:
    """A snapshot's ``pretrained`` for ``--pretrained value``: relative to the weights folder when it lies under it
    (the file then works on any machine with ``--zs-pretrained-dir``); a ``builtin:`` name or a tag as given.

    A path outside the folder is stored absolute: the plugin reads a relative value under the weights folder, so
    a relative path as given would name another file there.
    """
    if value.startswith("builtin:"):
        return value
    inside = relative_to_folder(value, pretrained_dir)
    if inside is not None:
        return inside
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return str(path.resolve())
    return value  # an open_clip tag (openai, laion2b_s34b_b79k, ...) or a name the loader resolves


def new_case_data(
    *,
    case_id: str,
    model_type: str,
    model: str,
    pretrained: str,
    dataset: str,
    dataset_root: str | None,
    language: str,
    task: str,
    recall_k: list[int] | None,
    command: str,
    by_device: bool = False,
) -> dict[str, Any]:
    """The snapshot of a checkpoint without published numbers: ``expected`` null, so the case fails until
    ``pytest --snapshot-update`` records what it measures. Key order as the existing files.

    ``by_device``: ``expected`` keyed by device and precision with no numbers yet (``{"default": null}``); each
    update then writes the run's own ``<device>/<precision>`` entry. The key cannot be written here: the precision
    (``auto``) is resolved only when the model loads, by device, model type and GPU.
    """
    data: dict[str, Any] = {
        "id": case_id,
        "command": command,
        "source": "new case written by 'zsbench snapshot new' (no published numbers)",
        "model_type": model_type,
        "model": model,
        "pretrained": pretrained,
        "dataset": dataset,
        "dataset_root": dataset_root,
        "language": language,
        "task": task,
        "recall_k": recall_k if task == "zeroshot_retrieval" else None,
        "markers": case_markers(model, pretrained, task, dataset),
    }
    if task == PROBE_TASK:
        data["settings"] = {}  # the probe's defaults; a case with other settings is edited by hand
    expected = {DEFAULT_ENTRY: None} if by_device else None
    data.update({"tolerance": DEFAULT_TOLERANCE, "published": None, "expected": expected, "provenance": None})
    return data


def write_new_cases(cases: list[tuple[Path, dict[str, Any]]], expected_dir: str | Path, force: bool = False) -> None:
    """Validate every new case, then write each file atomically; nothing is written when one is refused.

    Refused (one line): a case that is not valid, two cases for one file, an existing file (unless ``force``), and
    a case id that another file under ``expected_dir`` already has (the plugin would run neither).
    """
    from zsbench.engine.atomic import describe_os_error
    from zsbench.errors import OutputError

    targets: dict[Path, str] = {}
    for path, data in cases:
        _case_from_data(path, data)  # the very checks the plugin makes when it reads the file
        if path in targets:
            raise SnapshotError(
                f"two cases would be written to {path} ({targets[path]} and {data['id']}): give each checkpoint its "
                "own --name (one --pretrained per run)"
            )
        targets[path] = data["id"]
        if path.exists() and not force:
            raise SnapshotError(f"{path} already exists; pass --force to replace it (its numbers would be lost)")
    owners = {e.id: e.path for e in scan_cases(expected_dir) if isinstance(e, Case)}
    for path, case_id in targets.items():
        other = owners.get(case_id)
        if other is not None and other.resolve() != path.resolve():
            raise SnapshotError(f'case id "{case_id}" is already the id of {other}; pass --name to give the new cases '
                                "other ids")  # fmt: skip
    for path, data in cases:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        except OSError as e:
            raise OutputError(f"cannot write snapshot {path}: {describe_os_error(e)}") from e


def report_markdown(outcomes: list[dict[str, Any]]) -> str:
    """The README's results rebuilt from measured numbers beside the expected ones, per model."""
    lines = ["# zsbench regression report", ""]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes:
        by_model.setdefault(o["model"], []).append(o)
    for model, items in by_model.items():
        lines += [
            f"## {model}",
            "",
            "| case | status | metric | expected | measured | diff |",
            "|---|---|---|---|---|---|",
        ]
        for o in items:
            rows = o.get("rows") or [{"metric": "", "expected": None, "measured": None, "diff": None}]
            # the expected numbers' entry when the case is keyed by device and precision, e.g. "pass [cpu/fp32]"
            status = f"{o['status']} [{o['entry']}]" if o.get("entry") not in (None, DEFAULT_ENTRY) else o["status"]
            for i, r in enumerate(rows):
                first = i == 0
                lines.append(
                    f"| {o['id'] if first else ''} | {status if first else ''} | {r['metric']} | "
                    f"{_fmt(r['expected'])} | {_fmt(r['measured'])} | {_fmt(r['diff'])} |"
                )
            if o.get("reason"):
                lines.append(f"| | | {o['reason']} | | | |")
        lines.append("")
    return "\n".join(lines)


def write_report(path: str | Path, outcomes: list[dict[str, Any]]) -> None:
    """Write :func:`report_markdown` of ``outcomes`` to ``path`` atomically."""
    from zsbench.engine.atomic import atomic_write_text

    atomic_write_text(path, report_markdown(outcomes))


def report_from_records(records: list[dict[str, Any]], expected_dir: str | Path) -> str:
    """The regression report rebuilt from result files: each record against the snapshot of its case.

    A case is found by (model, dataset, language, task) and, among probe cases of one dataset, by the settings the
    record holds (fewshot_k, epochs, ...); records without a snapshot are listed as such.
    """
    cases: dict[tuple[Any, ...], list[Case]] = {}
    for c in load_cases(expected_dir):
        cases.setdefault((c.model, c.dataset, c.language, c.task), []).append(c)
    outcomes = []
    for r in records:
        metrics = r.get("metrics") or {}
        key = (r.get("model"), r.get("dataset"), r.get("language"))
        # a record without "task" (hand-made) matches the dataset's cases of any task
        candidates = [c for k, group in cases.items() if k[:3] == key and r.get("task") in (None, k[3]) for c in group]
        run = r.get("zsbench") or {}
        candidates = [c.for_run(run.get("device"), run.get("precision")) for c in candidates]
        same = [c for c in candidates if all(v == metrics.get(k) for k, v in c.expected.items() if is_setting(k))]
        # Cases of one (model, dataset, language, task) on other weights (a fine-tuned checkpoint beside the
        # zero-shot one): the case whose weights have the record's folder or file name first.
        weights = Path(str(r.get("pretrained") or "")).name.lower()
        same.sort(key=lambda c: (Path(c.pretrained).name.lower() != weights, not from_seed_readme(c)))
        case = (same or candidates or [None])[0]
        model, dataset, language = str(r.get("model")), str(r.get("dataset")), str(r.get("language"))
        case_id = case.id if case else default_case_id(model, dataset, language, str(r.get("task")))
        if case is None:
            outcomes.append({"id": case_id, "model": r.get("model"), "status": "no snapshot", "rows": []})
            continue
        result = compare_case(case, r.get("metrics") or {})
        outcomes.append({"id": case_id, "model": case.model, "status": "pass" if result.passed else "FAIL",
                         "rows": result.rows, "entry": case.entry})  # fmt: skip
    return report_markdown(outcomes)
