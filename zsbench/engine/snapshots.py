"""Regression cases as data: ``expected/<model>/<dataset>__<language>.json`` snapshot files.

A snapshot holds the settings of one run, the ``published`` numbers (a paper's; never rewritten), the
``expected`` numbers a run is compared with (equal to ``published`` until a snapshot update for a new
checkpoint rewrites them), a tolerance (absolute; one number or per metric), and the provenance of the last
update. Adding a file adds a case; nothing is listed twice.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write_text

DEFAULT_TOLERANCE = 0.002


def marker_name(value: str) -> str:
    """A pytest marker for a dataset or model name: ``vtab/flowers`` -> ``vtab_flowers``."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", value)


@dataclass
class Case:
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data.get("id") or f"{self.model}-{marker_name(self.dataset)}-{self.language}"

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def markers(self) -> list[str]:
        return list(self.data.get("markers", []))

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
        return self.data.get("model_group") or self.model

    def tolerance_for(self, metric: str, override: float | None = None) -> float:
        if override is not None:
            return override
        tol = self.data.get("tolerance", DEFAULT_TOLERANCE)
        if isinstance(tol, dict):
            return float(tol.get(metric, tol.get("default", DEFAULT_TOLERANCE)))
        return float(tol)


def load_cases(expected_dir: str | Path) -> list[Case]:
    root = Path(expected_dir)
    if not root.is_dir():
        return []
    return [Case(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(root.rglob("*.json"))]


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
                f"{r['tolerance']:>8.4f}  {'yes' if r['ok'] else 'NO'}"
            )
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    return "null" if v is None else f"{v:.6f}" if isinstance(v, float) else str(v)


def compare(case: Case, measured: dict[str, Any], tolerance: float | None = None) -> Comparison:
    """Every expected metric against the measured one; ``null`` must stay ``null`` (e.g. acc5 with < 5 classes)."""
    result = Comparison()
    expected = case.data.get("expected") or {}
    for metric in list(expected) + [m for m in measured if m not in expected]:
        exp, got = expected.get(metric), measured.get(metric)
        tol = case.tolerance_for(metric, tolerance)
        if exp is None or got is None or (isinstance(got, float) and math.isnan(got)):
            ok, diff = (exp is None and (got is None or (isinstance(got, float) and math.isnan(got)))), None
            if metric not in expected:
                ok = False  # a metric the snapshot does not know: update the snapshot deliberately
        else:
            diff = got - exp
            ok = abs(diff) <= tol
        result.rows.append({"metric": metric, "expected": exp, "measured": got, "diff": diff, "tolerance": tol,
                            "ok": ok})  # fmt: skip
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

    from zsbench.engine.cache import default_cache_dir

    path = Path(case.path).resolve()
    # the folder that holds expected/ (the repository), wherever the case file sits below it
    repo = str(next((p.parent for p in path.parents if p.name == "expected"), Path.cwd())) + os.sep
    # Longest prefix first, so a cache dir inside the home folder is named as the cache dir.
    # Later entries win when two prefixes are the same folder (e.g. a repository checked out as $HOME).
    table = {os.path.expanduser("~") + os.sep: "~/", str(default_cache_dir()) + os.sep: "$ZSBENCH_CACHE_DIR/", repo: ""}
    return dict(sorted(table.items(), key=lambda kv: -len(kv[0])))


def update_snapshot(case: Case, measured: dict[str, Any], provenance: dict[str, Any]) -> None:
    """Rewrite ``expected`` (never ``published``) and ``provenance``, atomically, without machine paths."""
    data = dict(case.data)
    data["expected"] = measured
    data["provenance"] = portable(provenance, _path_replacements(case))
    case.data = data
    atomic_write_text(case.path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


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
            for i, r in enumerate(rows):
                first = i == 0
                lines.append(
                    f"| {o['id'] if first else ''} | {o['status'] if first else ''} | {r['metric']} | "
                    f"{_fmt(r['expected'])} | {_fmt(r['measured'])} | {_fmt(r['diff'])} |"
                )
            if o.get("reason"):
                lines.append(f"| | | {o['reason']} | | | |")
        lines.append("")
    return "\n".join(lines)


def report_from_records(records: list[dict[str, Any]], expected_dir: str | Path) -> str:
    """The regression report rebuilt from result files: each record against the snapshot of its case.

    A case is found by (model, dataset, language); records without a snapshot are listed as such.
    """
    cases = {(c.model, c.dataset, c.language): c for c in load_cases(expected_dir)}
    outcomes = []
    for r in records:
        case = cases.get((r.get("model"), r.get("dataset"), r.get("language")))
        case_id = case.id if case else f"{r.get('model')}-{marker_name(str(r.get('dataset')))}-{r.get('language')}"
        if case is None:
            outcomes.append({"id": case_id, "model": r.get("model"), "status": "no snapshot", "rows": []})
            continue
        result = compare(case, r.get("metrics") or {})
        outcomes.append({"id": case_id, "model": case.model, "status": "pass" if result.passed else "FAIL",
                         "rows": result.rows})  # fmt: skip
    return report_markdown(outcomes)
