"""The evaluator: ``zsbench eval`` and ``zsbench.evaluate``. Checks a configuration, plans it, and runs the plan.

The parts live beside it: ``plan.py`` (jobs grouped so each model loads once), ``runner.py`` (models, embeddings
through the cache, one task call per job), ``records.py`` (the result record and its provenance block) and
``zsbench/tasks`` (what each ``--task`` computes).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from zsbench.datasets import get_spec, load_dataset, resolve_dataset_root
from zsbench.engine.atomic import remove_stale_temps
from zsbench.engine.cache import EmbeddingCache
from zsbench.engine.checks import check_output_file, check_settings, check_writable_file
from zsbench.engine.config import EvalConfig
from zsbench.engine.plan import Job, ModelRef, build_plan, expand_datasets
from zsbench.engine.runner import Runner
from zsbench.errors import ZsbenchError
from zsbench.tasks import TASKS

__all__ = ["Evaluator", "evaluate", "resolve_task"]


def resolve_task(dataset: str, task: str) -> str:
    """``auto`` -> the dataset's default task; an explicit task must be registered and accept the dataset's data.

    Unknown and refused (not yet supported) names are one line each, from the task registry.
    """
    name = None if task == "auto" else TASKS.canonical(task)
    spec = get_spec(dataset)
    if name is None:
        return spec.task
    if spec.task not in TASKS.get(name).data_kinds:
        accepting = " or ".join([*TASKS.accepting(spec.task), "auto"])
        raise ZsbenchError(f"dataset {dataset!r} is a {spec.task} dataset; run it with --task {accepting}")
    return name


class Evaluator(Runner):
    """One instance per invocation (or per pytest session): the configuration, its checks and its plan, run by the
    :class:`~zsbench.engine.runner.Runner` it extends (cache, loader settings, models, jobs)."""

    def __init__(self, config: EvalConfig, cache: EmbeddingCache | None = None) -> None:
        super().__init__(config, cache)
        self._validated = False

    # -- checks before any work -------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check names, settings, templates, output paths and classifier files; each problem is one line.

        Runs before any model loads or image is encoded (``run`` calls it once; the CLI calls it first).
        """
        from zsbench.datasets.languages import canonical_language
        from zsbench.models import MODEL_TYPES

        cfg = self.config
        MODEL_TYPES.canonical(cfg.model_type)
        for dataset, language in cfg.datasets:
            get_spec(dataset)
            resolve_task(dataset, cfg.task)
            for lang in [language] if language else cfg.languages:
                canonical_language(lang)
        check_settings(cfg)
        groups = self.plan()
        if cfg.write_results:
            for output in dict.fromkeys(j.output for _, jobs in groups for j in jobs):
                check_output_file(output)
        if cfg.load_clfs:
            self.loaded_classifier()  # read (and kept) now: a bad file fails before any model loads
        if cfg.save_clf:
            check_writable_file(cfg.save_clf, "--save_clf")
        self._validated = True

    def remove_stale_temps(self, outputs: list[str]) -> None:
        """Remove what killed runs left half-written in the output folders and the cache (never a live run's)."""
        for folder in dict.fromkeys(os.path.dirname(os.path.abspath(o)) for o in outputs):
            remove_stale_temps(folder)
        self.cache.remove_stale_temps()

    # -- planning ---------------------------------------------------------------------------------------------
    def plan(self) -> list[tuple[ModelRef, list[Job]]]:
        cfg = self.config
        return build_plan(
            cfg.model_type,
            cfg.models,
            cfg.datasets,
            cfg.languages,
            task=cfg.task,
            split=cfg.split,
            dataset_root=self.dataset_root,
            output=cfg.output,
            resolve_task=resolve_task,
        ).by_model()

    def dataset_root(self, dataset: str) -> str:
        """Where ``dataset`` lives under ``--dataset_root`` (the resolver ``zsbench datasets`` uses too)."""
        return resolve_dataset_root(dataset, self.config.dataset_root)

    def load_data(self, job: Job) -> Any:
        """The job's dataset, with the configured options (``--download``, custom prompt files, ...)."""
        options = dict(self.config.dataset_options)
        if self.config.download:
            options["download"] = True
        return load_dataset(job.dataset, job.dataset_root, split=job.split, language=job.language, **options)

    def run(self) -> list[dict[str, Any]]:
        """Run every job of the plan; returns the result records in plan order."""
        if not self._validated:
            self.validate()
        groups = self.plan()
        if self.config.write_results:
            self.remove_stale_temps(list(dict.fromkeys(j.output for _, jobs in groups for j in jobs)))
        return self.execute(groups)


def evaluate(config: EvalConfig | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """Run an evaluation and return its result records (also written to disk unless ``write_results=False``).

    Either pass an :class:`EvalConfig`, or keyword arguments: ``model_type``, ``model`` and ``pretrained``
    (one model), ``datasets`` (names, collections or files), ``languages``, and any other EvalConfig field.

    >>> records = evaluate(datasets=["shapes"], write_results=False)   # the embedded default model
    """
    config = config or EvalConfig()
    model = overrides.pop("model", None)
    pretrained = overrides.pop("pretrained", None)
    if model is not None:
        overrides["models"] = [(model, pretrained or "")]
    if "datasets" in overrides:
        overrides["datasets"] = expand_datasets(overrides["datasets"])
    if "language" in overrides:
        overrides["languages"] = [overrides.pop("language")]
    config = replace(config, **overrides)
    return Evaluator(config).run()
