"""Linear probe, following CLIP_benchmark 1.6.2 (``metrics/linear_probe.py``) step for step, on CPU.

A linear head (``nn.Linear``) is trained on frozen image features of the train split with AdamW, a cosine learning
rate schedule without warmup and cross-entropy, then scored on the job's split: ``lp_acc1``, ``lp_acc5``,
``lp_mean_per_class_recall``. With a validation set (``--val_split`` or ``--val_proportion``) the weight decay is
swept over ``logspace(-6, 2, 97)``, coarse to fine, as OpenAI's CLIP paper (A.3); without one it is 0.

The features come from the engine's embedding cache (the task asks for the train split, :meth:`LinearProbe.splits`),
so a second probe on the same features encodes nothing and a sweep costs only head training. Training follows
upstream's random stream exactly (``torch.manual_seed(seed)``, then the head's initialisation, then one shuffling
DataLoader pass per epoch), inside ``torch.random.fork_rng`` so the caller's global random state is untouched:
given the same features, few-shot sample and seed, the head gets the same updates as upstream's (a differential
test checks this against clip-benchmark itself).

Where upstream is wrong, zsbench differs deliberately; :data:`DIFFERENCES` lists each, and every result records the
list in its ``zsbench.linear_probe`` block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from zsbench.errors import ZsbenchError
from zsbench.tasks._common import l2_normalize, require_dim, require_labels
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, ProbeSettings, Task, TaskSettings, TextEmbeddings
from zsbench.tasks.classification import accuracy_topk, mean_per_class_recall

__all__ = [
    "DIFFERENCES",
    "TASK",
    "WEIGHT_DECAYS",
    "LinearProbe",
    "ProbeResult",
    "evaluate_probe",
    "fewshot_indices",
    "sweep_weight_decay",
    "train_head",
]

# CLIP_benchmark's grid and its coarse start (the 7 values of logspace(-6, 2, 7) found in the 97 by equality, as
# upstream does; all 7 are there).
WEIGHT_DECAYS: list[float] = np.logspace(-6, 2, num=97).tolist()
_COARSE = np.logspace(-6, 2, num=7).tolist()
COARSE_INDICES: list[int] = [i for i, wd in enumerate(WEIGHT_DECAYS) if wd in _COARSE]

# Deliberate differences from CLIP_benchmark 1.6.2, recorded in every linear-probe result.
DIFFERENCES: dict[str, str] = {
    "lp_acc5": "computed when the dataset has >= 5 classes, null otherwise, as zero-shot acc5 (CLIP_benchmark: "
    "only when the largest test label is >= 5, so a 5-class dataset gets NaN; NaN is not valid JSON)",
    "fewshot_sample": "drawn from a generator seeded with the few-shot seed (--seed, or each --fewshot_seeds value); "
    "CLIP_benchmark draws from the global random state after model and data loading, so its sample changes with "
    "the model type and dataset size",
    "val_proportion": "the held-out part of the train split is drawn from a generator seeded with --seed "
    "(CLIP_benchmark: the global random state after model loading)",
    "validation_data": "never part of few-shot training (as CLIP_benchmark 1.6.2; versions before PR #139 trained "
    "few-shot heads on train+val); with all training data (fewshot_k -1) the final head trains on train+val, as "
    "upstream",
    "too_few_samples": "a class with fewer than fewshot_k training samples is an error before the model loads "
    "(CLIP_benchmark prints 'insufficient data for this eval' after encoding and writes no metrics)",
    "classes": "the head has one output per dataset class (CLIP_benchmark: largest train label + 1, so a class "
    "missing from the train split breaks scoring)",
    "normalize": "--normalize false turns normalisation off (CLIP_benchmark's type=bool reads any non-empty value, "
    "'False' included, as True)",
    "features": "from zsbench's embedding cache, keyed by model, split and image files (CLIP_benchmark's "
    "--feature_root is keyed by model and dataset only, so a rerun with another split or --val_proportion reuses "
    "stale features)",
    "device": "runs on CPU, the head in fp32 (CLIP_benchmark asserts CUDA and trains under autocast unless --no_amp)",
}


@dataclass(frozen=True)
class ProbeResult:
    """One trained and scored probe: CLIP_benchmark's numbers, plus what the sweep tried."""

    acc1: float
    acc5: float | None
    mean_per_class_recall: float
    weight_decay: float
    val_acc1: dict[float, float]  # weight decay -> validation acc1, for every value the sweep trained

    def metrics(self) -> dict[str, float | None]:
        return {"lp_acc1": self.acc1, "lp_acc5": self.acc5, "lp_mean_per_class_recall": self.mean_per_class_recall}


