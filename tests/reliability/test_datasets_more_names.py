"""The remaining CLIP_benchmark names through the CLI: a missing annotation file, a language the dataset lacks, a
partial or inconsistent copy, a missing optional package: each is one line naming the file or value, nothing
written. Two runs that work show the names resolve to their tasks with ``--task auto``."""

from __future__ import annotations

import json
import sys

from tests.reliability.conftest import leftovers
from zsbench.datasets.loaders.imagenet import wnid_lists
from zsbench.testing import replicas as R
from zsbench.testing import replicas_multilingual as M


def _no_results(tmp_path) -> None:
    assert not list(tmp_path.glob("out/*.json"))
    assert not leftovers(tmp_path)


def test_retrieval_names_run_with_task_auto(tmp_path, fake_eval):
    """Before these names existed: "unknown dataset 'xtd200'"."""
    M.write_annotation_json(tmp_path / "xtd200", "xtd200", "deu_Latn", 3)
    M.write_xm3600_jsonl(tmp_path / "crossmodal3600", 3, codes=("en", "ja"))
    res = fake_eval(
        "--dataset", "xtd200", "crossmodal3600", "--dataset_root", tmp_path / "{dataset}", "--language", "deu_Latn",
        "ja", "--allow_incomplete", "--recall_k", "1", "--task", "auto",
    )  # fmt: skip
    assert "Traceback" not in res.err
    # xtd200 has no 'ja' and crossmodal3600 no 'deu_Latn': refused before anything runs, naming the pair
    res.assert_one_line_error("no captions in language")
    ok = fake_eval(
        "--dataset", "xtd200", "--dataset_root", tmp_path / "{dataset}", "--language", "deu_Latn",
        "--allow_incomplete", "--recall_k", "1",
    )  # fmt: skip
    ok.assert_ok()
    (rec,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert rec["task"] == "zeroshot_retrieval" and rec["language"] == "deu_Latn"


def test_crossmodal3600_without_its_annotation_file_is_one_line(tmp_path, fake_eval):
    M.write_images(tmp_path / "xm", "crossmodal3600", 2)  # images, but neither the JSON nor captions.jsonl
    res = fake_eval("--dataset", "crossmodal3600", "--dataset_root", tmp_path / "xm", "--language", "de")
    res.assert_one_line_error("crossmodal3600", "crossmodal3600_captions-de.json", "captions.zip")
    _no_results(tmp_path)


def test_language_the_dataset_lacks_is_one_line(tmp_path, fake_eval):
    M.write_annotation_json(tmp_path / "x", "xtd10", "en", 2)
    res = fake_eval("--dataset", "xtd10", "--dataset_root", tmp_path / "x", "--language", "sw", "--allow_incomplete")
    res.assert_one_line_error("xtd10", "no captions in language 'sw'", "available: de, en")
    _no_results(tmp_path)


def test_unknown_flores_code_is_one_line(tmp_path, fake_eval):
    res = fake_eval("--dataset", "flickr30k-200", "--dataset_root", tmp_path, "--language", "deu_Latx")
    res.assert_one_line_error("unknown language 'deu_Latx'", "FLORES-200")
    _no_results(tmp_path)


def test_babel_language_without_prompts_is_one_line(tmp_path, fake_eval):
    R.write_imagenet_val_folders(tmp_path / "in", [wnid_lists()["imagenet1k"][1]], per_class=1)
    res = fake_eval("--dataset", "babel_imagenet", "--dataset_root", tmp_path / "in", "--language", "fy")
    res.assert_one_line_error("babel_imagenet", "language 'fy'")
    _no_results(tmp_path)


def test_partial_annotation_file_is_one_line(tmp_path, fake_eval):
    """CLIP_benchmark writes a JSON without the images it could not find and evaluates the rest silently."""
    M.write_annotation_json(tmp_path / "f", "flickr30k-200", "fra_Latn", 4, skip=(1,))
    res = fake_eval("--dataset", "flickr30k-200", "--dataset_root", tmp_path / "f", "--language", "fra_Latn")
    res.assert_one_line_error("flickr30k-200", "found 3 images, expected 1000", "--allow_incomplete")
    _no_results(tmp_path)


def test_annotation_file_listing_missing_images_is_one_line(tmp_path, fake_eval):
    exp = M.write_annotation_json(tmp_path / "x", "xtd10", "fr", 3)
    (tmp_path / "x" / exp["images"][2]).unlink()
    res = fake_eval(
        "--dataset", "xtd10", "--dataset_root", tmp_path / "x", "--language", "fr", "--allow_incomplete", "--recall_k", "1"
    )  # fmt: skip
    assert res.rc == 0, res.err  # --allow_incomplete evaluates the two images present
    res = fake_eval("--dataset", "xtd10", "--dataset_root", tmp_path / "x", "--language", "fr")
    res.assert_one_line_error("xtd10", "1 of the 3 images that xtd10-fr.json lists are missing", exp["images"][2])


def test_annotation_file_with_more_paths_than_captions_is_one_line(tmp_path, fake_eval):
    exp = M.write_annotation_json(tmp_path / "x", "xtd10", "it", 3)
    data = json.loads(exp["file"].read_text(encoding="utf-8"))
    data["annotations"].pop()  # upstream would zip the lists and silently drop an image
    exp["file"].write_text(json.dumps(data), encoding="utf-8")
    res = fake_eval("--dataset", "xtd10", "--dataset_root", tmp_path / "x", "--language", "it", "--allow_incomplete")
    res.assert_one_line_error("xtd10-it.json", "3 image paths but 2 captions")
    _no_results(tmp_path)


def test_truncated_annotation_file_is_one_line(tmp_path, fake_eval):
    exp = M.write_annotation_json(tmp_path / "x", "xtd200", "ita_Latn", 2)
    exp["file"].write_bytes(exp["file"].read_bytes()[:40])
    res = fake_eval("--dataset", "xtd200", "--dataset_root", tmp_path / "x", "--language", "ita_Latn")
    res.assert_one_line_error("cannot read annotation file", "xtd200-ita_Latn.json")
    _no_results(tmp_path)


def test_partial_babel_copy_is_one_line(tmp_path, fake_eval):
    R.write_imagenet_val_folders(tmp_path / "in", [wnid_lists()["imagenet1k"][1]], per_class=2)  # 1 in NE's subset
    res = fake_eval("--dataset", "babel_imagenet", "--dataset_root", tmp_path / "in", "--language", "ne")
    res.assert_one_line_error("babel_imagenet", "found 2 images, expected 6700")
    _no_results(tmp_path)


def test_pcam_without_h5py_is_one_line(tmp_path, fake_eval, monkeypatch):
    (tmp_path / "p" / "pcam").mkdir(parents=True)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py -> ImportError
    res = fake_eval("--dataset", "pcam", "--dataset_root", tmp_path / "p")
    assert res.assert_one_line_error() == "zsbench: error: pcam needs h5py: pip install h5py"
    _no_results(tmp_path)


def test_pcam_with_mismatched_label_file_is_one_line(tmp_path, fake_eval):
    import h5py
    import numpy as np

    M.write_pcam(tmp_path / "p", 4)
    with h5py.File(tmp_path / "p/pcam/camelyonpatch_level_2_split_test_y.h5", "w") as f:
        f.create_dataset("y", data=np.zeros((3, 1, 1, 1), dtype=np.uint8))
    res = fake_eval("--dataset", "pcam", "--dataset_root", tmp_path / "p", "--allow_incomplete")
    res.assert_one_line_error("pcam", "camelyonpatch_level_2_split_test_y.h5", "(3, 1, 1, 1)")
    _no_results(tmp_path)


def test_imagenet_w_without_its_package_is_one_line(tmp_path, fake_eval, monkeypatch):
    R.write_imagenet_val_folders(tmp_path / "in", [wnid_lists()["imagenet1k"][1]], per_class=1)
    monkeypatch.setitem(sys.modules, "imagenet_w", None)
    res = fake_eval("--dataset", "imagenet-w", "--dataset_root", tmp_path / "in", "--allow_incomplete")
    res.assert_one_line_error("imagenet-w", "pip install imagenet-w")
    _no_results(tmp_path)


def test_imagenet_w_with_a_transform_without_center_crop_is_one_line(tmp_path, fake_eval):
    """CLIP_benchmark asserts "CenterCrop not found in transform" with a traceback."""
    R.write_imagenet_val_folders(tmp_path / "in", [wnid_lists()["imagenet1k"][1]], per_class=1)
    res = fake_eval("--dataset", "imagenet-w", "--dataset_root", tmp_path / "in", "--allow_incomplete")
    res.assert_one_line_error("imagenet-w", "CenterCrop", "Normalize")
    _no_results(tmp_path)
