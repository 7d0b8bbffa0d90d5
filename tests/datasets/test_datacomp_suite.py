"""``zsbench eval --dataset datacomp``: all 38 scored DataComp tasks in one run, on tiny replicas in the layout
DataComp's download script leaves, each result with DataComp's main-metric key; one model load, each image set
encoded once."""

from __future__ import annotations

import json

from tests.reliability.conftest import run_cli
from zsbench.datasets.catalog.datacomp import DATACOMP_DATASETS, HF_SETS
from zsbench.engine.plan import DATASET_COLLECTIONS
from zsbench.testing import fake
from zsbench.testing.datacomp_replicas import N_SAMPLES, WINOGAVIL_INSTANCES, write_datacomp

TASK_OF = {"wilds/": "group_classification", "fairness/": "group_classification", "retrieval/": "datacomp_retrieval"}


def _run(tmp_path, template: str, datasets: list[str]):
    return run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
        "--dataset", *datasets, "--task", "auto", "--dataset_root", template, "--allow_incomplete",
        "--cache_dir", tmp_path / "cache", "--output", tmp_path / "out" / "{dataset}.json", "--quiet",
    )  # fmt: skip


def test_datacomp_collection_is_tasklist(tmp_path):
    assert DATASET_COLLECTIONS["datacomp"] == list(DATACOMP_DATASETS)
    assert len(DATACOMP_DATASETS) == 38
    keys = [t.key for t in DATACOMP_DATASETS.values()]
    assert len(set(keys)) == 38 and "fairness/fairface" not in keys


def test_datacomp_38_tasks_one_command(tmp_path):
    fake.register()
    write_datacomp(tmp_path / "data")
    before = dict(fake.CALLS)
    result = _run(tmp_path, str(tmp_path / "data" / "{datacomp}"), ["datacomp"])
    result.assert_ok()
    records = {}
    for path in (tmp_path / "out").glob("*.json"):
        record = json.loads(path.read_text())
        records[record["dataset"]] = record
    assert len(records) == 38
    for name, task in DATACOMP_DATASETS.items():
        record = records[name.removeprefix("wds/")] if name.removeprefix("wds/") in records else records[name]
        want = next((t for prefix, t in TASK_OF.items() if name.startswith(prefix)), None)
        want = want or ("image_association" if name == "misc/winogavil" else "zeroshot_classification")
        assert record["task"] == want, name
        value = record["metrics"][task.main_metric]
        assert isinstance(value, float) and 0.0 <= value <= 1.0, (name, task.main_metric, value)
    # each image set encoded once: 35 shards of N_SAMPLES, two retrieval sets of 10, WinoGAViL's 12 distinct images
    pool = {(k + j) % 12 for k, (_, n, _) in enumerate(WINOGAVIL_INSTANCES) for j in range(n)}
    assert fake.CALLS["images"] - before["images"] == 35 * N_SAMPLES + 2 * 10 + len(pool)


def test_datacomp_tasks_per_dataset_folders(tmp_path):
    """The ``{dataset}`` template: each set in a folder of its own (an HF set with its own hf_cache)."""
    fake.register()
    names = ["wds/cifar10", "wilds/fmow", "fairness/geode", "misc/winogavil", *HF_SETS]
    write_datacomp(tmp_path / "data", layout="dataset", names=set(names))
    result = _run(tmp_path, str(tmp_path / "data" / "{dataset}"), list(dict.fromkeys(names)))
    result.assert_ok()
    fmow = json.loads((tmp_path / "out" / "wilds_fmow.json").read_text())
    assert fmow["metrics"]["acc_worst_region"] <= fmow["metrics"]["acc_avg"]
    assert fmow["zsbench"]["dataset_info"]["group_fields"] == ["region", "year", "y"]
    flickr = json.loads((tmp_path / "out" / "retrieval_flickr_1k_test_image_text_retrieval.json").read_text())
    m = flickr["metrics"]
    assert m["mean_recall@1"] == 0.5 * (m["text_retrieval_recall@1"] + m["image_retrieval_recall@1"])
