"""The command line: bad input is one line naming the valid choices; eval writes results; build merges them."""

from __future__ import annotations

import csv
import json

import pytest

from zsbench.cli import main
from zsbench.testing import fake


@pytest.fixture(autouse=True)
def _fake():
    fake.register()


def _eval(tmp_path, *extra):
    return main(["eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
                 "--dataset_root", str(tmp_path), "--cache_dir", str(tmp_path / "cache"),
                 "--output", str(tmp_path / "out" / "{dataset}_{model}_{language}_{task}.json"), "--quiet",
                 *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model_type", "nope"], "unknown model type 'nope'"),
        (["--dataset", "imagenet1kk"], "unknown dataset 'imagenet1kk' (did you mean 'imagenet1k'?)"),
        (["--task", "zeroshot_clasification"], "unknown task 'zeroshot_clasification'"),
        (["--task", "zeroshot_retrieval_with_itm"], "not supported by zsbench"),
        (["--language", "xx"], "unknown language 'xx'"),
    ],
)
def test_bad_input_is_one_line_with_choices(tmp_path, capsys, args, needle):
    base = ["eval", "--model_type", "fake", "--dataset", "fake_cls", "--quiet"]
    argv = base + args if args[0] != "--model_type" else ["eval", *args, "--dataset", "fake_cls", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert needle in err
    if "unknown" in needle:
        assert "valid choices" in err


def test_task_must_fit_the_dataset(tmp_path, capsys):
    assert _eval(tmp_path, "--dataset", "fake_ret", "--task", "zeroshot_classification") == 2
    assert "zeroshot_retrieval dataset" in capsys.readouterr().err


def test_eval_writes_clip_benchmark_files_and_build_merges_them(tmp_path, capsys):
    assert _eval(tmp_path, "--dataset", "fake_cls", "fake_ret", "--language", "en", "--recall_k", "1", "5") == 0
    files = sorted((tmp_path / "out").glob("*.json"))
    assert [f.name for f in files] == [
        "fake_cls_m_en_zeroshot_classification.json",
        "fake_ret_m_en_zeroshot_retrieval.json",
    ]
    csv_path, md_path = tmp_path / "bench.csv", tmp_path / "bench.md"
    assert main(["build", str(tmp_path / "out"), "--output", str(csv_path), "--markdown", str(md_path)]) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 2
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:9] == ["dataset", "model", "pretrained", "task", "language", "model_fullname", "acc1", "acc5",
                          "mean_per_class_recall"]  # fmt: skip
    assert header[9:] == ["image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_recall@5",
                          "text_retrieval_recall@5"]  # fmt: skip
    assert rows[0]["acc5"] == ""  # null, not NaN
    assert "| dataset |" in md_path.read_text()


def test_build_reads_clip_benchmark_nan_and_fork_jsonl(tmp_path):
    from zsbench.engine.results import collect

    upstream = tmp_path / "a.json"
    upstream.write_text('{"dataset": "renderedsst2", "model": "m", "pretrained": "p", "task": "zeroshot_classification",'
                        ' "metrics": {"acc1": 0.5, "acc5": NaN}, "language": "en"}')  # fmt: skip
    fork = tmp_path / "result.json"
    fork.write_text(
        "\n".join(json.dumps({"dataset": "x", "language": lang, "metrics": {"acc1": 1.0}}) for lang in "ab")
    )
    records = collect([upstream, fork])
    assert records[0]["metrics"]["acc5"] is None
    assert [r["language"] for r in records[1:]] == ["a", "b"]


def test_rerun_after_kill_leaves_no_partial_file(tmp_path, monkeypatch):
    """A crash while writing leaves the previous file intact and no temporary file behind."""
    from zsbench.engine import atomic

    assert _eval(tmp_path, "--dataset", "fake_cls") == 0
    out = tmp_path / "out" / "fake_cls_m_en_zeroshot_classification.json"
    before = out.read_text()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        _eval(tmp_path, "--dataset", "fake_cls", "--seed", "1")
    assert out.read_text() == before
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_datasets_command_lists_every_catalog_entry(tmp_path, capsys):
    """In a fresh process nothing has loaded the catalog yet; the command must still list every dataset."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "zsbench", "datasets", "--dataset_root", str(tmp_path / "{dataset}")],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    for name in ("imagenet1k", "vtab/resisc45", "multilingual_mscoco_captions", "voc2007_multilabel", "shapes"):
        assert name in out
    assert "missing" in out


def test_export_wds_then_eval_from_shards(tmp_path):
    from zsbench.testing.replicas import write_cifar10

    write_cifar10(tmp_path / "cifar10", 12)
    assert main(["export-wds", "--dataset", "cifar10", "--dataset_root", str(tmp_path / "cifar10"), "--output",
                 str(tmp_path / "wds_cifar10"), "--image_format", "png", "--allow_incomplete"]) == 0  # fmt: skip
    assert (tmp_path / "wds_cifar10" / "test" / "nshards.txt").exists()
    fake.register()
    out = tmp_path / "r.json"
    direct, shards = tmp_path / "direct.json", tmp_path / "shards.json"
    common = ["--model_type", "fake", "--model", "m", "--num_workers", "0", "--no_cache", "--quiet"]
    assert main(["eval", *common, "--dataset", "cifar10", "--dataset_root", str(tmp_path / "cifar10"),
                 "--allow_incomplete", "--output", str(direct)]) == 0  # fmt: skip
    assert main(["eval", *common, "--dataset", "wds/cifar10", "--dataset_root", str(tmp_path / "wds_cifar10"),
                 "--output", str(shards)]) == 0  # fmt: skip
    a, b = json.loads(direct.read_text()), json.loads(shards.read_text())
    assert a["metrics"] == b["metrics"]  # same images (lossless png), labels, classnames and templates
    assert b["dataset"] == "wds/cifar10" and not out.exists()
