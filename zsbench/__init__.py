"""zsbench: zero-shot classification and retrieval benchmarks for CLIP-like models.

The public API is small and importing it is cheap (torch is imported only when a model or dataset is used):

>>> import zsbench
>>> model = zsbench.load_model("open_clip", "ViT-B-32", "")
>>> results = zsbench.evaluate(model_type="open_clip", model="ViT-B-32", pretrained="", datasets=["shapes"])
"""

from __future__ import annotations

from typing import Any

from zsbench.version import __version__


def load_model(*args: Any, **kwargs: Any) -> Any:
    from zsbench.models import load_model as _load_model

    return _load_model(*args, **kwargs)


def load_dataset(*args: Any, **kwargs: Any) -> Any:
    from zsbench.datasets import load_dataset as _load_dataset

    return _load_dataset(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any) -> Any:
    from zsbench.engine.evaluate import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def list_datasets() -> list[str]:
    from zsbench.datasets import list_datasets as _list

    return _list()


def list_model_types() -> list[str]:
    from zsbench.models import MODEL_TYPES

    return MODEL_TYPES.names()


__all__ = ["__version__", "evaluate", "list_datasets", "list_model_types", "load_dataset", "load_model"]
