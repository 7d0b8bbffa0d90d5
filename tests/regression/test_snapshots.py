"""The regression machinery end to end on a fake model: update, rerun, regression, skip reasons, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.snapshot_project import fake_case, run_project, start_project

pytest_plugins = ["pytester"]


def _write_case(root: Path, weights: Path, expected: dict | None = None, **extra) -> Path:
    defaults = {
        "markers": ["tiny", "classification"],
        "tolerance": 0.002,
        "published": None,
        "expected": expected or {"acc1": 0.0, "acc5": None, "mean_per_class_recall": 0.0},
        "provenance": None,
    }
    case = fake_case(weights, **{**defaults, **extra})
    path = root / "expected" / "fake_model" / "fake_cls__en.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(case))
    return path


@pytest.fixture
def project(pytester):
    return pytester, start_project(pytester)


def _run(pytester, *args):
    return run_project(pytester, "--zs-report", "zsbench-report.md", *args)


def test_update_then_rerun_passes_and_regression_fails(project):
    pytester, weights = project
    path = _write_case(pytester.path, weights, published={"acc1": 0.5})
    result = _run(pytester)
    result.assert_outcomes(failed=1)  # the placeholder numbers are wrong
    assert "expected" in result.stdout.str() and "measured" in result.stdout.str()

    _run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    snap = json.loads(path.read_text())
    assert snap["published"] == {"acc1": 0.5}  # an update never rewrites the published number
    assert snap["provenance"]["precision"] == "fp32"
    # no machine-specific paths in a committed snapshot: the weights path is relative to the repository
    assert snap["provenance"]["model_identity"]["pretrained"] == "weights.bin"
    measured = snap["expected"]
    _run(pytester).assert_outcomes(passed=1)

    snap["expected"] = {**measured, "acc1": measured["acc1"] + 0.01}  # beyond the 0.002 tolerance
    path.write_text(json.dumps(snap))
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    assert "acc1" in result.stdout.str() and "NO" in result.stdout.str()
    _run(pytester, "--zs-tolerance", "0.02").assert_outcomes(passed=1)  # per-run override
    snap["tolerance"] = {"default": 0.002, "acc1": 0.02}  # per-case, per-metric override
    path.write_text(json.dumps(snap))
    _run(pytester).assert_outcomes(passed=1)
    report = (pytester.path / "zsbench-report.md").read_text()
    assert "fake_model" in report and "pass" in report


def test_missing_weights_skip_with_path_and_source(project):
    pytester, weights = project
    _write_case(pytester.path, pytester.path / "nowhere.pth", pretrained_source="https://example.org/w.pth")
    result = _run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    out = result.stdout.str()
    assert "nowhere.pth" in out and "https://example.org/w.pth" in out


def test_markers_and_ids_select_cases(project):
    pytester, weights = project
    _write_case(pytester.path, weights)
    result = _run(pytester, "--collect-only", "-q", "-m", "tiny and classification")
    assert "test_case[fake_model-fake_cls-en]" in result.stdout.str()
    result = _run(pytester, "--collect-only", "-q", "-m", "gpu")
    assert "fake_model" not in result.stdout.str()


def test_build_rebuilds_the_report_from_result_files(tmp_path):
    from zsbench.cli import main
    from zsbench.engine.snapshots import load_cases

    case = next(c for c in load_cases(Path(__file__).parents[2] / "expected") if c.id.endswith("imagenet1k-cn"))
    good = {"dataset": case.dataset, "model": case.model, "pretrained": "x", "task": case.task,
            "metrics": dict(case.expected), "language": "cn"}  # fmt: skip
    bad = {**good, "language": "jp", "metrics": {**case.expected, "acc1": 0.1}}
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps(bad))
    report = tmp_path / "report.md"
    assert main(["build", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--output", str(tmp_path / "x.csv"),
                 "--report", str(report), "--expected", str(Path(__file__).parents[2] / "expected")]) == 0  # fmt: skip
    text = report.read_text()
    assert "internvl_c_classification-imagenet1k-cn | pass" in text
    assert "internvl_c_classification-imagenet1k-jp | FAIL" in text
