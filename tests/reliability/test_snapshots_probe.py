"""Linear-probe regression cases: a snapshot's ``settings`` (the probe's flags) and its non-score values.

Before, a snapshot had no way to say ``--fewshot_k 5``: an unknown "settings" key failed the file, the probe's
``normalized: true`` was refused as a metric, a probe case on shapes took the zero-shot case's id, and settings
such as ``fewshot_k`` would have been compared within the numeric tolerance (5 and 5.001 both "pass").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO

PROBE_EXPECTED = {"lp_acc1": 0.9767, "lp_acc5": 1.0, "weight_decay": 0.0, "epochs": 10, "seed": 0, "fewshot_k": 5,
                  "normalized": True}  # fmt: skip


def _probe(tmp_path: Path, name: str = "shapes__en__linear_probe.json", **overrides) -> Path:
    case = {
        "model_type": "open_clip",
        "model": "zsbench-tiny-shapes",
        "pretrained": "builtin:zsbench-tiny-shapes",
        "dataset": "shapes",
        "language": "en",
        "task": "linear_probe",
        "settings": {"fewshot_k": 5, "fewshot_seeds": [0, 1, 2]},
        "expected": PROBE_EXPECTED,
        **overrides,
    }
    path = tmp_path / "expected" / "zsbench-tiny-shapes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(case))
    return path


@pytest.mark.parametrize(
    ("settings", "task", "problem"),
    [
        ({"fewshot_kk": 5}, "linear_probe", 'unknown key "settings"."fewshot_kk" (did you mean "fewshot_k"?)'),
        ({"fewshot_k": "5"}, "linear_probe", '"settings"."fewshot_k" must be -1 (all) or an integer >= 1, got "5"'),
        ({"fewshot_k": 0}, "linear_probe", '"settings"."fewshot_k" must be'),
        ({"normalize": "yes"}, "linear_probe", '"settings"."normalize" must be true or false'),
        ({"val_proportion": 1.5}, "linear_probe", '"settings"."val_proportion" must be a number > 0 and < 1'),
        ({"fewshot_seeds": []}, "linear_probe", '"settings"."fewshot_seeds" must be a non-empty array'),
        ({"val_split": "val", "val_proportion": 0.2}, "linear_probe", 'both "val_split" and "val_proportion"'),
        ({"fewshot_k": 5}, "zeroshot_classification", '"settings"."fewshot_k" is a linear_probe setting'),
        ([5], "linear_probe", '"settings" must be an object'),
    ],
)
def test_bad_settings_name_the_file_and_the_key(tmp_path, settings, task, problem):
    from zsbench.engine.snapshots import InvalidCase, SnapshotError, load_snapshot, scan_cases

    path = _probe(tmp_path, settings=settings, task=task)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    message = str(info.value)
    assert "\n" not in message and f"snapshot {path}: " in message and problem in message, message
    [entry] = scan_cases(tmp_path / "expected")  # in a run: that one case errors, naming the file
    assert isinstance(entry, InvalidCase) and problem in entry.error


def test_settings_become_evalconfig_fields(tmp_path):
    from zsbench.engine import EvalConfig
    from zsbench.engine.snapshots import load_snapshot

    settings = {"train_split": "train", "val_proportion": 0.25, "fewshot_k": 5, "fewshot_epochs": 3,
                "fewshot_lr": 0.5, "fewshot_seeds": [0, 1], "seed": 7, "normalize": False}  # fmt: skip
    case = load_snapshot(_probe(tmp_path, settings=settings))
    assert case.settings == {"train_split": ["train"], "val_proportion": [0.25], "fewshot_k": 5, "fewshot_epochs": 3,
                             "fewshot_lr": 0.5, "fewshot_seeds": [0, 1], "seed": 7, "normalize": False}  # fmt: skip
    assert set(case.settings) <= set(EvalConfig.__dataclass_fields__)  # every key is a field the plan reads


def test_expected_accepts_the_probe_settings_and_compares_them_for_equality(tmp_path):
    from zsbench.engine.snapshots import compare_case, load_snapshot

    case = load_snapshot(_probe(tmp_path))
    same = dict(PROBE_EXPECTED, lp_acc1=0.9770)  # a score within the 0.002 tolerance
    assert compare_case(case, same).passed
    for metric, other in [("fewshot_k", 6), ("epochs", 11), ("normalized", False), ("normalized", 1),
                          ("weight_decay", 0.0001), ("seed", None)]:  # fmt: skip
        result = compare_case(case, {**same, metric: other}, tolerance=0.5)  # no tolerance makes 5 equal 6
        assert not result.passed, metric
        row = next(r for r in result.rows if r["metric"] == metric)
        assert row["kind"] == "setting" and not row["ok"]
        assert "equal" in result.table()


def test_a_tolerance_for_a_setting_is_refused(tmp_path):
    from zsbench.engine.snapshots import SnapshotError, load_snapshot

    with pytest.raises(SnapshotError, match='"tolerance" names "fewshot_k", a setting that must be equal'):
        load_snapshot(_probe(tmp_path, tolerance={"default": 0.002, "fewshot_k": 0.5}))


def test_probe_case_id_does_not_take_the_zero_shot_id_and_duplicates_are_refused(tmp_path):
    from zsbench.engine.snapshots import InvalidCase, scan_cases

    _probe(tmp_path, name="shapes__en.json", task="zeroshot_classification", settings=None,
           expected={"acc1": 1.0})  # fmt: skip
    _probe(tmp_path)
    zero_shot, probe = scan_cases(tmp_path / "expected")
    assert zero_shot.id == "zsbench-tiny-shapes-shapes-en"
    assert probe.id == "zsbench-tiny-shapes-shapes-en-linear_probe"
    twin = _probe(tmp_path, name="shapes__en__linear_probe_k5.json")
    entries = scan_cases(tmp_path / "expected")
    bad = [e for e in entries if isinstance(e, InvalidCase)]
    assert len(bad) == 1 and bad[0].path == twin
    assert "zsbench-tiny-shapes-shapes-en-linear_probe" in bad[0].error and str(probe.path) in bad[0].error


def test_run_case_runs_with_the_case_settings_and_leaves_the_session_alone(tmp_path):
    """The case's task settings travel in its job; the session engine's own settings are never touched."""
    from zsbench.engine import Engine, EvalConfig
    from zsbench.engine.snapshots import load_snapshot
    from zsbench.pytest_plugin import case_plan, run_case

    case = load_snapshot(_probe(tmp_path, settings={"fewshot_k": 5, "seed": 3, "normalize": False}))
    engine = Engine(EvalConfig(progress=False, verbose=False, write_results=False, cache_dir=str(tmp_path / "c")))
    session_config = engine.config
    plan = case_plan(case, engine, Path("weights"), tmp_path)
    assert [j.task for j in plan.jobs] == ["linear_probe"]
    seen = {}

    def fake_run(jobs):
        [job] = jobs
        seen.update(fewshot_k=job.probe.fewshot_k, seed=job.probe.seed, normalize=job.probe.normalize)
        assert engine.config is session_config
        raise RuntimeError("stop")

    engine.run_jobs = fake_run
    with pytest.raises(RuntimeError):
        run_case(case, engine, Path("weights"), tmp_path)
    assert seen == {"fewshot_k": 5, "seed": 3, "normalize": False}
    assert engine.config is session_config
    assert (engine.config.fewshot_k, engine.config.seed, engine.config.normalize) == (-1, 0, True)


def test_committed_tiny_probe_cases():
    from zsbench.engine.snapshots import load_cases, snapshot_file_name

    cases = {c.id: c for c in load_cases(REPO / "expected")}
    full = cases["tiny-zsbench-tiny-shapes-shapes-en-linear_probe"]
    few = cases["tiny-zsbench-tiny-shapes-shapes-en-linear_probe-fewshot5"]
    assert full.expected["lp_acc1"] == 1.0 and full.settings == {}
    assert few.settings == {"fewshot_k": 5, "fewshot_seeds": [0, 1, 2]}
    assert abs(few.expected["lp_acc1"] - 0.9767) < 1e-4 and few.expected["fewshot_k"] == 5
    assert few.expected["normalized"] is True and not full.is_gpu and not few.is_gpu
    assert full.path.name == snapshot_file_name("shapes", "en", "linear_probe")
    # the zero-shot cases keep their <dataset>__<language>.json names
    for case in cases.values():
        if case.task != "linear_probe":
            assert case.path.name == snapshot_file_name(case.dataset, case.language), case.path


def test_build_report_matches_a_record_to_the_probe_case_with_its_settings(tmp_path):
    from zsbench.engine.snapshots import report_from_records

    _probe(tmp_path, name="shapes__en__linear_probe.json", id="full", settings={},
           expected={**PROBE_EXPECTED, "fewshot_k": -1, "lp_acc1": 1.0})  # fmt: skip
    _probe(tmp_path, name="shapes__en__linear_probe_k5.json", id="k5")
    record = {"model": "zsbench-tiny-shapes", "dataset": "shapes", "language": "en", "task": "linear_probe",
              "metrics": PROBE_EXPECTED}  # fmt: skip
    report = report_from_records([record], tmp_path / "expected")
    assert "| k5 | pass |" in report and "| full |" not in report
