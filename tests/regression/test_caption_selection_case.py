"""Image-caption selection in the regression machinery: ``zsbench snapshot new`` writes one case per SugarCrepe
split (distinct files, the task's own marker), a case runs through the plugin's ``run_case`` on a SugarCrepe copy,
records its numbers with ``update_snapshot``, passes on a rerun and fails when a metric moves."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from zsbench.datasets.catalog.caption_selection import SUGAR_CREPE_TASKS
from zsbench.testing.caption_selection import write_sugar_crepe


def _cli(*argv: str | Path) -> tuple[int, str]:
    from zsbench.cli import main

    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, err.getvalue()


def test_snapshot_cases_of_the_collection_run_update_and_compare(tmp_path):
    from zsbench.engine import Engine, EvalConfig
    from zsbench.engine.snapshots import compare_case, load_cases, load_snapshot, update_snapshot
    from zsbench.pytest_plugin import run_case

    data = tmp_path / "data"
    write_sugar_crepe(data / "sugar_crepe", 8, tasks=SUGAR_CREPE_TASKS)
    rc, err = _cli(
        "snapshot", "new", "--model", "zsbench-tiny-shapes", "--pretrained", "builtin:zsbench-tiny-shapes",
        "--dataset", "sugar_crepe", "--dataset_root", data / "sugar_crepe", "--expected_dir", tmp_path / "expected",
        "--data_root", data, "--name", "tiny",
    )  # fmt: skip
    assert rc == 0, err
    cases = {c.dataset: c for c in load_cases(tmp_path / "expected")}
    assert sorted(cases) == sorted(f"sugar_crepe/{t}" for t in SUGAR_CREPE_TASKS)  # seven cases, none overwritten
    assert len({c.path for c in cases.values()}) == len({c.id for c in cases.values()}) == 7
    case = cases["sugar_crepe/swap_att"]
    assert case.path.name == "sugar_crepe-swap_att__en.json"
    assert case.task == "image_caption_selection" and case.dataset_root == "sugar_crepe" and case.recall_k is None
    assert "image_caption_selection" in case.markers and case.is_new

    engine = Engine(EvalConfig(progress=False, verbose=False, write_results=False, num_workers=0,
                               cache_dir=str(tmp_path / "cache")))  # fmt: skip
    record = run_case(case, engine, Path(case.pretrained), data)
    measured = record["metrics"]
    assert list(measured) == ["image_acc", "text_acc", "acc"]
    assert not compare_case(case, measured).passed  # a new case has nothing to compare with
    update_snapshot(case, measured, record["zsbench"])
    recorded = load_snapshot(case.path)
    assert recorded.expected == measured and compare_case(recorded, measured).passed
    moved = dict(measured, text_acc=measured["text_acc"] - 0.01)
    result = compare_case(recorded, moved)
    assert not result.passed and "text_acc" in result.table()
