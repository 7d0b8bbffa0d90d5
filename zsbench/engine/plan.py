"""Expand a request into jobs and group them so each model loads once and each image set is encoded once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from zsbench.engine.config import EvalConfig, probe_settings
from zsbench.errors import ZsbenchError
from zsbench.paths import fill_template
from zsbench.tasks.base import ProbeSettings


def _datacomp_names() -> list[str]:
    from zsbench.datasets.catalog.datacomp import DATACOMP_DATASETS

    return list(DATACOMP_DATASETS)


# CLIP_benchmark's collections (builder.dataset_collection / model_collection), kept as data.
DATASET_COLLECTIONS: dict[str, list[str]] = {
    "retrieval": ["mscoco_captions", "flickr8k", "flickr30k"],
    "imagenet_robustness": ["imagenetv2", "imagenet_sketch", "imagenet-a", "imagenet-r", "objectnet"],
    "vtab": [
        "vtab/caltech101", "vtab/cifar100", "vtab/clevr_count_all", "vtab/clevr_closest_object_distance",
        "vtab/diabetic_retinopathy", "vtab/dmlab", "vtab/dsprites_label_orientation",
        "vtab/dsprites_label_x_position", "vtab/dtd", "vtab/eurosat", "vtab/kitti_closest_vehicle_distance",
        "vtab/flowers", "vtab/pets", "vtab/pcam", "vtab/resisc45", "vtab/smallnorb_label_azimuth",
        "vtab/smallnorb_label_elevation", "sun397", "vtab/svhn",
    ],
    "vtab+": [
        "imagenet1k", "imagenetv2", "imagenet_sketch", "imagenet-a", "imagenet-r", "objectnet", "fer2013", "voc2007",
        "voc2007_multilabel", "sun397", "cars", "fgvc_aircraft", "mnist", "stl10", "gtsrb", "country211",
        "renderedsst2", "vtab/caltech101", "vtab/cifar10", "vtab/cifar100", "vtab/clevr_count_all",
        "vtab/clevr_closest_object_distance", "vtab/diabetic_retinopathy", "vtab/dmlab",
        "vtab/dsprites_label_orientation", "vtab/dsprites_label_x_position", "vtab/dtd", "vtab/eurosat",
        "vtab/kitti_closest_vehicle_distance", "vtab/flowers", "vtab/pets", "vtab/pcam", "vtab/resisc45",
        "vtab/smallnorb_label_azimuth", "vtab/smallnorb_label_elevation", "vtab/svhn",
    ],
    "internvl_classification": [
        "imagenet1k", "imagenet-a", "imagenet-r", "imagenetv2", "imagenet_sketch", "objectnet", "cifar10",
        "cifar100", "mnist", "caltech101", "sun397", "fgvc_aircraft", "country211", "cars", "birdsnap", "dtd",
        "eurosat", "fer2013", "vtab/flowers", "food101", "gtsrb", "pets", "renderedsst2", "vtab/resisc45",
        "stl10", "voc2007",
    ],
    # DataComp's 38 scored tasks (tasklist.yml order; zsbench/datasets/catalog/datacomp.py maps each to DataComp's key)
    "datacomp": _datacomp_names(),
    "sugar_crepe": [
        "sugar_crepe/add_att", "sugar_crepe/add_obj", "sugar_crepe/replace_att", "sugar_crepe/replace_obj",
        "sugar_crepe/replace_rel", "sugar_crepe/swap_att", "sugar_crepe/swap_obj",
    ],
}  # fmt: skip
MODEL_COLLECTIONS: dict[str, list[tuple[str, str]]] = {
    "openai": [("ViT-B-32", "openai"), ("ViT-B-16", "openai"), ("ViT-L-14", "openai"), ("ViT-L-14-336", "openai")],
    "openclip_base": [
        ("ViT-B-32-quickgelu", "laion400m_e32"), ("ViT-B-32", "laion2b_e16"), ("ViT-B-32", "laion2b_s34b_b79k"),
        ("ViT-B-16", "laion400m_e32"), ("ViT-B-16-plus-240", "laion400m_e32"), ("ViT-L-14", "laion400m_e32"),
        ("ViT-L-14", "laion2b_s32b_b82k"), ("ViT-H-14", "laion2b_s32b_b79k"), ("ViT-g-14", "laion2b_s12b_b42k"),
    ],
    "openclip_multilingual": [
        ("xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k"), ("xlm-roberta-large-ViT-H-14", "frozen_laion5b_s13b_b90k"),
    ],
}  # fmt: skip


@dataclass(frozen=True)
class ModelRef:
    model_type: str
    model: str
    pretrained: str


@dataclass(frozen=True)
class Job:
    """One (model, dataset, language, task) evaluation; writes one result record."""

    model: ModelRef
    dataset: str
    language: str
    task: str
    split: str
    dataset_root: str
    output: str
    recall_k: tuple[int, ...] = (1, 5, 10)  # --recall_k (retrieval tasks)
    # The dataset loader's options (--download, custom prompt files, --allow_incomplete, ...), as sorted pairs.
    dataset_options: tuple[tuple[str, Any], ...] = ()
    # The task settings of this job that are not shared by the whole run (the linear probe's splits, few-shot, ...).
    probe: ProbeSettings | None = None

    @property
    def image_set_id(self) -> tuple[str, str, str]:
        return (self.dataset, self.split, self.dataset_root)


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)

    def by_model(self) -> list[tuple[ModelRef, list[Job]]]:
        """Jobs grouped by model, in first-seen order; inside a group, jobs sharing an image set are adjacent."""
        order = {m: i for i, m in reversed(list(enumerate(j.model for j in self.jobs)))}
        ds_order = {d: i for i, d in reversed(list(enumerate(j.image_set_id for j in self.jobs)))}
        jobs = sorted(self.jobs, key=lambda j: (order[j.model], ds_order[j.image_set_id]))
        return [(m, list(g)) for m, g in groupby(jobs, key=lambda j: j.model)]


def expand_datasets(values: Iterable[str]) -> list[tuple[str, str | None]]:
    """Names, collection names, or text files with one ``name`` or ``name,language`` per line.

    CLIP_benchmark does not parse ``name,language`` lines (LAION-AI/CLIP_benchmark#70); zsbench does.
    """
    out: list[tuple[str, str | None]] = []
    for value in values:
        if value in DATASET_COLLECTIONS:
            out.extend((d, None) for d in DATASET_COLLECTIONS[value])
        elif value.endswith(".txt") and os.path.isfile(value):
            for line in Path(value).read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    name, _, lang = line.partition(",")
                    out.append((name.strip(), lang.strip() or None))
        else:
            out.append((value, None))
    return out


def expand_models(models: list[str], pretrained: list[str], pretrained_model: list[str]) -> list[tuple[str, str]]:
    """``--model`` x ``--pretrained`` (Cartesian product), or ``--pretrained_model`` entries when given."""
    entries = [p for p in pretrained_model if p]
    if not entries:
        return [(m, p) for m in models for p in pretrained]
    out: list[tuple[str, str]] = []
    for value in entries:
        if value in MODEL_COLLECTIONS:
            out.extend(MODEL_COLLECTIONS[value])
        elif value == "openclip_all":
            import open_clip

            out.extend(open_clip.list_pretrained())
        elif os.path.isfile(value):
            for line in Path(value).read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    out.append(_split_model_pretrained(line.strip()))
        else:
            out.append(_split_model_pretrained(value))
    return out


def _split_model_pretrained(value: str) -> tuple[str, str]:
    model, sep, pretrained = value.partition(",")
    if not sep:
        raise ZsbenchError(f"--pretrained_model entry {value!r} is not 'model,pretrained', a collection or a file")
    return model.strip(), pretrained.strip()


# The fields the --output template may use (CLIP_benchmark's names); --dataset_root's live with the datasets.
OUTPUT_FIELDS = ("dataset", "model", "pretrained", "pretrained_full_path", "task", "language")


def output_for(template: str, *, model: str, pretrained: str, task: str, dataset: str, language: str) -> str:
    """CLIP_benchmark's ``--output`` template fields."""
    is_file = os.path.isfile(pretrained)
    return fill_template(
        template,
        "--output",
        model=model,
        pretrained=os.path.basename(pretrained) if is_file else pretrained,
        pretrained_full_path=pretrained.replace("/", "_") if is_file else pretrained,
        task=task,
        dataset=dataset.removeprefix("wds/").replace("/", "_"),
        language=language,
    )


def resolve_task(dataset: str, task: str) -> str:
    """``auto`` -> the dataset's default task; an explicit task must be registered and accept the dataset's data.

    Unknown and refused (not yet supported) names are one line each, from the task registry.
    """
    from zsbench.datasets import get_spec
    from zsbench.tasks import TASKS

    name = None if task == "auto" else TASKS.canonical(task)
    spec = get_spec(dataset)
    if name is None:
        return spec.default_task or spec.task
    if spec.task not in TASKS.get(name).data_kinds:
        accepting = " or ".join([*TASKS.accepting(spec.task), "auto"])
        raise ZsbenchError(f"dataset {dataset!r} is a {spec.task} dataset; run it with --task {accepting}")
    return name


def build_plan(config: EvalConfig) -> Plan:
    """The jobs of ``config``: models x datasets x languages, each with its task, dataset root and output path.

    Everything a job needs is resolved here from the registries and the one dataset-root resolver, so the plan is
    plain data: the engine runs it, ``zsbench plan`` could print it, and the pytest plugin builds one per case.
    """
    from zsbench.datasets import resolve_dataset_root
    from zsbench.tasks import TASKS

    options = dict(config.dataset_options)
    if config.download:
        options["download"] = True
    plan = Plan()
    for model, pretrained in config.models:
        ref = ModelRef(config.model_type, model, pretrained)
        for dataset, dataset_language in config.datasets:
            task = resolve_task(dataset, config.task)
            # a task's own loader defaults (captioning: raw reference captions), under what the user set
            dataset_options = tuple(sorted({**TASKS.get(task).dataset_defaults, **options}.items()))
            root = resolve_dataset_root(dataset, config.dataset_root)
            for language in [dataset_language] if dataset_language else config.languages:
                out = output_for(
                    config.output, model=model, pretrained=pretrained, task=task, dataset=dataset, language=language
                )
                plan.jobs.append(
                    Job(
                        ref,
                        dataset,
                        language,
                        task,
                        config.split,
                        root,
                        out,
                        tuple(config.recall_k),
                        dataset_options,
                        probe_settings(config, dataset),
                    )
                )
    return plan
