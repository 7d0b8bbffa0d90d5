"""The runner: execute a plan so each model loads once, each image set is encoded once, and each job is a task call.

For one job the runner loads (or is given) the dataset, looks its task up in ``zsbench.tasks.TASKS``, encodes the
image sets the task asks for through the embedding cache (shared by every task and language on the same images),
encodes the texts the task asks for (through the cache too), calls ``task.score`` and builds the result record
(``engine/records.py``). Nothing here knows what a classifier or a caption is.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write, describe_os_error
from zsbench.engine.cache import EmbeddingCache
from zsbench.engine.checks import load_classifiers
from zsbench.engine.config import EvalConfig
from zsbench.engine.encode import LoaderSettings, encode_images, encode_texts
from zsbench.engine.gpu_decode import encode_images_gpu_decode, supports_gpu_decode
from zsbench.engine.plan import Job, ModelRef
from zsbench.engine.records import build_record, identity, provenance
from zsbench.engine.results import has_record, write_record
from zsbench.errors import OutputError, ZsbenchError
from zsbench.models import load_model
from zsbench.models.base import ZeroShotModel
from zsbench.paths import default_cache_dir
from zsbench.tasks import TASKS
from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, TaskSettings, TextEmbeddings, Texts, check_accepts

log = logging.getLogger("zsbench")


class Runner:
    """Holds the cache and loader settings across jobs; one instance per invocation (or per pytest session).

    ``load_data(job)`` (where a job's dataset comes from) is the :class:`~zsbench.engine.evaluate.Evaluator`'s, which
    knows the configured dataset roots and options.
    """

    def __init__(self, config: EvalConfig, cache: EmbeddingCache | None = None) -> None:
        self.config = config
        if cache is None:
            root = None if config.cache_dir == "" else Path(config.cache_dir or default_cache_dir())
            cache = EmbeddingCache(root)
        self.cache = cache
        self.loader = LoaderSettings(
            batch_size=config.batch_size,
            num_workers=config.num_workers,
            progress=config.progress,
            skip_corrupt=config.skip_corrupt,
        )
        self.images_encoded = 0
        self.texts_encoded = 0
        self.world: Any = None  # set by engine.distributed when images are sharded over ranks
        self._fingerprints: dict[tuple[str, ...], str] = {}
        self._classifier: tuple[tuple[str, ...], Any] | None = None

    # -- the plan ---------------------------------------------------------------------------------------------
    def execute(self, groups: list[tuple[ModelRef, list[Job]]]) -> list[dict[str, Any]]:
        """Run every job of ``groups`` (``Plan.by_model()``), writing results as configured; records in order."""
        cfg = self.config
        outputs = Counter(j.output for _, jobs in groups for j in jobs)
        records: list[dict[str, Any]] = []
        model: ZeroShotModel | None = None
        loaded: ModelRef | None = None
        for ref, jobs in groups:
            if cfg.skip_existing:
                # Decided before the model loads, as CLIP_benchmark does, so a resumed run costs nothing.
                jobs = [j for j in jobs if not has_record(j.output, identity(j))]
            if not jobs:
                continue
            if model is not None and loaded is not None and loaded.pretrained != ref.pretrained:
                # Other weights: free the current model before the next loads (one large model in memory at a
                # time). Same weights (InternVL's _classification/_retrieval adapters) load while it is alive,
                # so the new adapter can share its network.
                model = None
                gc.collect()
            t0 = time.perf_counter()
            model = self.load(ref)
            loaded = ref
            load_s = time.perf_counter() - t0
            for job in jobs:
                record = self.run_job(model, job, model_load_s=load_s)
                if cfg.write_results:
                    write_record(job.output, record, shared=outputs[job.output] > 1)
                records.append(record)
                if cfg.verbose:
                    log.info("%s", json.dumps({k: record[k] for k in ("dataset", "language", "task", "metrics")}))
        return records

    def load(self, ref: ModelRef) -> ZeroShotModel:
        cfg = self.config
        model = load_model(
            ref.model_type,
            ref.model,
            ref.pretrained,
            device=cfg.device,
            precision=cfg.precision,
            cache_dir=cfg.model_cache_dir,
            **cfg.model_options,
        )
        if cfg.compile:
            import torch

            # Compiled kernels can round differently, so it is part of the cache key and the provenance.
            model.image_fn = torch.compile(model.image_fn)
            model.identity = {**model.identity, "compiled": True}
        return model

    # -- one job ----------------------------------------------------------------------------------------------
    def load_data(self, job: Job) -> Any:
        """The job's dataset, as its loader returns it (the task reads it; the runner only passes it on)."""
        raise NotImplementedError("the Evaluator knows where datasets live")

    def run_job(self, model: ZeroShotModel, job: Job, *, model_load_s: float = 0.0, data: Any = None) -> dict[str, Any]:
        """Evaluate one job; ``data`` is the already loaded dataset, if the caller has it."""
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        timing: dict[str, float] = {}
        t = time.perf_counter()
        if data is None:
            data = self.load_data(job)
        timing["load_dataset_s"] = time.perf_counter() - t
        task = TASKS.get(job.task)
        check_accepts(task, data.task, f"dataset {job.dataset!r}")
        settings = self.task_settings(job)

        t = time.perf_counter()
        image_sets = task.image_sets(data)
        if EVAL_IMAGES not in image_sets:
            raise ZsbenchError(
                f"task {task.name!r} asks for no {EVAL_IMAGES!r} image set: it must score the job's split"
            )
        images = {
            role: self.image_embeddings(model, job, image_set, role=role) for role, image_set in image_sets.items()
        }
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
            task_settings=task.recorded_settings(settings),
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
            recall_k=tuple(job.recall_k or cfg.recall_k),
            classifier=self.loaded_classifier(),
            classifier_source=f"--load_clfs {', '.join(cfg.load_clfs)}" if cfg.load_clfs else "",
            save_classifier=functools.partial(self._save_classifier, cfg.save_clf) if cfg.save_clf else None,
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
        self, model: ZeroShotModel, job: Job, images: Any, *, role: str = EVAL_IMAGES
    ) -> ImageEmbeddings:
        """Embeddings of a whole image set, from the cache when anything identical was encoded before.

        ``role`` is the task's name for the set: the job's split (:data:`EVAL_IMAGES`) or another split by name.
        """
        split = job.split if role == EVAL_IMAGES else role
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
            "gpu_decode": self.config.gpu_decode and supports_gpu_decode(images),
        }
        cached, where = self.cache.get("image", parts)
        if cached is not None:
            return ImageEmbeddings(cached["embeddings"], len(images), tuple(cached["skipped"].tolist()), where)
        import torch

        desc = f"{job.dataset} images" if role == EVAL_IMAGES else f"{job.dataset} {role} images"
        if self.world is not None and self.world.active:
            from zsbench.engine.distributed import gather_in_order, my_batches

            mine = my_batches(len(images), self.loader.batch_size, self.world)
            emb, skipped = encode_images(model, images, self.loader, indices=mine, desc=desc)
            emb, skipped = gather_in_order(mine, emb, skipped, len(images))
        elif self.config.gpu_decode and supports_gpu_decode(images):
            emb, skipped = encode_images_gpu_decode(model, images, self.loader), []
        else:
            emb, skipped = encode_images(model, images, self.loader, desc=desc)
        self.images_encoded += len(images) - len(skipped)

        self.cache.put("image", parts, {"embeddings": emb, "skipped": torch.tensor(skipped, dtype=torch.long)})
        return ImageEmbeddings(emb, len(images), tuple(skipped), "miss")

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