def fewshot_indices(targets: Tensor, k: int, num_classes: int, seed: int) -> Tensor:
    """Indices of ``k`` training samples per class (all samples when ``k < 0``), in CLIP_benchmark's order.

    Upstream walks a random permutation and keeps a sample while its class has fewer than ``k``; the kept indices
    stay in permutation order (which decides how the head's batches are made up). The permutation comes from a
    generator seeded with ``seed``, the same numbers as ``torch.manual_seed(seed); torch.randperm(n)``.
    Raises ``ValueError`` naming the classes that have fewer than ``k`` samples.
    """
    labels = require_labels("targets", targets, len(targets), num_classes)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    if k < 0:
        return perm
    short = _short_classes(labels, k, num_classes)
    if short:
        raise ValueError(short)
    counts = [0] * num_classes
    kept = []
    for p in perm.tolist():
        c = int(labels[p])
        if counts[c] < k:
            counts[c] += 1
            kept.append(p)
    return torch.tensor(kept, dtype=torch.long)


def _short_classes(labels: Tensor, k: int, num_classes: int, classnames: Sequence[str] | None = None) -> str:
    """'' when every class has at least ``k`` samples; otherwise what is short, in one line."""
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    short = [(c, n) for c, n in enumerate(counts) if n < k]
    if not short:
        return ""
    names = [f"{classnames[c] if classnames else c} ({n})" for c, n in short[:5]]
    more = f" and {len(short) - 5} more" if len(short) > 5 else ""
    return (
        f"--fewshot_k {k} needs {k} training samples per class, but {len(short)} of {num_classes} classes have fewer: "
        f"{', '.join(names)}{more}; lower --fewshot_k (the smallest class has {min(counts)})"
    )


class _Batches(torch.utils.data.Dataset):
    # Indexed by a whole batch of indices: the same rows (and values) as upstream's per-sample dataset and default
    # collate, without a Python call per sample.
    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: list[int]) -> tuple[Tensor, Tensor]:
        return self.x[index], self.y[index]


def train_head(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    weight_decay: float,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> torch.nn.Linear:
    """CLIP_benchmark's ``train()``: ``nn.Linear`` with AdamW and a per-step cosine schedule, cross-entropy loss.

    The random stream is upstream's: ``torch.manual_seed(seed)``, the head's default initialisation, then per
    epoch a shuffling DataLoader (its base seed, then the sampler's seed, both from the global generator). It runs
    inside ``fork_rng``, so the caller's global random state is restored afterwards.
    """
    require_dim("features", features, 2)
    if len(features) == 0:
        raise ValueError("no training samples")
    x = features.float()
    y = labels.to(torch.long)
    sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(range(len(x))), batch_size, False)
    loader = torch.utils.data.DataLoader(_Batches(x, y), batch_size=None, sampler=sampler, num_workers=0)
    steps = epochs * len(sampler)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = torch.nn.Linear(x.shape[1], num_classes)
        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
        criterion = torch.nn.CrossEntropyLoss()
        for epoch in range(epochs):
            for i, (xb, yb) in enumerate(loader):
                step = i + epoch * len(sampler)
                # upstream's cosine_lr with warmup 0, in numpy float64 as upstream computes it
                for group in optimizer.param_groups:
                    group["lr"] = 0.5 * (1 + np.cos(np.pi * step / steps)) * lr
                optimizer.zero_grad()
                loss = criterion(head(xb), yb)
                loss.backward()
                optimizer.step()
    return head


