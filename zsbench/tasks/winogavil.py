"""WinoGAViL as DataComp scores it (``eval_utils/wino_eval.py``): the ``image_association`` task.

Each instance has a cue, 5, 6, 10 or 12 candidate images and the K candidates players associated with the cue. The
cue becomes one prompt, ``"A <cue>"`` or ``"An <cue>"`` (lower-cased; "An" when it starts with a vowel letter); the
K candidates whose images score highest against it (cosine similarity; ``np.argsort(scores)[-K:]``, as DataComp, so
exact ties resolve alike) are the prediction, and the instance scores the Jaccard index |predicted & true| /
|predicted | true|. Metrics (DataComp's keys): ``avg_jaccard_score`` over all instances, ``jaccard_score_<n>`` over
the instances with n = 5, 6, 10, 12 candidates, ``jaccard_score_5-6`` (n <= 6) and ``jaccard_score_10-12``
(n >= 10, DataComp's main metric); a group without instances is ``None`` (DataComp: NaN).

Each distinct image is encoded once (DataComp encodes the candidates of every instance again). Instances with an
image skipped by ``--skip_corrupt`` are left out and counted in ``dropped_instances``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from zsbench.errors import ZsbenchError
from zsbench.tasks._common import l2_normalize
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, Task, TaskSettings, TextEmbeddings, Texts

__all__ = ["TASK", "ImageAssociation", "cue_prompt", "jaccard_scores", "predict_associations", "winogavil_metrics"]

GROUPS = (("5", lambda n: n == 5), ("6", lambda n: n == 6), ("10", lambda n: n == 10), ("12", lambda n: n == 12),
          ("5-6", lambda n: n <= 6), ("10-12", lambda n: n >= 10))  # fmt: skip


def cue_prompt(cue: str) -> str:
    """DataComp's prompt for a cue: lower-cased, with "An" before a vowel letter and "A" otherwise."""
    item = cue.lower()
    return f"An {item}" if item[:1] in ("a", "e", "i", "o", "u") else f"A {item}"


def predict_associations(scores: np.ndarray, k: int) -> np.ndarray:
    """The boolean prediction: the ``k`` candidates ranked last by ``np.argsort(scores)`` (the highest scores)."""
    if k < 1:
        raise ValueError("an instance needs at least one association")
    top = np.argsort(scores)[-k:]
    return np.isin(np.arange(len(scores)), top)


def jaccard_scores(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's binary ``jaccard_score``: |true & pred| / |true | pred| (0.0 when both are empty)."""
    union = int(np.sum(y_true | y_pred))
    return float(np.sum(y_true & y_pred) / union) if union else 0.0


def winogavil_metrics(scores: list[float], n_candidates: list[int]) -> dict[str, float | None]:
    """DataComp's WinoGAViL keys from per-instance Jaccard scores and candidate counts (``np.mean``, float64)."""
    if not scores:
        raise ValueError("WinoGAViL needs at least one instance")
    s = np.asarray(scores, dtype=np.float64)
    n = np.asarray(n_candidates)
    out: dict[str, float | None] = {"avg_jaccard_score": float(s.mean())}
    for key, pick in GROUPS:
        mask = pick(n)
        out[f"jaccard_score_{key}"] = float(s[mask].mean()) if mask.any() else None
    return out


class ImageAssociation(Task):
    """WinoGAViL: pick the candidate images associated with a cue (DataComp's Jaccard scores). No settings."""

    name = "image_association"
    data_kinds = ("image_association",)

    def check_data(self, data: Any, settings: TaskSettings) -> None:
        if not data.cues:
            raise ZsbenchError("image_association: the dataset has no instances")

    def texts(self, data: Any, images: Mapping[str, ImageEmbeddings], settings: TaskSettings) -> Texts:
        keep = self._kept_instances(data, images[EVAL_IMAGES])
        return Texts([cue_prompt(data.cues[k]) for k in keep], list(range(len(keep))))

    @staticmethod
    def _kept_instances(data: Any, image: ImageEmbeddings) -> list[int]:
        kept = image.kept
        if kept is None:
            return list(range(len(data.cues)))
        present = set(kept)
        return [k for k, cands in enumerate(data.candidates) if all(i in present for i in cands)]

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if texts is None:
            raise ValueError("image_association needs the cue embeddings")
        image = images[EVAL_IMAGES]
        keep = self._kept_instances(data, image)
        kept = image.kept
        row = {i: r for r, i in enumerate(kept)} if kept is not None else None
        img = l2_normalize(image.embeddings)
        txt = l2_normalize(texts.embeddings)
        scores: list[float] = []
        sizes: list[int] = []
        for t, k in enumerate(keep):
            rows = [row[i] for i in data.candidates[k]] if row is not None else list(data.candidates[k])
            sims = (txt[t : t + 1] @ img[torch.tensor(rows)].t()).squeeze(0).numpy()
            y_true = np.asarray(data.associated[k], dtype=bool)
            y_pred = predict_associations(sims, int(y_true.sum()))
            scores.append(jaccard_scores(y_true, y_pred))
            sizes.append(len(rows))
        metrics = winogavil_metrics(scores, sizes)
        info = {"n_instances": len(keep), "dropped_instances": len(data.cues) - len(keep), "text_cache": texts.cache}
        return metrics, info


TASK = ImageAssociation()
