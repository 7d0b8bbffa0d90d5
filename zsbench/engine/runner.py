"""The engine: the one path from a plan to result records, for the CLI, the Python API and the pytest plugin.

``Engine(config).run(build_plan(config))``: each model loads once (``engine/models.py``), each job's dataset is
loaded (the one place datasets are loaded for a run) and checked before its model loads, the image sets a task asks
for are encoded through the embedding cache (shared by every task and language on the same images), the task scores
them, and the record (``engine/records.py``) is written where the job says. How images are spread over processes
is a strategy the engine is given (``engine/distributed.py``). Nothing here knows what a classifier or a caption is.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zsbench.datasets import load_dataset
from zsbench.engine.atomic import atomic_write, describe_os_error, remove_stale_temps
from zsbench.engine.cache import EmbeddingCache
from zsbench.engine.checks import check_output_file, check_settings, check_writable_file, load_classifiers
from zsbench.engine.config import EvalConfig, probe_settings
from zsbench.engine.distributed import LocalStrategy
from zsbench.engine.encode import LoaderSettings, encode_texts
from zsbench.engine.gpu_decode import supports_gpu_decode
from zsbench.engine.models import ModelPool
from zsbench.engine.plan import Job, ModelRef, Plan, build_plan, resolve_task
from zsbench.engine.records import build_record, identity, provenance
from zsbench.engine.results import has_record, write_record
from zsbench.errors import OutputError, ZsbenchError
from zsbench.models.base import ZeroShotModel
from zsbench.paths import default_cache_dir
from zsbench.tasks import TASKS
from zsbench.tasks.base import (
    EVAL_IMAGES,
    IMAGE_CAPTIONS,
    ImageEmbeddings,
    TaskSettings,
    TextEmbeddings,
    Texts,
    check_accepts,
)

log = logging.getLogger("zsbench")


class Engine:
    """Runs plans. One instance per invocation (or per pytest session): it holds the embedding cache, the model
    pool and the loader settings, so a second plan on the same models and images computes nothing twice.

    ``strategy`` says how images are spread over processes (default: all in this process).
    """

    def __init__(
        self, config: EvalConfig, cache: EmbeddingCache | None = None, strategy: LocalStrategy | None = None
    ) -> None:
        self.config = config
        self.strategy = strategy or LocalStrategy()
        if cache is None:
            root = None if config.cache_dir == "" else Path(config.cache_dir or default_cache_dir())
            cache = EmbeddingCache(root)
        self.cache = cache
        self.loader = LoaderSettings(
            batch_size=config.batch_size,
            num_workers=config.num_workers,
            progress=config.progress and self.strategy.is_writer,
            skip_corrupt=config.skip_corrupt,
        )
        self.models = ModelPool(config, device=config.device)
        self.images_encoded = 0
        self.texts_encoded = 0
        self._fingerprints: dict[tuple[str, ...], str] = {}
        self._classifier: tuple[tuple[str, ...], Any] | None = None
        self._validated = False

    # -- checks before any work -------------------------------------------------------------------------------
    def validate(self, plan: Plan | None = None) -> Plan:
        """Check names, settings, templates, output paths and classifier files; each problem is one line.

        Runs before any model loads or image is encoded (``run`` calls it once; the CLI calls it first). Returns the
        plan of the configuration (building it checks every dataset, task and template).
        """
        from zsbench.datasets import get_spec
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
        plan = plan or build_plan(cfg)
        for job in plan.jobs:
            self.check_task_settings(job)
        if self.writes_results:
            for output in dict.fromkeys(j.output for j in plan.jobs):
                check_output_file(output)
        if cfg.load_clfs:
            self.loaded_classifier()  # read (and kept) now: a bad file fails before any model loads
        if cfg.save_clf:
            check_writable_file(cfg.save_clf, "--save_clf")
        self._validated = True
        return plan

    @property
    def writes_results(self) -> bool:
        return self.config.write_results and self.strategy.is_writer

    # -- plans ------------------------------------------------------------------------------------------------
    def run(self, plan: Plan | None = None) -> list[dict[str, Any]]:
        """Run ``plan`` (default: the configuration's); returns the result records in plan order.

        Results are written where each job says (unless ``write_results=False``, or on a rank that does not write).
        """
        if not self._validated or plan is None:
            plan = self.validate(plan)
        if self.writes_results:
            self.remove_stale_temps(list(dict.fromkeys(j.output for j in plan.jobs)))
        return self.run_jobs(plan.jobs)

    def run_jobs(self, jobs: Iterable[Job]) -> list[dict[str, Any]]:
        """Run ``jobs``, grouped by model (each loads once) and, within a model, by image set."""
        cfg = self.config
        groups = Plan(list(jobs)).by_model()
        outputs = Counter(j.output for _, group in groups for j in group)
        records: list[dict[str, Any]] = []
        for ref, group in groups:
            if cfg.skip_existing:
                # Decided before the model loads, as CLIP_benchmark does, so a resumed run costs nothing.
                group = [j for j in group if not has_record(j.output, identity(j))]
            if not group:
                continue
            # Every dataset of the group is found and checked before its model loads: a missing or incomplete
            # dataset fails in a second, not after a 25 GB checkpoint has been read.
            data = [self.load_data(job) for job in group]
            splits = [self.load_splits(job, job_data) for job, job_data in zip(group, data)]
            model = self.model(ref)
            for job, job_data, job_splits in zip(group, data, splits):
                record = self.run_job(
                    model, job, model_load_s=self.models.last_load_s, data=job_data, splits=job_splits
                )
                if self.writes_results:
                    write_record(job.output, record, shared=outputs[job.output] > 1)
                records.append(record)
                if cfg.verbose and self.strategy.is_writer:
                    log.info("%s", json.dumps({k: record[k] for k in ("dataset", "language", "task", "metrics")}))
            del model, data, splits  # only the pool holds the model now, so it can free it before other weights load
        return records

    def model(self, ref: ModelRef) -> ZeroShotModel:
        """The model of ``ref``, from the pool (loaded once, kept while jobs need it)."""
        self.models.device = self.strategy.device or self.config.device
        return self.models.get(ref)

    def load_data(self, job: Job) -> Any:
        """The job's dataset, with the job's loader options (``--download``, custom prompt files, ...)."""
        options = dict(job.dataset_options)
        return load_dataset(job.dataset, job.dataset_root, split=job.split, language=job.language, **options)

    def check_task_settings(self, job: Job) -> None:
        """The task's own settings check, and every other split it needs exists (one line each, nothing loaded)."""
        from zsbench.datasets import get_spec

        task = TASKS.get(job.task)
        settings = self.task_settings(job)
        if task.image_output == IMAGE_CAPTIONS:  # the model first: no tool to install can change this one
            from zsbench import models

            reason = models.caption_refusal(job.model.model_type, job.model.model, job.model.pretrained)
            if reason:
                raise ZsbenchError(f"--task {task.name} with --model {job.model.model}: {reason}")
        task.check_settings(settings)
        available = get_spec(job.dataset).splits
        for role, split in task.splits(settings).items():
            if split not in available:
                raise ZsbenchError(
                    f"dataset {job.dataset!r} has no {role} split {split!r} (its splits: {', '.join(available)}); "
                    f"task {task.name!r} needs one: choose it with --{role}_split"
                )

    def load_splits(self, job: Job, data: Any) -> dict[str, Any]:
        """The other splits the job's task asks for, by role, loaded and checked by the task (before the model).

        ``data`` is the job's own split; a role naming that same split gets it without a second load.
        """
        task = TASKS.get(job.task)
        settings = self.task_settings(job)
        wanted = task.splits(settings)
        if not wanted:
            task.check_data(data, settings)
            return {}
        options = dict(job.dataset_options)
        splits = {
            role: data
            if split == job.split
            else load_dataset(job.dataset, job.dataset_root, split=split, language=job.language, **options)
            for role, split in wanted.items()
        }
        task.check_data(data, dataclasses.replace(settings, other_splits=splits))
        return splits

    def remove_stale_temps(self, outputs: list[str]) -> None:
        """Remove what killed runs left half-written in the output folders and the cache (never a live run's)."""
        for folder in dict.fromkeys(os.path.dirname(os.path.abspath(o)) for o in outputs):
            remove_stale_temps(folder)
        self.cache.remove_stale_temps()

    # -- one job ----------------------------------------------------------------------------------------------
    def run_job(
        self,
        model: ZeroShotModel,
        job: Job,
        *,
        model_load_s: float = 0.0,
        data: Any = None,
        splits: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Evaluate one job; ``data`` (and ``splits``, see :meth:`load_splits`) are the already loaded dataset, if
        the caller has it."""
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        timing: dict[str, float] = {}
        t = time.perf_counter()
        if data is None:
            data = self.load_data(job)
        task = TASKS.get(job.task)
        check_accepts(task, data.task, f"dataset {job.dataset!r}")
        if splits is None:
            splits = self.load_splits(job, data)
        timing["load_dataset_s"] = time.perf_counter() - t
        settings = dataclasses.replace(self.task_settings(job), other_splits=splits)
        wanted_splits = task.splits(settings)

        t = time.perf_counter()
        image_sets = task.image_sets(data)
        if EVAL_IMAGES not in image_sets:
            raise ZsbenchError(
                f"task {task.name!r} asks for no {EVAL_IMAGES!r} image set: it must score the job's split"
            )
        output = task.image_output
        if output == IMAGE_CAPTIONS and not model.can_generate:  # the loaded model, before any image is encoded
            raise ZsbenchError(
                f"--task {task.name} needs a model that generates captions; {model.model_type} model {model.name!r} "
                "does not (use an open_clip CoCa, e.g. --model coca_ViT-B-32)"
            )
        images = {
            role: self.image_embeddings(model, job, image_set, role=role, output=output)
            for role, image_set in image_sets.items()
        }
        for role, split in wanted_splits.items():  # other splits, cached under their own split name
            images[role] = self.image_embeddings(model, job, splits[role].images, role=role, split=split, output=output)
        timing["encode_images_s"] = time.perf_counter() - t

        t = time.perf_counter()
        try:
            wanted = task.texts(data, images, settings)
            texts = self.encode(model, wanted) if wanted is not None else None
            metrics, task_info = task.score(images, texts, data, settings)
        except ValueError as e:  # the metric functions validate their inputs (e.g. recall@k with k > N)
            raise ZsbenchError(f"{job.dataset} ({job.language}): {e}") from e
        timing["text_and_metrics_s"] = time.perf_counter() - t
        timing["model_load_s"] = model_load_s

        evaluated = images[EVAL_IMAGES]
        block = provenance(
            model,
            job,
            cfg,
            num_workers=self.loader.effective_workers(),
            data=data,
            images=evaluated,
            task_info=task_info,
            task_settings={
                **task.recorded_settings(settings),
                # how the captions were generated and decoded: the model's, so recorded here and not by the task
                **({"generation": model.generation_settings} if output == IMAGE_CAPTIONS else {}),
            },
            cache={
                "image_embeddings": evaluated.cache,
                "images_encoded_so_far": self.images_encoded,
                "texts_encoded_so_far": self.texts_encoded,
                "counters": self.cache.summary(),
            },
            timing=timing,
        )
        return build_record(
            job,
            metrics,
            block,
            classnames=getattr(data, "classnames", None) if cfg.dump_classnames else None,
            templates=getattr(data, "templates", None) if cfg.dump_templates else None,
        )

    def task_settings(self, job: Job) -> TaskSettings:
        """What the task of ``job`` may use: per-job values, never state shared between jobs."""
        cfg = self.config
        return TaskSettings(
            batch_size=cfg.batch_size,
            recall_k=tuple(job.recall_k),
            classifier=self.loaded_classifier(),
            classifier_source=f"--load_clfs {', '.join(cfg.load_clfs)}" if cfg.load_clfs else "",
            save_classifier=functools.partial(self._save_classifier, cfg.save_clf) if cfg.save_clf else None,
            probe=job.probe if job.probe is not None else probe_settings(cfg, job.dataset),
        )

    def loaded_classifier(self) -> Any:
        """The mean of the ``--load_clfs`` classifiers (read once per invocation), or None."""
        paths = tuple(self.config.load_clfs)
        if not paths:
            return None
        if self._classifier is None or self._classifier[0] != paths:
            self._classifier = (paths, load_classifiers(list(paths)))
        return self._classifier[1]

    @staticmethod
    def _save_classifier(path: str, weights: Any) -> None:
        import torch

        try:
            atomic_write(path, lambda f: torch.save(weights, f))
        except OSError as e:
            raise OutputError(f"cannot write --save_clf {path}: {describe_os_error(e)}") from e

    # -- embeddings through the cache -------------------------------------------------------------------------
    def image_embeddings(
        self,
        model: ZeroShotModel,
        job: Job,
        images: Any,
        *,
        role: str = EVAL_IMAGES,
        split: str | None = None,
        output: str = "embeddings",
    ) -> ImageEmbeddings:
        """Embeddings of a whole image set, from the cache when anything identical was encoded before.

        ``role`` is the task's name for the set: the job's split (:data:`EVAL_IMAGES`) or another split by name;
        ``split`` names the split when the role does not (a task's other splits, :meth:`Task.splits`). ``output``
        :data:`IMAGE_CAPTIONS`: the model's generated captions instead (token ids, cached under their own key with
        the generation settings, and decoded by the model).
        """
        captions = output == IMAGE_CAPTIONS
        split = split or (job.split if role == EVAL_IMAGES else role)
        parts = {
            "kind": "image",
            "model": model.identity,
            "precision": model.precision.name,
            "transform": _stable_repr(model.transform),
            "dataset": job.dataset.removeprefix("wds/"),
            # Two copies of a dataset with equal names, sizes and mtimes are told apart by where they are.
            "dataset_root": resolved_root(job.dataset_root),
            "split": split,
            "fingerprint_mode": self.config.fingerprint,
            "images": self._fingerprint(job, split, images),
            "n": len(images),
            "skip_corrupt": self.config.skip_corrupt,
            "gpu_decode": self.config.gpu_decode and supports_gpu_decode(images) and not captions,
        }
        if captions:  # only then: the keys of embedding entries stay as they were
            parts["output"] = IMAGE_CAPTIONS
            parts["generation"] = model.generation_settings
        cached, where = self.cache.get("image", parts)
        if cached is not None:
            emb, skipped = cached["embeddings"], tuple(cached["skipped"].tolist())
        else:
            import torch

            desc = f"{job.dataset} images" if role == EVAL_IMAGES else f"{job.dataset} {role} images"
            emb, skipped_list = self.strategy.encode_images(
                model,
                images,
                self.loader,
                desc=f"{desc} (captioning)" if captions else desc,
                gpu_decode=bool(parts["gpu_decode"]),
                fn=model.generate_captions if captions else None,
            )
            skipped, where = tuple(skipped_list), "miss"
            self.images_encoded += len(images) - len(skipped)
            self.cache.put("image", parts, {"embeddings": emb, "skipped": torch.tensor(skipped, dtype=torch.long)})
        texts = tuple(model.decode_captions(emb)) if captions else None
        return ImageEmbeddings(emb, len(images), skipped, where, captions=texts)

    def _fingerprint(self, job: Job, split: str, images: Any) -> str:
        """``images.fingerprint(mode)``, once per image set and invocation (mode: ``--fingerprint``).

        The fingerprint stats every file; the five ImageNet languages (or eight XTD ones) would otherwise stat the
        same 50,000 files five times, which is slow on network file systems. The memo key holds the image keys
        themselves, so a language with other images (COCO-CN vs COCO) never shares an entry.
        """
        keys = hashlib.sha256("\0".join(images.image_key(i) for i in range(len(images))).encode()).hexdigest()
        mode = self.config.fingerprint
        memo = (job.dataset, split, job.dataset_root, type(images).__name__, keys, mode)
        if memo not in self._fingerprints:
            self._fingerprints[memo] = images.fingerprint(mode)
        return self._fingerprints[memo]

    def encode(self, model: ZeroShotModel, texts: Texts) -> TextEmbeddings:
        """A task's texts, embedded (through the cache)."""
        emb, where = self.text_embeddings(model, texts.texts)
        return TextEmbeddings(texts, emb, where)

    def text_embeddings(self, model: ZeroShotModel, texts: list[str]) -> tuple[Any, str]:
        digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
        parts = {"kind": "text", "model": model.identity, "precision": model.precision.name, "texts": digest}
        cached, where = self.cache.get("text", parts)
        if cached is not None:
            return cached["embeddings"], where
        emb = encode_texts(model, texts, max(self.config.batch_size, 256))
        self.texts_encoded += len(set(texts))
        self.cache.put("text", parts, {"embeddings": emb})
        return emb, "miss"


def resolved_root(root: str) -> str:
    """The absolute, symlink-free form of a dataset root (URLs, e.g. webdataset on the Hub, as they are)."""
    return root if "://" in root else os.path.realpath(root)


def _stable_repr(obj: Any) -> str:
    # torchvision transforms have a descriptive repr; drop object addresses, which change every run.
    import re

    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))
