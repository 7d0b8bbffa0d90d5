"""``--caption_preprocess none`` gives upstream CLIP_benchmark's retrieval numbers; ``fork`` gives the fork's.

Upstream CLIP_benchmark keeps COCO and Flickr30k captions as written and reads Flickr30k images from the root; the
InternVL fork lower-cases and strips punctuation (``pre_caption``) and moved the images to ``root/Images``. The
replicas here are in the real formats (COCO captions JSON over ``val2014/``; Flickr's ``image,caption`` txt) with
punctuated, mixed-case captions of the procedural shapes, so the caption text changes the embeddings. Upstream's
own ``build_dataset`` and ``zeroshot_retrieval.evaluate`` run on one side, ``zsbench.evaluate`` on the other, with
the noisy tiny CLIP (recall well between 0 and 1, so captions in the wrong order or preprocessed the wrong way show).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

cb_builder = pytest.importorskip(
    "clip_benchmark.datasets.builder", reason="needs clip-benchmark (pip install -e '.[test]')"
)
cb_ret = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")

import zsbench  # noqa: E402
from zsbench.datasets.loaders.captions import pre_caption  # noqa: E402
from zsbench.models.tiny import TINY_MODEL_NAME, register_open_clip_configs  # noqa: E402
from zsbench.testing.noisy_tiny import write_noisy_tiny  # noqa: E402

TOL = 1e-6
METRICS = ("image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_recall@5")


def _punctuate(caption: str, j: int) -> str:
    """'a small blue cross in the center' -> 'A small BLUE cross, in the center!' (pre_caption undoes most of it)."""
    words = caption.split(" ")
    words[0] = words[0].capitalize()
    words[-1] = words[-1] + (".", "!", "...", ";", ".")[j % 5]
    if len(words) > 3:
        words[2] = words[2].upper() + ","
    return " ".join(words)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    data = zsbench.load_dataset("shapes_captions", root)
    captions = [[_punctuate(t, j) for j, t in enumerate(caps)] for caps in data.captions]
    return data, captions


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory, shapes) -> Path:
    """``val2014/*.jpg`` + ``coco_test_karpathy.json``; image ids descending so the id sort matters."""
    data, captions = shapes
    root = tmp_path_factory.mktemp("coco")
    (root / "val2014").mkdir()
    images, anns = [], []
    for k in range(len(data.images)):
        img_id = 900000 - 37 * k
        name = f"COCO_val2014_{img_id:012d}.jpg"
        shutil.copyfile(data.images.path(k), root / "val2014" / name)
        images.append({"id": img_id, "file_name": name, "height": 64, "width": 64})
        anns += [{"id": len(anns) + 1, "image_id": img_id, "caption": c} for c in captions[k]]
    (root / "coco_test_karpathy.json").write_text(json.dumps({"images": images, "annotations": anns}))
    return root


def _flickr(root: Path, shapes, images_dir: str) -> Path:
    data, captions = shapes
    (root / images_dir).mkdir(parents=True, exist_ok=True)
    lines = ["image,caption"]
    for k in range(len(data.images)):
        name = f"{1000092795 + 7 * k}.jpg"
        shutil.copyfile(data.images.path(k), root / images_dir / name)
        lines += [f"{name},{c}" for c in captions[k]]
    (root / "flickr30k_test_karpathy.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def flickr_upstream_root(tmp_path_factory, shapes) -> Path:
    return _flickr(tmp_path_factory.mktemp("flickr_up"), shapes, "")  # upstream: images in the root


@pytest.fixture(scope="module")
def flickr_fork_root(tmp_path_factory, shapes) -> Path:
    return _flickr(tmp_path_factory.mktemp("flickr_fork"), shapes, "Images")  # the fork's layout


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")  # the runs on one root share their image embeddings


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return write_noisy_tiny(tmp_path_factory.mktemp("weights") / "noisy_tiny.pt")


@pytest.fixture(scope="module")
def upstream(model_file):
    """clip-benchmark's build_dataset + zeroshot_retrieval.evaluate on a root, as its CLI runs them."""
    import open_clip

    register_open_clip_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL_NAME, pretrained=str(model_file))
    model.eval()
    tokenizer = open_clip.get_tokenizer(TINY_MODEL_NAME)

    def run(name: str, root: Path) -> dict:
        ann = root / ("coco_test_karpathy.json" if name == "mscoco_captions" else "flickr30k_test_karpathy.txt")
        ds = cb_builder.build_dataset(name, root=str(root), transform=preprocess, split="test", download=False,
                                      annotation_file=str(ann), task="zeroshot_retrieval")  # fmt: skip
        loader = torch.utils.data.DataLoader(ds, batch_size=64, collate_fn=cb_builder.image_captions_collate_fn)
        return cb_ret.evaluate(model, loader, tokenizer, recall_k_list=[1, 5, 10], device="cpu", amp=False)

    return run


def _zsbench(name: str, root: Path, model_file: Path, cache: Path, mode: str | None) -> dict:
    options = {"allow_incomplete": True}  # 100 images, not the 5000 / 1000 of the real test splits
    if mode is not None:
        options["caption_preprocess"] = mode
    (record,) = zsbench.evaluate(model_type="open_clip", model=TINY_MODEL_NAME, pretrained=str(model_file),
                                 datasets=[name], dataset_root=str(root), precision="fp32", batch_size=64,
                                 num_workers=0, cache_dir=str(cache), write_results=False, progress=False,
                                 verbose=False, device="cpu", dataset_options=options)  # fmt: skip
    return record


def _differences(ours: dict, theirs: dict) -> list[str]:
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    return [f"{k}: {ours[k]} vs {float(v)}" for k, v in theirs.items() if abs(ours[k] - float(v)) > TOL]


@pytest.mark.parametrize("name", ["mscoco_captions", "flickr30k"])
def test_none_reproduces_upstream_and_fork_differs(name, coco_root, flickr_upstream_root, model_file, upstream,
                                                   cache):  # fmt: skip
    root = coco_root if name == "mscoco_captions" else flickr_upstream_root
    theirs = upstream(name, root)
    for key in METRICS[:2]:  # a model that gets every caption right or wrong would hide a shifted caption
        assert 0.05 <= theirs[key] <= 0.9, (key, theirs)

    none = _zsbench(name, root, model_file, cache, "none")
    assert _differences(none["metrics"], theirs) == []
    assert none["zsbench"]["caption_preprocess"] == "none"
    assert none["zsbench"]["dataset_info"]["pre_caption"] is False

    # The default is the fork's pre_caption: other captions, other numbers, and the result says so.
    fork = _zsbench(name, root, model_file, cache, None)
    assert fork["zsbench"]["caption_preprocess"] == "fork"
    assert fork["zsbench"]["captions_sha256"] != none["zsbench"]["captions_sha256"]
    assert _differences(fork["metrics"], theirs), "pre_caption changed no metric: the replica does not test it"


def test_flickr30k_both_layouts_same_numbers(flickr_upstream_root, flickr_fork_root, model_file, cache):
    up = _zsbench("flickr30k", flickr_upstream_root, model_file, cache, None)
    fork = _zsbench("flickr30k", flickr_fork_root, model_file, cache, None)
    assert up["metrics"] == fork["metrics"]
    assert up["zsbench"]["dataset_info"]["layout"] == "upstream: images in the root"
    assert fork["zsbench"]["dataset_info"]["layout"] == "fork: root/Images"


def test_fork_mode_applies_pre_caption(flickr_fork_root):
    fork = zsbench.load_dataset("flickr30k", flickr_fork_root, allow_incomplete=True)
    raw = zsbench.load_dataset("flickr30k", flickr_fork_root, allow_incomplete=True, caption_preprocess="none")
    assert raw.captions[0][0] == "A small BLUE, cross in the center."
    assert fork.captions[0][0] == "a small blue, cross in the center"
    assert fork.captions == [[pre_caption(t) for t in caps] for caps in raw.captions]


def test_mutation_caption_order_is_caught(coco_root, model_file, upstream, cache, monkeypatch):
    """Captions of one image given to the next: --caption_preprocess none no longer matches upstream."""
    from dataclasses import replace

    import zsbench.engine.runner as zs_runner

    real = zs_runner.load_dataset
    monkeypatch.setattr(
        zs_runner,
        "load_dataset",
        lambda *a, **k: (d := real(*a, **k)) and replace(d, captions=d.captions[1:] + d.captions[:1]),
    )
    mutated = _zsbench("mscoco_captions", coco_root, model_file, cache, "none")
    assert _differences(mutated["metrics"], upstream("mscoco_captions", coco_root))


def test_unknown_mode_is_one_line(coco_root):
    from zsbench.errors import ZsbenchError

    with pytest.raises(ZsbenchError, match="--caption_preprocess 'lower' is not one of fork, none"):
        zsbench.load_dataset("mscoco_captions", coco_root, allow_incomplete=True, caption_preprocess="lower")
