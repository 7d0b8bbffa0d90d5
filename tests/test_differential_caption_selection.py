"""Differential test: zsbench's image_caption_selection equals CLIP_benchmark 1.6.2's on the same model and data.

Small SugarCrepe and Winoground copies in their real on-disk formats (``zsbench.testing.caption_selection``: COCO
style ``val2017/*.jpg`` + ``<task>.json``; ``data/examples.jsonl`` + ``images/`` or ``images.zip``). CLIP_benchmark's
side is its own code end to end: its ``SugarCrepe`` dataset class reads the JSON and the images, its collate
function batches them, and its ``metrics.image_caption_selection.evaluate`` encodes and scores them (on CPU,
``amp=False``). Its ``WinoGround`` class reads from the Hugging Face hub, so here its ``ds`` is the same examples
with the images opened by PIL, which is what the hub's Image feature gives; its ``__getitem__`` is upstream's.
zsbench's side is ``zsbench.evaluate`` (loader, engine, embedding cache, task). Every metric must agree within 1e-6.

The model is the embedded tiny CLIP with seeded noise on its image tower, so that it picks the right caption for
some instances and the wrong one for others; each headline metric is asserted to lie strictly between its trivial
values. ``test_mutation_is_caught`` then breaks zsbench on purpose (positive and negative caption swapped, images
shifted by one instance, Winoground's captions swapped, the two accuracies exchanged) and asserts the comparison
fails.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

cb_ics = pytest.importorskip(
    "clip_benchmark.metrics.image_caption_selection", reason="needs clip-benchmark (pip install -e '.[test]')"
)

import zsbench  # noqa: E402
import zsbench.engine.runner as zs_runner  # noqa: E402  (the engine's one dataset-loading place)
import zsbench.tasks.image_caption_selection as zs_ics  # noqa: E402
from zsbench.models.tiny import TINY_MODEL_NAME, WEIGHTS_FILE, register_open_clip_configs  # noqa: E402
from zsbench.testing.caption_selection import write_sugar_crepe, write_winoground  # noqa: E402

NOISE = 0.35  # relative to each image-tower tensor's spread: text_acc about 0.6 on the SugarCrepe copy
NOISE_SEED = 0
N_SUGAR_CREPE = 60  # images; 62 instances (two images are used twice)
N_WINOGROUND = 40  # examples, 80 images
TOL = 1e-6
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None  # Parquet is optional


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """The embedded tiny CLIP, fp32, with deterministic Gaussian noise on the image tower's weight matrices."""
    from safetensors.torch import load_file

    generator = torch.Generator().manual_seed(NOISE_SEED)
    state = {}
    for key, value in load_file(str(WEIGHTS_FILE)).items():
        if value.is_floating_point():
            value = value.float()
            if key.startswith("visual.") and value.ndim >= 2:
                value = value + NOISE * value.std() * torch.randn(value.shape, generator=generator)
        state[key] = value
    path = tmp_path_factory.mktemp("weights") / "noisy_tiny.pt"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def reference(model_file):
    import open_clip

    register_open_clip_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL_NAME, pretrained=str(model_file))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(TINY_MODEL_NAME)


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("data")
    write_sugar_crepe(base / "sugar_crepe", N_SUGAR_CREPE, tasks=("swap_att",))
    write_winoground(base / "winoground", N_WINOGROUND, "folder")
    write_winoground(base / "winoground_zip", N_WINOGROUND, "zip")
    if HAS_PYARROW:
        write_winoground(base / "winoground_parquet", N_WINOGROUND, "parquet")
    return {root: base / root for _, root in KINDS.values()}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    # One embedding cache for the module: mutated runs reuse the honest run's embeddings (every mutation acts after
    # loading), which keeps the file fast.
    return tmp_path_factory.mktemp("cache")


KINDS = {
    "sugar_crepe": ("sugar_crepe/swap_att", "sugar_crepe"),
    "winoground": ("winoground", "winoground"),
    "winoground_zip": ("winoground", "winoground_zip"),
    "winoground_parquet": ("winoground", "winoground_parquet"),
}


def _winoground_upstream(root: Path, preprocess):
    """CLIP_benchmark's ``WinoGround`` with its hub dataset replaced by the same examples, images opened by PIL."""
    from clip_benchmark.datasets.winoground import WinoGround
    from PIL import Image

    rows = []
    for line in (root / "data" / "examples.jsonl").read_text().splitlines():
        example = json.loads(line)
        for key in ("image_0", "image_1"):
            with Image.open(root / "data" / "images" / f"{example[key]}.png") as im:
                example[key] = im.copy()
        rows.append(example)
    ds = WinoGround.__new__(WinoGround)
    ds.ds, ds.transform = rows, preprocess
    return ds


