"""Differential test: zsbench's metrics equal CLIP_benchmark's on the same model and the same data.

Same open_clip model, same images in the same order, same prompts; CLIP_benchmark's own evaluate functions on one
side, ``zsbench.evaluate`` (planner, cache, batched prompts, pure metrics) on the other. Every metric must agree
within 1e-6.

The comparison is only worth something if a wrong zsbench would fail it. A random-weight model predicts one class
for every image, so acc1 is the share of that class whether or not the classifier columns or the labels are in the
right order. So the model here is the embedded tiny CLIP with seeded noise on its image tower: it classifies the
shapes about half right (well above chance, well below 1), and every metric is asserted to be strictly between
its trivial values. ``test_mutation_is_caught`` then breaks zsbench on purpose (classifier columns flipped, labels
or captions shifted by one, ...) and asserts that the comparison now fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

cb_cls = pytest.importorskip(
    "clip_benchmark.metrics.zeroshot_classification", reason="needs clip-benchmark (pip install -e '.[test]')"
)
cb_ret = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")

import zsbench  # noqa: E402
import zsbench.engine.runner as zs_runner  # noqa: E402  (the engine's one dataset-loading place)
import zsbench.tasks.classification as zs_classification  # noqa: E402
from zsbench.models.tiny import TINY_MODEL_NAME, register_open_clip_configs  # noqa: E402
from zsbench.tasks.classification import clip_benchmark_accuracy  # noqa: E402
from zsbench.testing.noisy_tiny import write_noisy_tiny  # noqa: E402

N_VOC = 12
TOL = 1e-6


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """The embedded tiny CLIP, fp32, with deterministic Gaussian noise on the image tower's weight matrices."""
    return write_noisy_tiny(tmp_path_factory.mktemp("weights") / "noisy_tiny.pt")


@pytest.fixture(scope="module")
def reference(model_file):
    import open_clip

    register_open_clip_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL_NAME, pretrained=str(model_file))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(TINY_MODEL_NAME)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from zsbench.testing.replicas import write_voc2007

    root = tmp_path_factory.mktemp("data")
    write_voc2007(root, N_VOC)
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    # One embedding cache for the module: the mutated runs reuse the image embeddings of the honest run (every
    # mutation acts after encoding), which keeps the whole file well under 30 s on 2 cores.
    return tmp_path_factory.mktemp("cache")


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, images, targets, transform, classes=()):
        self.images, self.targets, self.transform = images, targets, transform
        self.classes = list(classes)  # CLIP_benchmark reads dataset.classes to decide whether acc5 exists

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images.load_image(i)), self.targets[i]


DATASETS = {
    "classification": ("shapes", {}),
    "multilabel": ("voc2007_multilabel", {"allow_incomplete": True}),
    "retrieval": ("shapes_captions", {}),
}


