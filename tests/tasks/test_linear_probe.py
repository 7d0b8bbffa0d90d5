"""The linear probe task: CLIP_benchmark's steps, zsbench's deliberate differences, the engine's cache and the CLI.

Engine tests use the fake model (an image's embedding is its mean colour, projected) on a small in-memory dataset
whose classes are colour clusters, so a probe has something to learn; ``fake.CALLS`` counts every encoded image.
The comparison with clip-benchmark itself is ``tests/test_differential_linear_probe.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import zsbench.tasks.linear_probe as lp
from zsbench.datasets import DATASETS, ClassificationData, DatasetSpec, register_dataset
from zsbench.datasets.base import ArrayImageSet
from zsbench.engine import Engine
from zsbench.engine.config import EvalConfig
from zsbench.errors import ZsbenchError
from zsbench.tasks import TASKS
from zsbench.testing import fake

# --- a fake dataset with train / val / test splits: class c is a colour cluster ------------------------------------
SPLIT_SIZES = {"train": 10, "val": 4, "test": 6}  # per class
CENTRES = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 40), (160, 40, 200)]


def load_fake_probe(root, *, split, language, spec, **_):
    n_classes = 5 if spec.name == "fake_probe5" else 3
    per_class = SPLIT_SIZES[split]
    rng = np.random.default_rng([len(split), n_classes])
    targets = [i % n_classes for i in range(per_class * n_classes)]
    colours = np.array([CENTRES[t] for t in targets], dtype=np.int64) + rng.integers(-70, 71, size=(len(targets), 3))
    arrays = np.broadcast_to(np.clip(colours, 0, 255).astype(np.uint8)[:, None, None, :], (len(targets), 8, 8, 3))
    images = ArrayImageSet(arrays.copy(), key_prefix=f"{spec.name}-{split}", source_digest=f"{spec.name}-{split}")
    names = ["red", "green", "blue", "yellow", "purple"][:n_classes]
    return ClassificationData(images, targets, names, ["a photo of {c}."])


@pytest.fixture
def probe_data():
    fake.register()
    for name, n in (("fake_probe5", 5), ("fake_probe3", 3)):
        if name not in DATASETS:
            sizes = {s: k * n for s, k in SPLIT_SIZES.items()}
            register_dataset(DatasetSpec(name, "zeroshot_classification", f"{__name__}:load_fake_probe",
                                         splits=("test", "train", "val"), sizes=sizes))  # fmt: skip
    for key in fake.CALLS:
        fake.CALLS[key] = 0
    return fake


def _config(tmp_path: Path, dataset: str = "fake_probe5", **kw) -> EvalConfig:
    base = dict(
        model_type="fake", models=[("m", "p")], datasets=[(dataset, None)], task="linear_probe",
        dataset_root=str(tmp_path / "data"), output=str(tmp_path / "out" / "{dataset}_{task}.json"),
        cache_dir=str(tmp_path / "cache"), num_workers=0, batch_size=8, progress=False, verbose=False, device="cpu",
    )  # fmt: skip
    return EvalConfig(**{**base, **kw})


def _run(tmp_path: Path, **kw) -> dict:
    [record] = Engine(_config(tmp_path, **kw)).run()
    return record


# --- engine: features from the cache ---------------------------------------------------------------------------
def test_a_second_probe_encodes_nothing_and_shares_the_zero_shot_images(probe_data, tmp_path):
    [zero_shot] = Engine(_config(tmp_path, task="zeroshot_classification")).run()
    assert fake.CALLS["images"] == 30  # the test split
    first = _run(tmp_path)
    assert fake.CALLS["images"] == 30 + 50  # only the train split is new
    assert first["zsbench"]["cache"]["image_embeddings"] == "disk"
    assert first["zsbench"]["linear_probe"]["train_image_embeddings"] == "miss"
    # Another probe on the same features (few-shot, a sweep on the val split, three draws): head training only.
    encoded = dict(fake.CALLS)
    second = _run(tmp_path, fewshot_k=3, fewshot_seeds=[0, 1, 2], val_split=["val"])
    assert fake.CALLS["images"] == encoded["images"] + 20  # the val split, once; train and test from the cache
    encoded = dict(fake.CALLS)
    third = _run(tmp_path, fewshot_k=2, val_split=["val"])
    assert encoded == fake.CALLS  # nothing encoded at all (a probe encodes no text either)
    assert second["zsbench"]["linear_probe"]["train_image_embeddings"] == "disk"
    assert third["zsbench"]["linear_probe"]["val_image_embeddings"] == "disk"
    assert zero_shot["task"] == "zeroshot_classification" and first["task"] == "linear_probe"


def test_result_keys_and_provenance(probe_data, tmp_path):
    record = _run(tmp_path)
    metrics = record["metrics"]
    assert list(metrics) == ["lp_acc1", "lp_acc5", "lp_mean_per_class_recall", "weight_decay", "epochs", "seed",
                             "fewshot_k", "normalized"]  # fmt: skip
    # The colour clusters are learnable: well above chance (0.2), and acc5 exists with exactly 5 classes.
    assert 0.6 <= metrics["lp_acc1"] <= 1.0 and metrics["lp_acc5"] == 1.0
    assert metrics["weight_decay"] == 0.0  # no validation data: no sweep, as upstream
    assert (metrics["epochs"], metrics["seed"], metrics["fewshot_k"], metrics["normalized"]) == (10, 0, -1, True)
    block = record["zsbench"]["linear_probe"]
    assert block["n_train"] == 50 and block["n_val"] == 0 and block["train_split"] == "train"
    assert set(block["differences_from_clip_benchmark"]) >= {"lp_acc5", "fewshot_sample", "validation_data"}
    written = json.loads((tmp_path / "out" / "fake_probe5_linear_probe.json").read_text())
    assert written["metrics"] == metrics and written["metrics"]["normalized"] is True


def test_fewshot_seeds_report_mean_and_std_of_the_draws(probe_data, tmp_path):
    record = _run(tmp_path, fewshot_k=2, fewshot_seeds=[0, 1, 2])
    metrics, block = record["metrics"], record["zsbench"]["linear_probe"]
    draws = block["per_draw"]
    assert [d["fewshot_seed"] for d in draws] == [0, 1, 2]
    accs = [d["lp_acc1"] for d in draws]
    assert len(set(accs)) > 1  # different samples, different heads
    assert metrics["lp_acc1"] == pytest.approx(np.mean(accs), abs=1e-12)
    assert metrics["lp_acc1_std"] == pytest.approx(np.std(accs, ddof=1), abs=1e-12)
    assert metrics["seed"] == 0 and metrics["fewshot_k"] == 2
    # Draw 0 is the single run with --seed 0: the draws only change which samples are used.
    single = _run(tmp_path, fewshot_k=2)["metrics"]
    assert single["lp_acc1"] == draws[0]["lp_acc1"] and "lp_acc1_std" not in single


def test_normalize_false_trains_on_raw_features(probe_data, tmp_path):
    seen = []
    real = lp.train_head

    def spy(features, *args, **kwargs):
        seen.append(features.norm(dim=-1))
        return real(features, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lp, "train_head", spy)
        assert _run(tmp_path, normalize=False)["metrics"]["normalized"] is False
        assert not torch.allclose(seen[-1], torch.ones_like(seen[-1]))
        assert _run(tmp_path)["metrics"]["normalized"] is True
        assert torch.allclose(seen[-1], torch.ones_like(seen[-1]))


def test_fewer_than_five_classes_gives_null_acc5(probe_data, tmp_path):
    metrics = _run(tmp_path, dataset="fake_probe3")["metrics"]
    assert metrics["lp_acc5"] is None and 0 < metrics["lp_acc1"] <= 1


# --- the steps, against CLIP_benchmark's definitions ----------------------------------------------------------
def _upstream_fewshot(targets: torch.Tensor, k: int, seed: int) -> list[int]:
    """CLIP_benchmark's few-shot walk, verbatim apart from the seeding."""
    torch.manual_seed(seed)
    perm = [p.item() for p in torch.randperm(len(targets))]
    idxs, counts = [], {}
    for p in perm:
        target = targets[p].item()
        counts.setdefault(target, 0)
        if k < 0 or counts[target] < k:
            counts[target] += 1
            idxs.append(p)
    return idxs


