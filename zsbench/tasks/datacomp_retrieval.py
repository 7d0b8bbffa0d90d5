"""DataComp's retrieval score: CLIP_benchmark's recall@k plus ``mean_recall@1`` (``datacomp_retrieval``).

DataComp (``eval_utils/retr_eval.py``) runs CLIP_benchmark's retrieval with ``recall_k_list=[1, 5, 10]`` and adds
``mean_recall@1 = 0.5 * (text_retrieval_recall@1 + image_retrieval_recall@1)``, its main metric for Flickr and
MSCOCO (Python float arithmetic on the two float32 recalls). ``--task auto`` picks this task for DataComp's
``retrieval/*`` sets; recall@1 is computed even when ``--recall_k`` leaves 1 out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from zsbench.tasks.base import ImageEmbeddings, TaskSettings, TextEmbeddings
from zsbench.tasks.retrieval import ZeroShotRetrieval

__all__ = ["TASK", "DataCompRetrieval", "mean_recall_at_1"]


def mean_recall_at_1(metrics: Mapping[str, float]) -> float:
    """DataComp's ``mean_recall@1`` from CLIP_benchmark's retrieval metrics."""
    return 0.5 * (metrics["text_retrieval_recall@1"] + metrics["image_retrieval_recall@1"])


class DataCompRetrieval(ZeroShotRetrieval):
    """Zero-shot retrieval with DataComp's ``mean_recall@1``. Settings used: ``recall_k`` (1 always added)."""

    name = "datacomp_retrieval"
    data_kinds = ("zeroshot_retrieval",)

    @staticmethod
    def _with_k1(settings: TaskSettings) -> TaskSettings:
        ks = tuple(settings.recall_k)
        return settings if 1 in ks else dataclasses.replace(settings, recall_k=(1, *ks))

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        metrics, info = super().score(images, texts, data, self._with_k1(settings))
        metrics["mean_recall@1"] = mean_recall_at_1(metrics)
        return metrics, info

    def recorded_settings(self, settings: TaskSettings) -> dict[str, Any]:
        return super().recorded_settings(self._with_k1(settings))


TASK = DataCompRetrieval()
