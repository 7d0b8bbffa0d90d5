"""The six clip_benchmark InternVL adapters as data (notes section 8). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from zsbench._registry import Registry


@dataclass(frozen=True)
class Adapter:
    """``format``: ``pth`` (one state-dict file) or ``hf`` (a folder); ``mode``: ``InternVL-C`` / ``InternVL-G``;
    ``transform``: ``classification`` / ``retrieval``; ``padding``: ``longest`` / ``max_length``."""

    name: str
    format: str
    mode: str
    transform: str
    padding: str


ADAPTERS: Registry[Adapter] = Registry("InternVL adapter")

for _a in (
    Adapter("internvl_c_classification", "pth", "InternVL-C", "classification", "longest"),
    Adapter("internvl_c_retrieval", "pth", "InternVL-C", "retrieval", "longest"),
    Adapter("internvl_c_classification_hf", "hf", "InternVL-C", "classification", "max_length"),
    Adapter("internvl_c_retrieval_hf", "hf", "InternVL-C", "retrieval", "max_length"),
    Adapter("internvl_g_classification_hf", "hf", "InternVL-G", "classification", "max_length"),
    Adapter("internvl_g_retrieval_hf", "hf", "InternVL-G", "retrieval", "max_length"),
):
    ADAPTERS.register(_a.name, _a)
