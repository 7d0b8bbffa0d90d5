"""``zsbench.evaluate``: the Python API's one call, a thin layer over the engine (``build_plan`` + ``Engine.run``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from zsbench.engine.config import EvalConfig
from zsbench.engine.plan import expand_datasets
from zsbench.engine.runner import Engine

__all__ = ["evaluate"]


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
    engine = Engine(config)
    return engine.run(engine.validate())
