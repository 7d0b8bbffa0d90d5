"""Zero-shot retrieval metrics: hand-made cases, chunking invariance, and CLIP_benchmark 1.6.2 itself."""

from __future__ import annotations

import pytest
import torch

from zsbench.tasks.retrieval import evaluate_retrieval, recall_at_k


def _hand_made():
    images = torch.eye(3)
    text = torch.tensor(
        [
            [1.0, 0.1, 0.0],  # caption of image 0, closest to image 0
            [0.0, 1.0, 0.2],  # caption of image 0, closest to image 1, then image 2: a miss even at k=2
            [0.1, 1.0, 0.0],  # caption of image 1, closest to image 1
            [1.0, 0.0, 0.5],  # caption of image 2, closest to image 0, then image 2
        ]
    )
    return images, text, torch.tensor([0, 0, 1, 2])


def test_hand_made_values_and_key_order() -> None:
    images, text, text_to_image = _hand_made()
    metrics = evaluate_retrieval(images, text, text_to_image, recall_k=(2, 1))
    # image->text: image 0's best caption is caption 0, image 1's is caption 2, image 2's is caption 3 -> all hits
    assert metrics == {
        "image_retrieval_recall@2": 0.75,
        "text_retrieval_recall@2": 1.0,
        "image_retrieval_recall@1": 0.5,
        "text_retrieval_recall@1": 1.0,
    }
    assert list(metrics) == [
        "image_retrieval_recall@2",
        "text_retrieval_recall@2",
        "image_retrieval_recall@1",
        "text_retrieval_recall@1",
    ]
    assert all(type(v) is float for v in metrics.values())


def test_recall_at_k_any_positive_counts() -> None:
    scores = torch.tensor([[0.9, 0.5, 0.1, 0.7], [0.2, 0.3, 0.4, 0.1]])
    target_keys = torch.tensor([0, 1, 1, 2])  # e.g. the image of each caption
    hits = recall_at_k(scores, torch.tensor([1, 3]), target_keys, k=2)
    # query 0: top-2 targets 0 and 3 (keys 0, 2) -> miss; query 1 has no positives -> miss
    assert hits.tolist() == [False, False]
    assert recall_at_k(scores, torch.tensor([2, 1]), target_keys, k=2).tolist() == [True, True]


def test_mean_is_float32_like_upstream() -> None:
    # 4083 hits out of 5000 captions: upstream's float32 mean + .item() gives 0.8166000247001648, not 0.8166
    g = torch.Generator().manual_seed(0)
    n = 5000
    images = torch.randn(n, 16, generator=g)
    hit = torch.zeros(n, dtype=torch.bool)
    hit[torch.randperm(n, generator=g)[:4083]] = True
    shifted = torch.roll(torch.arange(n), -1)
    text = images[torch.where(hit, torch.arange(n), shifted)]  # a miss copies the next image's embedding
    metrics = evaluate_retrieval(images, text, torch.arange(n), recall_k=(1,))
    assert metrics["image_retrieval_recall@1"] == 0.8166000247001648


def _captioned(seed: int, num_images: int, captions: str, d: int = 24):
    """Random images; each gets 1, 5 or a variable number (0..5) of captions near it; optionally with exact ties."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(num_images, d, generator=g)
    if captions == "ties":  # many identical images and captions -> exact score ties everywhere
        images = images[torch.randint(0, num_images // 4, (num_images,), generator=g)]
    counts = {
        "one": torch.ones(num_images, dtype=torch.long),
        "five": torch.full((num_images,), 5),
        "variable": torch.randint(0, 6, (num_images,), generator=g),
        "ties": torch.randint(1, 4, (num_images,), generator=g),
    }[captions]
    text_to_image = torch.arange(num_images).repeat_interleave(counts)
    text = images[text_to_image] + 1.2 * torch.randn(len(text_to_image), d, generator=g)
    if captions == "ties":
        text = text[torch.randint(0, len(text) // 3, (len(text),), generator=g)]
    return images, text, text_to_image


@pytest.mark.parametrize("captions", ["one", "five", "variable", "ties"])
def test_equals_upstream_evaluate(captions: str, cb_retrieval, fakes) -> None:
    images, text, text_to_image = _captioned(1, 301, captions)
    names = [f"caption{j}" for j in range(len(text))]
    per_image = [[names[j] for j in (text_to_image == m).nonzero().flatten().tolist()] for m in range(len(images))]
    batch = 64
    loader = fakes.ListLoader(
        [(images[s : s + batch], tuple(per_image[s : s + batch])) for s in range(0, len(images), batch)]
    )
    ref = cb_retrieval.evaluate(
        fakes.TableModel(text), loader, fakes.TableTokenizer(names), "cpu", amp=False, recall_k_list=[1, 5, 10]
    )
    ours = evaluate_retrieval(images, text, text_to_image, (1, 5, 10))
    assert ours == ref
    assert list(ours) == list(ref)


@pytest.mark.parametrize("captions", ["five", "variable", "ties"])
def test_chunk_size_does_not_change_results(captions: str) -> None:
    images, text, text_to_image = _captioned(2, 97, captions)
    runs = [
        evaluate_retrieval(images, text, text_to_image, (1, 5, 10), chunk_size=c)
        for c in (1, 7, max(len(images), len(text)))
    ]
    assert runs[0] == runs[1] == runs[2]


def test_input_validation() -> None:
    images, text, text_to_image = _hand_made()
    with pytest.raises(ValueError, match="recall_k"):
        evaluate_retrieval(images, text, text_to_image, (1, 4))
    with pytest.raises(ValueError, match="entries"):
        evaluate_retrieval(images, text, text_to_image[:3], (1,))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        evaluate_retrieval(images, text, torch.tensor([0, 1, 2, 3]), (1,))
    with pytest.raises(ValueError, match="chunk_size"):
        evaluate_retrieval(images, text, text_to_image, (1,), chunk_size=0)
