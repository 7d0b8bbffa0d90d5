"""Image-caption selection metrics: hand-made cases, the task object, and CLIP_benchmark 1.6.2's own evaluate()."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from zsbench.datasets.base import CaptionSelectionData
from zsbench.tasks import TASKS
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, TaskSettings, TextEmbeddings
from zsbench.tasks.image_caption_selection import evaluate_caption_selection, instance_correct


def test_instance_correct_on_hand_made_score_matrices() -> None:
    # rows: images, columns: captions; image i belongs with caption i
    assert instance_correct(torch.tensor([[0.9, 0.1], [0.2, 0.8]])) == (True, True)
    # both images pick caption 1; caption 0 picks image 0 but caption 1 picks image 1 -> image side right
    assert instance_correct(torch.tensor([[0.5, 0.6], [0.1, 0.9]])) == (False, True)
    # each image picks its own caption, but caption 0 prefers image 1 -> text side right only
    assert instance_correct(torch.tensor([[0.5, 0.1], [0.9, 1.0]])) == (True, False)
    # SugarCrepe: one image, [positive, negative]; the single caption-0 column always picks image 0
    assert instance_correct(torch.tensor([[0.3, 0.7]])) == (False, True)
    assert instance_correct(torch.tensor([[0.7, 0.3]])) == (True, True)
    # a tie keeps the first maximum (torch.argmax, as upstream): an identical negative counts as right
    assert instance_correct(torch.tensor([[0.5, 0.5]])) == (True, True)


def _unit(*values: float) -> list[float]:
    return list(values)


def test_hand_made_embeddings_values_and_key_order() -> None:
    images = torch.tensor([_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)])
    texts = torch.tensor(
        [
            _unit(2, 0, 0),  # instance 0 (image 0): positive, scaled (normalisation must not matter)
            _unit(0, 1, 0),  # instance 0: negative
            _unit(0, 0, 1),  # instance 1 (image 1): positive is far
            _unit(0, 1, 1),  # instance 1: negative is close -> wrong
            _unit(1, 0.8, 0),  # instance 2 (images 0, 1): caption 0, closest to image 0, then image 1
            _unit(0, 0.5, 1),  # caption 1 picks image 1, but image 1 prefers caption 0 -> text wrong, image right
        ]
    )
    metrics = evaluate_caption_selection(images, texts, [(0,), (1,), (0, 1)], [(0, 1), (2, 3), (4, 5)])
    assert list(metrics) == ["image_acc", "text_acc", "acc"]
    # text: [True, False, False]; image: [True, True, True]; both: [True, False, False]; float32 means
    assert metrics == {
        "image_acc": 1.0,
        "text_acc": torch.tensor(1 / 3, dtype=torch.float32).item(),
        "acc": torch.tensor(1 / 3, dtype=torch.float32).item(),
    }
    assert metrics["text_acc"] == 0.3333333432674408  # upstream's float32 mean, not 1/3
    assert all(type(v) is float for v in metrics.values())


def test_invalid_inputs_raise_value_error() -> None:
    images, texts = torch.eye(2), torch.eye(2)
    with pytest.raises(ValueError, match="at least one instance"):
        evaluate_caption_selection(images, texts, [], [])
    with pytest.raises(ValueError, match="image dim"):
        evaluate_caption_selection(images, torch.ones(2, 3), [(0,)], [(0, 1)])
    with pytest.raises(ValueError, match="outside"):
        evaluate_caption_selection(images, texts, [(2,)], [(0, 1)])
    with pytest.raises(ValueError, match="needs both"):
        evaluate_caption_selection(images, texts, [()], [(0, 1)])


# --- the task object ---------------------------------------------------------------------------------------------
def _data() -> CaptionSelectionData:
    # three instances; image 0 is shared by instances 0 and 2 (SugarCrepe reuses COCO images)
    return CaptionSelectionData(
        images=list(range(3)),  # type: ignore[arg-type]  (the task only needs its length)
        image_ids=[(0,), (1,), (0,)],
        captions=[("a", "b"), ("c", "d"), ("e", "f")],
    )


def test_task_registered_and_auto() -> None:
    from zsbench.engine.plan import resolve_task

    assert TASKS.get("image_caption_selection").data_kinds == ("image_caption_selection",)
    assert "image_caption_selection" not in TASKS.unsupported()
    assert (
        resolve_task("winoground", "auto") == resolve_task("sugar_crepe/swap_obj", "auto") == "image_caption_selection"
    )


def test_task_texts_and_score_drop_instances_of_skipped_images() -> None:
    task = TASKS.get("image_caption_selection")
    data = _data()
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    # image 1 was corrupt and skipped under --skip_corrupt: rows are images 0 and 2, instance 1 is dropped
    images = {EVAL_IMAGES: ImageEmbeddings(emb[[0, 2]], 3, skipped=(1,))}
    texts = task.texts(data, images, TaskSettings())
    assert texts.texts == ["a", "b", "e", "f"] and texts.owner == [0, 0, 2, 2]
    text_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # instance 0 right, instance 2 wrong
    metrics, info = task.score(images, TextEmbeddings(texts, text_emb), data, TaskSettings())
    assert metrics == {"image_acc": 1.0, "text_acc": 0.5, "acc": 0.5}
    assert info["n_instances"] == 2 and info["instances_skipped"] == 1 and info["n_captions"] == 4


# --- CLIP_benchmark's own evaluate() on the same embeddings --------------------------------------------------------
class _EmbeddingModel:
    """Fake CLIP: an "image" is its embedding (shaped C x 1 x 1), a token is a row of a table of text embeddings."""

    def __init__(self, text_table: Tensor) -> None:
        self.text_table = text_table

    def encode_image(self, images: Tensor) -> Tensor:
        return images.flatten(1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        return self.text_table[tokens]


def _upstream(cb, image_emb: Tensor, text_emb: Tensor, n_images: int, n_captions: int, batch: int) -> dict:
    """Upstream's evaluate over instances of ``n_images`` consecutive image rows and ``n_captions`` text rows."""
    n = len(image_emb) // n_images
    strings = [f"t{i}" for i in range(len(text_emb))]
    index = {s: i for i, s in enumerate(strings)}
    batches = []
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        imgs = image_emb[start * n_images : stop * n_images].view(stop - start, n_images, -1, 1, 1)
        if n_images == 1:
            imgs = imgs[:, 0]  # SugarCrepe batches are 4-D; upstream adds the image axis itself
        caps = [strings[k * n_captions : (k + 1) * n_captions] for k in range(start, stop)]
        batches.append((imgs, caps))
    model = _EmbeddingModel(text_emb)
    return cb.evaluate(model, batches, lambda ts: torch.tensor([index[t] for t in ts]), device="cpu", amp=False)


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (2, 3)])
def test_equals_upstream_evaluate(shape: tuple[int, int]) -> None:
    cb = pytest.importorskip(
        "clip_benchmark.metrics.image_caption_selection", reason="needs clip-benchmark (pip install -e '.[test]')"
    )
    n_images, n_captions = shape
    g = torch.Generator().manual_seed(sum(shape))
    n = 97
    image_emb = torch.randn(n * n_images, 8, generator=g)
    text_emb = torch.randn(n * n_captions, 8, generator=g)
    # make some captions exact copies of their image (sure hits) and some exact ties between two captions
    text_emb[0 : 20 * n_captions : n_captions] = image_emb[0 : 20 * n_images : n_images] * 3
    text_emb[1 : 10 * n_captions : n_captions] = text_emb[0 : 10 * n_captions : n_captions]
    ours = evaluate_caption_selection(
        image_emb,
        text_emb,
        [tuple(range(k * n_images, (k + 1) * n_images)) for k in range(n)],
        [tuple(range(k * n_captions, (k + 1) * n_captions)) for k in range(n)],
    )
    theirs = _upstream(cb, image_emb, text_emb, n_images, n_captions, batch=16)
    assert ours == theirs
    assert 0.0 < ours["text_acc"] < 1.0
