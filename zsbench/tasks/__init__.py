"""Task registry: ``--task`` -> a :class:`~zsbench.tasks.base.Task` object (lazy ``"module:attr"`` entries).

A task turns embeddings into metrics; the metric functions it calls are pure functions over tensors, checked
bit-exactly against CLIP_benchmark's. See ``zsbench/tasks/base.py`` for the protocol.
"""

from __future__ import annotations

from zsbench.tasks.base import (
    EVAL_IMAGES,
    ImageEmbeddings,
    ProbeSettings,
    Task,
    TaskRegistry,
    TaskSettings,
    TextEmbeddings,
    Texts,
)

TASKS = TaskRegistry()
TASKS.register("zeroshot_classification", "zsbench.tasks.classification:TASK")
TASKS.register("zeroshot_retrieval", "zsbench.tasks.retrieval:TASK")
TASKS.register("linear_probe", "zsbench.tasks.linear_probe:TASK")
TASKS.register("image_caption_selection", "zsbench.tasks.image_caption_selection:TASK")
# DataComp's variants (--task auto on its wilds/*, fairness/*, retrieval/* and misc/winogavil sets)
TASKS.register("group_classification", "zsbench.tasks.group_classification:TASK")
TASKS.register("datacomp_retrieval", "zsbench.tasks.datacomp_retrieval:TASK")
TASKS.register("image_association", "zsbench.tasks.winogavil:TASK")
TASKS.register("captioning", "zsbench.tasks.captioning:TASK")
# CLIP_benchmark tasks zsbench does not run (yet): refused by name in one line, never silently ignored.
TASKS.refuse("zeroshot_retrieval_with_itm")

__all__ = [
    "EVAL_IMAGES",
    "TASKS",
    "ImageEmbeddings",
    "ProbeSettings",
    "Task",
    "TaskSettings",
    "TextEmbeddings",
    "Texts",
]
