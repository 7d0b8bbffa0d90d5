"""Regression metrics where CI tools look, and snapshots the syrupy way, on the fake model.

Before: a case attached its numbers only as one opaque ``zsbench_outcome`` property (a Python dict's repr), the
terminal showed no table for passing cases, a case without ``expected`` (a new checkpoint) was an invalid file,
``--snapshot-update`` rewrote every file that ran (new date, same numbers), ``--snapshot-update-new-only`` and
``--snapshot-warn-unused`` did nothing for zsbench's snapshots.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.snapshot_project import fake_case, run_project, start_project

pytest_plugins = ["pytester"]

NEW = object()


def _write(root: Path, weights: Path, name: str, expected=NEW, **extra) -> Path:
    case = fake_case(weights, **{"markers": ["tiny"], "published": {"acc1": 0.5}, **extra})
    if expected is not NEW:
        case["expected"] = expected
    path = root / "expected" / "fake_model" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(case, indent=2))
    return path


@pytest.fixture
def project(pytester):
    return pytester, start_project(pytester)


def _run(pytester, *args):
    return run_project(pytester, *args)


def test_new_case_fails_until_snapshot_update_which_never_touches_published(project):
    pytester, weights = project
    path = _write(pytester.path, weights, "fake_cls__en.json")  # no "expected": a new checkpoint
    before = path.read_text()
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*has no expected numbers yet*--snapshot-update*"])
    assert path.read_text() == before  # a plain run writes nothing

    _run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    snap = json.loads(path.read_text())
    assert snap["published"] == {"acc1": 0.5} and set(snap["expected"]) >= {"acc1", "acc5"}
    written = path.read_text()
    # same numbers: an update leaves the file as it is (no new date in the provenance)
    result = _run(pytester, "--snapshot-update")
    result.assert_outcomes(passed=1)
    assert path.read_text() == written

    snap["expected"]["acc1"] += 0.3  # a changed checkpoint: the update rewrites expected, never published
    path.write_text(json.dumps(snap))
    result = _run(pytester, "--snapshot-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*fake_model-fake_cls-en*acc1*updated*"])
    after = json.loads(path.read_text())
    assert after["expected"]["acc1"] == pytest.approx(snap["expected"]["acc1"] - 0.3)
    assert after["published"] == {"acc1": 0.5}


def test_update_new_only_fills_new_cases_and_compares_the_others(project):
    pytester, weights = project
    new = _write(pytester.path, weights, "fake_cls__en.json", expected=None)
    wrong = _write(pytester.path, weights, "other.json", id="wrong", expected={"acc1": 0.0, "acc5": None,
                                                                              "mean_per_class_recall": 0.0})  # fmt: skip
    wrong_text = wrong.read_text()
    result = _run(pytester, "--snapshot-update-new-only")
    result.assert_outcomes(passed=1, failed=1)
    assert json.loads(new.read_text())["expected"]["acc1"] is not None  # recorded
    assert wrong.read_text() == wrong_text  # an existing snapshot is compared, not rewritten
    result.stdout.fnmatch_lines(["FAILED*test_case[[]wrong[]]*"])


def test_junit_xml_properties_and_terminal_table(project):
    pytester, weights = project
    path = _write(pytester.path, weights, "fake_cls__en.json", expected=None)
    _run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    measured = json.loads(path.read_text())["expected"]
    snap = json.loads(path.read_text())
    snap["expected"]["acc1"] = measured["acc1"] + 0.01  # beyond the default 0.002
    path.write_text(json.dumps(snap))

    (path.parent / "broken.json").write_text("{")  # an invalid file is one erroring case, and says so too

    result = _run(pytester, "--junitxml", "junit.xml")
    result.assert_outcomes(failed=1, errors=1)
    case, broken = sorted(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"), key=lambda c: c.get("name"))
    assert {p.get("name"): p.get("value") for p in broken.iter("property")}["zsbench.verdict"] == "INVALID"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["zsbench.case"] == "fake_model-fake_cls-en" and props["zsbench.verdict"] == "FAIL"
    assert float(props["zsbench.acc1.measured"]) == pytest.approx(measured["acc1"])
    assert float(props["zsbench.acc1.expected"]) == pytest.approx(measured["acc1"] + 0.01)
    assert float(props["zsbench.acc1.tolerance"]) == 0.002
    assert props["zsbench.acc5.expected"] == "null"

    out = result.stdout.str()
    table = out[out.index("zsbench regression cases") :]
    assert "case" in table and "difference" in table and "verdict" in table
    result.stdout.fnmatch_lines(["fake_model-fake_cls-en*acc1*-0.0100*FAIL"])
    result.stdout.fnmatch_lines(["fake_model-fake_cls-en*mean_per_class_recall*ok"])
    result.stdout.fnmatch_lines(["invalid-snapshot:fake_model/broken.json*INVALID: snapshot*not valid JSON*"])


def test_warn_unused_names_only_files_no_collected_case_used(project):
    pytester, weights = project
    _write(pytester.path, weights, "fake_cls__en.json", expected=None)
    _write(pytester.path, weights, "second.json", id="second", expected=None)
    # -k deselects "second" after collecting it: it was used
    result = _run(pytester, "-k", "fake_cls", "--snapshot-update", "--snapshot-warn-unused")
    result.assert_outcomes(passed=1)
    assert "unused snapshot" not in result.stdout.str()
    # a node id collects only its own case: the other file was not collected at all
    result = _run(pytester, "test_cases.py::test_case[fake_model-fake_cls-en]", "--snapshot-warn-unused")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*unused snapshot: *second.json*"])
    assert "fake_cls__en.json (no collected" not in result.stdout.str()
    # without the flag nothing is said
    result = _run(pytester, "test_cases.py::test_case[fake_model-fake_cls-en]")
    assert "unused snapshot" not in result.stdout.str()
