"""Result records: CLIP_benchmark's keys in its order, plus the ``zsbench`` provenance block (schema versioned).

Only building a record lives here; reading, writing and tabulating records is ``engine/results.py``. A record is

    {"dataset", "model", "pretrained", "task", "metrics", "language",      CLIP_benchmark's keys, in its order
     ["classnames"], ["templates"],                                        --dump_classnames / --dump_templates
     "zsbench": {...}}                                                     provenance (:func:`provenance`)
"""

from __future__ import annotations

import datetime as _dt
import platform
from typing import Any

from zsbench.engine.config import EvalConfig
from zsbench.engine.plan import Job
from zsbench.engine.results import CLIP_BENCHMARK_KEYS, SCHEMA_VERSION, ResultRecord
from zsbench.models.base import ZeroShotModel
from zsbench.tasks.base import ImageEmbeddings

__all__ = ["CLIP_BENCHMARK_KEYS", "SCHEMA_VERSION", "ResultRecord", "build_record", "identity", "provenance"]


def identity(job: Job) -> dict[str, Any]:
    """The keys that say which result a record is (``--skip_existing`` and shared outputs match on them)."""
    return {
        "dataset": job.dataset,
        "model": job.model.model,
        "pretrained": job.model.pretrained,
        "task": job.task,
        "language": job.language,
    }


def build_record(
    job: Job,
    metrics: dict[str, Any],
    provenance: dict[str, Any],
    *,
    classnames: list[str] | None = None,
    templates: Any = None,
) -> dict[str, Any]:
    """One result record as written to disk; ``classnames`` / ``templates`` are written when given (``--dump_*``)."""
    return ResultRecord(
        **identity(job), metrics=metrics, provenance=provenance, classnames=classnames, templates=templates
    ).as_dict()


def provenance(
    model: ZeroShotModel,
    job: Job,
    config: EvalConfig,
    *,
    num_workers: int,
    data: Any,
    images: ImageEmbeddings,
    task_info: dict[str, Any],
    task_settings: dict[str, Any],
    cache: dict[str, Any],
    timing: dict[str, float],
) -> dict[str, Any]:
    """The ``zsbench`` block: versions, device, precision, settings, dataset counts, cache use, timings.

    ``images`` are the job's own (evaluated) image set; ``task_info`` is what the task reported (prompt or caption
    counts and hashes, where its text embeddings came from); ``task_settings`` the settings the task records
    (``recall_k`` for retrieval, null otherwise, as in schema 1).
    """
    import torch

    from zsbench import __version__

    device_name = torch.cuda.get_device_name(model.device) if model.device.startswith("cuda") else platform.processor()
    settings = dict(task_settings)
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
        "compiled": config.compile,
        "gpu_decode": config.gpu_decode,
        "batch_size": config.batch_size,
        "num_workers": num_workers,
        "seed": config.seed,
        "dataset_root": job.dataset_root,
        "split": job.split,
        "fingerprint": config.fingerprint,
        "recall_k": settings.pop("recall_k", None),
        **settings,  # settings of tasks beyond schema 1's (none of the built-in tasks has any)
        "n_images": images.n_images,
        "n_evaluated": images.n_images - len(images.skipped),
        "skipped_corrupt": len(images.skipped),
        # a subset of the published split: not comparable with published numbers
        "allow_incomplete": bool(config.dataset_options.get("allow_incomplete")),
        **task_info,
        "cache": cache,
        "timing": {k: round(v, 4) for k, v in timing.items()},
        "dataset_info": data.info,
    }
