"""CLIP_benchmark main's remaining names: babel_imagenet, crossmodal3600, xtd10, xtd200, flickr30k-200, de for
multilingual_mscoco_captions, imagenet1k-unverified, imagenet-w and pcam.

Each is read from a replica in its real format. Where clip-benchmark 1.6.2 can build or read the same files
offline, its own code writes the annotation file (``create_annotation_file`` with the downloads replaced by the
replica's lines) and its dataset class reads it; zsbench's reading must equal it (count, order, image, caption,
label). pcam is compared with torchvision's ``PCAM`` on the same h5 files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zsbench.datasets import get_spec, list_datasets, load_dataset
from zsbench.datasets.catalog.multilingual import BABEL_CLASSES, XM3600_LANGS
from zsbench.datasets.language_codes import FLORES_200
from zsbench.datasets.languages import LanguageNotAvailableError
from zsbench.datasets.loaders.imagenet import wnid_lists
from zsbench.datasets.prompts import DATA_DIR, classnames, templates
from zsbench.engine.plan import resolve_task
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R
from zsbench.testing import replicas_multilingual as M

CB = Path(__import__("clip_benchmark").__file__).parent / "datasets"
RETRIEVAL = ("crossmodal3600", "xtd10", "xtd200", "flickr30k-200", "multilingual_mscoco_captions")
NEW = ("babel_imagenet", "imagenet1k-unverified", "imagenet-w", "pcam", *RETRIEVAL)


def _keys(data) -> list[str]:
    return [data.images.image_key(i) for i in range(len(data.images))]


def test_names_tasks_languages_and_sizes():
    assert set(NEW) <= set(list_datasets())
    for name in RETRIEVAL:  # upstream's get_dataset_default_task maps these to retrieval
        assert resolve_task(name, "auto") == "zeroshot_retrieval", name
    for name in ("babel_imagenet", "imagenet1k-unverified", "imagenet-w", "pcam"):
        assert resolve_task(name, "auto") == "zeroshot_classification", name
    from clip_benchmark.datasets import crossmodal3600, flores_langs, xtd10

    assert len(get_spec("babel_imagenet").languages) == 90
    zs = {"cn": "zh", "jp": "ja"}
    assert sorted(zs.get(x, x) for x in XM3600_LANGS) == sorted(crossmodal3600.SUPPORTED_LANGUAGES)
    assert sorted({"cn": "zh"}.get(x, x) for x in get_spec("xtd10").languages) == sorted(xtd10.SUPPORTED_LANGUAGES)
    assert get_spec("xtd200").languages == get_spec("flickr30k-200").languages == tuple(flores_langs.flores_languages)
    assert len(FLORES_200) == 201
    assert "de" in get_spec("multilingual_mscoco_captions").languages
    assert get_spec("crossmodal3600").sizes == {"test": 3600, "test/captions": 3600}
    for name in ("xtd10", "xtd200", "flickr30k-200", "multilingual_mscoco_captions"):
        assert get_spec(name).sizes == {"test": 1000, "test/captions": 1000}, name
    assert get_spec("pcam").sizes == {"test": 32768, "val": 32768, "train": 262144}
    assert get_spec("imagenet1k-unverified").sizes == {"test": 50000}
    assert get_spec("imagenet-w").sizes == {"test": 50000}
    assert get_spec("babel_imagenet").sizes["test@ne"] == 134 * 50


# --- babel_imagenet -------------------------------------------------------------------------------------------------
def test_babel_bundled_files_equal_clip_benchmarks_and_the_catalog_counts():
    for name in ("babel_imagenet.json", "nllb_dist13b_prompts.json"):
        assert (DATA_DIR / name).read_bytes() == (CB / name).read_bytes(), name
    table = json.loads((DATA_DIR / "babel_imagenet.json").read_text(encoding="utf-8"))
    prompts = json.loads((DATA_DIR / "nllb_dist13b_prompts.json").read_text(encoding="utf-8"))
    code = {"cn": "ZH", "jp": "JA"}
    assert {code.get(k, k.upper()): n for k, n in BABEL_CLASSES.items()} == {
        k: len(v[0]) for k, v in table.items() if k in prompts
    }
    assert set(table) - set(prompts) == {"BR", "LA", "FY"}


@pytest.mark.parametrize("language,key", [("ne", "NE"), ("zh", "ZH"), ("cn", "ZH"), ("ja", "JA"), ("DE", "DE")])
def test_babel_subset_labels_names_and_templates(tmp_path, language, key):
    table = json.loads((DATA_DIR / "babel_imagenet.json").read_text(encoding="utf-8"))
    prompts = json.loads((DATA_DIR / "nllb_dist13b_prompts.json").read_text(encoding="utf-8"))
    idxs, names = table[key]
    allw = wnid_lists()["imagenet1k"]
    outside = next(i for i in range(1000) if i not in idxs)
    picked = [idxs[-1], idxs[0], outside, idxs[3]]
    R.write_imagenet_val_folders(tmp_path, [allw[i] for i in picked], per_class=2)
    data = load_dataset("babel_imagenet", tmp_path, language=language, allow_incomplete=True)
    assert data.classnames == names
    assert data.templates == [t.replace("{}", "{c}") for t in prompts[key]] and "{c}" in data.templates[0]
    # subset order, 2 images each; the class outside the subset is left out
    assert data.targets == [0, 0, 3, 3, len(idxs) - 1, len(idxs) - 1]
    assert _keys(data)[0] == f"val/{allw[idxs[0]]}/img_0.JPEG"
    assert data.info["classnames_source"] == f"babel_imagenet:{key}" and data.info["template_set"].endswith("/80")


def test_babel_equals_clip_benchmarks_babel_imagenet_class(tmp_path):
    """All 1000 classes with one image each (upstream picks ``idx * (N // 1000) + i`` by position); torchvision's
    ``ImageNet`` reads the extracted ``val/`` folders given a ``meta.bin``, as after its own first extraction."""
    import torch
    from clip_benchmark.datasets.babel_imagenet import BabelImageNet

    allw = wnid_lists()["imagenet1k"]
    R.write_imagenet_val_folders(tmp_path, allw, per_class=1)
    torch.save(({w: (w,) for w in allw}, []), tmp_path / "meta.bin")
    idxs = json.loads((DATA_DIR / "babel_imagenet.json").read_text(encoding="utf-8"))["SW"][0]
    theirs = BabelImageNet(str(tmp_path), idxs, split="val")
    ours = load_dataset("babel_imagenet", tmp_path, language="sw", allow_incomplete=True)
    assert len(ours.images) == len(theirs.samples) == len(idxs) == 220
    assert [os.path.relpath(p, tmp_path) for p, _ in theirs.samples] == _keys(ours)
    assert [theirs.idxs.index(t) for _, t in theirs.samples] == ours.targets


def test_babel_language_without_templates_or_subset(tmp_path):
    R.write_imagenet_val_folders(tmp_path, [wnid_lists()["imagenet1k"][1]], per_class=1)
    with pytest.raises(LanguageNotAvailableError, match=r"'babel_imagenet' has no prompts in language 'br'"):
        load_dataset("babel_imagenet", tmp_path, language="br", allow_incomplete=True)
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"babel_imagenet": ["{c} (br)"]}))
    data = load_dataset("babel_imagenet", tmp_path, language="br", allow_incomplete=True, custom_template_file=tmpl)
    assert data.templates == ["{c} (br)"] and data.info["template_set"] == "custom:babel_imagenet/1"


# --- annotation-JSON retrieval sets ---------------------------------------------------------------------------------
def _upstream_json(monkeypatch, name: str, root: Path, code: str, n: int, missing: tuple[int, ...] = ()):
    """Run clip-benchmark's own create_annotation_file on the replica images, its downloads replaced."""
    import importlib

    module = importlib.import_module(
        {"xtd10": "clip_benchmark.datasets.xtd10", "xtd200": "clip_benchmark.datasets.xtd200",
         "flickr30k-200": "clip_benchmark.datasets.flickr30k_200",
         "multilingual_mscoco_captions": "clip_benchmark.datasets.multilingual_mscoco"}[name]
    )  # fmt: skip
    rel = M.write_images(root, name, n)
    for i in missing:
        (root / rel[i]).unlink()
    names, caps = M.image_names(name, n), M.captions(code, n)

    def lines(url: str) -> list[str]:
        return names if url.endswith(("test_image_names.txt", "filenames.txt")) else caps

    monkeypatch.setattr(module, "_get_lines", lines)
    module.create_annotation_file(str(root), code)
    cls = {"xtd10": "XTD10", "xtd200": "XTD200", "flickr30k-200": "Flickr30k_200"}.get(name, "Multilingual_MSCOCO")
    ann = root / M.ANNOTATION_LAYOUTS[name][1].format(code)
    return getattr(module, cls)(str(root), str(ann)), rel, caps


@pytest.mark.parametrize(
    "name,language,code",
    [
        ("xtd10", "zh", "zh"),
        ("xtd10", "de", "de"),
        ("xtd200", "deu_latn", "deu_Latn"),
        ("flickr30k-200", "zho_Hans", "zho_Hans"),
        ("multilingual_mscoco_captions", "de", "de"),
        ("multilingual_mscoco_captions", "jp", "jp"),
    ],
)
def test_annotation_json_equals_clip_benchmarks_reading(tmp_path, monkeypatch, name, language, code):
    theirs, rel, caps = _upstream_json(monkeypatch, name, tmp_path, code, 5, missing=(3,))
    ours = load_dataset(name, tmp_path, language=language, allow_incomplete=True)
    assert len(ours.images) == len(theirs) == 4  # upstream dropped the missing image, as its JSON says
    assert [str(tmp_path / k) for k in _keys(ours)] == [p for p, _ in theirs.data]
    assert ours.captions == [[t] for _, t in theirs.data] == [[caps[i]] for i in (0, 1, 2, 4)]
    assert ours.images.load_image(3).getpixel((0, 0))[0] in range(2, 7)  # image 4 (JPEG)
    assert ours.info["file_language"] == code and ours.info["pre_caption"] is False
    with pytest.raises(DatasetNotFoundError, match="found 4 images, expected 1000"):
        load_dataset(name, tmp_path, language=language)


def test_annotation_paths_written_with_another_root_resolve_against_dataset_root(tmp_path):
    exp = M.write_annotation_json(tmp_path, "xtd10", "en", 3, root_as_given="data/old-place")
    data = load_dataset("xtd10", tmp_path, language="en", allow_incomplete=True)
    assert _keys(data) == exp["images"] and data.captions == exp["captions"]


@pytest.mark.parametrize("language,code", [("ja", "ja"), ("jp", "ja"), ("zh", "zh"), ("de", "de")])
def test_crossmodal3600_json_and_jsonl_equal_clip_benchmark(tmp_path, language, code):
    from clip_benchmark.datasets import crossmodal3600 as cb

    exp = M.write_xm3600_jsonl(tmp_path, 4, codes=("en", "de", "zh", "ja"))
    from_jsonl = load_dataset("crossmodal3600", tmp_path, language=language, allow_incomplete=True)
    assert from_jsonl.captions == [[c] for c in exp["first_captions"][code]]  # the first caption of each image
    cb.create_annotation_file(str(tmp_path), code)  # offline: images and captions.jsonl are there
    theirs = cb.Crossmodal3600(str(tmp_path), str(tmp_path / f"crossmodal3600_captions-{code}.json"))
    ours = load_dataset("crossmodal3600", tmp_path, language=language, allow_incomplete=True)
    assert ours.info["annotation_file"].endswith(f"crossmodal3600_captions-{code}.json")
    assert (
        [str(tmp_path / k) for k in _keys(ours)]
        == [p for p, _ in theirs.data]
        == [str(tmp_path / r) for r in exp["images"]]
    )
    assert ours.captions == from_jsonl.captions == [[t] for _, t in theirs.data]
    assert ours.info["language"] == {"ja": "jp", "zh": "cn"}.get(language, language)


def test_multilingual_mscoco_de_in_the_forks_layout(tmp_path):
    exp = R.write_xtd(tmp_path, 3, languages=("de", "en"))
    data = load_dataset("multilingual_mscoco_captions", tmp_path, language="de", allow_incomplete=True)
    assert _keys(data) == exp["images"] and data.captions == [[c] for c in exp["captions"]["de"]]
    # the fork's files win over an upstream JSON in the same root
    M.write_annotation_json(tmp_path, "multilingual_mscoco_captions", "de", 2)
    again = load_dataset("multilingual_mscoco_captions", tmp_path, language="de", allow_incomplete=True)
    assert _keys(again) == exp["images"]


# --- imagenet1k-unverified, imagenet-w, pcam -----------------------------------------------------------------------
def test_imagenet1k_unverified_val_and_train_by_wnid(tmp_path):
    allw = wnid_lists()["imagenet1k"]
    R.write_imagenet_val_folders(tmp_path, [allw[999], allw[2]], per_class=2)
    R.write_imagenet_val_folders(tmp_path, [allw[7]], per_class=1, folder="train")
    test = load_dataset("imagenet1k-unverified", tmp_path, allow_incomplete=True)
    assert test.targets == [2, 2, 999, 999] and _keys(test)[0] == f"val/{allw[2]}/img_0.JPEG"
    assert test.classnames == classnames("imagenet1k") and test.templates == templates("imagenet1k")
    train = load_dataset("imagenet1k-unverified", tmp_path, split="train", allow_incomplete=True)
    assert train.targets == [7] and _keys(train) == [f"train/{allw[7]}/img_0.JPEG"]
    it = load_dataset("imagenet1k-unverified", tmp_path, language="it", allow_incomplete=True)
    assert it.classnames == classnames("imagenet1k", "it")


def test_imagenet_w_watermarks_inside_a_copy_of_the_transform(tmp_path):
    import torch
    from imagenet_w import AddWatermark
    from torchvision import transforms as T

    allw = wnid_lists()["imagenet1k"]
    R.write_imagenet_val_folders(tmp_path, [allw[5]], per_class=1)
    data = load_dataset("imagenet-w", tmp_path, allow_incomplete=True)
    plain = load_dataset("imagenet1k", tmp_path, allow_incomplete=True)
    assert data.targets == [5] and data.classnames == classnames("imagenet1k")
    assert data.images.fingerprint() != plain.images.fingerprint()  # never shares cached embeddings
    model_tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])
    wrapped = data.images.wrap_transform(model_tf)
    assert len(model_tf.transforms) == 4  # the model's own transform is untouched
    assert isinstance(wrapped.transforms[3], AddWatermark)
    # CLIP_benchmark's builder: AddWatermark(crop size) inserted before Normalize
    upstream = T.Compose([*model_tf.transforms[:3], AddWatermark(224), model_tf.transforms[3]])
    img = data.images.load_image(0)
    assert torch.equal(wrapped(img), upstream(img)) and not torch.equal(wrapped(img), model_tf(img))


def test_pcam_equals_torchvision_pcam(tmp_path):
    pytest.importorskip("h5py")
    import numpy as np
    from torchvision.datasets import PCAM

    exp = M.write_pcam(tmp_path, 6, split="val")
    ours = load_dataset("pcam", tmp_path, split="val", allow_incomplete=True)
    theirs = PCAM(str(tmp_path), split="val")
    assert len(ours.images) == len(theirs) == 6
    assert ours.targets == [theirs[i][1] for i in range(6)] == exp["labels"]
    for i in (0, 5):
        assert np.array_equal(np.asarray(ours.images.load_image(i)), np.asarray(theirs[i][0]))
    assert ours.classnames == ["lymph node", "lymph node containing metastatic tumor tissue"]
    assert ours.templates == templates("pcam") and len(ours.templates) == 2
    assert os.path.basename(ours.images.image_key(0)).startswith("camelyonpatch_level_2_split_valid_x.h5")
