"""A throwaway project for pytester runs of the regression machinery: the real case test, the opt-in plugin, the
fake model, and snapshot files written by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The pytester fixture unloads, at teardown, every module first imported while it was alive, and numpy's and
# torch's C extensions cannot be imported twice in one process: import them before any pytester test starts.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401

CASE_TEST = (Path(__file__).resolve().parents[1] / "benchmarks" / "test_regression_cases.py").read_text()
CONFTEST = 'pytest_plugins = ["zsbench.pytest_plugin"]\nfrom zsbench.testing import fake\nfake.register()\n'


def fake_case(weights: Path | str, **fields: Any) -> dict[str, Any]:
    """A snapshot case of the fake model on ``fake_cls``: the identity keys, plus ``fields``."""
    return {
        "model_type": "fake",
        "model": "fake_model",
        "pretrained": str(weights),
        "dataset": "fake_cls",
        "dataset_root": "anywhere",
        "language": "en",
        "task": "zeroshot_classification",
        **fields,
    }


def start_project(pytester: pytest.Pytester) -> Path:
    """Lay out the project; returns the (fake) weights file its cases point at."""
    pytester.makepyfile(test_cases=CASE_TEST)
    pytester.makeconftest(CONFTEST)
    weights = pytester.path / "weights.bin"
    weights.write_bytes(b"fake")
    return weights


def run_project(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The suite in a subprocess, with the project's snapshots, no loader workers and a cache of its own."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--zs-expected-dir", "expected", "--zs-num-workers", "0",
        "--zs-cache-dir", str(pytester.path / "cache"), *args,
    )  # fmt: skip
