"""DataComp's WILDS and fairness metrics: zero-shot classification plus per-group scores (``group_classification``).

DataComp (``eval_utils/wilds_eval.py``, ``fairness_eval.py``) first computes CLIP_benchmark's ``acc1``, ``acc5`` and
``mean_per_class_recall``, then runs a WILDS evaluator over each sample's metadata row. The same numbers here, from
the same arithmetic (WILDS metric definitions, wilds 2.0.0; DataComp's float32 group means):

* element-wise metrics are float32 0/1 per sample: ``acc`` = argmax == label, ``acc_top5`` = label among the
  5 highest logits (``torch.topk``); ``<m>_avg`` is their float32 mean;
* a grouping column's groups are ``0 .. max`` (WILDS' ``CombinatorialGrouper``: cardinality = max + 1, empty groups
  kept); per group ``<m>_<field>:<g>`` = float32 sum / float32 count and ``count_<field>:<g>``;
  the worst group ``<m>_wg`` is the minimum over non-empty groups (an empty group's mean is ``None``: DataComp
  divides 0 by 0 and writes NaN);
* ``recall-macro_all`` / ``F1-macro_all``: scikit-learn's macro averages over the labels present in the targets
  (``labels=unique(y_true)``, as WILDS passes), float64 as in DataComp's pinned scikit-learn 1.1.3, computed here
  without scikit-learn (a core dependency zsbench does not need).

Evaluators: iWildCam ``acc_avg``, ``recall-macro_all``, ``F1-macro_all`` (main: ``F1-macro_all``); Camelyon17 by
``slide`` (``acc_wg``; main ``acc1``); FMoW by ``year`` (``acc_worst_year``) and by ``region``
(``acc_worst_region``, the main metric); Dollar Street ``acc_top5`` by ``income_ds`` (main ``acc_top5_wg``);
GeoDE by ``region`` (main ``acc_wg``).

FMoW's "Other" region: DataComp's evaluator skips a region whose name contains "Other", but its evaluator has no
metadata map, so WILDS names regions ``region:0`` ... ``region:5`` and the test never matches: DataComp's
``acc_worst_region`` is the minimum over every non-empty region, "Other" included. zsbench reproduces that number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from zsbench.errors import ZsbenchError
from zsbench.tasks._common import require_dim
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, TaskSettings, TextEmbeddings
from zsbench.tasks.classification import (
    ZeroShotClassification,
    class_weights,
    classification_logits,
)

__all__ = [
    "EVALUATORS",
    "TASK",
    "GroupClassification",
    "datacomp_group_metrics",
    "group_eval",
    "macro_f1_recall",
]

EVALUATORS = ("iwildcam", "camelyon17", "fmow", "dollar_street", "geode")


def _groups(metadata: Tensor, column: int) -> tuple[Tensor, int]:
    """Group index of each sample (the column as int64) and the number of groups (max + 1, as WILDS)."""
    g = metadata[:, column].to(torch.long)
    if len(g) and int(g.min()) < 0:
        raise ValueError(f"group values must be >= 0, got {int(g.min())}")
    return g, (int(g.max()) + 1 if len(g) else 0)


def group_eval(element: Tensor, groups: Tensor, n_groups: int, metric: str, field: str) -> dict[str, float | None]:
    """WILDS' ``standard_group_eval`` of an element-wise metric: ``<metric>_avg``, per group ``<metric>_<field>:<g>``
    and ``count_<field>:<g>``, and the worst non-empty group ``<metric>_wg``.

    ``element`` is the float32 0/1 value of each sample. Group means are float32 sums over float32 counts (DataComp
    replaces WILDS' torch_scatter mean by exactly this, so an empty group is 0/0: DataComp writes NaN, zsbench
    ``None``); empty groups are left out of the minimum.
    """
    require_dim("element", element, 1)
    if len(groups) != len(element):
        raise ValueError(f"{len(groups)} group values for {len(element)} samples")
    element = element.to(torch.float32)
    out: dict[str, float | None] = {f"{metric}_avg": element.mean().item() if len(element) else 0.0}
    sums = torch.zeros(n_groups, dtype=torch.float32).scatter_add_(0, groups, element)
    counts = torch.bincount(groups, minlength=n_groups).to(torch.float32)
    means = sums / counts
    for g in range(n_groups):
        out[f"{metric}_{field}:{g}"] = means[g].item() if counts[g] > 0 else None
        out[f"count_{field}:{g}"] = counts[g].item()
    nonempty = means[counts > 0]
    out[f"{metric}_wg"] = nonempty.min().item() if len(nonempty) else 0.0
    return out


def macro_f1_recall(pred: Tensor, targets: Tensor) -> tuple[float, float]:
    """``(F1, recall)`` macro-averaged over the labels present in ``targets``, as WILDS computes them with the
    scikit-learn DataComp pins (1.1.3): ``f1_score`` / ``recall_score(average="macro", labels=unique(targets))``.

    Per label, in float64: precision = TP / predicted (0 when never predicted), recall = TP / support,
    F1 = 2 precision recall / (precision + recall) (0 when both are 0); then ``np.mean``. Predictions of labels
    absent from ``targets`` count only as misses of the true label. (scikit-learn >= 1.3 computes F1 as
    2 TP / (support + predicted), equal up to the last bit; WILDS then wraps the value in ``torch.tensor``, which
    newer scikit-learn's Python float turns into float32: DataComp's pinned environment keeps float64.)
    """
    t = targets.cpu().numpy().astype(np.int64)
    p = pred.cpu().numpy().astype(np.int64)
    if len(t) == 0:
        raise ValueError("macro F1 of an empty set is undefined")
    labels = np.unique(t)
    support = np.array([np.sum(t == label) for label in labels], dtype=np.float64)
    predicted = np.array([np.sum(p == label) for label in labels], dtype=np.float64)
    true_pos = np.array([np.sum((t == label) & (p == label)) for label in labels], dtype=np.float64)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = true_pos / support
    denom = precision + recall
    f1 = np.divide(2.0 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(f1)), float(np.mean(recall))


def datacomp_group_metrics(
    evaluator: str, logits: Tensor, targets: Tensor, metadata: Tensor, fields: tuple[str, ...]
) -> dict[str, float | None]:
    """The metrics DataComp's evaluator ``evaluator`` adds to the classification metrics (see the module doc)."""
    require_dim("logits", logits, 2)
    require_dim("metadata", metadata, 2)
    if evaluator not in EVALUATORS:
        raise ZsbenchError(f"unknown DataComp group evaluator {evaluator!r}; known: {', '.join(EVALUATORS)}")
    if len(metadata) != len(logits) or len(targets) != len(logits):
        raise ValueError(f"{len(logits)} samples but {len(targets)} labels and {len(metadata)} metadata rows")
    targets = targets.to(torch.long)
    pred = logits.argmax(dim=1)
    correct = (pred == targets).float()

    def grouped(element: Tensor, metric: str, field: str) -> dict[str, float | None]:
        g, n = _groups(metadata, fields.index(field))
        return group_eval(element, g, n, metric, field)

    if evaluator == "iwildcam":
        f1, recall = macro_f1_recall(pred, targets)
        return {"acc_avg": correct.mean().item(), "recall-macro_all": recall, "F1-macro_all": f1}
    if evaluator == "camelyon17":
        return grouped(correct, "acc", "slide")
    if evaluator == "geode":
        return grouped(correct, "acc", "region")
    if evaluator == "dollar_street":
        k = min(5, logits.shape[1])
        top = torch.topk(logits, k, dim=1)[1]
        return grouped((top == targets.view(-1, 1)).any(dim=1).float(), "acc_top5", "income_ds")
    # fmow: overall and by year (its worst group renamed), then by region; DataComp's "Other" test never matches
    out = grouped(correct, "acc", "year")
    out["acc_worst_year"] = out.pop("acc_wg")
    region = grouped(correct, "acc", "region")
    out.update({k: v for k, v in region.items() if k not in ("acc_avg", "acc_wg")})
    out["acc_worst_region"] = region["acc_wg"]
    return out


