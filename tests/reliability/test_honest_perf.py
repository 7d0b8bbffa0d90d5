"""The speed suite asserts its targets and runs this interpreter, without running a single timed process.

The timed cases of benchmarks/perf (``--zs-perf``, ~20 minutes) are driven here with ``run_timed`` replaced by a
clock that returns chosen wall times, so the test shows in milliseconds that a missed target fails its case and
that every launched command starts with ``sys.executable`` (not a ``python`` or ``zsbench`` found on PATH).
Before, each case only recorded ``met: false`` in its table row and passed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import REPO

PERF = REPO / "benchmarks" / "perf"


@pytest.fixture
def speed(monkeypatch) -> ModuleType:
    """benchmarks/perf/test_speed.py as a private module, with an empty results table."""
    monkeypatch.syspath_prepend(str(PERF))
    import perf_common

    monkeypatch.setattr(perf_common, "RESULTS", [])  # the suite's own table must not get these rows
    spec = importlib.util.spec_from_file_location("zsbench_perf_test_speed_under_test", PERF / "test_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeBenchmark:
    """Just enough of pytest-benchmark's fixture: ``pedantic`` runs setup + the function ``rounds`` times."""

    def __init__(self) -> None:
        self.extra_info: dict[str, Any] = {}

    def pedantic(self, fn, setup=None, rounds: int = 1, iterations: int = 1) -> None:
        for _ in range(rounds):
            if setup is not None:
                setup()
            fn()


def _fake_clock(monkeypatch, speed: ModuleType, zsbench_s: float, clip_benchmark_s: float) -> list[list[str]]:
    """``run_timed`` that returns ``zsbench_s`` for zsbench's commands and ``clip_benchmark_s`` for CLIP_benchmark's."""
    commands: list[list[str]] = []

    def run_timed(cmd, cwd: Path, log: Path) -> float:
        commands.append(list(cmd))
        return clip_benchmark_s if "cb_run.py" in " ".join(cmd) else zsbench_s

    monkeypatch.setattr(speed, "run_timed", run_timed)
    return commands


def _perf_data(tmp_path: Path) -> dict[str, Any]:
    return {"wds": tmp_path / "wds", "wds_retrieval": tmp_path / "ret", "weights": tmp_path / "w.pt",
            "templates": [tmp_path / f"t{k}.json" for k in range(5)]}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "zsbench_s", "clip_benchmark_s", "meets"),
    [
        ("test_a_classification_vs_clip_benchmark", 7.0, 10.0, True),  # 0.7 <= 0.7
        ("test_a_classification_vs_clip_benchmark", 9.0, 10.0, False),  # 0.9 misses 0.7
        ("test_a_retrieval_vs_clip_benchmark", 9.0, 10.0, False),
        ("test_b_five_prompt_sets", 10.0, 10.0, True),  # 10 s vs five runs of 10 s = 0.2 <= 0.3
        ("test_b_five_prompt_sets", 20.0, 10.0, False),  # 0.4 misses 0.3
    ],
)
def test_a_missed_target_fails_the_case(monkeypatch, tmp_path, speed, case, zsbench_s, clip_benchmark_s, meets):
    commands = _fake_clock(monkeypatch, speed, zsbench_s, clip_benchmark_s)
    benchmark = FakeBenchmark()
    if meets:
        getattr(speed, case)(benchmark, _perf_data(tmp_path))
    else:
        with pytest.raises(AssertionError, match=r"misses the target <= 0\.[37]"):
            getattr(speed, case)(benchmark, _perf_data(tmp_path))
    import perf_common

    [row] = perf_common.RESULTS  # the row is in the table either way, with the verdict
    assert row["met"] is meets
    # every process the suite times is started by this interpreter
    assert commands and all(cmd[0] == sys.executable for cmd in commands), commands


def test_record_computes_met_from_the_target(speed):
    import perf_common

    assert perf_common.record("x", "y", 1.0, 10.0, 0.1, "<= 0.1", 1)["met"] is True
    assert perf_common.record("x", "y", 1.0, 10.0, 0.11, "<= 0.1", 1)["met"] is False
    row = perf_common.record("(c)", "img/s", 8.0, 10.0, 0.8, ">= 0.9", 1, unit="img/s")
    assert row["met"] is False
    with pytest.raises(AssertionError, match=r"\(c\): ratio 0\.800 misses the target >= 0\.9"):
        perf_common.assert_target(row)
    perf_common.assert_target(perf_common.record("(d)", "s", 1.0, 1.0, 1.0, "-", 1))  # no target: nothing to miss


def test_targets_are_the_readme_table(speed):
    """perf_common.TARGETS holds exactly the targets of the README's "Speed, measured" table."""
    import perf_common

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Speed, measured") :]
    table = [line for line in section.splitlines() if line.startswith("| (")]
    assert table, "no speed table in README.md"
    readme_targets = sorted(m.group(1) for line in table if (m := re.search(r"\| ([<>]= [0-9.]+) \|$", line)))
    assert readme_targets == sorted(perf_common.TARGETS.values())


def test_no_machine_paths_in_the_suite(monkeypatch, tmp_path):
    """The perf data folder follows $ZSBENCH_PERF_DIR, else the system temporary folder ($TMPDIR)."""
    monkeypatch.syspath_prepend(str(PERF))
    import make_data

    monkeypatch.delenv("ZSBENCH_PERF_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() caches its answer
    assert make_data.default_dir() == tmp_path / "zsbench_perf"
    monkeypatch.setenv("ZSBENCH_PERF_DIR", str(tmp_path / "elsewhere"))
    assert make_data.default_dir() == tmp_path / "elsewhere"
    for path in [*PERF.glob("*.py"), REPO / "tests" / "tasks" / "conftest.py"]:
        text = path.read_text()
        assert not re.search(r"[\"']/tmp/", text), f"{path} hard-codes a /tmp path"
        # a command list starting with a bare tool name (rec["zsbench"] is a lookup, sys.argv[0] a name, not a launch)
        code = "\n".join(line for line in text.splitlines() if "sys.argv" not in line)
        launch = re.search(r"(?<![\w\])])\[\s*\"(python3?|zsbench|clip_benchmark)\"\s*,", code)
        assert not launch, f"{path} launches {launch.group(1)} from PATH"
