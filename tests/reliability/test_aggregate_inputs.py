"""zsbench build --aggregate: a set an aggregate would misrepresent is one line, and nothing is written."""

from __future__ import annotations

import json

from tests.engine.test_aggregate import VTAB_NAMES, datacomp_records
from tests.reliability.conftest import leftovers, run_cli


def _build(tmp_path, records, *flags):
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = tmp_path / "out" / "b.csv"
    out.parent.mkdir()
    return run_cli("build", results, "--output", out, "--markdown", tmp_path / "out" / "b.md", *flags), out.parent


def test_datacomp_average_over_37_is_refused(tmp_path):
    result, out = _build(tmp_path, datacomp_records(skip=("fairness/geode",)), "--aggregate", "datacomp")
    result.assert_one_line_error("37 of DataComp's 38", "fairness/geode", "--allow_partial")
    assert list(out.iterdir()) == [] and not leftovers(out)


def test_two_different_results_for_one_datacomp_task_are_refused(tmp_path):
    records = datacomp_records()
    clash = next(r for r in records if r["dataset"] == "cifar10")
    records.append({**clash, "dataset": "wds/cifar10", "metrics": {"acc1": 0.5}})  # another run, another number
    result, out = _build(tmp_path, records, "--aggregate", "datacomp", "--allow_partial")
    result.assert_one_line_error("two different results for cifar10", "wds/cifar10")
    assert list(out.iterdir()) == []


def test_no_datacomp_result_at_all_is_refused(tmp_path):
    records = [{"dataset": "caltech101", "model": "m", "pretrained": "p", "task": "zeroshot_classification",
                "metrics": {"acc1": 0.5}, "language": "en"}]  # fmt: skip
    result, out = _build(tmp_path, records, "--aggregate", "datacomp", "--allow_partial")
    result.assert_one_line_error("no result is one of DataComp's 38 tasks")
    assert list(out.iterdir()) == []


def test_vtab_mean_over_18_of_19_is_refused(tmp_path):
    names = [n for group in VTAB_NAMES.values() for n in group if n != "vtab/dmlab"]
    records = [{"dataset": n, "model": "m", "pretrained": "p", "task": "zeroshot_classification",
                "metrics": {"acc1": 0.5}, "language": "en"} for n in names]  # fmt: skip
    result, out = _build(tmp_path, records, "--aggregate", "vtab")
    result.assert_one_line_error("18 of VTAB's 19", "vtab/dmlab", "--allow_partial")
    assert list(out.iterdir()) == []


def test_rank_of_a_single_model_is_refused(tmp_path):
    result, out = _build(tmp_path, datacomp_records(), "--aggregate", "rank")
    result.assert_one_line_error("at least 2 models", "got 1")
    assert list(out.iterdir()) == []