class GroupClassification(ZeroShotClassification):
    """Zero-shot classification with DataComp's WILDS / fairness group metrics (``--task auto`` on ``wilds/*`` and
    ``fairness/*``). Settings: as ``zeroshot_classification``."""

    name = "group_classification"
    data_kinds = ("zeroshot_classification",)

    def check_data(self, data: Any, settings: TaskSettings) -> None:
        evaluator = getattr(data, "evaluator", "")
        if getattr(data, "metadata", None) is None or not evaluator:
            raise ZsbenchError(
                f"task {self.name!r} needs per-sample group metadata (DataComp's wilds/* and fairness/* datasets); "
                "this dataset has none: run it with --task zeroshot_classification"
            )
        if evaluator not in EVALUATORS:
            raise ZsbenchError(f"unknown DataComp group evaluator {evaluator!r}; known: {', '.join(EVALUATORS)}")
        if data.multilabel:
            raise ZsbenchError(f"task {self.name!r} scores single-label data; this dataset is multilabel")

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.check_data(data, settings)
        metrics, info = super().score(images, texts, data, settings)
        image = images[EVAL_IMAGES]
        if settings.classifier is not None:
            weights = settings.classifier
        elif texts is None:  # super().score has refused this already
            raise ValueError("zero-shot classification needs the prompt embeddings or a loaded classifier")
        else:  # the very classifier super().score built (same prompts, same order, same arithmetic)
            weights = class_weights(texts.embeddings, torch.tensor(texts.texts.owner), len(data.classnames))
        logits = classification_logits(image.embeddings, weights, batch_size=settings.batch_size)
        targets = torch.as_tensor(image.take(data.targets), dtype=torch.long)
        metadata = torch.as_tensor(np.asarray(image.take(data.metadata)), dtype=torch.float64)
        metrics.update(datacomp_group_metrics(data.evaluator, logits, targets, metadata, tuple(data.metadata_fields)))
        info["group_evaluator"] = data.evaluator
        return metrics, info


TASK = GroupClassification()
