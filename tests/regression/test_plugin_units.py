"""Plugin pieces that need no run: GPU per xdist worker, one xdist group per model, case ids."""

from __future__ import annotations

from pathlib import Path

import torch

from zsbench.engine.snapshots import load_cases, marker_name
from zsbench.pytest_plugin import worker_device

ROOT = Path(__file__).resolve().parents[2]


def test_worker_i_gets_gpu_i_modulo_visible(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for worker, device in [("gw0", "cuda:0"), ("gw1", "cuda:1"), ("gw2", "cuda:0"), ("gw3", "cuda:1")]:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        assert worker_device() == device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker_device() is None


def test_cases_sharing_weights_share_an_xdist_group():
    groups = {}
    for case in load_cases(ROOT / "expected"):
        groups.setdefault(marker_name(case.model_key), set()).add(case.pretrained)
    # one group per (model type, adapter, weights): a worker loads one model for all of its cases
    assert all(len(p) == 1 for p in groups.values())
    paper = {g for g in groups if "internvl_14b" in g or "internvl_c_13b" in g}
    assert len(paper) == 3  # internvl_c_classification, internvl_c_retrieval, internvl_g_retrieval_hf
