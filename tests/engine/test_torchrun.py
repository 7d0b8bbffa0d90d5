"""`torchrun --nproc-per-node 2 -m zsbench eval` (gloo, CPU) writes the same result as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _run(cmd, env):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("dataset", ["shapes", "shapes_captions"])
def test_torchrun_two_ranks_equal_single_process(tmp_path, dataset):
    # One thread per process in both runs: the bits of a matmul may depend on the thread count.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    common = ["eval", "--dataset", dataset, "--dataset_root", str(tmp_path / "data"), "--num_workers", "0",
              "--batch_size", "32", "--no_cache", "--quiet"]  # fmt: skip
    single = tmp_path / "single.json"
    _run([sys.executable, "-m", "zsbench", *common, "--output", str(single)], env)
    dist = tmp_path / "dist.json"
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
          "-m", "zsbench", *common, "--output", str(dist)], env)  # fmt: skip
    a, b = json.loads(single.read_text()), json.loads(dist.read_text())
    assert a["metrics"] == b["metrics"]
    assert b["zsbench"]["n_images"] == a["zsbench"]["n_images"]
