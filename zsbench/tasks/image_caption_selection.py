"""Image-caption selection metrics (SugarCrepe, Winoground), as CLIP_benchmark 1.6.2's
``metrics/image_caption_selection.py`` computes them.

An instance has I images and C captions. With ``S = normalize(images) @ normalize(captions).T`` (I x C, float32)
and ``g = min(I, C)``, image i belongs with caption i for i < g:

- ``text_acc``: the instance's first g images each score their own caption highest (``S.argmax(1)[:g] == arange(g)``);
- ``image_acc``: the instance's first g captions each score their own image highest (``S.argmax(0)[:g] ==
  arange(g)``);
- ``acc``: both.

Each is the float32 mean over instances (``.mean().item()``, CLIP_benchmark's rounding), keys in its order
(``image_acc``, ``text_acc``, ``acc``). ``argmax`` keeps the first of tied maxima, as upstream's does. For
SugarCrepe (one image, captions [positive, negative]) ``image_acc`` is 1 by construction and ``acc`` equals
``text_acc``: upstream reports it so, and so does zsbench.

:data:`TASK` is the ``image_caption_selection`` task: the captions of every instance whose images were all
evaluated (``--skip_corrupt`` drops an instance with a skipped image, and says how many), then these metrics. Each
image is encoded once even when several instances use it; each instance's score matrix is its own small matmul, the
product upstream computes, so near-ties resolve as there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from zsbench.tasks._common import l2_normalize, require_dim
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, Task, TaskSettings, TextEmbeddings, Texts

__all__ = ["TASK", "ImageCaptionSelection", "evaluate_caption_selection", "instance_correct"]


def instance_correct(scores: Tensor) -> tuple[bool, bool]:
    """``(text_correct, image_correct)`` of one instance's (I x C) score matrix (see the module docstring)."""
    g = min(scores.shape)
    gt = torch.arange(g)
    text_correct = bool((scores.argmax(dim=1)[:g] == gt).all())
    image_correct = bool((scores.argmax(dim=0)[:g] == gt).all())
    return text_correct, image_correct


def evaluate_caption_selection(
    image_embeddings: Tensor,
    text_embeddings: Tensor,
    instance_images: Sequence[Sequence[int]],
    instance_texts: Sequence[Sequence[int]],
) -> dict[str, float]:
    """CLIP_benchmark's ``image_acc``, ``text_acc`` and ``acc`` from raw (un-normalised) embeddings.

    Instance k's images are the rows ``instance_images[k]`` of ``image_embeddings`` and its captions the rows
    ``instance_texts[k]`` of ``text_embeddings``, in their order (image i belongs with caption i).
    """
    require_dim("image_embeddings", image_embeddings, 2)
    require_dim("text_embeddings", text_embeddings, 2)
    if image_embeddings.shape[1] != text_embeddings.shape[1]:
        raise ValueError(f"image dim {image_embeddings.shape[1]} != text dim {text_embeddings.shape[1]}")
    if len(instance_images) != len(instance_texts):
        raise ValueError(f"{len(instance_images)} instances of images but {len(instance_texts)} of captions")
    if not instance_images:
        raise ValueError("image-caption selection needs at least one instance")
    images = l2_normalize(image_embeddings)
    texts = l2_normalize(text_embeddings)
    text_ok: list[bool] = []
    image_ok: list[bool] = []
    for k, (rows, cols) in enumerate(zip(instance_images, instance_texts)):
        if not rows or not cols:
            raise ValueError(f"instance {k} has {len(rows)} images and {len(cols)} captions; it needs both")
        for name, idx, n in (("image", rows, len(images)), ("caption", cols, len(texts))):
            if min(idx) < 0 or max(idx) >= n:
                raise ValueError(f"instance {k} names {name} rows {list(idx)} outside [0, {n})")
        # One (I x C) matmul per instance, the product upstream computes (a batched matmul may round differently).
        scores = images[list(rows)] @ texts[list(cols)].t()
        t, i = instance_correct(scores)
        text_ok.append(t)
        image_ok.append(i)
    text_score = torch.tensor(text_ok, dtype=torch.float32)
    image_score = torch.tensor(image_ok, dtype=torch.float32)
    return {
        "image_acc": image_score.mean().item(),
        "text_acc": text_score.mean().item(),
        "acc": (text_score * image_score).mean().item(),
    }


class ImageCaptionSelection(Task):
    """CLIP_benchmark's image-caption selection (SugarCrepe, Winoground): no settings."""

    name = "image_caption_selection"
    data_kinds = ("image_caption_selection",)

    @staticmethod
    def _kept_instances(data: Any, images: ImageEmbeddings) -> list[tuple[int, tuple[int, ...]]]:
        """``(instance, its image rows)`` for every instance whose images all have embeddings."""
        kept = images.kept
        row = {i: i for i in range(images.n_images)} if kept is None else {img: r for r, img in enumerate(kept)}
        return [(k, tuple(row[i] for i in ids)) for k, ids in enumerate(data.image_ids) if all(i in row for i in ids)]

    def texts(self, data: Any, images: Mapping[str, ImageEmbeddings], settings: TaskSettings) -> Texts:
        texts: list[str] = []
        owner: list[int] = []
        for k, _ in self._kept_instances(data, images[EVAL_IMAGES]):
            texts.extend(data.captions[k])
            owner.extend([k] * len(data.captions[k]))
        return Texts(texts, owner)

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if texts is None:
            raise ValueError("image-caption selection needs the caption embeddings")
        evaluated = images[EVAL_IMAGES]
        kept = self._kept_instances(data, evaluated)
        instance_texts: list[tuple[int, ...]] = []
        start = 0
        for k, _ in kept:
            n = len(data.captions[k])
            instance_texts.append(tuple(range(start, start + n)))
            start += n
        if start != len(texts.texts.texts):
            raise ValueError(f"{len(texts.texts.texts)} caption embeddings for {start} captions")
        metrics = evaluate_caption_selection(
            evaluated.embeddings, texts.embeddings, [rows for _, rows in kept], instance_texts
        )
        captions = texts.texts.texts
        info: dict[str, Any] = {
            "n_instances": len(kept),
            "n_captions": len(captions),
            "captions_sha256": hashlib.sha256("\0".join(captions).encode()).hexdigest(),
            "text_cache": texts.cache,
        }
        if len(kept) != len(data.image_ids):
            info["instances_skipped"] = len(data.image_ids) - len(kept)
        return metrics, info


TASK = ImageCaptionSelection()