def _clip_benchmark(kind: str, reference, root: Path) -> dict:
    model, preprocess, tokenizer = reference
    name, options = DATASETS[kind]
    data = zsbench.load_dataset(name, root, **options)
    if kind == "retrieval":
        from clip_benchmark.datasets.builder import image_captions_collate_fn

        loader = torch.utils.data.DataLoader(_Pairs(data.images, data.captions, preprocess), batch_size=64,
                                             collate_fn=image_captions_collate_fn)  # fmt: skip
        return cb_ret.evaluate(model, loader, tokenizer, recall_k_list=[1, 5, 10], device="cpu", amp=False)
    targets = data.targets
    if kind == "multilabel":
        targets = [torch.as_tensor(np.asarray(t), dtype=torch.float32) for t in data.targets]
    loader = torch.utils.data.DataLoader(_Pairs(data.images, targets, preprocess, data.classnames), batch_size=64)
    with pytest.MonkeyPatch.context() as mp:
        # clip-benchmark 1.6.2's accuracy() calls float() on a shape-(1,) array, which NumPy >= 2.4 rejects; the
        # drop-in is its arithmetic ending in .item() (checked against upstream's own in tests/tasks).
        mp.setattr(cb_cls, "accuracy", clip_benchmark_accuracy)
        return cb_cls.evaluate(model, loader, tokenizer, data.classnames, data.templates, device="cpu", amp=False,
                               verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def theirs(reference, root) -> Callable[[str], dict]:
    """CLIP_benchmark's metrics per kind, computed once per module."""
    done: dict[str, dict] = {}

    def get(kind: str) -> dict:
        if kind not in done:
            done[kind] = _clip_benchmark(kind, reference, root)
        return done[kind]

    return get


def _zsbench(kind: str, model_file: Path, root: Path, cache_dir: Path) -> dict:
    name, options = DATASETS[kind]
    records = zsbench.evaluate(model_type="open_clip", model=TINY_MODEL_NAME, pretrained=str(model_file),
                               datasets=[name], dataset_root=str(root), precision="fp32", batch_size=64,
                               num_workers=0, cache_dir=str(cache_dir), write_results=False, progress=False,
                               verbose=False, device="cpu", dataset_options=options)  # fmt: skip
    return records[0]["metrics"]


def _differences(ours: dict, theirs: dict) -> list[str]:
    """Every metric where zsbench and CLIP_benchmark disagree by more than TOL (NaN upstream = null here)."""
    if set(ours) != set(theirs):
        return [f"metric names differ: {sorted(ours)} vs {sorted(theirs)}"]
    out = []
    for key, value in theirs.items():
        if isinstance(value, float) and np.isnan(value):
            if ours[key] is not None:
                out.append(f"{key}: {ours[key]} (want null)")
        elif ours[key] is None or abs(ours[key] - float(value)) > TOL:
            out.append(f"{key}: zsbench {ours[key]} vs CLIP_benchmark {float(value)}")
    return out


def test_classification_matches(model_file, root, cache_dir, theirs):
    reference = theirs("classification")
    # A model that predicts one class for everything would hide a wrong classifier or label order.
    assert 0.3 <= reference["acc1"] <= 0.8, reference
    assert 0.3 <= reference["mean_per_class_recall"] <= 0.8, reference
    assert reference["acc1"] < reference["acc5"] < 1.0, reference
    assert _differences(_zsbench("classification", model_file, root, cache_dir), reference) == []


def test_multilabel_matches(model_file, root, cache_dir, theirs):
    reference = theirs("multilabel")
    assert 0.0 < reference["mean_average_precision"] < 1.0, reference
    assert _differences(_zsbench("multilabel", model_file, root, cache_dir), reference) == []


def test_retrieval_matches(model_file, root, cache_dir, theirs):
    reference = theirs("retrieval")
    for key in ("image_retrieval_recall@1", "text_retrieval_recall@1"):
        assert 0.05 <= reference[key] <= 0.9, (key, reference)
    assert reference["image_retrieval_recall@1"] < reference["image_retrieval_recall@5"] < 1.0, reference
    assert _differences(_zsbench("retrieval", model_file, root, cache_dir), reference) == []


# --- mutations: each breaks zsbench's side in one way a real bug could, and the comparison must notice -----------
def _wrap_load_dataset(monkeypatch, change: Callable) -> None:
    real = zs_runner.load_dataset

    def load(*args, **kwargs):
        return change(real(*args, **kwargs))

    monkeypatch.setattr(zs_runner, "load_dataset", load)


def _flip_classifier_columns(monkeypatch) -> None:
    real = zs_classification.class_weights
    monkeypatch.setattr(zs_classification, "class_weights", lambda *a, **k: real(*a, **k).flip(1))


def _shift_labels(monkeypatch) -> None:
    from dataclasses import replace

    def shift(data):
        n = len(data.classnames)
        return replace(data, targets=[(int(t) + 1) % n for t in data.targets])

    _wrap_load_dataset(monkeypatch, shift)


def _shift_multilabel_classes(monkeypatch) -> None:
    from dataclasses import replace

    _wrap_load_dataset(monkeypatch, lambda d: replace(d, targets=np.roll(np.asarray(d.targets), 1, axis=1)))


def _shift_captions(monkeypatch) -> None:
    from dataclasses import replace

    _wrap_load_dataset(monkeypatch, lambda d: replace(d, captions=d.captions[1:] + d.captions[:1]))


MUTATIONS = {
    "classifier_columns_flipped": ("classification", _flip_classifier_columns),
    "labels_shifted_by_one": ("classification", _shift_labels),
    "multilabel_classifier_columns_flipped": ("multilabel", _flip_classifier_columns),
    "multilabel_classes_shifted_by_one": ("multilabel", _shift_multilabel_classes),
    "captions_shifted_by_one_image": ("retrieval", _shift_captions),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutation_is_caught(monkeypatch, mutation, model_file, root, cache_dir, theirs):
    kind, mutate = MUTATIONS[mutation]
    reference = theirs(kind)
    mutate(monkeypatch)
    ours = _zsbench(kind, model_file, root, cache_dir)
    differences = _differences(ours, reference)
    assert differences, f"{mutation}: zsbench still agrees with CLIP_benchmark ({ours})"
    headline = {
        "classification": "acc1",
        "multilabel": "mean_average_precision",
        "retrieval": "text_retrieval_recall@1",
    }
    assert any(d.startswith(headline[kind]) for d in differences), differences