def _clip_benchmark(kind: str, reference, roots: dict[str, Path]) -> dict:
    from clip_benchmark.datasets.builder import image_captions_collate_fn
    from clip_benchmark.datasets.sugar_crepe import SugarCrepe

    model, preprocess, tokenizer = reference
    name, root_key = KINDS[kind]
    root = roots[root_key]
    if kind == "sugar_crepe":
        task = name.split("/")[1]
        ds = SugarCrepe(root=str(root / "val2017"), ann_file=str(root / f"{task}.json"), transform=preprocess)
    else:  # the zip and Parquet copies hold the same examples and images: upstream reads the folder copy
        ds = _winoground_upstream(roots["winoground"], preprocess)
    loader = torch.utils.data.DataLoader(ds, batch_size=16, collate_fn=image_captions_collate_fn)
    return cb_ics.evaluate(model, loader, tokenizer, device="cpu", amp=False)


@pytest.fixture(scope="module")
def theirs(reference, roots) -> Callable[[str], dict]:
    done: dict[str, dict] = {}

    def get(kind: str) -> dict:
        key = "winoground" if kind.startswith("winoground") else kind
        if key not in done:
            done[key] = _clip_benchmark(key, reference, roots)
        return done[key]

    return get


def _zsbench(kind: str, model_file: Path, roots: dict[str, Path], cache_dir: Path, task: str = "auto") -> dict:
    name, root_key = KINDS[kind]
    records = zsbench.evaluate(model_type="open_clip", model=TINY_MODEL_NAME, pretrained=str(model_file),
                               datasets=[name], dataset_root=str(roots[root_key]), task=task, precision="fp32",
                               batch_size=64, num_workers=0, cache_dir=str(cache_dir), write_results=False,
                               progress=False, verbose=False, device="cpu",
                               dataset_options={"allow_incomplete": True})  # fmt: skip
    assert records[0]["task"] == "image_caption_selection"
    return records[0]["metrics"]


def _differences(ours: dict, theirs: dict) -> list[str]:
    if list(ours) != list(theirs):
        return [f"metric keys differ: {list(ours)} vs {list(theirs)}"]
    return [f"{k}: zsbench {ours[k]} vs CLIP_benchmark {v}" for k, v in theirs.items() if abs(ours[k] - v) > TOL]


def test_sugar_crepe_matches(model_file, roots, cache_dir, theirs):
    reference = theirs("sugar_crepe")
    # Neither "always right" nor "always wrong": a swapped positive/negative must change the number.
    assert 0.2 < reference["text_acc"] < 0.9, reference
    assert reference["image_acc"] == 1.0 and reference["acc"] == reference["text_acc"], reference  # one image
    assert _differences(_zsbench("sugar_crepe", model_file, roots, cache_dir), reference) == []


@pytest.mark.parametrize(
    "kind",
    [
        "winoground",
        "winoground_zip",
        pytest.param("winoground_parquet", marks=pytest.mark.skipif(not HAS_PYARROW, reason="Parquet needs pyarrow")),
    ],
)
def test_winoground_matches(kind, model_file, roots, cache_dir, theirs):
    reference = theirs(kind)
    for key in ("text_acc", "image_acc", "acc"):
        assert 0.05 < reference[key] < 0.95, (key, reference)
    assert reference["text_acc"] != reference["image_acc"], reference  # so exchanging them is visible
    ours = _zsbench(kind, model_file, roots, cache_dir, task="image_caption_selection")
    assert _differences(ours, reference) == []


# --- mutations: each breaks zsbench's side in one way a real bug could, and the comparison must notice -----------
def _wrap_load_dataset(monkeypatch, change: Callable) -> None:
    real = zs_runner.load_dataset
    monkeypatch.setattr(zs_runner, "load_dataset", lambda *a, **k: change(real(*a, **k)))


def _swap_captions(monkeypatch) -> None:
    _wrap_load_dataset(monkeypatch, lambda d: replace(d, captions=[caps[::-1] for caps in d.captions]))


def _shift_images(monkeypatch) -> None:
    _wrap_load_dataset(monkeypatch, lambda d: replace(d, image_ids=d.image_ids[1:] + d.image_ids[:1]))


def _exchange_accuracies(monkeypatch) -> None:
    real = zs_ics.instance_correct
    monkeypatch.setattr(zs_ics, "instance_correct", lambda scores: real(scores)[::-1])


MUTATIONS = {
    "positive_and_negative_swapped": ("sugar_crepe", _swap_captions, "text_acc"),
    "images_shifted_by_one_instance": ("sugar_crepe", _shift_images, "text_acc"),
    "winoground_captions_swapped": ("winoground", _swap_captions, "text_acc"),
    "winoground_images_shifted": ("winoground_zip", _shift_images, "text_acc"),
    "text_and_image_acc_exchanged": ("winoground", _exchange_accuracies, "text_acc"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutation_is_caught(monkeypatch, mutation, model_file, roots, cache_dir, theirs):
    kind, mutate, headline = MUTATIONS[mutation]
    reference = theirs(kind)
    mutate(monkeypatch)
    ours = _zsbench(kind, model_file, roots, cache_dir)
    differences = _differences(ours, reference)
    assert differences, f"{mutation}: zsbench still agrees with CLIP_benchmark ({ours})"
    assert any(d.startswith(headline) for d in differences), differences
