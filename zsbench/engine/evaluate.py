"""The evaluator: run a plan so each model loads once and each image set is encoded once."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from zsbench.datasets import CLASSIFICATION, RETRIEVAL, ClassificationData, RetrievalData, get_spec, load_dataset
from zsbench.engine.atomic import describe_os_error, remove_stale_temps
from zsbench.engine.cache import EmbeddingCache, default_cache_dir
from zsbench.engine.checks import check_output_file, check_settings, check_writable_file, load_classifiers
from zsbench.engine.config import EvalConfig
from zsbench.engine.encode import LoaderSettings, encode_images, encode_texts
from zsbench.engine.gpu_decode import encode_images_gpu_decode, supports_gpu_decode
from zsbench.engine.plan import Job, ModelRef, build_plan, dataset_root_for, expand_datasets
from zsbench.engine.results import SCHEMA_VERSION, has_record, write_record
from zsbench.errors import OutputError, ZsbenchError
from zsbench.models import load_model
from zsbench.models.base import ZeroShotModel
from zsbench.tasks import TASKS

log = logging.getLogger("zsbench")
SUPPORTED_TASKS = (CLASSIFICATION, RETRIEVAL)
# Tasks CLIP_benchmark has that zsbench does not run (yet): refused by name, never silently ignored.
UNSUPPORTED_TASKS = ("linear_probe", "captioning", "image_caption_selection", "zeroshot_retrieval_with_itm")


def resolve_task(dataset: str, task: str) -> str:
    """``auto`` -> the dataset's default task; an explicit task must fit the dataset."""
    if task in UNSUPPORTED_TASKS:
        raise ZsbenchError(f"task {task!r} is not supported by zsbench; supported: {', '.join(SUPPORTED_TASKS)}")
    if task != "auto":
        TASKS.canonical(task)
    spec = get_spec(dataset)
    if task == "auto":
        return spec.task
    if task != spec.task:
        raise ZsbenchError(f"dataset {dataset!r} is a {spec.task} dataset; run it with --task {spec.task} or auto")
    return task


