"""Zero-shot retrieval metrics, bit-compatible with CLIP_benchmark 1.6.2 (``metrics/zeroshot_retrieval.py``).

Upstream builds a dense (N_text x N_image) boolean positive matrix and, per chunk of queries, a
(chunk x k x N_targets) int64 one-hot of the top-k indices. Here the top-k indices are compared to the ground truth
directly, so beyond the score matrix itself only O(chunk x N_targets) memory is used. The score matrix is still
computed as the single matmul ``texts @ images.T`` upstream uses: a blocked matmul rounds differently from the full
one (BLAS kernels depend on the block shape), which could flip near-ties and change the last digit.

:data:`TASK` is the ``zeroshot_retrieval`` task: every caption of every evaluated image, then these metrics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from zsbench.tasks._common import l2_normalize, require_dim, require_labels
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, Task, TaskSettings, TextEmbeddings, Texts

__all__ = ["TASK", "ZeroShotRetrieval", "caption_texts", "evaluate_retrieval", "recall_at_k"]


def recall_at_k(scores: Tensor, query_keys: Tensor, target_keys: Tensor, k: int) -> Tensor:
    """Per-query hit@k, a bool tensor of shape ``(Q,)``.

    Query q's positives are the targets t with ``target_keys[t] == query_keys[q]``; the hit is True when at least one
    of them is among the k highest-scoring targets of ``scores[q]`` (``torch.topk(..., sorted=True)``, so exact ties
    resolve as upstream). This is upstream's ``recall_at_k(...) > 0``: a query without positives is a miss.
    """
    top = torch.topk(scores, k, dim=1, largest=True, sorted=True)[1]  # (Q, k)
    return (target_keys[top] == query_keys.view(-1, 1)).any(dim=1)


def _hits(scores: Tensor, query_keys: Tensor, target_keys: Tensor, k: int, chunk_size: int) -> Tensor:
    """``recall_at_k`` over query chunks; rows are independent, so any chunking gives the same result."""
    chunks = [
        recall_at_k(scores[start : start + chunk_size], query_keys[start : start + chunk_size], target_keys, k)
        for start in range(0, len(scores), chunk_size)
    ]
    return torch.cat(chunks)


def evaluate_retrieval(
    image_embeddings: Tensor,
    text_embeddings: Tensor,
    text_to_image: Tensor,
    recall_k: Sequence[int] = (1, 5, 10),
    *,
    chunk_size: int = 256,
) -> dict[str, float]:
    """CLIP_benchmark's retrieval recall@k from raw (un-normalised) embeddings.

    With ``S = normalize(texts) @ normalize(images).T`` (float32, one matmul) and ``text_to_image[j]`` the image of
    caption j, for each k in the given order:

    - ``image_retrieval_recall@k`` (text -> image): mean over captions j of ``1[text_to_image[j] in top-k(S[j])]``;
    - ``text_retrieval_recall@k`` (image -> text): mean over images m of ``1[some caption of m in top-k(S.T[m])]``
      (an image without captions counts as a miss).

    Means are float32 ``.mean().item()`` like upstream (hence values such as 0.8166000247001648). ``chunk_size``
    only bounds memory; results do not depend on it.
    """
    require_dim("image_embeddings", image_embeddings, 2)
    require_dim("text_embeddings", text_embeddings, 2)
    num_images, num_texts = len(image_embeddings), len(text_embeddings)
    if num_images == 0 or num_texts == 0:
        raise ValueError("retrieval needs at least one image and one text")
    if image_embeddings.shape[1] != text_embeddings.shape[1]:
        raise ValueError(f"image dim {image_embeddings.shape[1]} != text dim {text_embeddings.shape[1]}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    bad = [k for k in recall_k if not 1 <= k <= min(num_images, num_texts)]
    if bad:
        raise ValueError(f"recall_k values must lie in [1, {min(num_images, num_texts)}], got {bad}")
    text_to_image = require_labels("text_to_image", text_to_image, num_texts, num_images)

    scores = l2_normalize(text_embeddings) @ l2_normalize(image_embeddings).t()  # (N_text, N_image), as upstream
    image_ids = torch.arange(num_images)
    metrics: dict[str, float] = {}
    for k in recall_k:
        # One topk per k (not prefixes of the largest k): topk(10)[:5] may resolve ties differently from topk(5).
        text_to_image_hits = _hits(scores, text_to_image, image_ids, k, chunk_size)
        # The transposed view holds the very same float values upstream ranks for image -> text.
        image_to_text_hits = _hits(scores.t(), image_ids, text_to_image, k, chunk_size)
        metrics[f"image_retrieval_recall@{k}"] = text_to_image_hits.float().mean().item()
        metrics[f"text_retrieval_recall@{k}"] = image_to_text_hits.float().mean().item()
    return metrics


def caption_texts(
    captions: Sequence[Sequence[str]], image_ids: Iterable[int] | None = None
) -> tuple[list[str], list[int]]:
    """The captions of the given images (default: all), flattened, and the image of each caption.

    Images are renumbered 0, 1, ... in the order given, so the owners index the rows of embeddings computed for
    exactly those images (corrupt images left out under ``--skip_corrupt`` take their captions with them).
    """
    texts: list[str] = []
    owner: list[int] = []
    for new_index, i in enumerate(range(len(captions)) if image_ids is None else image_ids):
        texts.extend(captions[i])
        owner.extend([new_index] * len(captions[i]))
    return texts, owner


class ZeroShotRetrieval(Task):
    """CLIP_benchmark's image-text retrieval: recall@k both ways. Settings used: ``recall_k``."""

    name = "zeroshot_retrieval"
    data_kinds = ("zeroshot_retrieval",)

    def texts(self, data: Any, images: Mapping[str, ImageEmbeddings], settings: TaskSettings) -> Texts:
        return Texts(*caption_texts(data.captions, images[EVAL_IMAGES].kept))

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if texts is None:
            raise ValueError("retrieval needs the caption embeddings")
        captions = texts.texts.texts
        info: dict[str, Any] = {"n_captions": len(captions), "text_cache": texts.cache}
        info["captions_sha256"] = hashlib.sha256("\0".join(captions).encode()).hexdigest()
        # --caption_preprocess (fork or none) changes the captions, so compare shows it beside the metrics
        mode = getattr(data, "info", {}).get("caption_preprocess")
        if mode is not None:
            info["caption_preprocess"] = mode
        metrics = evaluate_retrieval(
            images[EVAL_IMAGES].embeddings,
            texts.embeddings,
            torch.tensor(texts.texts.owner),
            recall_k=settings.recall_k,
        )
        return metrics, info

    def recorded_settings(self, settings: TaskSettings) -> dict[str, Any]:
        return {"recall_k": list(settings.recall_k)}


TASK = ZeroShotRetrieval()
