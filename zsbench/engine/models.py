"""Model lifetime: the one place a run loads models.

The pool keeps the model in use. A model on other weights frees the current one first (one 14B model in memory at
a time); a model on the same weights (InternVL's ``_classification`` / ``_retrieval`` adapters of one checkpoint)
loads while the current one is alive, so the new adapter can share its network instead of reading 25 GB again.
"""

from __future__ import annotations

import gc
import time

from zsbench.engine.config import EvalConfig
from zsbench.engine.plan import ModelRef
from zsbench.models import load_model
from zsbench.models.base import ZeroShotModel


def build_model(ref: ModelRef, config: EvalConfig, device: str | None) -> ZeroShotModel:
    """Load ``ref`` with the run's precision, device and model options (and ``--compile``)."""
    pretrained = ref.pretrained
    if pretrained.startswith("builtin:"):  # the project's own weights (snapshot commands name them so)
        from zsbench.engine.weights import resolve_weights

        pretrained = str(resolve_weights(pretrained, "."))
    model = load_model(
        ref.model_type,
        ref.model,
        pretrained,
        device=device,
        precision=config.precision,
        cache_dir=config.model_cache_dir,
        **config.model_options,
    )
    if config.compile:
        import torch

        # Compiled kernels can round differently, so it is part of the cache key and the provenance.
        model.image_fn = torch.compile(model.image_fn)
        model.ident = model.ident.replace(extra={**model.ident.extra, "compiled": True})
    return model


class ModelPool:
    """The model of the jobs at hand, loaded once and kept until a job needs another one."""

    def __init__(self, config: EvalConfig, device: str | None = None) -> None:
        self.config = config
        self.device = device
        self.ref: ModelRef | None = None
        self.model: ZeroShotModel | None = None
        self.loads = 0
        self.last_load_s = 0.0

    def get(self, ref: ModelRef) -> ZeroShotModel:
        if ref == self.ref and self.model is not None:
            return self.model
        if self.ref is not None and self.ref.pretrained != ref.pretrained:
            self.release()
        t0 = time.perf_counter()
        model = build_model(ref, self.config, self.device)  # the current model (same weights) is still alive here
        self.last_load_s = time.perf_counter() - t0
        self.model, self.ref = model, ref
        self.loads += 1
        return model

    def release(self) -> None:
        self.model = self.ref = None
        gc.collect()

    def __repr__(self) -> str:
        return f"ModelPool(ref={self.ref!r}, loads={self.loads})"


__all__ = ["ModelPool", "build_model"]