class Evaluator:
    """Holds the cache and loader settings across jobs; one instance per invocation (or per pytest session)."""

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
            load_classifiers(cfg.load_clfs)
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
        if self.config.dataset_root is not None:
            return dataset_root_for(self.config.dataset_root, dataset)
        if get_spec(dataset).builtin:
            return str(default_cache_dir() / "data")
        return dataset_root_for("root", dataset)

    def run(self) -> list[dict[str, Any]]:
        """Run every job of the plan; returns the result records in plan order."""
        if not self._validated:
            self.validate()
        groups = self.plan()
        outputs = Counter(j.output for _, jobs in groups for j in jobs)
        if self.config.write_results:
            self.remove_stale_temps(list(outputs))
        records: list[dict[str, Any]] = []
        for ref, jobs in groups:
            if self.config.skip_existing:
                # Decided before the model loads, as CLIP_benchmark does, so a resumed run costs nothing.
                jobs = [j for j in jobs if not has_record(j.output, self._identity(j))]
            if not jobs:
                continue
            t0 = time.perf_counter()
            model = self.load(ref)
            load_s = time.perf_counter() - t0
            for job in jobs:
                record = self.run_job(model, job, model_load_s=load_s)
                if self.config.write_results:
                    write_record(job.output, record, shared=outputs[job.output] > 1)
                records.append(record)
                if self.config.verbose:
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

    @staticmethod
    def _identity(job: Job) -> dict[str, Any]:
        return {
            "dataset": job.dataset,
            "model": job.model.model,
            "pretrained": job.model.pretrained,
            "task": job.task,
            "language": job.language,
        }

    # -- one job ----------------------------------------------------------------------------------------------
    def run_job(self, model: ZeroShotModel, job: Job, *, model_load_s: float = 0.0, data: Any = None) -> dict[str, Any]:
        """Evaluate one job; ``data`` is the already loaded dataset, if the caller has it."""
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        timing: dict[str, float] = {}
        t = time.perf_counter()
        options = dict(cfg.dataset_options)
        if cfg.download:
            options["download"] = True
        if data is None:
            data = load_dataset(job.dataset, job.dataset_root, split=job.split, language=job.language, **options)
        timing["load_dataset_s"] = time.perf_counter() - t
        if data.task != job.task:
            raise ZsbenchError(f"dataset {job.dataset!r} gives {data.task} data but the job asks for {job.task}")

        t = time.perf_counter()
        images, image_cache, skipped = self.image_embeddings(model, job, data.images)
        timing["encode_images_s"] = time.perf_counter() - t
        skipped_set = set(skipped)
        keep = [i for i in range(len(data.images)) if i not in skipped_set] if skipped else None

        t = time.perf_counter()
        try:
            if isinstance(data, ClassificationData):
                metrics, text_info = self._classification(model, data, images, keep)
            else:
                metrics, text_info = self._retrieval(model, job, data, images, keep)
        except ValueError as e:  # the metric functions validate their inputs (e.g. recall@k with k > N)
            raise ZsbenchError(f"{job.dataset} ({job.language}): {e}") from e
        timing["text_and_metrics_s"] = time.perf_counter() - t
        timing["model_load_s"] = model_load_s

        record: dict[str, Any] = {**self._identity(job), "metrics": metrics}
        # CLIP_benchmark's key order: dataset, model, pretrained, task, metrics, language.
        record = {k: record[k] for k in ("dataset", "model", "pretrained", "task", "metrics", "language")}
        if cfg.dump_classnames and isinstance(data, ClassificationData):
            record["classnames"] = data.classnames
        if cfg.dump_templates and isinstance(data, ClassificationData):
            record["templates"] = data.templates
        record["zsbench"] = self._provenance(model, job, data, skipped, image_cache, text_info, timing)
        return record

    def image_embeddings(self, model: ZeroShotModel, job: Job, images: Any) -> tuple[Any, str, list[int]]:
        """Embeddings of the whole image set, from the cache when anything identical was encoded before."""
        parts = {
            "kind": "image",
            "model": model.identity,
            "precision": model.precision.name,
            "transform": _stable_repr(model.transform),
            "dataset": job.dataset.removeprefix("wds/"),
            # Two copies of a dataset with equal names, sizes and mtimes are told apart by where they are.
            "dataset_root": resolved_root(job.dataset_root),
            "split": job.split,
            "fingerprint_mode": self.config.fingerprint,
            "images": self._fingerprint(job, images),
            "n": len(images),
            "skip_corrupt": self.config.skip_corrupt,
            "gpu_decode": self.config.gpu_decode and supports_gpu_decode(images),
        }
        cached, where = self.cache.get("image", parts)
        if cached is not None:
            return cached["embeddings"], where, cached["skipped"].tolist()
        import torch

        if self.world is not None and self.world.active:
            from zsbench.engine.distributed import gather_in_order, my_batches

            mine = my_batches(len(images), self.loader.batch_size, self.world)
            emb, skipped = encode_images(model, images, self.loader, indices=mine, desc=f"{job.dataset} images")
            emb, skipped = gather_in_order(mine, emb, skipped, len(images))
        elif self.config.gpu_decode and supports_gpu_decode(images):
            emb, skipped = encode_images_gpu_decode(model, images, self.loader), []
        else:
            emb, skipped = encode_images(model, images, self.loader, desc=f"{job.dataset} images")
        self.images_encoded += len(images) - len(skipped)

        self.cache.put("image", parts, {"embeddings": emb, "skipped": torch.tensor(skipped, dtype=torch.long)})
        return emb, "miss", skipped

    def _fingerprint(self, job: Job, images: Any) -> str:
        """``images.fingerprint(mode)``, once per image set and invocation (mode: ``--fingerprint``).

        The fingerprint stats every file; the five ImageNet languages (or eight XTD ones) would otherwise stat the
        same 50,000 files five times, which is slow on network file systems. The memo key holds the image keys
        themselves, so a language with other images (COCO-CN vs COCO) never shares an entry.
        """
        keys = hashlib.sha256("\0".join(images.image_key(i) for i in range(len(images))).encode()).hexdigest()
        mode = self.config.fingerprint
        memo = (job.dataset, job.split, job.dataset_root, type(images).__name__, keys, mode)
        if memo not in self._fingerprints:
            self._fingerprints[memo] = images.fingerprint(mode)
        return self._fingerprints[memo]

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

    def _classification(
        self, model: ZeroShotModel, data: ClassificationData, images: Any, keep: list[int] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        from zsbench.tasks.classification import class_weights

        prompts, prompt_class = class_prompts(data.classnames, data.templates)
        info: dict[str, Any] = {"n_classes": len(data.classnames), "n_prompts": len(prompts)}
        info["prompts_sha256"] = hashlib.sha256("\0".join(prompts).encode()).hexdigest()
        if self.config.load_clfs:
            # CLIP_benchmark: the plain mean of the saved classifiers, no renormalisation.
            weights = load_classifiers(self.config.load_clfs)
            expected = (images.shape[1], len(data.classnames))
            if tuple(weights.shape) != expected:
                raise ZsbenchError(
                    f"--load_clfs {', '.join(self.config.load_clfs)}: classifier shape {tuple(weights.shape)} does not "
                    f"fit this model and dataset (embedding dim x classes = {expected}); pass ones saved for them"
                )
            info["text_cache"] = "loaded"
        else:
            text, info["text_cache"] = self.text_embeddings(model, prompts)
            weights = class_weights(text, torch.tensor(prompt_class), len(data.classnames))
        if self.config.save_clf:
            from zsbench.engine.atomic import atomic_write

            try:
                atomic_write(self.config.save_clf, lambda f: torch.save(weights, f))
            except OSError as e:
                raise OutputError(f"cannot write --save_clf {self.config.save_clf}: {describe_os_error(e)}") from e
        targets = data.targets
        if keep is not None:
            targets = [targets[i] for i in keep] if isinstance(targets, list) else targets[keep]
        if data.multilabel:
            targets = torch.as_tensor(targets)
        else:
            targets = torch.as_tensor(targets, dtype=torch.long)
        # CLIP_benchmark multiplies the classifier one loader batch at a time; the same batch size gives the same
        # bits, which matters only at near-ties.
        metrics = TASKS.get(CLASSIFICATION)(
            images, weights, targets, multilabel=data.multilabel, batch_size=self.config.batch_size
        )
        return metrics, info

    def _recall_k(self, job: Job) -> tuple[int, ...]:
        return tuple(job.recall_k or self.config.recall_k)

    def _retrieval(
        self, model: ZeroShotModel, job: Job, data: RetrievalData, images: Any, keep: list[int] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        image_ids = keep if keep is not None else range(len(data.captions))
        texts: list[str] = []
        owner: list[int] = []
        for new_index, i in enumerate(image_ids):
            texts.extend(data.captions[i])
            owner.extend([new_index] * len(data.captions[i]))
        text, where = self.text_embeddings(model, texts)
        info = {"n_captions": len(texts), "text_cache": where}
        info["captions_sha256"] = hashlib.sha256("\0".join(texts).encode()).hexdigest()
        metrics = TASKS.get(RETRIEVAL)(images, text, torch.tensor(owner), recall_k=self._recall_k(job))
        return metrics, info

    def _provenance(
        self,
        model: ZeroShotModel,
        job: Job,
        data: Any,
        skipped: list[int],
        image_cache: str,
        text_info: dict[str, Any],
        timing: dict[str, float],
    ) -> dict[str, Any]:
        import torch

        from zsbench import __version__

        device_name = (
            torch.cuda.get_device_name(model.device) if model.device.startswith("cuda") else platform.processor()
        )
        return {
            "schema_version": SCHEMA_VERSION,
            "zsbench_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "model_type": job.model.model_type,
            "model_identity": model.identity,
            "device": model.device,
            "device_name": device_name or platform.machine(),
            "precision": model.precision.name,
            "compiled": self.config.compile,
            "gpu_decode": self.config.gpu_decode,
            "batch_size": self.config.batch_size,
            "num_workers": self.loader.effective_workers(),
            "seed": self.config.seed,
            "dataset_root": job.dataset_root,
            "split": job.split,
            "fingerprint": self.config.fingerprint,
            "recall_k": list(self._recall_k(job)) if job.task == RETRIEVAL else None,
            "n_images": len(data.images),
            "n_evaluated": len(data.images) - len(skipped),
            "skipped_corrupt": len(skipped),
            # a subset of the published split: not comparable with published numbers
            "allow_incomplete": bool(self.config.dataset_options.get("allow_incomplete")),
            **text_info,
            "cache": {
                "image_embeddings": image_cache,
                "images_encoded_so_far": self.images_encoded,
                "texts_encoded_so_far": self.texts_encoded,
                "counters": self.cache.summary(),
            },
            "timing": {k: round(v, 4) for k, v in timing.items()},
            "dataset_info": data.info,
        }


def resolved_root(root: str) -> str:
    """The absolute, symlink-free form of a dataset root (URLs, e.g. webdataset on the Hub, as they are)."""
    return root if "://" in root else os.path.realpath(root)


def _stable_repr(obj: Any) -> str:
    # torchvision transforms have a descriptive repr; drop object addresses, which change every run.
    import re

    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))


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
