"""A bad snapshot file under expected/ fails only its own case, naming the file and what is wrong.

Before, the plugin parsed every snapshot at collection with a bare ``json.loads`` and read keys through
``__getattr__`` over the dict: one bad file was an INTERNALERROR (or a collection error) for the whole session,
and a negative, NaN or misspelt tolerance silently changed what "pass" meant.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.snapshot_project import CASE_TEST, CONFTEST, fake_case

from .conftest import REPO, run_cli

pytest_plugins = ["pytester"]


def _case(weights: Path | str, **overrides) -> dict:
    defaults = {
        "markers": ["tiny", "classification"],
        "tolerance": 0.002,
        "published": None,
        "expected": {"acc1": 0.5, "acc5": None, "mean_per_class_recall": 0.5},
        "provenance": None,
    }
    return fake_case(weights, **{**defaults, **overrides})


def _dump(case: dict) -> str:
    return json.dumps(case, indent=1)


# file name -> (file text, a piece of the message that says what is wrong)
BAD = {
    "bad_json.json": ('{"model": "fake_model",', "not valid JSON"),
    "empty.json": ("", "empty file"),
    "a_list.json": ("[1, 2, 3]", "holds an array; a snapshot is one JSON object"),
    "missing_keys.json": ('{"model": "fake_model", "expected": {}}', 'missing key "model_type"'),
    "negative_tol.json": (_dump(_case("w", tolerance=-0.01)), '"tolerance" must be a finite number >= 0'),
    "nan_tol.json": (_dump(_case("w", tolerance=float("nan"))), "got nan"),
    "inf_tol.json": (_dump(_case("w", tolerance=float("inf"))), "got inf"),
    "tol_metric.json": (_dump(_case("w", tolerance={"acc1": "0.1"})), '"tolerance"."acc1" must be'),
    "wrong_types.json": (
        _dump(_case("w", markers="tiny", recall_k="5", expected=[0.5], model=3)),
        '"model" must be a non-empty string, got a number',
    ),
    "typo.json": (_dump(_case("w", tolerence=0.5)), 'unknown key "tolerence" (did you mean "tolerance"?)'),
    "nan_metric.json": (_dump(_case("w", expected={"acc1": float("nan")})), '"expected"."acc1" must be a finite'),
    "duplicate.json": ('{"tolerance": 0.002, "tolerance": 0.5}', 'key "tolerance" appears twice'),
    "skip_marker.json": (_dump(_case("w", markers=["skip"])), '"markers" entry "skip" is a pytest marker'),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_load_snapshot_names_the_file_and_the_problem(tmp_path, name):
    from zsbench.engine.snapshots import SnapshotError, load_snapshot

    text, problem = BAD[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert f"snapshot {path}: " in message and problem in message, message


def test_wrong_types_are_all_listed(tmp_path):
    from zsbench.engine.snapshots import SnapshotError, load_snapshot

    path = tmp_path / "x.json"
    path.write_text(BAD["wrong_types.json"][0])
    message = str(pytest.raises(SnapshotError, load_snapshot, path).value)
    for needle in ('"markers" must be an array', '"recall_k" must be null or a non-empty array', '"expected" must be'):
        assert needle in message, message


def test_scan_keeps_good_cases_beside_bad_ones(tmp_path):
    from zsbench.engine.snapshots import SnapshotError, load_cases, scan_cases

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "good.json").write_text(_dump(_case("w")))
    (tmp_path / "m" / "bad.json").write_text("[]")
    bad, good = scan_cases(tmp_path)  # sorted by path
    assert good.id == "fake_model-fake_cls-en" and good.tolerance == 0.002
    assert good.markers == ("tiny", "classification") and good.recall_k is None and good.split == "test"
    assert bad.id == "invalid-snapshot:m/bad.json" and str(tmp_path / "m" / "bad.json") in bad.error
    # the strict loader refuses the folder with one line naming the bad file
    with pytest.raises(SnapshotError, match=re.escape(str(tmp_path / "m" / "bad.json"))):
        load_cases(tmp_path)


def test_every_committed_snapshot_is_valid():
    """CI runs -m "not gpu"; a broken paper snapshot would otherwise only show up on a GPU run."""
    from zsbench.engine.snapshots import InvalidCase, scan_cases

    entries = scan_cases(REPO / "expected")
    assert entries, "no snapshots under expected/"
    assert [e.error for e in entries if isinstance(e, InvalidCase)] == []


def test_build_report_refuses_a_bad_snapshot_in_one_line(tmp_path):
    expected = tmp_path / "expected" / "fake_model"
    expected.mkdir(parents=True)
    (expected / "fake_cls__en.json").write_text('{"model": ')
    record = {"dataset": "fake_cls", "model": "fake_model", "pretrained": "p", "task": "zeroshot_classification",
              "metrics": {"acc1": 0.5}, "language": "en"}  # fmt: skip
    (tmp_path / "r.json").write_text(json.dumps(record))
    report = tmp_path / "report.md"
    result = run_cli("build", tmp_path / "r.json", "--output", tmp_path / "t.csv", "--report", report,
                     "--expected", tmp_path / "expected")  # fmt: skip
    result.assert_one_line_error("fake_cls__en.json", "not valid JSON")
    assert not report.exists()
    assert not (tmp_path / "t.csv").exists(), "the CSV was written before the report failed"


@pytest.fixture
def fake_metrics(tmp_path, fake_model):
    """What the fake model measures on fake_cls (fast, in this process), so the good case can pass."""
    import zsbench

    [record] = zsbench.evaluate(model_type="fake", model="fake_model", pretrained="weights.bin",
                                datasets=["fake_cls"], dataset_root=str(tmp_path), num_workers=0,
                                cache_dir="", write_results=False, progress=False, verbose=False)  # fmt: skip
    return record["metrics"]


def test_one_bad_snapshot_fails_only_its_own_case(pytester, fake_metrics):
    pytester.makepyfile(test_cases=CASE_TEST)
    pytester.makeconftest(CONFTEST)
    weights = pytester.path / "weights.bin"
    weights.write_bytes(b"fake")
    root = pytester.path / "expected"
    (root / "good").mkdir(parents=True)
    (root / "good" / "passes__en.json").write_text(_dump(_case(weights, expected=fake_metrics, id="good-pass")))
    missing = _case(pytester.path / "nowhere.pth", id="good-skip")
    (root / "good" / "skips__en.json").write_text(_dump(missing))
    (root / "bad").mkdir()
    for name, (text, _) in BAD.items():
        (root / "bad" / name).write_text(text)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zs-expected-dir", "expected",
                                           "--zs-num-workers", "0", "--zs-cache-dir", str(pytester.path / "cache"),
                                           "--zs-report", "zsbench-report.md", "-m", "not gpu", "-rs")  # fmt: skip
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out and "error during collection" not in out.lower(), out
    result.assert_outcomes(passed=1, skipped=1, errors=len(BAD))
    for name, (_, problem) in BAD.items():
        # the case is named after its file, and its error names the file and the problem
        assert f"ERROR at setup of test_case[invalid-snapshot:bad/{name}]" in out, name
        assert f"snapshot expected/bad/{name}: " in out and problem in out, name
    assert "nowhere.pth" in out  # the good case with missing weights skips as before, naming the file
    report = (pytester.path / "zsbench-report.md").read_text()
    assert "invalid-snapshot:bad/empty.json | INVALID" in report and "good-pass | pass" in report


def test_bad_markers_in_an_invalid_file_do_not_break_collection(pytester):
    """A file whose markers are valid keeps them (so -m selects it); its other errors still fail it."""
    pytester.makepyfile(test_cases=CASE_TEST)
    pytester.makeconftest(CONFTEST)
    (pytester.path / "expected").mkdir()
    (pytester.path / "expected" / "x.json").write_text(_dump(_case("w", markers=["gpu", "mine"], tolerance=-1)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--zs-expected-dir", "expected",
                                          "--collect-only", "-q", "-m", "gpu and mine")  # fmt: skip
    assert "test_case[invalid-snapshot:x.json]" in result.stdout.str()
    assert result.ret == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1", "1.5"])
def test_zs_tolerance_must_be_a_tolerance(pytester, value):
    """--zs-tolerance nan would fail every metric, inf pass every one: a usage error, not a silent change."""
    pytester.makepyfile(test_cases=CASE_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "zsbench.pytest_plugin",
                                          "--zs-expected-dir", "expected", "--zs-tolerance", value, "--collect-only")  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--zs-tolerance must be a finite number >= 0 and < 1" in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
