"""Shared helpers of the speed suite: settings, timed subprocesses, medians and the ratio table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Same settings for both tools: batch size, workers (<= the 2 wds shards), fp32.
BATCH_SIZE = int(os.environ.get("ZSBENCH_PERF_BATCH_SIZE", "64"))
NUM_WORKERS = int(os.environ.get("ZSBENCH_PERF_WORKERS", "2"))
REPS = int(os.environ.get("ZSBENCH_PERF_REPS", "2"))  # the machine is shared: report the median of REPS runs
RESULTS: list[dict[str, Any]] = []


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["HF_HUB_OFFLINE"] = "1"  # an offline hub lookup fails at once instead of retrying for a minute
    e["TRANSFORMERS_OFFLINE"] = "1"
    return e


def run_timed(cmd: Sequence[str], cwd: Path, log: Path) -> float:
    """Wall seconds of ``cmd`` as a whole process (interpreter start, imports, model load, everything)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(list(cmd), cwd=cwd, env=env(), stdout=f, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return seconds


def zsbench_cmd(*args: str) -> list[str]:
    # The interpreter running the suite, never whatever ``zsbench`` or ``python`` comes first on PATH: a stale
    # install elsewhere would be timed (or compared) instead of this checkout.
    return [sys.executable, "-m", "zsbench", "eval", *args]


def clip_benchmark_cmd(*args: str) -> list[str]:
    return [sys.executable, str(HERE / "cb_run.py"), "eval", *args]


def python_cmd(script: Path, *args: str) -> list[str]:
    """A helper script of the suite, run by the same interpreter."""
    return [sys.executable, str(script), *args]


# The targets of the README's "Speed, measured" table; each case fails when its ratio misses its target.
TARGETS = {
    # issue 15: both were <= 0.8 before the cold-start levers (benchmarks/perf/levers.py)
    "a_classification": "<= 0.7",
    "a_retrieval": "<= 0.7",
    "b_five_prompt_sets": "<= 0.3",
    "c_pipeline": ">= 0.9",
    "d_warm_rerun": "<= 0.1",
}


def target_met(ratio: float, target: str) -> bool | None:
    """Whether ``ratio`` meets ``target`` (``"<= 0.8"``, ``">= 0.9"``); None for ``"-"`` (no target)."""
    if target == "-":
        return None
    op, _, bound = target.partition(" ")
    if op not in ("<=", ">=") or not bound:
        raise ValueError(f"target must look like '<= 0.8' or '>= 0.9', got {target!r}")
    return ratio <= float(bound) if op == "<=" else ratio >= float(bound)


def assert_target(row: dict[str, Any]) -> None:
    """Fail the case when its ratio misses its target (the row is already in the table, so the table shows it)."""
    if row["met"] is False:
        raise AssertionError(
            f"{row['case']}: ratio {row['ratio']:.3f} misses the target {row['target']} "
            f"(zsbench {row['zsbench']}{row['unit']}, baseline {row['baseline']}{row['unit']}; {row['note']})"
        )


def repeat(fn: Callable[[], float], reps: int = REPS) -> list[float]:
    return [fn() for _ in range(reps)]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def record(
    case: str,
    what: str,
    value: float,
    baseline: float,
    ratio: float,
    target: str,
    reps: int,
    unit: str = "s",
    note: str = "",
) -> dict[str, Any]:
    """Keep one row of the final table (and return it for pytest-benchmark's ``extra_info``); ``met`` is computed
    from ``target`` (see :func:`target_met`), never passed in, so a row cannot claim a target it misses."""
    met = target_met(ratio, target)
    row = {
        "case": case,
        "what": what,
        "zsbench": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(ratio, 3),
        "target": target,
        "met": met,
        "reps": reps,
        "unit": unit,
        "note": note,
    }
    RESULTS.append(row)
    print(f"\n[perf] {row}", flush=True)  # visible at once with -s; the table comes at the end
    return row


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    head = f"{'case':<34} {'zsbench':>10} {'baseline':>10} {'ratio':>7} {'target':>8} {'met':>4} {'reps':>4}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['case']:<34} {r['zsbench']:>9.2f}{r['unit'][0]} {r['baseline']:>9.2f}{r['unit'][0]} "
            f"{r['ratio']:>7.3f} {r['target']:>8} {'-' if r['met'] is None else 'yes' if r['met'] else 'NO':>4} {r['reps']:>4}  {r['note']}"
        )
    lines.append(
        "(s = seconds, medians; i = images/s. baseline: CLIP_benchmark 1.6.2 for (a)/(b), the model alone on "
        "pre-made tensors for (c), the first (cold-cache) run for (d))"
    )
    return "\n".join(lines)


def write_results(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text(json.dumps(list(rows), indent=1))
