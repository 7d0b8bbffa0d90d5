"""`zsbench eval` end to end on the CPU: InternVL (both checkpoint formats, the real tokenizer) and the dataset
replicas (classification, multilabel, retrieval), through the real command line."""

from __future__ import annotations

import json

import pytest

from zsbench.cli import main
from zsbench.testing.shared import require_shared


@pytest.fixture(scope="module")
def tiny_internvl(tmp_path_factory):
    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    tokenizer = require_shared("seed_data/internvl_tokenizer/tokenizer.model")
    return write_tiny_checkpoints(tmp_path_factory.mktemp("pretrained"), tokenizer)


def _eval(tmp_path, *args):
    out = tmp_path / "out" / "{dataset}_{model}_{language}.json"
    code = main(["eval", "--num_workers", "0", "--batch_size", "16", "--cache_dir", str(tmp_path / "cache"),
                 "--output", str(out), "--quiet", *args])  # fmt: skip
    assert code == 0
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*.json"))]


@pytest.mark.parametrize("fmt", ["pth", "hf"])
def test_internvl_end_to_end_on_procedural_data(tmp_path, tiny_internvl, fmt):
    if fmt == "pth":
        model = ["--model", "internvl_c_classification", "--pretrained", str(tiny_internvl.pth),
                 "--model_config", str(tiny_internvl.hf_folder / "config.json")]  # fmt: skip
    else:
        model = ["--model", "internvl_g_classification_hf", "--pretrained", str(tiny_internvl.hf_folder)]
    records = _eval(tmp_path, "--model_type", "internvl", *model, "--dataset", "shapes",
                    "--dataset_root", str(tmp_path / "data"))  # fmt: skip
    (record,) = records
    assert record["task"] == "zeroshot_classification"
    assert 0.0 <= record["metrics"]["acc1"] <= 1.0
    ident = record["zsbench"]["model_identity"]
    assert ident["tokenizer"]["sha256"]  # the real tokenizer file was used
    assert record["zsbench"]["n_images"] == 500


def test_internvl_retrieval_adapter_squashes_and_runs(tmp_path, tiny_internvl):
    records = _eval(tmp_path, "--model_type", "internvl", "--model", "internvl_c_retrieval_hf", "--pretrained",
                    str(tiny_internvl.hf_folder), "--dataset", "shapes_captions", "--dataset_root",
                    str(tmp_path / "data"), "--recall_k", "1", "5")  # fmt: skip
    assert list(records[0]["metrics"]) == ["image_retrieval_recall@1", "text_retrieval_recall@1",
                                           "image_retrieval_recall@5", "text_retrieval_recall@5"]  # fmt: skip


def test_pth_without_config_or_tokenizer_says_what_is_missing(tmp_path, capsys):
    bogus = tmp_path / "x.pth"
    bogus.write_bytes(b"")
    code = main(["eval", "--model_type", "internvl", "--model", "internvl_c_classification", "--pretrained",
                 str(bogus), "--dataset", "shapes", "--quiet"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "tokenizer" in err and len(err.strip().splitlines()) == 1


def test_tiny_clip_on_dataset_replicas(tmp_path):
    """Issue 3's end-to-end check: one classification, one multilabel and one retrieval replica."""
    from zsbench.models.tiny import tiny_weights_path
    from zsbench.testing import replicas

    if not tiny_weights_path().exists():
        pytest.skip(f"missing {tiny_weights_path()} (train it with scripts/train_tiny_clip.py)")
    root = tmp_path / "data"
    replicas.write_cifar10(root / "cifar10", 20)
    replicas.write_voc2007(root / "voc2007_multilabel", 10)
    replicas.write_flickr30k(root / "flickr30k", 8)
    records = _eval(tmp_path, "--dataset", "cifar10", "voc2007_multilabel", "flickr30k", "--dataset_root",
                    str(root / "{dataset}"), "--allow_incomplete", "--recall_k", "1", "5")  # fmt: skip
    by_name = {r["dataset"]: r for r in records}
    assert set(by_name["cifar10"]["metrics"]) == {"acc1", "acc5", "mean_per_class_recall"}
    assert set(by_name["voc2007_multilabel"]["metrics"]) == {"mean_average_precision"}
    assert "text_retrieval_recall@5" in by_name["flickr30k"]["metrics"]
    assert by_name["cifar10"]["zsbench"]["n_images"] == 20
    assert by_name["cifar10"]["zsbench"]["allow_incomplete"] is True


def test_recall_k_beyond_the_dataset_is_one_line(tmp_path, capsys):
    from zsbench.testing import fake

    fake.register()
    code = main(["eval", "--model_type", "fake", "--model", "m", "--dataset", "fake_ret", "--recall_k", "50",
                 "--num_workers", "0", "--no_cache", "--quiet", "--output", str(tmp_path / "r.json")])  # fmt: skip
    assert code == 2
    assert "recall_k" in capsys.readouterr().err