@pytest.mark.parametrize("k", [-1, 1, 3])
def test_fewshot_sample_is_upstreams_walk(k):
    targets = torch.tensor([i % 4 for i in range(40)])
    assert lp.fewshot_indices(targets, k, 4, seed=7).tolist() == _upstream_fewshot(targets, k, 7)
    if k > 0:
        assert torch.bincount(targets[lp.fewshot_indices(targets, k, 4, seed=7)]).tolist() == [k] * 4


def test_too_few_samples_names_the_classes():
    targets = torch.tensor([0, 0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"--fewshot_k 3 .* 2 of 3 classes have fewer: 1 \(2\), 2 \(1\)"):
        lp.fewshot_indices(targets, 3, 3, seed=0)


def test_no_validation_data_in_fewshot_training(monkeypatch):
    """Few-shot heads (sweep and final) train on the k-per-class sample only; all-data heads end on train+val."""
    seen = []
    real = lp.train_head
    monkeypatch.setattr(
        lp, "train_head", lambda x, y, *a, **kw: seen.append((x, kw["weight_decay"])) or real(x, y, *a, **kw)
    )
    g = torch.Generator().manual_seed(0)
    train = (torch.randn(30, 4, generator=g), torch.tensor([i % 3 for i in range(30)]))
    val = (torch.randn(9, 4, generator=g) + 100, torch.tensor([i % 3 for i in range(9)]))  # easy to recognise
    test = (torch.randn(6, 4, generator=g), torch.tensor([i % 3 for i in range(6)]))
    lp.evaluate_probe(train, test, 3, val=val, fewshot_k=2, epochs=1)
    assert len(seen) > 7  # the sweep trained several values, then the final head
    assert all(len(x) == 6 and bool((x < 50).all()) for x, _ in seen)
    seen.clear()
    lp.evaluate_probe(train, test, 3, val=val, fewshot_k=-1, epochs=1)
    *sweep, (final, _) = seen
    assert all(len(x) == 30 for x, _ in sweep) and len(final) == 39 and bool((final[30:] > 50).all())


def test_sweep_is_coarse_to_fine_and_keeps_the_first_of_ties(monkeypatch):
    scores = {i: 0.5 for i in range(97)}
    # the coarse peak is 48; 55 scores best but the search never looks there (as upstream's would not)
    scores.update({48: 0.7, 56: 0.8, 52: 0.8, 60: 0.75, 55: 0.9})
    order = []

    def fake_train(x, y, n, *, weight_decay, **kw):
        idx = lp.WEIGHT_DECAYS.index(weight_decay)
        order.append(idx)
        head = torch.nn.Linear(1, 2)
        head.score = scores[idx]
        return head

    monkeypatch.setattr(lp, "train_head", fake_train)
    monkeypatch.setattr(lp, "accuracy_topk", lambda logits, y, ks: {1: logits.score})
    monkeypatch.setattr(lp, "_logits", lambda head, x: type("L", (), {"score": head.score})())
    one = (torch.zeros(2, 1), torch.tensor([0, 1]))
    wd, tried = lp.sweep_weight_decay(one, one, 2, lr=0.1, epochs=1, batch_size=2, seed=0)
    assert order[:7] == lp.COARSE_INDICES == [0, 16, 32, 48, 64, 80, 96]
    # span 8: 40, 48, 56 -> 56; span 4: 52 ties 56 (0.8): the earlier in [left, peak, right] wins -> 52;
    # span 2: 50, 52, 54 -> 52; span 1: 51, 52, 53 -> 52.
    assert order[7:] == [40, 56, 52, 60, 50, 54, 51, 53]
    assert wd == lp.WEIGHT_DECAYS[52] and len(tried) == len(order)  # each value trained once


def test_acc5_follows_the_zero_shot_rule():
    """With exactly 5 classes acc5 is computed (CLIP_benchmark's `target.max() >= 5` gives NaN there)."""
    g = torch.Generator().manual_seed(0)
    for n_classes, has_acc5 in ((4, False), (5, True), (6, True)):
        y = torch.arange(n_classes).repeat(4)
        x = torch.nn.functional.one_hot(y, n_classes).float() + 0.3 * torch.randn(len(y), n_classes, generator=g)
        result = lp.evaluate_probe((x, y), (x, y), n_classes, epochs=2)
        assert (result.acc5 is not None) == has_acc5 and 0 < result.acc1 <= 1


def test_training_leaves_the_global_random_state_alone():
    x, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    lp.train_head(x, y, 2, weight_decay=0.0, lr=0.1, epochs=2, batch_size=4, seed=0)
    assert torch.equal(before, torch.random.get_rng_state())
    # and the head depends on its seed only, not on the global state
    torch.manual_seed(999)
    again = lp.train_head(x, y, 2, weight_decay=0.0, lr=0.1, epochs=2, batch_size=4, seed=0)
    first = lp.train_head(x, y, 2, weight_decay=0.0, lr=0.1, epochs=2, batch_size=4, seed=0)
    assert torch.equal(again.weight, first.weight)


# --- the shapes train split ------------------------------------------------------------------------------------
def test_shapes_train_split_is_balanced_and_new(tmp_path):
    import hashlib

    import zsbench
    from zsbench.datasets.loaders import shapes as S

    train = zsbench.load_dataset("shapes", tmp_path, split="train")
    assert len(train.images) == 500 and np.bincount(train.targets).tolist() == [50] * 10
    assert train.info["seed"] == S.SPLIT_SEEDS["probe_train"]

    def digest(img) -> bytes:
        return hashlib.sha256(img.tobytes()).digest()

    probe = {digest(train.images.load_image(i)) for i in range(0, 500, 5)}
    test = {digest(S.render_sample(S.SPLIT_SEEDS["test"], i, shape=S.SHAPES[i % 10]).image) for i in range(500)}
    model_training = {digest(S.render_sample(S.SPLIT_SEEDS["train"], i).image) for i in range(500)}
    assert not probe & test and not probe & model_training
    # A shapes folder made before the train split existed keeps its test images and gets the split added.
    assert sorted(p.name for p in (tmp_path / "shapes").iterdir() if not p.name.startswith(".")) == [
        "GENERATOR.json", "test", "train"]  # fmt: skip


# --- bad input: one line, before the model loads ---------------------------------------------------------------
@pytest.fixture
def probe_eval(tmp_path, probe_data):
    from tests.reliability.conftest import run_cli

    def run(*extra: str):
        return run_cli(
            "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
            "--dataset_root", tmp_path, "--cache_dir", tmp_path / "cache", "--task", "linear_probe",
            "--output", tmp_path / "out" / "{dataset}_{task}.json", "--quiet", *extra,
        )  # fmt: skip

    return run


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--dataset", "fake_probe5", "--train_split", "tain"), ("no train split 'tain'", "--train_split", "train")),
        (("--dataset", "fake_cls"), ("'fake_cls' has no train split 'train'", "its splits: test", "--train_split")),
        (("--dataset", "fake_probe5", "--val_split", "dev"), ("no val split 'dev'", "--val_split")),
        (("--dataset", "fake_probe5", "--fewshot_k", "11"), ("--fewshot_k 11", "5 of 5 classes", "(10)")),
        (
            ("--dataset", "fake_probe5", "--fewshot_k", "9", "--val_proportion", "0.5"),
            ("training part", "--fewshot_k 9"),
        ),
        (("--dataset", "fake_probe5", "--val_split", "val", "--val_proportion", "0.2"), ("exclude each other",)),
        (("--dataset", "fake_probe5", "--val_proportion", "1.5"), ("--val_proportion", "between 0 and 1")),
        (("--dataset", "fake_probe5", "--fewshot_k", "0"), ("--fewshot_k", ">= 1")),
        (("--dataset", "fake_probe5", "--fewshot_seeds", "0", "1"), ("--fewshot_seeds", "--fewshot_k is -1")),
        (("--dataset", "fake_probe5", "--fewshot_epochs", "0"), ("--fewshot_epochs",)),
        (("--dataset", "fake_probe5", "--normalize", "False "), ()),  # parsed, not an error: see the test below
        (("--dataset", "fake_probe5", "--normalize", "maybe"), ("--normalize", "true or false", "maybe")),
        (("--dataset", "fake_probe5", "--train_split", "train", "test"), ("--train_split has 2 values for 1",)),
        (("--dataset", "fake_ret"), ("zeroshot_retrieval dataset",)),
    ],
)
def test_bad_input_is_one_line_before_any_encoding(probe_eval, tmp_path, args, needles):
    result = probe_eval(*args)
    if not needles:
        result.assert_ok()
        record = json.loads((tmp_path / "out" / "fake_probe5_linear_probe.json").read_text())
        assert record["metrics"]["normalized"] is False
        return
    result.assert_one_line_error(*needles)
    assert fake.CALLS["images"] == 0  # refused before anything was encoded
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_linear_probe_is_registered():
    assert "linear_probe" in TASKS and "linear_probe" not in TASKS.unsupported()
    with pytest.raises(ZsbenchError, match="not supported"):
        TASKS.canonical("zeroshot_retrieval_with_itm")
