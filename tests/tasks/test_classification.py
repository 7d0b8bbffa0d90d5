"""Zero-shot classification metrics: hand-made cases, sklearn, and CLIP_benchmark 1.6.2 itself."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from zsbench.tasks.classification import (
    accuracy_topk,
    class_weights,
    classification_logits,
    evaluate_classification,
    mean_average_precision,
    mean_per_class_recall,
)


def _balanced_accuracy(targets: torch.Tensor, pred: torch.Tensor) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" is expected in some cases
        return balanced_accuracy_score(targets.numpy(), pred.numpy())


def _problem(seed: int, n: int, d: int, num_classes: int, prompts_per_class: int):
    """Random prompt embeddings (shuffled across classes), image embeddings and labels."""
    g = torch.Generator().manual_seed(seed)
    prompt_class = torch.arange(num_classes).repeat_interleave(prompts_per_class)
    prompt_class = prompt_class[torch.randperm(len(prompt_class), generator=g)]
    text = torch.randn(len(prompt_class), d, generator=g) * 3
    centers = torch.randn(num_classes, d, generator=g)
    targets = torch.randint(0, num_classes, (n,), generator=g)
    images = centers[targets] + 1.5 * torch.randn(n, d, generator=g)
    return text, prompt_class, images, targets


# --- class_weights -------------------------------------------------------------------------------------------------


def test_class_weights_hand_made() -> None:
    text = torch.tensor([[3.0, 4.0], [0.0, -5.0], [4.0, 3.0]])
    w = class_weights(text, torch.tensor([0, 1, 0]), 2)
    # class 0: mean((.6, .8), (.8, .6)) = (.7, .7) -> (1/sqrt2, 1/sqrt2); class 1: (0, -1)
    expected = torch.tensor([[1 / math.sqrt(2), 0.0], [1 / math.sqrt(2), -1.0]])
    assert w.shape == (2, 2) and w.dtype == torch.float32
    torch.testing.assert_close(w, expected, atol=1e-7, rtol=0)


def test_class_weights_matches_upstream_per_class_loop(cb_classification, fakes) -> None:
    text, prompt_class, _, _ = _problem(0, 1, 64, num_classes=13, prompts_per_class=7)
    names = [f"class{c}" for c in range(13)]
    prompts = [f"prompt{p}" for p in range(len(text))]
    # CuPL-style dict: each class's prompts in the order they appear in the mixed batch
    templates = {names[c]: [prompts[p] for p in range(len(text)) if prompt_class[p] == c] for c in range(13)}
    ref = cb_classification.zero_shot_classifier(
        fakes.TableModel(text), fakes.TableTokenizer(prompts), names, templates, "cpu", amp=False
    )
    ours = class_weights(text, prompt_class, 13)
    assert ours.shape == ref.shape == (64, 13)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("labels", "num_classes", "match"),
    [
        ([0, 0, 2], 3, "without prompts"),
        ([0, 3, 1], 3, r"\[0, 3\)"),
        ([0, -1, 1], 3, r"\[0, 3\)"),
        ([0.0, 1.0, 1.0], 2, "integer"),
        ([0, 1], 2, "entries"),
    ],
)
def test_class_weights_rejects_bad_labels(labels, num_classes, match) -> None:
    with pytest.raises(ValueError, match=match):
        class_weights(torch.randn(3, 4), torch.tensor(labels), num_classes)


# --- logits ----------------------------------------------------------------------------------------------------------


def test_logits_definition() -> None:
    img = torch.tensor([[0.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]])
    logits = classification_logits(img, w)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, torch.tensor([[0.0, 100.0, 80.0], [60.0, 80.0, 100.0]]))


def test_logits_with_batch_size_equal_upstream_bitwise(cb_classification, fakes) -> None:
    _, _, images, targets = _problem(1, 300, 48, num_classes=10, prompts_per_class=1)
    w = torch.nn.functional.normalize(torch.randn(48, 10), dim=0)
    batches = [(images[s : s + 64], targets[s : s + 64]) for s in range(0, 300, 64)]
    ref_logits, ref_targets = cb_classification.run_classification(
        fakes.TableModel(None), w, fakes.ListLoader(batches), "cpu", amp=False
    )
    assert torch.equal(classification_logits(images, w, batch_size=64), ref_logits)
    torch.testing.assert_close(classification_logits(images, w), ref_logits, atol=1e-4, rtol=0)
    assert torch.equal(ref_targets, targets)


# --- accuracy --------------------------------------------------------------------------------------------------------


def test_accuracy_hand_made() -> None:
    logits = torch.tensor(
        [
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 0: top-1
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 4: rank 5 -> top-5 only
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 5: rank 6 -> neither
            [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # target 0: tied last among ties above it -> neither
        ]
    )
    acc = accuracy_topk(logits, torch.tensor([0, 4, 5, 0]), ks=(1, 5))
    assert acc == {1: 0.25, 5: 0.5}
    assert all(type(v) is float for v in acc.values())


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_with_heavy_ties_matches_upstream_arithmetic(seed: int, fakes) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randint(0, 3, (1000, 7), generator=g).float()  # many exact ties
    targets = torch.randint(0, 7, (1000,), generator=g)
    assert list(accuracy_topk(logits, targets, (1, 5)).values()) == fakes.accuracy(logits, targets, (1, 5))
    assert list(accuracy_topk(logits, targets, (1,)).values()) == fakes.accuracy(logits, targets, (1,))


def test_accuracy_is_float64_ratio() -> None:
    # upstream divides a Python float count by N in float64: 2/3 = 0.6666666666666666, not float32's 0.6666666865
    logits = torch.eye(6)[:3]
    assert accuracy_topk(logits, torch.tensor([0, 1, 5]), (1,))[1] == 2 / 3


def test_accuracy_rejects_k_above_num_classes() -> None:
    with pytest.raises(ValueError, match="k must lie"):
        accuracy_topk(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), (1, 5))


# --- mean per-class recall ---------------------------------------------------------------------------------------------


def test_mean_per_class_recall_never_predicted_and_never_present() -> None:
    targets = torch.tensor([0, 0, 1, 1, 2, 3])
    pred = torch.tensor([0, 1, 1, 1, 4, 4])  # class 2 and 3 never predicted; class 4 predicted but never present
    # recalls over present classes 0..3: 1/2, 2/2, 0/1, 0/1 -> 0.375 (class 4 gets no weight)
    assert mean_per_class_recall(pred, targets) == 0.375
    assert mean_per_class_recall(pred, targets) == _balanced_accuracy(targets, pred)


@pytest.mark.parametrize("seed", range(20))
def test_mean_per_class_recall_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, num_classes = int(rng.integers(1, 3000)), int(rng.integers(2, 200))
    targets = torch.from_numpy(rng.integers(0, num_classes, n))
    # mostly right, some wrong, predictions may use classes that are absent from targets
    pred = torch.where(
        torch.from_numpy(rng.random(n) < 0.6), targets, torch.from_numpy(rng.integers(0, num_classes, n))
    )
    ours = mean_per_class_recall(pred, targets)
    assert type(ours) is float
    assert ours == _balanced_accuracy(targets, pred)


# --- mean average precision --------------------------------------------------------------------------------------------


def test_mean_average_precision_hand_made_with_empty_class() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    multi_hot = torch.tensor([[1, 0], [0, 0], [1, 0], [0, 0]])
    # class 0: positives at ranks 1 and 3 -> (1/1 + 2/3) / 2 = 5/6; class 1 has no positives -> 0
    assert mean_average_precision(scores, multi_hot) == pytest.approx(5 / 12, abs=1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_mean_average_precision_equals_upstream(seed: int, cb_classification) -> None:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(500, 20, generator=g)
    if seed % 2:
        scores = scores.round()  # ties
    multi_hot = (torch.rand(500, 20, generator=g) < 0.1).float()
    multi_hot[:, 3] = 0  # a class without positives
    ref = cb_classification.average_precision_per_class(scores, multi_hot).mean().item()
    assert mean_average_precision(scores, multi_hot) == ref
    assert mean_average_precision(scores, multi_hot.bool()) == ref


# --- evaluate_classification end to end against CLIP_benchmark's evaluate() ------------------------------------------------


@pytest.mark.parametrize(("num_classes", "seed"), [(10, 0), (5, 1), (3, 2), (2, 3)])
def test_evaluate_matches_upstream(num_classes: int, seed: int, cb_classification, fakes, monkeypatch) -> None:
    # upstream accuracy() fails on NumPy >= 2.4; swap in the same arithmetic with .item()
    monkeypatch.setattr(cb_classification, "accuracy", fakes.accuracy)
    text, prompt_class, images, targets = _problem(seed, 333, 32, num_classes, prompts_per_class=4)
    names = [f"class{c}" for c in range(num_classes)]
    prompts = [f"prompt{p}" for p in range(len(text))]
    templates = {names[c]: [prompts[p] for p in range(len(text)) if prompt_class[p] == c] for c in range(num_classes)}
    batch_size = 50
    loader = fakes.ListLoader(
        [(images[s : s + batch_size], targets[s : s + batch_size]) for s in range(0, 333, 50)], names
    )
    model, tokenizer = fakes.TableModel(text), fakes.TableTokenizer(prompts)
    ref = cb_classification.evaluate(model, loader, tokenizer, names, templates, "cpu", amp=False)

    ours = evaluate_classification(
        images, class_weights(text, prompt_class, num_classes), targets, batch_size=batch_size
    )
    assert list(ours) == ["acc1", "acc5", "mean_per_class_recall"]
    assert ours["acc1"] == ref["acc1"]
    assert ours["mean_per_class_recall"] == ref["mean_per_class_recall"]
    if num_classes >= 5:
        assert ours["acc5"] == ref["acc5"]
    else:
        assert math.isnan(ref["acc5"]) and ours["acc5"] is None
        json.dumps(ours, allow_nan=False)  # strict JSON: null, never NaN
    assert all(type(v) is float for v in ours.values() if v is not None)


def test_evaluate_multilabel_matches_upstream(cb_classification, fakes) -> None:
    text, prompt_class, images, _ = _problem(4, 200, 32, 6, prompts_per_class=3)
    multi_hot = (torch.rand(200, 6, generator=torch.Generator().manual_seed(4)) < 0.3).float()
    multi_hot[:, 5] = 0  # empty class
    names = [f"class{c}" for c in range(6)]
    prompts = [f"prompt{p}" for p in range(len(text))]
    templates = {names[c]: [prompts[p] for p in range(len(text)) if prompt_class[p] == c] for c in range(6)}
    loader = fakes.ListLoader([(images[s : s + 64], multi_hot[s : s + 64]) for s in range(0, 200, 64)], names)
    ref = cb_classification.evaluate(
        fakes.TableModel(text), loader, fakes.TableTokenizer(prompts), names, templates, "cpu", amp=False
    )
    ours = evaluate_classification(
        images, class_weights(text, prompt_class, 6), multi_hot, multilabel=True, batch_size=64
    )
    assert ours == ref and list(ours) == ["mean_average_precision"]


def test_evaluate_rejects_out_of_range_targets() -> None:
    with pytest.raises(ValueError, match="targets"):
        evaluate_classification(torch.randn(3, 4), torch.randn(4, 5), torch.tensor([0, 5, 1]))
    with pytest.raises(ValueError, match="2-D"):
        evaluate_classification(torch.randn(3, 4), torch.randn(4, 5), torch.tensor([0, 1, 1]), multilabel=True)
