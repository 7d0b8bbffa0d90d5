"""``--pretrained builtin:<name>`` (the form snapshot commands use) runs from the CLI as in the regression suite."""

from __future__ import annotations

import json

from tests.reliability.conftest import run_cli


def test_eval_runs_builtin_weights_and_records_the_name(tmp_path):
    out = tmp_path / "r.json"
    run_cli("eval", "--model", "zsbench-tiny-shapes", "--pretrained", "builtin:zsbench-tiny-shapes",
            "--dataset", "shapes", "--num_workers", "0", "--quiet", "--output", out,
            "--cache_dir", tmp_path / "cache").assert_ok()  # fmt: skip
    record = json.loads(out.read_text())
    assert record["pretrained"] == "builtin:zsbench-tiny-shapes"
    assert record["metrics"]["acc1"] >= 0.8
    assert record["zsbench"]["model_identity"]["weights"]["sha256"]


def test_unknown_builtin_weights_are_one_line(tmp_path):
    result = run_cli("eval", "--model", "zsbench-tiny-shapes", "--pretrained", "builtin:nope", "--dataset", "shapes",
                     "--num_workers", "0", "--quiet", "--output", tmp_path / "r.json")  # fmt: skip
    result.assert_one_line_error("unknown built-in weights 'nope'")
    assert not (tmp_path / "r.json").exists()
