"""One resolver for dataset roots: ``eval``, ``zsbench datasets`` and the pytest plugin agree on where a dataset is."""

from __future__ import annotations

from pathlib import Path

import pytest

from zsbench.datasets import get_spec, list_datasets, load_dataset, resolve_dataset_root
from zsbench.datasets.status import dataset_status, format_status_table
from zsbench.errors import UnknownNameError, ZsbenchError
from zsbench.paths import builtin_data_dir, default_cache_dir


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ZSBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"ZSBENCH_CACHE_DIR": "{tmp}/zs", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/zs"),
        ({"ZSBENCH_CACHE_DIR": "", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/zsbench"),
        ({"ZSBENCH_CACHE_DIR": None, "XDG_CACHE_HOME": None}, "{tmp}/home/.cache/zsbench"),
    ],
)
def test_default_cache_dir(env, want, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value.format(tmp=tmp_path))
    assert default_cache_dir() == Path(want.format(tmp=tmp_path))
    assert builtin_data_dir() == default_cache_dir() / "data"


@pytest.mark.parametrize(
    ("name", "template", "want"),
    [
        ("cifar10", "data/{dataset}", "data/cifar10"),
        ("vtab/resisc45", "data/{dataset}", "data/vtab/resisc45"),
        ("vtab/resisc45", "data/wds_{dataset_cleaned}", "data/wds_vtab-resisc45"),
        ("wds/vtab/cifar10", "shards/{dataset}/", "shards/vtab/cifar10/"),  # wds/ stripped, trailing slash kept
        ("wds/vtab/cifar10", "https://huggingface.co/datasets/clip-benchmark/wds_{dataset_cleaned}/tree/main",
         "https://huggingface.co/datasets/clip-benchmark/wds_vtab-cifar10/tree/main"),  # a URL stays a URL
        ("imagenet1k", "./data/imagenet-1k/", "./data/imagenet-1k/"),
        ("cifar10", "{{literal}}/{dataset}", "{literal}/cifar10"),
        ("cifar10", None, "root"),  # CLIP_benchmark's default
        ("wds/vtab/cifar10", None, "root"),
    ],
)  # fmt: skip
def test_templating_as_clip_benchmark(name, template, want):
    assert resolve_dataset_root(name, template) == want


def test_builtin_datasets_default_to_the_data_cache(cache):
    for name in ("shapes", "shapes_captions"):
        assert resolve_dataset_root(name, None) == str(cache / "data")
        assert resolve_dataset_root(name, "d/{dataset}") == f"d/{name}"  # an explicit template wins
    with pytest.raises(UnknownNameError, match="shapez"):
        resolve_dataset_root("shapez", None)


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("data/{datset}", "unknown field {datset}"),
        ("data/{model}", "unknown field {model}"),
        ("data/{}", "unknown field {}"),
        ("data/{0}", "unknown field {0}"),
        ("data/{dataset", "not a valid template"),
        ("data/}", "not a valid template"),
        ("data/{dataset!z}", "not a valid template"),
        ("data/{dataset:>>>>}", "not a valid template"),
        ("", "is empty"),
        ("   ", "is empty"),
    ],
)
def test_bad_template_is_one_line(template, needle):
    with pytest.raises(ZsbenchError) as info:
        resolve_dataset_root("cifar10", template)
    message = str(info.value)
    assert needle in message and "--dataset_root" in message and "\n" not in message
    with pytest.raises(ZsbenchError, match="--dataset_root"):
        dataset_status(template)  # refused up front, not one traceback per dataset


@pytest.mark.parametrize("template", [None, "data/{dataset}", "x/wds_{dataset_cleaned}/", "root"])
def test_eval_uses_the_same_roots(template, cache):
    """The engine's plan (eval, the API and the pytest plugin) puts each job where the resolver says."""
    from zsbench.engine import EvalConfig, build_plan

    names = ("shapes", "shapes_captions", "cifar10", "vtab/resisc45", "wds/vtab/cifar10", "imagenet1k")
    plan = build_plan(EvalConfig(dataset_root=template, cache_dir="", datasets=[(n, "en") for n in names]))
    for job in plan.jobs:
        assert Path(job.dataset_root) == Path(resolve_dataset_root(job.dataset, template)), job.dataset


def test_status_rows_use_the_resolver(tmp_path, cache):
    rows = {r["name"]: r for r in dataset_status(None)}
    assert set(rows) == set(list_datasets())
    for name, row in rows.items():
        assert row["path"] == str(Path(resolve_dataset_root(name, None))), name
    assert rows["cifar10"]["path"] == "root" and rows["shapes"]["path"] == str(cache / "data")


def test_status_reports_builtin_datasets_once_generated(cache):
    """``zsbench datasets`` without --dataset_root used to call shapes missing while ``eval`` found it."""
    rows = {r["name"]: r for r in dataset_status(None)}
    assert rows["shapes"]["status"] == rows["shapes_captions"]["status"] == "missing"
    assert rows["shapes"]["missing"] == [str(cache / "data" / "shapes" / "test")]
    assert "`zsbench eval --dataset shapes` generates it" in rows["shapes"]["how_to_obtain"]

    # Generate shapes_captions where eval puts it: the data cache exists now, but shapes is still not there.
    load_dataset("shapes_captions", resolve_dataset_root("shapes_captions", None))
    rows = {r["name"]: r for r in dataset_status(None)}
    assert rows["shapes_captions"]["status"] == "present" and rows["shapes_captions"]["missing"] == []
    assert rows["shapes"]["status"] == "missing"  # a shared folder that exists is not "incomplete"

    load_dataset("shapes", resolve_dataset_root("shapes", None))
    rows = {r["name"]: r for r in dataset_status(None)}
    assert rows["shapes"]["status"] == "present"
    table = format_status_table(list(rows.values()))
    assert "shapes:" not in table and "shapes_captions:" not in table  # no "how to obtain" line for them


def test_status_with_template_checks_builtin_where_eval_looks(tmp_path):
    """With ``--dataset_root d/{dataset}`` eval generates under d/shapes_captions/shapes_captions: status looks there."""
    template = str(tmp_path / "d" / "{dataset}")
    root = resolve_dataset_root("shapes_captions", template)
    assert root == str(tmp_path / "d" / "shapes_captions")
    rows = {r["name"]: r for r in dataset_status(template)}
    assert rows["shapes_captions"]["status"] == "missing"
    load_dataset("shapes_captions", root)
    rows = {r["name"]: r for r in dataset_status(template)}
    assert rows["shapes_captions"]["status"] == "present" and rows["shapes_captions"]["path"] == root
    assert get_spec("shapes_captions").required == ("shapes_captions/images", "shapes_captions/captions_test.json")
