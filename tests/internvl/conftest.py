"""Fixtures for the InternVL tests: golden tiny data from ../shared and self-built tiny checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from zsbench.testing.shared import require_shared

GOLDEN = "golden/internvl"
TOKENIZER = "seed_data/internvl_tokenizer/tokenizer.model"


class Golden:
    """Paths and tensors under ``shared/golden/internvl``; each access skips the test if the file is absent."""

    def path(self, name: str) -> Path:
        return require_shared(f"{GOLDEN}/{name}")

    def tensors(self, name: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.path(name)))


@pytest.fixture(scope="session")
def golden_files() -> Golden:
    return Golden()


@pytest.fixture(scope="session")
def tokenizer_model() -> Path:
    return require_shared(TOKENIZER)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Both formats with random weights and no tokenizer (works without ../shared)."""
    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("internvl_tiny"), None, dtype=torch.float32)


@pytest.fixture(scope="session")
def tiny_with_tokenizer(tmp_path_factory: pytest.TempPathFactory, tokenizer_model: Path) -> Any:
    """Both formats plus the real tokenizer.model in the HF folder (the .pth adapters find it beside the .pth)."""
    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("internvl_tiny_tok"), tokenizer_model)
