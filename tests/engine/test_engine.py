"""The engine: planning, encode-once across languages, the cache, results files, resume."""

from __future__ import annotations

import json

import pytest

from zsbench.engine import Engine, evaluate
from zsbench.engine import models as engine_models
from zsbench.engine.config import EvalConfig
from zsbench.engine.results import read_records
from zsbench.testing import fake


@pytest.fixture(autouse=True)
def _fake():
    fake.register()
    for k in fake.CALLS:
        fake.CALLS[k] = 0


def _config(tmp_path, **kw):
    base = dict(
        model_type="fake",
        models=[("m", "p")],
        datasets=[("fake_cls", None)],
        dataset_root=str(tmp_path / "data"),
        output=str(tmp_path / "out" / "{dataset}_{language}.json"),
        cache_dir=str(tmp_path / "cache"),
        num_workers=0,
        batch_size=7,
        progress=False,
        verbose=False,
        device="cpu",
    )
    base.update(kw)
    return EvalConfig(**base)


def test_three_languages_encode_images_once(tmp_path):
    records = Engine(_config(tmp_path, languages=["en", "cn", "jp"])).run()
    assert [r["language"] for r in records] == ["en", "cn", "jp"]
    assert fake.CALLS["images"] == 30  # one pass over 30 images for three languages
    caches = [r["zsbench"]["cache"]["image_embeddings"] for r in records]
    assert caches == ["miss", "memory", "memory"]
    assert records[-1]["zsbench"]["cache"]["images_encoded_so_far"] == 30
    # the three results differ only through the prompts
    assert all(set(r["metrics"]) == {"acc1", "acc5", "mean_per_class_recall"} for r in records)
    assert records[0]["metrics"]["acc5"] is None  # 3 classes < 5


def test_disk_cache_hit_is_bit_identical_and_skips_encoding(tmp_path):
    import torch

    ev1 = Engine(_config(tmp_path))
    first = ev1.run()[0]
    emb1 = next(iter(ev1.cache._memory.values()))["embeddings"]
    calls = fake.CALLS["images"]
    ev2 = Engine(_config(tmp_path))
    second = ev2.run()[0]
    assert fake.CALLS["images"] == calls  # nothing re-encoded
    assert second["zsbench"]["cache"]["image_embeddings"] == "disk"
    assert second["metrics"] == first["metrics"]
    hit = [v for v in ev2.cache._memory.values() if "skipped" in v][0]["embeddings"]
    assert torch.equal(hit, emb1)


def test_cache_key_covers_the_model(tmp_path):
    Engine(_config(tmp_path)).run()
    before = fake.CALLS["images"]
    Engine(_config(tmp_path, models=[("m", "other-weights")])).run()
    assert fake.CALLS["images"] == before + 30


def test_text_prompts_are_batched_across_classes(tmp_path):
    Engine(_config(tmp_path, cache_dir="")).run()
    # 3 classes x 2 templates = 6 prompts in one batch, not one forward pass per class
    assert fake.CALLS["texts"] == 6
    assert fake.CALLS["text_batches"] == 1


def test_results_are_strict_json_with_clip_benchmark_keys(tmp_path):
    Engine(_config(tmp_path)).run()
    text = (tmp_path / "out" / "fake_cls_en.json").read_text()
    assert "NaN" not in text
    record = json.loads(text)
    assert list(record)[:6] == ["dataset", "model", "pretrained", "task", "metrics", "language"]
    assert record["metrics"]["acc5"] is None
    prov = record["zsbench"]
    for key in ("zsbench_version", "torch_version", "device", "precision", "batch_size", "n_images", "timing"):
        assert key in prov


def test_shared_output_keeps_every_language(tmp_path):
    out = str(tmp_path / "result.json")
    Engine(_config(tmp_path, languages=["en", "cn"], output=out)).run()
    records = read_records(out)
    assert [r["language"] for r in records] == ["en", "cn"]


def test_skip_existing_resumes_without_loading(tmp_path, monkeypatch):
    Engine(_config(tmp_path, languages=["en"])).run()
    loads = []
    orig = engine_models.build_model
    monkeypatch.setattr(engine_models, "build_model", lambda ref, *a: loads.append(ref) or orig(ref, *a))
    records = Engine(_config(tmp_path, languages=["en", "cn"], skip_existing=True)).run()
    assert [r["language"] for r in records] == ["cn"]
    assert len(loads) == 1
    loads.clear()
    assert Engine(_config(tmp_path, languages=["en", "cn"], skip_existing=True)).run() == []
    assert loads == []  # everything exists: the model is never loaded


def test_retrieval_metrics_and_recall_keys(tmp_path):
    records = Engine(_config(tmp_path, datasets=[("fake_ret", None)], recall_k=[1, 5])).run()
    keys = list(records[0]["metrics"])
    assert keys == [
        "image_retrieval_recall@1",
        "text_retrieval_recall@1",
        "image_retrieval_recall@5",
        "text_retrieval_recall@5",
    ]
    assert records[0]["zsbench"]["n_captions"] == 24


def test_unknown_language_names_the_valid_ones(tmp_path):
    from zsbench.errors import ZsbenchError

    with pytest.raises(ZsbenchError, match="en, cn, jp"):
        Engine(_config(tmp_path, languages=["xx"])).run()


def test_api_evaluate_keyword_form(tmp_path):
    records = evaluate(_config(tmp_path), datasets=["fake_ret"], write_results=False)
    assert records[0]["task"] == "zeroshot_retrieval"
    assert not (tmp_path / "out").exists()


def test_image_set_fingerprint_is_computed_once_per_invocation(tmp_path, monkeypatch):
    from zsbench.datasets.base import ArrayImageSet

    calls = []
    original = ArrayImageSet.fingerprint
    monkeypatch.setattr(ArrayImageSet, "fingerprint", lambda self, mode="stat": calls.append(1) or original(self, mode))
    Engine(_config(tmp_path, languages=["en", "cn", "jp"], cache_dir="")).run()
    assert len(calls) == 1  # three languages, one image set


def test_a_model_is_freed_before_one_with_other_weights_loads(tmp_path, monkeypatch):
    import weakref

    loaded: list = []
    alive_at_load: list = []
    original = engine_models.build_model

    def load(ref, *args):
        alive_at_load.append([r() is not None for r in loaded])
        model = original(ref, *args)
        loaded.append(weakref.ref(model))
        return model

    monkeypatch.setattr(engine_models, "build_model", load)
    models = [("m", "p"), ("m2", "p"), ("m", "other-weights")]
    records = Engine(_config(tmp_path, models=models, cache_dir="")).run()
    assert [(r["model"], r["pretrained"]) for r in records] == models
    # Same weights load while the previous model is alive (InternVL adapters share its network); other weights
    # only after it is gone, so two large models never share the memory.
    assert alive_at_load == [[], [True], [False, False]]
