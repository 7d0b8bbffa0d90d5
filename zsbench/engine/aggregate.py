"""Aggregate scores over many results: DataComp's Average and group means, VTAB's group means, average rank.

Pure functions over result records (the dicts ``zsbench build`` reads), with the task tables as data.

**DataComp** (mlfoundations/datacomp ``tasklist.yml`` at 4afedc4 and ``aggregate_scores.py`` at 3ac587e): each of
its 38 scored tasks has one *main metric* (``acc1`` unless the task names another); ``evaluate.py`` stores it as
``main_metric`` and drops tasks where it is missing (FairFace and UTKFace have none, so they are not among the 38).
``aggregate_scores.py`` asserts that exactly 38 remain, then reports ImageNet (ImageNet 1k's acc1), the unweighted
mean of three groups ("ImageNet dist. shifts", "VTAB", "Retrieval") and the "Average" over all 38. The same is done
here, with sums by ``math.fsum`` (correctly rounded; upstream's ``np.mean`` over a Python ``set`` can differ in the
last bit from one process to the next, as set order follows string hashing).

**VTAB** (Zhai et al., "A Large-scale Study of Representation Learning with the Visual Task Adaptation
Benchmark", arXiv:1910.04867, Sec. 2): 19 tasks in three groups, *natural* (7), *specialized* (4) and *structured*
(8). The names are CLIP_benchmark's ``vtab`` collection (``plan.DATASET_COLLECTIONS``); DataComp's ``tasklist.yml``
tags its 13 VTAB tasks ``vtab_natural`` / ``vtab_specialized`` / ``vtab_structured`` with the same membership.
Top-1 accuracy (``acc1``) is VTAB's metric.

**Average rank**: per task (dataset, language, task) the models are ranked on one score, 1 = best, ties sharing
the mean of the ranks they span (as ``scipy.stats.rankdata(method="average")``); a model's average rank is the mean
over the tasks every model has, as in CLIP_benchmark's benchmark figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zsbench.errors import ZsbenchError

AGGREGATIONS = ("datacomp", "vtab", "rank")

IMAGENET_SHIFTS = "ImageNet dist. shifts"
VTAB_GROUP = "VTAB"
RETRIEVAL = "Retrieval"


@dataclass(frozen=True)
class DataCompTask:
    key: str  # DataComp's task key in tasklist.yml (also the zsbench dataset name, or wds/<key>)
    name: str  # DataComp's display name: the "dataset" of its results and the column of open_clip's table
    metric: str  # the main metric
    group: str | None = None  # aggregate_scores.py's DATASET_GROUPS, or None


# tasklist.yml order; the 38 tasks with a main metric.
DATACOMP_MAIN: tuple[DataCompTask, ...] = (
    DataCompTask("vtab/caltech101", "Caltech-101", "mean_per_class_recall", VTAB_GROUP),
    DataCompTask("cifar10", "CIFAR-10", "acc1"),
    DataCompTask("vtab/cifar100", "CIFAR-100", "acc1", VTAB_GROUP),
    DataCompTask("vtab/clevr_count_all", "CLEVR Counts", "acc1", VTAB_GROUP),
    DataCompTask("vtab/clevr_closest_object_distance", "CLEVR Distance", "acc1", VTAB_GROUP),
    DataCompTask("country211", "Country211", "acc1"),
    DataCompTask("vtab/dtd", "Describable Textures", "acc1", VTAB_GROUP),
    DataCompTask("vtab/eurosat", "EuroSAT", "acc1", VTAB_GROUP),
    DataCompTask("fgvc_aircraft", "FGVC Aircraft", "mean_per_class_recall"),
    DataCompTask("food101", "Food-101", "acc1"),
    DataCompTask("gtsrb", "GTSRB", "acc1"),
    DataCompTask("imagenet1k", "ImageNet 1k", "acc1"),
    DataCompTask("imagenet_sketch", "ImageNet Sketch", "acc1", IMAGENET_SHIFTS),
    DataCompTask("imagenetv2", "ImageNet v2", "acc1", IMAGENET_SHIFTS),
    DataCompTask("imagenet-a", "ImageNet-A", "acc1", IMAGENET_SHIFTS),
    DataCompTask("imagenet-o", "ImageNet-O", "acc1", IMAGENET_SHIFTS),
    DataCompTask("imagenet-r", "ImageNet-R", "acc1", IMAGENET_SHIFTS),
    DataCompTask("vtab/kitti_closest_vehicle_distance", "KITTI Vehicle Distance", "acc1", VTAB_GROUP),
    DataCompTask("mnist", "MNIST", "acc1"),
    DataCompTask("objectnet", "ObjectNet", "acc1", IMAGENET_SHIFTS),
    DataCompTask("vtab/flowers", "Oxford Flowers-102", "mean_per_class_recall", VTAB_GROUP),
    DataCompTask("vtab/pets", "Oxford-IIIT Pet", "mean_per_class_recall", VTAB_GROUP),
    DataCompTask("voc2007", "Pascal VOC 2007", "acc1"),
    DataCompTask("vtab/pcam", "PatchCamelyon", "acc1", VTAB_GROUP),
    DataCompTask("renderedsst2", "Rendered SST2", "acc1"),
    DataCompTask("vtab/resisc45", "RESISC45", "acc1", VTAB_GROUP),
    DataCompTask("cars", "Stanford Cars", "acc1"),
    DataCompTask("stl10", "STL-10", "acc1"),
    DataCompTask("sun397", "SUN397", "acc1", VTAB_GROUP),
    DataCompTask("vtab/svhn", "SVHN", "acc1", VTAB_GROUP),
    DataCompTask("retrieval/flickr_1k_test_image_text_retrieval", "Flickr", "mean_recall@1", RETRIEVAL),
    DataCompTask("retrieval/mscoco_2014_5k_test_image_text_retrieval", "MSCOCO", "mean_recall@1", RETRIEVAL),
    DataCompTask("misc/winogavil", "WinoGAViL", "jaccard_score_10-12", RETRIEVAL),
    DataCompTask("wilds/iwildcam", "iWildCam", "F1-macro_all"),
    DataCompTask("wilds/camelyon17", "Camelyon17", "acc1"),
    DataCompTask("wilds/fmow", "FMoW", "acc_worst_region"),
    DataCompTask("fairness/dollar_street", "Dollar Street", "acc_top5_wg"),
    DataCompTask("fairness/geode", "GeoDE", "acc_wg"),
)
DATACOMP_BY_KEY = {t.key: t for t in DATACOMP_MAIN}
DATACOMP_GROUPS = (IMAGENET_SHIFTS, VTAB_GROUP, RETRIEVAL)
DATACOMP_COLUMNS = ("ImageNet", *DATACOMP_GROUPS, "Average")

VTAB_TASKS: dict[str, tuple[str, ...]] = {
    "natural": ("vtab/caltech101", "vtab/cifar100", "vtab/dtd", "vtab/flowers", "vtab/pets", "sun397", "vtab/svhn"),
    "specialized": ("vtab/pcam", "vtab/eurosat", "vtab/resisc45", "vtab/diabetic_retinopathy"),
    "structured": (
        "vtab/clevr_count_all", "vtab/clevr_closest_object_distance", "vtab/dmlab",
        "vtab/kitti_closest_vehicle_distance", "vtab/dsprites_label_x_position", "vtab/dsprites_label_orientation",
        "vtab/smallnorb_label_azimuth", "vtab/smallnorb_label_elevation",
    ),
}  # fmt: skip
VTAB_ALL = tuple(name for names in VTAB_TASKS.values() for name in names)
VTAB_COLUMNS = (*VTAB_TASKS, "mean")
VTAB_METRIC = "acc1"

AGGREGATE_TASK = "aggregate"  # the "task" of the rows an aggregation adds to build's CSV


def _english(record: dict[str, Any]) -> bool:
    # DataComp and VTAB are English-only; a record without a language (hand-made, the fork's older lines) counts
    return record.get("language") in (None, "", "en")


def datacomp_task(dataset: str) -> DataCompTask | None:
    """The DataComp task a result's dataset name is: DataComp's task key (``vtab/caltech101``, ``cifar10``), or the
    webdataset form ``wds/<key>`` (``fairness/`` may be dropped there, as ``zsbench download`` names them)."""
    name = dataset.removeprefix("wds/")
    task = DATACOMP_BY_KEY.get(name)
    if task is None and dataset.startswith("wds/"):
        task = DATACOMP_BY_KEY.get("fairness/" + name)
    return task


def vtab_task(dataset: str) -> str | None:
    """The VTAB task (CLIP_benchmark's vtab collection name) a dataset name is, plain or ``wds/``."""
    name = dataset.removeprefix("wds/")
    return name if name in VTAB_ALL else None


def _model(record: dict[str, Any]) -> tuple[str, str]:
    return str(record.get("model")), str(record.get("pretrained"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def main_metric(task: DataCompTask, metrics: dict[str, Any]) -> float | None:
    """The task's main metric from a record's metrics. ``mean_recall@1`` is computed from the two recall@1 values
    when only they are there, as DataComp's retr_eval.py defines it: 0.5 * (text R@1 + image R@1)."""
    value = _number(metrics.get(task.metric))
    if value is None and task.metric == "mean_recall@1":
        text = _number(metrics.get("text_retrieval_recall@1"))
        image = _number(metrics.get("image_retrieval_recall@1"))
        if text is not None and image is not None:
            value = 0.5 * (text + image)
    return value


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


@dataclass
class Aggregate:
    """One model's aggregate: ``scores`` by column (None: no member present), ``n`` of ``of`` tasks present."""

    kind: str
    model: str
    pretrained: str
    scores: dict[str, float | None]
    n: int
    of: int
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.n == self.of

    def as_record(self) -> dict[str, Any]:
        """A build CSV row: dataset = the aggregation, task "aggregate", the scores and the number of tasks."""
        metrics: dict[str, Any] = dict(self.scores)
        metrics["tasks"] = self.n
        return {"dataset": self.kind, "model": self.model, "pretrained": self.pretrained, "task": AGGREGATE_TASK,
                "metrics": metrics, "language": "en"}  # fmt: skip


def _collect(
    records: Iterable[dict[str, Any]], match: Any, value_of: Any, what: str
) -> dict[tuple[str, str], dict[str, tuple[float, str]]]:
    """model -> task -> (value, dataset name) over the records that ``match`` a task and have its score.

    Two records of one model and task with different scores (``cifar10`` and ``wds/cifar10``, two runs) are
    refused: which one the aggregate should use is the user's call, not ours. Equal ones are the same result.
    """
    found: dict[tuple[str, str], dict[str, tuple[float, str]]] = {}
    for r in records:
        if r.get("task") == AGGREGATE_TASK or not _english(r):
            continue
        task = match(str(r.get("dataset")))
        if task is None:
            continue
        value = value_of(task, r.get("metrics") or {})
        if value is None:  # e.g. a linear probe of the same dataset: no zero-shot score to aggregate
            continue
        key = task if isinstance(task, str) else task.key
        tasks = found.setdefault(_model(r), {})
        if key in tasks and tasks[key][0] != value:
            model = " ".join(_model(r))
            raise ZsbenchError(
                f"--aggregate {what}: {model} has two different results for {key} ({tasks[key][1]}: "
                f"{tasks[key][0]:.6g}, {r.get('dataset')}: {value:.6g}); pass the result files of one run"
            )
        tasks.setdefault(key, (value, str(r.get("dataset"))))
    return found


def _refuse_partial(aggregates: list[Aggregate], what: str, collection: str) -> None:
    short = [a for a in aggregates if not a.complete]
    if not short:
        return
    a = short[0]
    shown = ", ".join(a.missing[:6]) + (f" and {len(a.missing) - 6} more" if len(a.missing) > 6 else "")
    others = f" (and {len(short) - 1} other model(s) short too)" if len(short) > 1 else ""
    raise ZsbenchError(
        f"--aggregate {what}: {a.model} {a.pretrained} has {a.n} of {collection}'s {a.of} results (missing: "
        f"{shown}){others}; an average over fewer is not {collection}'s: evaluate the missing tasks or pass "
        "--allow_partial"
    )


def aggregate_datacomp(records: Iterable[dict[str, Any]], allow_partial: bool = False) -> list[Aggregate]:
    """DataComp's ImageNet, group averages and Average per model, as ``aggregate_scores.py`` computes them.

    A model with fewer than the 38 main metrics is refused (:class:`ZsbenchError`, one line naming what is
    missing) unless ``allow_partial``; then each mean is over the tasks present and ``n``/``missing`` say which.
    """
    found = _collect(records, datacomp_task, main_metric, "datacomp")
    if not found:
        raise ZsbenchError(
            "--aggregate datacomp: no result is one of DataComp's 38 tasks (dataset names such as vtab/caltech101, "
            "cifar10 or wds/vtab/caltech101, language en, with the task's main metric)"
        )
    out = []
    for (model, pretrained), tasks in found.items():
        scores: dict[str, float | None] = {}
        imagenet = tasks.get("imagenet1k")
        scores["ImageNet"] = None if imagenet is None else imagenet[0]
        for group in DATACOMP_GROUPS:
            values = [tasks[t.key][0] for t in DATACOMP_MAIN if t.group == group and t.key in tasks]
            scores[group] = mean(values) if values else None
        values = [tasks[t.key][0] for t in DATACOMP_MAIN if t.key in tasks]
        scores["Average"] = mean(values)
        missing = [t.key for t in DATACOMP_MAIN if t.key not in tasks]
        out.append(Aggregate("datacomp", model, pretrained, scores, len(values), len(DATACOMP_MAIN), missing))
    if not allow_partial:
        _refuse_partial(out, "datacomp", "DataComp")
    return out


def aggregate_vtab(records: Iterable[dict[str, Any]], allow_partial: bool = False) -> list[Aggregate]:
    """VTAB's natural / specialized / structured means of acc1 and the mean over its 19 tasks, per model."""
    found = _collect(records, vtab_task, lambda _task, metrics: _number(metrics.get(VTAB_METRIC)), "vtab")
    if not found:
        raise ZsbenchError(
            "--aggregate vtab: no result is one of VTAB's 19 tasks (CLIP_benchmark's vtab collection: vtab/caltech101"
            ", ..., sun397, plain or wds/, language en, with acc1)"
        )
    out = []
    for (model, pretrained), tasks in found.items():
        scores: dict[str, float | None] = {}
        for group, names in VTAB_TASKS.items():
            values = [tasks[n][0] for n in names if n in tasks]
            scores[group] = mean(values) if values else None
        values = [tasks[n][0] for n in VTAB_ALL if n in tasks]
        scores["mean"] = mean(values)
        missing = [n for n in VTAB_ALL if n not in tasks]
        out.append(Aggregate("vtab", model, pretrained, scores, len(values), len(VTAB_ALL), missing))
    if not allow_partial:
        _refuse_partial(out, "vtab", "VTAB")
    return out


def rank_score(record: dict[str, Any]) -> tuple[str, float] | None:
    """(metric, score) a record is ranked on: a DataComp task's main metric (English), else acc1 for zero-shot
    classification, lp_acc1 for a linear probe, the mean of image and text recall@1 for retrieval, acc for
    image-caption selection; None when the record has none of these."""
    metrics = record.get("metrics") or {}
    task = datacomp_task(str(record.get("dataset")))
    if task is not None and _english(record):
        value = main_metric(task, metrics)
        return None if value is None else (task.metric, value)
    kind = record.get("task")
    if kind == "zeroshot_retrieval":
        text, image = _number(metrics.get("text_retrieval_recall@1")), _number(metrics.get("image_retrieval_recall@1"))
        return None if text is None or image is None else ("mean_recall@1", 0.5 * (text + image))
    metric = {"linear_probe": "lp_acc1", "image_caption_selection": "acc"}.get(str(kind), "acc1")
    value = _number(metrics.get(metric))
    return None if value is None else (metric, value)


def ranks(values: Sequence[float]) -> list[float]:
    """1 = highest; equal values share the mean of the ranks they span (1, 2.5, 2.5, 4)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1  # positions i..j are ranks i+1..j+1
        i = j + 1
    return out


@dataclass
class RankTable:
    models: list[tuple[str, str]]  # best average rank first
    mean_rank: dict[tuple[str, str], float]
    tasks: list[tuple[str, str, str, str]]  # (dataset, language, task, metric) ranked on
    left_out: list[str]  # tasks not every model has


def average_rank(records: Iterable[dict[str, Any]]) -> RankTable:
    """Each model's mean rank over the (dataset, language, task) results every model has."""
    scores: dict[tuple[str, str, str], dict[tuple[str, str], float]] = {}
    metric_of: dict[tuple[str, str, str], str] = {}
    for r in records:
        if r.get("task") == AGGREGATE_TASK:
            continue
        scored = rank_score(r)
        if scored is None:
            continue
        key = (str(r.get("dataset")), str(r.get("language") or ""), str(r.get("task") or ""))
        by_model = scores.setdefault(key, {})
        model = _model(r)
        if model in by_model and by_model[model] != scored[1]:
            raise ZsbenchError(
                f"--aggregate rank: {' '.join(model)} has two different results for {key[0]} [{key[1]}] "
                f"({by_model[model]:.6g} and {scored[1]:.6g}); pass the result files of one run"
            )
        by_model[model] = scored[1]
        metric_of[key] = scored[0]
    models = sorted({m for by_model in scores.values() for m in by_model})
    if len(models) < 2:
        raise ZsbenchError(f"--aggregate rank needs results of at least 2 models to rank, got {len(models)}")
    common = [k for k in scores if len(scores[k]) == len(models)]
    if not common:
        raise ZsbenchError(
            f"--aggregate rank: no dataset has a result of all {len(models)} models; rank models evaluated on the "
            "same datasets"
        )
    total = {m: 0.0 for m in models}
    for key in common:
        for m, rank in zip(models, ranks([scores[key][m] for m in models]), strict=True):
            total[m] += rank
    mean_rank = {m: total[m] / len(common) for m in models}
    order = sorted(models, key=lambda m: (mean_rank[m], m))
    left_out = [f"{k[0]} [{k[1]}]" if k[1] else k[0] for k in scores if k not in common]
    tasks = [(*k, metric_of[k]) for k in common]
    return RankTable(order, mean_rank, tasks, left_out)


# ----------------------------------------------------------------------------------------------------------------
# tables


def _cell(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def aggregates_markdown(aggregates: list[Aggregate]) -> str:
    """One Markdown table of one kind of aggregate, and a line per model that is partial naming what it lacks."""
    kind = aggregates[0].kind
    columns = DATACOMP_COLUMNS if kind == "datacomp" else VTAB_COLUMNS
    title = (
        "DataComp: main metrics averaged as aggregate_scores.py"
        if kind == "datacomp"
        else "VTAB: acc1 averaged per group (natural, specialized, structured) and over the 19 tasks"
    )
    rows = [[a.model, a.pretrained, f"{a.n}/{a.of}", *(_cell(a.scores[c]) for c in columns)] for a in aggregates]
    lines = [f"### {title}", "", *_table(["model", "pretrained", "tasks", *columns], rows)]
    partial = [a for a in aggregates if not a.complete]
    if partial:
        lines.append("")
        for a in partial:
            lines.append(f"- PARTIAL: {a.model} {a.pretrained} averages {a.n} of {a.of} tasks; missing: "
                         f"{', '.join(a.missing)}")  # fmt: skip
    return "\n".join(lines) + "\n"


def rank_markdown(table: RankTable) -> str:
    rows = [[m[0], m[1], f"{table.mean_rank[m]:.2f}"] for m in table.models]
    lines = [f"### Average rank over {len(table.tasks)} task(s) every model has (1 = best; ties share the mean rank)",
             "", *_table(["model", "pretrained", "average rank"], rows), ""]  # fmt: skip
    ranked = ", ".join(f"{d}{f' [{lang}]' if lang else ''} ({metric})" for d, lang, _task, metric in table.tasks)
    lines.append(f"Ranked on: {ranked}.")
    if table.left_out:
        lines.append(f"Left out (not every model has them): {', '.join(table.left_out)}.")
    return "\n".join(lines) + "\n"


@dataclass
class Aggregation:
    """What ``zsbench build --aggregate`` adds: rows for the CSV (means only: every one is higher-is-better, so
    ``zsbench compare`` can gate on them; ranks are not) and Markdown tables for the terminal and ``--markdown``."""

    records: list[dict[str, Any]]
    markdown: str


def aggregate(records: list[dict[str, Any]], kinds: Sequence[str], allow_partial: bool = False) -> Aggregation:
    """Every requested aggregation, each checked (and refused when short) before anything is written."""
    rows: list[dict[str, Any]] = []
    parts: list[str] = []
    for kind in dict.fromkeys(kinds):
        if kind == "datacomp":
            found = aggregate_datacomp(records, allow_partial)
        elif kind == "vtab":
            found = aggregate_vtab(records, allow_partial)
        elif kind == "rank":
            parts.append(rank_markdown(average_rank(records)))
            continue
        else:
            raise ZsbenchError(f"unknown --aggregate {kind!r}; valid choices: {', '.join(AGGREGATIONS)}")
        rows += [a.as_record() for a in found]
        parts.append(aggregates_markdown(found))
    return Aggregation(rows, "\n".join(parts))


__all__ = [
    "AGGREGATIONS",
    "DATACOMP_MAIN",
    "VTAB_TASKS",
    "Aggregate",
    "Aggregation",
    "DataCompTask",
    "RankTable",
    "aggregate",
    "aggregate_datacomp",
    "aggregate_vtab",
    "average_rank",
    "datacomp_task",
    "main_metric",
    "ranks",
    "vtab_task",
]
