"""torch.distributed sharding: two gloo processes give the single-process result, bit for bit."""

from __future__ import annotations

import json
import os
import socket

import pytest

from zsbench.engine.distributed import World, my_batches


def test_batches_are_dealt_round_robin_with_single_process_boundaries():
    assert my_batches(10, 3, World(0, 2)) == [0, 1, 2, 6, 7, 8]
    assert my_batches(10, 3, World(1, 2)) == [3, 4, 5, 9]
    both = my_batches(10, 3, World(0, 2)) + my_batches(10, 3, World(1, 2))
    assert sorted(both) == list(range(10))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str, dataset: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    from tests.engine.test_engine import _config
    from zsbench.engine import Engine, strategy_from_env
    from zsbench.testing import fake

    fake.register()
    from pathlib import Path

    config = _config(Path(out_dir), datasets=[(dataset, None)], cache_dir="", batch_size=5)
    strategy = strategy_from_env()
    engine = Engine(config, strategy=strategy)
    with strategy:
        records = engine.run()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"records": [r["metrics"] for r in records], "images": fake.CALLS["images"]}, f)


@pytest.mark.parametrize("dataset", ["fake_cls", "fake_ret"])
def test_two_gloo_ranks_equal_one_process(tmp_path, dataset):
    import torch.multiprocessing as mp

    from tests.engine.test_engine import _config
    from zsbench.engine import Engine
    from zsbench.testing import fake

    fake.register()
    single = Engine(_config(tmp_path / "single", datasets=[(dataset, None)], cache_dir="", batch_size=5)).run()
    out = tmp_path / "dist"
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(out), dataset), nprocs=2, join=True)
    rank0 = json.loads((out / "rank0.json").read_text())
    rank1 = json.loads((out / "rank1.json").read_text())
    assert rank0["records"] == [single[0]["metrics"]]
    assert rank1["records"] == rank0["records"]  # every rank has every embedding; only rank 0 writes (below)
    n = 30 if dataset == "fake_cls" else 12
    assert rank0["images"] + rank1["images"] == n  # each image encoded by exactly one rank
    assert rank0["images"] > 0 and rank1["images"] > 0
    written = list((out / "out").glob("*.json"))
    assert len(written) == 1


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, World()),
        ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, World(1, 2, 1)),
        ({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "0"}, World(3, 4, 0)),
        # srun started 8 tasks of this step: a process group of 8
        ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "8", "SLURM_LOCALID": "1"}, World(5, 8, 1)),
        # a plain `zsbench eval` typed inside `salloc -n 8` (or an sbatch script): one process, not rank 0 of 8
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_LOCALID": "0"}, World()),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "1"}, World()),
    ],
)
def test_world_from_the_launcher_environment(env, want):
    from zsbench.engine.distributed import world_from_env

    assert world_from_env(env) == want


def test_a_sharded_rank_without_a_rendezvous_address_is_one_line(monkeypatch):
    from zsbench.engine.distributed import ShardedStrategy
    from zsbench.errors import ZsbenchError

    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(ZsbenchError, match="MASTER_ADDR and MASTER_PORT not set"), ShardedStrategy(World(0, 2)):
        pass