def _logits(head: torch.nn.Linear, features: Tensor) -> Tensor:
    with torch.inference_mode():
        return head(features.float())


def sweep_weight_decay(
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    num_classes: int,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> tuple[float, dict[float, float]]:
    """CLIP_benchmark's coarse-to-fine weight-decay search; returns the chosen value and every validation acc1.

    Start with the 7 coarse values, then around the peak at spans 8, 4, 2, 1 (left, peak, right); a value
    replaces the peak only when its validation acc1 is strictly higher, ties keep the earlier one, and when no
    value beats 0 the first grid value wins, all as upstream. Training is deterministic given the seed, so each
    value is trained once (upstream retrains the peak at every step, with the same result).
    """
    tried: dict[int, float] = {}

    def val_acc1(idx: int) -> float:
        if idx not in tried:
            head = train_head(
                *train, num_classes, weight_decay=WEIGHT_DECAYS[idx], lr=lr, epochs=epochs, batch_size=batch_size,
                seed=seed,
            )  # fmt: skip
            tried[idx] = accuracy_topk(_logits(head, val[0]), val[1], (1,))[1]
        return tried[idx]

    def find_peak(indices: Sequence[int]) -> int:
        best, best_acc = 0, 0.0
        for idx in indices:
            acc = val_acc1(idx)
            if best_acc < acc:
                best, best_acc = idx, acc
        return best

    peak = find_peak(COARSE_INDICES)
    span = 8
    while span > 0:
        left, right = max(peak - span, 0), min(peak + span, len(WEIGHT_DECAYS) - 1)
        peak = find_peak([left, peak, right])
        span //= 2
    return WEIGHT_DECAYS[peak], {WEIGHT_DECAYS[i]: acc for i, acc in sorted(tried.items())}


def evaluate_probe(
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    num_classes: int,
    *,
    val: tuple[Tensor, Tensor] | None = None,
    fewshot_k: int = -1,
    fewshot_seed: int = 0,
    lr: float = 0.1,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
) -> ProbeResult:
    """Train and score one probe on features (already normalised if wanted) and integer labels.

    The few-shot sample (``fewshot_k`` per class, drawn with ``fewshot_seed``) comes from ``train`` only; ``val``,
    when given, chooses the weight decay, and joins the final training set only when all training data is used
    (``fewshot_k < 0``), as upstream. ``lp_acc5`` is null below 5 classes.
    """
    train_x, train_y = train
    require_dim("train features", train_x, 2)
    train_y = require_labels("train labels", train_y, len(train_x), num_classes)
    test_x, test_y = test
    require_dim("test features", test_x, 2)
    test_y = require_labels("test labels", test_y, len(test_x), num_classes)
    if len(test_x) == 0:
        raise ValueError("the test split has no samples")
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(f"train features have {train_x.shape[1]} dims, test features {test_x.shape[1]}")
    idx = fewshot_indices(train_y, fewshot_k, num_classes, fewshot_seed)
    shot_x, shot_y = train_x[idx], train_y[idx]
    common = {"lr": lr, "epochs": epochs, "batch_size": batch_size, "seed": seed}
    tried: dict[float, float] = {}
    if val is not None:
        val_x, val_y = val[0], require_labels("validation labels", val[1], len(val[0]), num_classes)
        if len(val_x) == 0:
            raise ValueError("the validation set has no samples")
        weight_decay, tried = sweep_weight_decay((shot_x, shot_y), (val_x, val_y), num_classes, **common)
        if fewshot_k < 0:
            shot_x, shot_y = torch.cat([shot_x, val_x.float()]), torch.cat([shot_y, val_y])
    else:
        weight_decay = 0.0
    head = train_head(shot_x, shot_y, num_classes, weight_decay=weight_decay, **common)
    logits = _logits(head, test_x)
    if num_classes >= 5:
        acc = accuracy_topk(logits, test_y, (1, 5))
        acc1, acc5 = acc[1], acc[5]
    else:
        acc1, acc5 = accuracy_topk(logits, test_y, (1,))[1], None
    mpcr = mean_per_class_recall(logits.argmax(dim=1), test_y)
    return ProbeResult(acc1, acc5, mpcr, weight_decay, tried)


def _split_indices(n: int, proportion: float, seed: int) -> tuple[list[int], list[int]]:
    """``random_split(range(n), [1 - p, p])`` with a generator seeded with ``seed``: (train part, held-out part)."""
    parts = torch.utils.data.random_split(range(n), [1 - proportion, proportion], torch.Generator().manual_seed(seed))
    return list(parts[0].indices), list(parts[1].indices)


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    if any(v is None for v in values):
        return None, None
    arr = np.array(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else None


class LinearProbe(Task):
    """CLIP_benchmark's ``linear_probe``: a linear head on frozen image features of the train split.

    Settings used: ``probe`` (splits, few-shot draw, epochs, learning rate, seeds, normalisation) and
    ``batch_size`` (the head's batch size, as upstream).
    """

    name = "linear_probe"
    data_kinds = ("zeroshot_classification",)

    def splits(self, settings: TaskSettings) -> dict[str, str]:
        probe = settings.probe
        wanted = {"train": probe.train_split}
        if probe.val_split is not None:
            wanted["val"] = probe.val_split
        return wanted

    def check_settings(self, settings: TaskSettings) -> None:
        p = settings.probe
        if p.val_split is not None and p.val_proportion is not None:
            raise ZsbenchError("--val_split and --val_proportion exclude each other; give one of them")
        if p.val_proportion is not None and not (0 < p.val_proportion < 1):
            raise ZsbenchError(f"--val_proportion must lie strictly between 0 and 1, got {p.val_proportion!r}")
        if p.fewshot_k == 0 or p.fewshot_k < -1:
            raise ZsbenchError(f"--fewshot_k must be >= 1 (samples per class) or -1 (all), got {p.fewshot_k}")
        if p.fewshot_epochs < 1:
            raise ZsbenchError(f"--fewshot_epochs must be >= 1, got {p.fewshot_epochs}")
        if not (math.isfinite(p.fewshot_lr) and p.fewshot_lr > 0):
            raise ZsbenchError(f"--fewshot_lr must be a positive number, got {p.fewshot_lr!r}")
        if p.fewshot_seeds is not None:
            if not p.fewshot_seeds:
                raise ZsbenchError("--fewshot_seeds needs at least one seed")
            if p.fewshot_k < 0:
                raise ZsbenchError(
                    "--fewshot_seeds draws several few-shot samples, but --fewshot_k is -1 (all training data, "
                    "nothing to draw); give --fewshot_k"
                )
            if len(set(p.fewshot_seeds)) != len(p.fewshot_seeds):
                raise ZsbenchError(f"--fewshot_seeds has repeated seeds: {list(p.fewshot_seeds)}")

    def check_data(self, data: Any, settings: TaskSettings) -> None:
        # Before the model loads: a class that cannot give fewshot_k samples fails now, not after the encoding.
        if getattr(data, "multilabel", False):
            raise ZsbenchError("the linear probe scores single-label datasets only (this one is multilabel)")
        p = settings.probe
        train = settings.other_splits["train"]
        labels = torch.as_tensor(train.targets, dtype=torch.long)
        if len(labels) == 0:
            raise ZsbenchError(f"--train_split {p.train_split!r} has no samples")
        if p.val_proportion is not None:
            kept, held = _split_indices(len(labels), p.val_proportion, p.seed)
            if not kept or not held:
                raise ZsbenchError(
                    f"--val_proportion {p.val_proportion} leaves {len(kept)} training and {len(held)} validation "
                    f"samples of {len(labels)}; choose a proportion that leaves some of each"
                )
            labels = labels[kept]
        if p.fewshot_k > 0:
            short = _short_classes(labels, p.fewshot_k, len(data.classnames), data.classnames)
            if short:
                where = "the training part of " if p.val_proportion is not None else ""
                raise ZsbenchError(f"{where}--train_split {p.train_split!r}: {short}")

    def recorded_settings(self, settings: TaskSettings) -> dict[str, Any]:
        return {}

    def score(
        self,
        images: Mapping[str, ImageEmbeddings],
        texts: TextEmbeddings | None,
        data: Any,
        settings: TaskSettings,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        p: ProbeSettings = settings.probe
        num_classes = len(data.classnames)
        batch_size = settings.batch_size or 64

        def features(role: str, split_data: Any) -> tuple[Tensor, Tensor]:
            emb = images[role]
            x = l2_normalize(emb.embeddings) if p.normalize else emb.embeddings.float()
            return x, torch.as_tensor(emb.take(split_data.targets), dtype=torch.long)

        train = features("train", settings.other_splits["train"])
        test = features(EVAL_IMAGES, data)
        val = features("val", settings.other_splits["val"]) if "val" in settings.other_splits else None
        if p.val_proportion is not None:
            kept, held = _split_indices(len(train[0]), p.val_proportion, p.seed)
            val = (train[0][held], train[1][held])
            train = (train[0][kept], train[1][kept])
        draws = list(p.fewshot_seeds) if p.fewshot_seeds is not None else [p.seed]
        results = [
            evaluate_probe(
                train, test, num_classes, val=val, fewshot_k=p.fewshot_k, fewshot_seed=s, lr=p.fewshot_lr,
                epochs=p.fewshot_epochs, batch_size=batch_size, seed=p.seed,
            )
            for s in draws
        ]  # fmt: skip

        decays = {r.weight_decay for r in results}
        metrics: dict[str, Any] = {}
        stds: dict[str, Any] = {}
        for key in ("lp_acc1", "lp_acc5", "lp_mean_per_class_recall"):
            mean, std = _mean_std([r.metrics()[key] for r in results])
            metrics[key] = mean
            stds[f"{key}_std"] = std
        metrics.update(
            {
                # several draws may choose different weight decays: then there is no one value (see per_draw)
                "weight_decay": decays.pop() if len(decays) == 1 else None,
                "epochs": p.fewshot_epochs,
                "seed": p.seed,
                "fewshot_k": p.fewshot_k,
                "normalized": p.normalize,
            }
        )
        if len(results) > 1:
            metrics.update(stds)
        info = {
            "linear_probe": {
                "train_split": p.train_split,
                "val_split": p.val_split,
                "val_proportion": p.val_proportion,
                "n_train": len(train[0]),
                "n_val": 0 if val is None else len(val[0]),
                "n_classes": num_classes,
                "lr": p.fewshot_lr,
                "head_batch_size": batch_size,
                "head": "nn.Linear, AdamW, cosine schedule without warmup, fp32 on CPU",
                "train_image_embeddings": images["train"].cache,
                "val_image_embeddings": images["val"].cache if "val" in images else None,
                "fewshot_seeds": draws,
                "std": "sample standard deviation (n - 1) over the few-shot draws" if len(results) > 1 else None,
                "per_draw": [
                    {
                        "fewshot_seed": s,
                        **r.metrics(),
                        "weight_decay": r.weight_decay,
                        "n_sweep_values": len(r.val_acc1),
                    }
                    for s, r in zip(draws, results)
                ],
                "differences_from_clip_benchmark": dict(DIFFERENCES),
            }
        }
        return metrics, info


TASK = LinearProbe()
