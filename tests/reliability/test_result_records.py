"""The typed result record: what eval writes reads back as the same record; foreign or damaged ones are one line."""

from __future__ import annotations

import json

import pytest

from tests.reliability.conftest import run_cli
from zsbench.engine import SCHEMA_VERSION, ResultRecord
from zsbench.errors import ZsbenchError


def test_eval_records_round_trip_with_clip_benchmark_key_order(fake_eval, tmp_path):
    fake_eval("--dataset", "fake_cls", "fake_ret").assert_ok()
    for path in sorted((tmp_path / "out").glob("*.json")):
        written = json.loads(path.read_text())
        record = ResultRecord.from_dict(written, str(path))
        assert record.as_dict() == written
        assert list(written)[:6] == ["dataset", "model", "pretrained", "task", "metrics", "language"]
        assert record.schema_version == SCHEMA_VERSION


def test_a_clip_benchmark_record_has_no_provenance():
    cb = {"dataset": "cifar10", "model": "ViT-B-32", "pretrained": "openai", "task": "zeroshot_classification",
          "metrics": {"acc1": 0.9, "acc5": None}, "language": "en"}  # fmt: skip
    record = ResultRecord.from_dict(cb)
    assert record.provenance == {} and record.as_dict() == cb


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r.pop("metrics"), "no metrics"),
        (lambda r: r.update(model=3), "'model' must be a string"),
        (lambda r: r.update(metrics={"acc1": "0.9"}), "'metrics' must map names to numbers"),
        (lambda r: r.update(metrics={"acc1": True}), "'metrics' must map names to numbers"),
        (lambda r: r.update(zsbench={"schema_version": SCHEMA_VERSION + 1}), "newer than this zsbench reads"),
    ],
)
def test_bad_records_are_refused_naming_the_file(tmp_path, change, needle):
    record = {"dataset": "cifar10", "model": "m", "pretrained": "p", "task": "zeroshot_classification",
              "metrics": {"acc1": 0.5}, "language": "en", "zsbench": {"schema_version": SCHEMA_VERSION}}  # fmt: skip
    change(record)
    with pytest.raises(ZsbenchError, match=needle):
        ResultRecord.from_dict(record, "r.json")
    (tmp_path / "r.json").write_text(json.dumps(record))
    result = run_cli("build", tmp_path / "r.json", "--output", tmp_path / "t.csv")
    result.assert_one_line_error("r.json (record 1)", needle)
    assert not (tmp_path / "t.csv").exists()
