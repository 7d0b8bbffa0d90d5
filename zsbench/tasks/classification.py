"""Zero-shot classification, bit-compatible with CLIP_benchmark 1.6.2 (``metrics/zeroshot_classification.py``).

The metrics are pure functions over embeddings and labels: torch tensors in, plain Python floats out. numpy is used
only where CLIP_benchmark delegates to scikit-learn, so that the float64 arithmetic (and thus the last digit) is the
same. :data:`TASK` is the ``zeroshot_classification`` task: prompts from classnames and templates, the classifier
from their embeddings (or ``--load_clfs``), then these metrics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from zsbench.errors import ZsbenchError
from zsbench.tasks._common import l2_normalize, require_dim, require_labels
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, Task, TaskSettings, TextEmbeddings, Texts

__all__ = [
    "TASK",
    "ZeroShotClassification",
    "accuracy_topk",
    "class_prompts",
    "class_weights",
    "classification_logits",
    "clip_benchmark_accuracy",
    "evaluate_classification",
    "mean_average_precision",
    "mean_per_class_recall",
]

LOGIT_SCALE = 100.0  # CLIP_benchmark's fixed factor; the model's own logit_scale is never used.


def class_weights(text_embeddings: Tensor, prompt_class: Tensor, num_classes: int) -> Tensor:
    """Zero-shot classifier ``W`` of shape ``(D, C)``.

    Column ``c`` is ``normalize(mean_{p: prompt_class[p] == c} normalize(text_embeddings[p]))``, columns in class
    order. Prompts may come in any order (the engine encodes them in large mixed batches); within a class their
    relative order is kept, so the mean is taken over the same rows in the same order as CLIP_benchmark's per-class
    loop. Every class needs at least one prompt.
    """
    require_dim("text_embeddings", text_embeddings, 2)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    labels = require_labels("prompt_class", prompt_class, len(text_embeddings), num_classes)
    counts = torch.bincount(labels, minlength=num_classes)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"classes without prompts: {empty[:10]}{' ...' if len(empty) > 10 else ''}")
    normalized = l2_normalize(text_embeddings)
    # A stable sort groups each class's prompts while keeping their order. The per-class mean is deliberately a
    # small loop (not index_add/scatter): a sum over the same rows in the same order rounds exactly like upstream.
    grouped = normalized[torch.argsort(labels, stable=True)]
    columns = []
    for rows in torch.split(grouped, counts.tolist()):
        mean = rows.mean(dim=0)
        columns.append(mean / mean.norm())
    return torch.stack(columns, dim=1)


def classification_logits(image_embeddings: Tensor, weights: Tensor, *, batch_size: int | None = None) -> Tensor:
    """``(100 * normalize(image_embeddings)) @ weights`` in float32, shape ``(N, C)``.

    CLIP_benchmark multiplies one dataloader batch at a time, and a BLAS matmul over a block of rows does not round
    bit-for-bit like the same rows inside a bigger matmul. Pass the evaluation ``batch_size`` to reproduce its logits
    exactly; ``None`` uses one matmul (identical up to float rounding, which can only matter at exact near-ties).
    """
    require_dim("image_embeddings", image_embeddings, 2)
    require_dim("weights", weights, 2)
    if image_embeddings.shape[1] != weights.shape[0]:
        raise ValueError(f"embedding dim {image_embeddings.shape[1]} != classifier dim {weights.shape[0]}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    z = l2_normalize(image_embeddings)
    w = weights.float()
    n = len(z)
    if batch_size is None or batch_size >= n:
        return (LOGIT_SCALE * z) @ w  # same association as upstream's `100. * image_features @ classifier`
    return torch.cat([(LOGIT_SCALE * z[start : start + batch_size]) @ w for start in range(0, n, batch_size)])


def accuracy_topk(logits: Tensor, targets: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """``{k: (1/N) * #{n : targets[n] in top-k(logits[n])}}`` for each k.

    One ``topk(max(ks), sorted=True)`` is taken and each k uses its first k columns, as upstream does, so exact ties
    are resolved identically. The count is a float32 sum turned into a Python float and divided by N in float64,
    the same arithmetic as upstream's ``accuracy()`` (which itself fails on NumPy >= 2.4).
    """
    require_dim("logits", logits, 2)
    n, num_classes = logits.shape
    if n == 0:
        raise ValueError("accuracy of an empty set is undefined")
    if not ks or min(ks) < 1 or max(ks) > num_classes:
        raise ValueError(f"each k must lie in [1, {num_classes}], got {tuple(ks)}")
    targets = require_labels("targets", targets, n, num_classes)
    pred = logits.topk(max(ks), 1, True, True)[1].t()  # (maxk, N)
    correct = pred.eq(targets.view(1, -1).expand_as(pred))
    return {k: correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / n for k in ks}


def mean_per_class_recall(pred: Tensor, targets: Tensor) -> float:
    """Mean over the classes present in ``targets`` of ``TP_c / (TP_c + FN_c)``.

    Equals ``sklearn.metrics.balanced_accuracy_score(targets, pred)`` (``adjusted=False``) to the last bit: classes
    are taken in sorted label order, recalls are float64 ``int / int`` and averaged with ``np.mean``. Classes that
    are predicted but never occur in ``targets`` get no weight.
    """
    require_dim("pred", pred, 1)
    require_dim("targets", targets, 1)
    if len(pred) != len(targets):
        raise ValueError(f"pred has {len(pred)} entries, targets {len(targets)}")
    if len(targets) == 0:
        raise ValueError("mean per-class recall of an empty set is undefined")
    t = targets.cpu().numpy().astype(np.int64)
    p = pred.cpu().numpy().astype(np.int64)
    labels, inverse = np.unique(np.concatenate([t, p]), return_inverse=True)
    t_idx, p_idx = inverse[: len(t)], inverse[len(t) :]
    support = np.bincount(t_idx, minlength=len(labels))
    true_pos = np.bincount(t_idx[t_idx == p_idx], minlength=len(labels))
    present = support > 0
    per_class = true_pos[present] / support[present]
    return float(np.mean(per_class))


def mean_average_precision(scores: Tensor, multi_hot: Tensor) -> float:
    """Mean over all C classes of torchnet-style non-interpolated average precision.

    For class k, rank the N items by descending score (``torch.sort``, as upstream); with ``TP_i`` the number of
    positives among the first i, ``AP_k = sum_{i positive} (TP_i / i) / max(P_k, 1)``, so a class without positives
    scores 0. Computed in float32 with upstream's operations, returned via ``.item()``.
    """
    require_dim("scores", scores, 2)
    if multi_hot.shape != scores.shape:
        raise ValueError(f"multi_hot shape {tuple(multi_hot.shape)} != scores shape {tuple(scores.shape)}")
    if len(scores) == 0:
        raise ValueError("average precision of an empty set is undefined")
    targets = multi_hot.cpu().float()  # upstream receives float 0/1 vectors (PASCAL VOC)
    if not bool(((targets == 0) | (targets == 1)).all()):
        raise ValueError("multi_hot must contain only 0 and 1")
    scores = scores.cpu()
    ap = torch.zeros(scores.size(1))
    ranks = torch.arange(1, scores.size(0) + 1).float()
    for k in range(scores.size(1)):
        _, order = torch.sort(scores[:, k], 0, True)
        truth = targets[:, k][order]
        precision = truth.cumsum(0).div(ranks)
        ap[k] = precision[truth.bool()].sum() / max(float(truth.sum()), 1)
    return ap.mean().item()


def evaluate_classification(
    image_embeddings: Tensor,
    weights: Tensor,
    targets: Tensor,
    *,
    multilabel: bool = False,
    batch_size: int | None = None,
) -> dict[str, float | None]:
    """CLIP_benchmark's zero-shot classification metrics from raw image embeddings and a ``class_weights`` matrix.

    Single-label (``targets`` of shape ``(N,)``): ``acc1``, ``acc5`` and ``mean_per_class_recall`` (argmax
    prediction). With fewer than 5 classes ``acc5`` is ``None`` (upstream writes NaN, which is not valid JSON) and
    ``acc1`` comes from a top-1-only ranking, as upstream. Multilabel (``targets`` multi-hot ``(N, C)``): only
    ``mean_average_precision``. ``batch_size``: see ``classification_logits``.
    """
    logits = classification_logits(image_embeddings, weights, batch_size=batch_size)
    if multilabel:
        require_dim("targets", targets, 2)
        return {"mean_average_precision": mean_average_precision(logits, targets)}
    require_dim("targets", targets, 1)
    num_classes = logits.shape[1]
    targets = require_labels("targets", targets, len(logits), num_classes)
    if num_classes >= 5:
        acc = accuracy_topk(logits, targets, (1, 5))
        acc1, acc5 = acc[1], acc[5]
    else:
        acc1, acc5 = accuracy_topk(logits, targets, (1,))[1], None
    pred = logits.argmax(axis=1)  # argmax, not topk: on exact ties the two may pick different classes, as upstream
    return {"acc1": acc1, "acc5": acc5, "mean_per_class_recall": mean_per_class_recall(pred, targets)}


def clip_benchmark_accuracy(output: Tensor, target: Tensor, topk: Sequence[int] = (1,)) -> list[float]:
    """Drop-in for CLIP_benchmark 1.6.2's ``accuracy(output, target, topk)``, which fails on NumPy >= 2.4.

    The same arithmetic (:func:`accuracy_topk`), returned as upstream's list in ``topk`` order, for patching
    ``clip_benchmark.metrics.zeroshot_classification.accuracy`` when upstream itself has to run.
    """
    acc = accuracy_topk(output, target, tuple(topk))
    return [acc[k] for k in topk]


def class_prompts(classnames: list[str], templates: Any) -> tuple[list[str], list[int]]:
    """All prompts of all classes, in class order, and the class of each prompt.

    ``templates`` is a list of format strings with ``{c}``, or a dict classname -> prompts (CuPL).
    """
    prompts: list[str] = []
    owner: list[int] = []
    for c, name in enumerate(classnames):
        texts = templates[name] if isinstance(templates, dict) else [t.format(c=name) for t in templates]
        prompts.extend(texts)
        owner.extend([c] * len(texts))
    return prompts, owner


class ZeroShotClassification(Task):
    """CLIP_benchmark's zero-shot classification: a prompt-averaged classifier, then acc1/acc5/mean per-class recall
    (or mAP for multilabel data).

    Settings used: ``batch_size`` (the classifier is applied one evaluation batch at a time, as upstream),
    ``classifier`` (``--load_clfs``: used as is, no prompt encoded) and ``save_classifier`` (``--save_clf``).
    """

    name = "zeroshot_classification"
    data_kinds = ("zeroshot_classification",)

    def texts(self, data: Any, images: Mapping[str, ImageEmbeddings], settings: TaskSettings) -> Texts | None:
        if settings.classifier is not None:
            return None  # a loaded classifier replaces the prompts, as in CLIP_benchmark
        return Texts(*class_prompts(data.classnames, data.templates))

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        image = images[EVAL_IMAGES]
        prompts, prompt_class = (
            (texts.texts.texts, texts.texts.owner)
            if texts is not None
            else class_prompts(data.classnames, data.templates)
        )
        info: dict[str, Any] = {"n_classes": len(data.classnames), "n_prompts": len(prompts)}
        info["prompts_sha256"] = hashlib.sha256("\0".join(prompts).encode()).hexdigest()
        if settings.classifier is not None:
            # CLIP_benchmark: the plain mean of the saved classifiers, no renormalisation.
            weights = settings.classifier
            expected = (image.embeddings.shape[1], len(data.classnames))
            if tuple(weights.shape) != expected:
                raise ZsbenchError(
                    f"{settings.classifier_source or 'the loaded classifier'}: classifier shape "
                    f"{tuple(weights.shape)} does not fit this model and dataset (embedding dim x classes = "
                    f"{expected}); pass ones saved for them"
                )
            info["text_cache"] = "loaded"
        elif texts is None:
            raise ValueError("zero-shot classification needs the prompt embeddings or a loaded classifier")
        else:
            weights = class_weights(texts.embeddings, torch.tensor(prompt_class), len(data.classnames))
            info["text_cache"] = texts.cache
        if settings.save_classifier is not None:
            settings.save_classifier(weights)
        targets = image.take(data.targets)
        if data.multilabel:
            targets = torch.as_tensor(targets)
        else:
            targets = torch.as_tensor(targets, dtype=torch.long)
        # CLIP_benchmark multiplies the classifier one loader batch at a time; the same batch size gives the same
        # bits, which matters only at near-ties.
        metrics = evaluate_classification(
            image.embeddings, weights, targets, multilabel=data.multilabel, batch_size=settings.batch_size
        )
        return metrics, info


TASK = ZeroShotClassification()
