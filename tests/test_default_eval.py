"""`zsbench eval` with no arguments: the embedded tiny CLIP on the embedded shapes data, far above chance."""

from __future__ import annotations

import json

from zsbench.cli import main


def test_default_eval_is_a_real_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # CLIP_benchmark's default --output is relative to the working directory
    assert main(["eval", "--num_workers", "0", "--no_progress"]) == 0
    printed = capsys.readouterr().out
    assert "acc1=" in printed and "text_retrieval_recall@5=" in printed
    cls = json.loads(next(tmp_path.glob("shapes_*_zeroshot_classification.json")).read_text())
    ret = json.loads(next(tmp_path.glob("shapes_captions_*_zeroshot_retrieval.json")).read_text())
    n_classes = cls["zsbench"]["n_classes"]
    assert n_classes == 10
    assert cls["metrics"]["acc1"] >= 0.80 > 3 / n_classes  # chance is 0.1
    assert ret["metrics"]["text_retrieval_recall@5"] >= 0.80 > 3 * 5 / ret["zsbench"]["n_images"]  # chance 0.05
    assert cls["model"] == "zsbench-tiny-shapes" and cls["zsbench"]["precision"] == "fp32"
