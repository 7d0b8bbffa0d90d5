"""Fixtures for the task metric tests: CLIP_benchmark's own metric modules, and fakes that drive them."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType, SimpleNamespace

import pytest
import torch
from torch import Tensor

# CI pip-installs clip-benchmark 1.6.2 (test extra). Where that is not possible, point this variable at a folder
# holding the unpacked wheel (the folder that contains ``clip_benchmark/``); there is no machine-specific default.
EXTRACTED_WHEEL_ENV = "ZSBENCH_CLIP_BENCHMARK_PATH"


def _import_upstream(name: str) -> ModuleType:
    try:
        importlib.import_module("clip_benchmark")
    except ImportError:
        extracted = os.environ.get(EXTRACTED_WHEEL_ENV)
        if extracted and extracted not in sys.path:
            sys.path.append(extracted)
        try:
            importlib.import_module("clip_benchmark")
        except ImportError as exc:
            where = f" (${EXTRACTED_WHEEL_ENV}={extracted})" if extracted else f" (or set ${EXTRACTED_WHEEL_ENV})"
            pytest.skip(f"clip-benchmark==1.6.2 not importable (pip install -e '.[test]'){where}: {exc}")
    try:
        return importlib.import_module(f"clip_benchmark.metrics.{name}")
    except ImportError as exc:  # e.g. its tqdm/sklearn dependencies are missing
        pytest.skip(f"clip_benchmark.metrics.{name} not importable: {exc}")


@pytest.fixture(scope="session")
def cb_classification() -> ModuleType:
    return _import_upstream("zeroshot_classification")


@pytest.fixture(scope="session")
def cb_retrieval() -> ModuleType:
    return _import_upstream("zeroshot_retrieval")


def upstream_accuracy(output: Tensor, target: Tensor, topk: tuple[int, ...] = (1,)) -> list[float]:
    """CLIP_benchmark's ``accuracy()`` arithmetic with ``.item()`` in place of ``float(ndarray of shape (1,))``,
    which NumPy >= 2.4 rejects."""
    pred = output.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / len(target) for k in topk]


class TableModel:
    """Fake CLIP model: images *are* their embeddings; a "token" is a row index into a table of text embeddings."""

    def __init__(self, text_table: Tensor) -> None:
        self.text_table = text_table

    def encode_image(self, images: Tensor) -> Tensor:
        return images

    def encode_text(self, tokens: Tensor) -> Tensor:
        return self.text_table[tokens]


class TableTokenizer:
    """Maps each string to its index in a fixed vocabulary, so TableModel can look it up."""

    def __init__(self, strings: list[str]) -> None:
        self.index = {s: i for i, s in enumerate(strings)}

    def __call__(self, texts: list[str]) -> Tensor:
        return torch.tensor([self.index[t] for t in texts], dtype=torch.long)


class ListLoader:
    """Just enough of a DataLoader: iterable over fixed batches, with ``dataset.classes``."""

    def __init__(self, batches: list, classes: list[str] | None = None) -> None:
        self.batches = batches
        self.dataset = type("Dataset", (), {"classes": classes})()

    def __iter__(self):
        return iter(self.batches)


@pytest.fixture(scope="session")
def fakes() -> SimpleNamespace:
    """The helpers above, as a fixture (test modules here are not a package, so they cannot import conftest)."""
    return SimpleNamespace(
        accuracy=upstream_accuracy, TableModel=TableModel, TableTokenizer=TableTokenizer, ListLoader=ListLoader
    )
