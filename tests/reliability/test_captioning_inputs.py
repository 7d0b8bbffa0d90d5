"""``--task captioning`` with input it cannot score: one line, exit 2, nothing written, no image encoded.

A model that cannot generate captions (the embedded tiny CLIP, a plain ViT-B-32, any hf model) is refused from
its name and config before it loads; a dataset without captions before anything loads; a missing pycocoevalcap
or Java before the dataset is read; an image without a reference caption before the model loads.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.reliability.conftest import leftovers, run_cli
from zsbench.testing import replicas as R


def _eval(tmp_path, *args):
    return run_cli(
        "eval", "--task", "captioning", "--dataset_root", tmp_path / "coco", "--allow_incomplete",
        "--num_workers", "0", "--cache_dir", tmp_path / "cache",
        "--output", tmp_path / "out" / "{dataset}_{model}_{task}.json", "--quiet", *args,
    )  # fmt: skip


def _nothing_written(tmp_path) -> None:
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))
    assert leftovers(tmp_path) == []


@pytest.fixture
def coco(tmp_path):
    R.write_coco_karpathy(tmp_path / "coco", 3)
    return tmp_path / "coco"


def test_embedded_tiny_clip_is_refused_before_it_loads(tmp_path, coco, monkeypatch):
    import zsbench.engine.models as pool

    def no_load(*a, **k):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(pool, "load_model", no_load)
    result = _eval(tmp_path, "--dataset", "mscoco_captions")  # the default model: the embedded tiny CLIP
    result.assert_one_line_error("--task captioning", "zsbench-tiny-shapes", "no text decoder", "coca")
    _nothing_written(tmp_path)


def test_plain_vit_b_32_is_refused_before_it_loads(tmp_path, coco, monkeypatch):
    import zsbench.engine.models as pool

    monkeypatch.setattr(pool, "load_model", lambda *a, **k: pytest.fail("the model must not load"))
    result = _eval(tmp_path, "--dataset", "mscoco_captions", "--model_type", "open_clip", "--model", "ViT-B-32")
    result.assert_one_line_error("ViT-B-32", "no text decoder")
    _nothing_written(tmp_path)


def test_hf_model_is_refused(tmp_path, coco):
    result = _eval(tmp_path, "--dataset", "mscoco_captions", "--model_type", "hf", "--model", "openai/clip")
    result.assert_one_line_error("--task captioning", "--model_type hf", "CoCa")
    _nothing_written(tmp_path)


def test_loaded_model_that_cannot_generate_is_refused_before_any_image_is_encoded(tmp_path, fake_eval):
    # The fake model type says nothing before it loads: the loaded model is checked, before encoding.
    result = fake_eval("--task", "captioning", "--dataset", "fake_ret")
    result.assert_one_line_error("--task captioning", "fake model", "does not")
    _nothing_written(tmp_path)


def test_dataset_without_captions_is_refused(tmp_path):
    result = _eval(tmp_path, "--dataset", "cifar10")
    result.assert_one_line_error("cifar10", "zeroshot_classification", "--task")
    _nothing_written(tmp_path)


@pytest.fixture
def coca(monkeypatch):
    """``--model coca_ViT-B-32`` passes the model check whatever transformers is installed (nothing loads here)."""
    monkeypatch.setattr("zsbench.models.caption_refusal", lambda *a, **k: None)
    return ("--model_type", "open_clip", "--model", "coca_ViT-B-32")


def test_missing_pycocoevalcap_says_how_to_install_it(tmp_path, coco, coca, monkeypatch):
    for name in [m for m in sys.modules if m == "pycocoevalcap" or m.startswith("pycocoevalcap.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pycocoevalcap", None)  # import fails as if not installed
    result = _eval(tmp_path, "--dataset", "mscoco_captions", *coca)
    result.assert_one_line_error("pycocoevalcap", "pip install pycocoevalcap")
    _nothing_written(tmp_path)


def test_missing_java_is_one_line_before_anything_loads(tmp_path, coco, coca, monkeypatch):
    pytest.importorskip("pycocoevalcap")
    import zsbench.tasks.captioning as cap

    monkeypatch.setattr(cap.shutil, "which", lambda name: None)
    result = _eval(tmp_path, "--dataset", "mscoco_captions", *coca)
    result.assert_one_line_error("java", "PTB tokenizer", "METEOR", "install a Java runtime")
    _nothing_written(tmp_path)


def test_transformers_without_open_clip_beam_search_is_one_line(tmp_path, coco, monkeypatch):
    pytest.importorskip("pycocoevalcap")
    from open_clip import coca_model

    monkeypatch.setattr(coca_model, "_has_transformers", False)
    result = _eval(tmp_path, "--dataset", "mscoco_captions", "--model_type", "open_clip", "--model", "coca_ViT-B-32")
    result.assert_one_line_error("coca_ViT-B-32", "BeamSearchScorer", "transformers")
    _nothing_written(tmp_path)


def test_image_without_reference_captions_is_refused_before_the_model_loads(tmp_path, coco, coca, monkeypatch):
    pytest.importorskip("pycocoevalcap")
    import zsbench.engine.models as pool
    from zsbench.tasks import captioning as cap

    monkeypatch.setattr(cap, "require_java", lambda: "java")  # the check under test comes after it
    monkeypatch.setattr(pool, "load_model", lambda *a, **k: pytest.fail("the model must not load"))
    ann = coco / "coco_test_karpathy.json"
    data = json.loads(ann.read_text())
    lonely = data["images"][1]["id"]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != lonely]
    ann.write_text(json.dumps(data))
    result = _eval(tmp_path, "--dataset", "mscoco_captions", *coca)
    result.assert_one_line_error("1 of 3 images", "no reference caption", f"{lonely:012d}")
    _nothing_written(tmp_path)
