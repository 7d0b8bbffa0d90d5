"""Task registry: ``--task`` -> metric function. Tasks are pure functions over embeddings and labels."""

from __future__ import annotations

from typing import Any

from zsbench._registry import Registry

TASKS: Registry[Any] = Registry("task")
TASKS.register("zeroshot_classification", "zsbench.tasks.classification:evaluate_classification")
TASKS.register("zeroshot_retrieval", "zsbench.tasks.retrieval:evaluate_retrieval")

__all__ = ["TASKS"]
