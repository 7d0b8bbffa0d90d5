"""pytest plugin for ``check.py`` section 4: the real ``pytest -m gpu`` machinery with a random full-size InternVL-C.

Loaded with ``-p random_internvl_plugin`` (``benchmarks/gpu`` on ``PYTHONPATH``) next to this repository's
``conftest.py`` (which loads ``zsbench.pytest_plugin``). Writing a 25 GB random ``.pth`` would take longer than the
whole check may, so only the file read is replaced: ``zsbench.models.internvl.checkpoint.load_pth`` builds the
network directly on the device (meta -> ``to_empty`` -> cheap init, as ``internvl_throughput.py``) in the dtype the
adapter asks for. Everything else is zsbench's own: the snapshot cases, fixtures, model pool, adapter (tokenizer,
transform, network sharing between the ``_classification``/``_retrieval`` adapters), evaluator, embedding cache,
comparison and Markdown report.

Each network build and each case's provenance (precision, device, images, timings) is appended as one JSON line to
``$GPU_CHECK_LOG``. ``GPU_CHECK_INTERNVL=tiny`` swaps the tiny test config in for the real sizes (the CPU dry run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from internvl_throughput import build_random, count

# This module imports zsbench's plugin before the repository's conftest.py registers it: keep pytest's assertion
# rewriting of it as usual (and its "already imported" warning away).
pytest.register_assert_rewrite("zsbench.pytest_plugin")

import zsbench.models.internvl.checkpoint as checkpoint  # noqa: E402
import zsbench.pytest_plugin as zs_plugin  # noqa: E402


def _log(entry: dict[str, Any]) -> None:
    path = os.environ.get("GPU_CHECK_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def random_load_pth(
    path: str | os.PathLike[str],
    *,
    config: Any,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    ignore_unexpected: Any = (),
) -> Any:
    """``load_pth``'s signature and result type, with random weights instead of the file's."""
    t0 = time.perf_counter()
    net = build_random(config, "C", str(device), dtype)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    _log(
        {
            "event": "build",
            "path": Path(path).name,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "params": count(net),
            "seconds": round(time.perf_counter() - t0, 3),
        }
    )
    return net


_real_check_case = zs_plugin.check_case


def check_case(request: Any, case: Any, record: dict[str, Any]) -> None:
    """Log what the run recorded, then zsbench's own comparison and report entry."""
    z = record.get("zsbench") or {}
    _log(
        {
            "event": "case",
            "id": case.id,
            "precision": z.get("precision"),
            "device": z.get("device"),
            "n_images": z.get("n_images"),
            "image_embeddings": (z.get("cache") or {}).get("image_embeddings"),
            "timing": z.get("timing"),
        }
    )
    _real_check_case(request, case, record)


# Patched at import: ``-p`` plugins load before test modules are collected, so benchmarks/test_regression_cases.py
# imports the wrapped check_case, and the InternVL adapter imports load_pth from the module at each load.
checkpoint.load_pth = random_load_pth
zs_plugin.check_case = check_case
if os.environ.get("GPU_CHECK_INTERNVL") == "tiny":
    import zsbench.models.internvl.config as internvl_config
    from zsbench.testing.internvl_tiny import tiny_config

    # The .pth adapters take their (fixed, real) sizes from pth_config() at each load: tiny ones for the dry run.
    internvl_config.pth_config = tiny_config
