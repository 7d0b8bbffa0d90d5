"""wds/ datasets streamed from the HF hub: URL forms, commit pinning, the cache, provenance, zsbench download.

Every test talks to :class:`zsbench.testing.fake_hub.FakeHub` on 127.0.0.1 (the hub's URL layout and JSON shapes).
"""

from __future__ import annotations

import json
import threading

import pytest

from tests.reliability.conftest import run_cli
from zsbench.datasets import hub, load_dataset
from zsbench.datasets.hub import HubError, datacomp_sets, parse_hub_url
from zsbench.paths import file_sha256
from zsbench.testing import fake
from zsbench.testing.fake_hub import FakeHub, make_wds

REPO = "org/wds_cifar10"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """The hub cache under tmp_path, no waiting between retries, and a fresh process's revision memo."""
    monkeypatch.setenv("ZSBENCH_CACHE_DIR", str(tmp_path / "zcache"))
    for var in ("ZSBENCH_HF_ENDPOINT", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "BACKOFF_S", 0.0)
    monkeypatch.setattr(hub, "_RESOLVED", {})


@pytest.fixture
def fake_eval(tmp_path):
    """``zsbench eval`` on the fake model (fast, no weights), its embedding cache and outputs under tmp_path."""
    fake.register()

    def run(*extra):
        return run_cli(
            "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
            "--cache_dir", tmp_path / "cache", "--quiet", *extra,
        )  # fmt: skip

    return run


@pytest.fixture(scope="module")
def wds_folder(tmp_path_factory):
    return make_wds(tmp_path_factory.mktemp("wds"), n=5, max_count=2)  # 3 shards: 2 + 2 + 1 samples


# -- URL forms ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "revision", "folder"),
    [
        ("https://huggingface.co/datasets/org/wds_cars/tree/main", "main", ""),  # CLIP_benchmark's README
        ("https://huggingface.co/datasets/org/wds_cars/tree/main/", "main", ""),
        (f"https://huggingface.co/datasets/org/wds_cars/resolve/{SHA}", SHA, ""),
        ("https://huggingface.co/datasets/org/wds_cars", "main", ""),  # DataComp's download_evalsets.py
        (f"https://huggingface.co/datasets/org/wds_cars@{SHA}", SHA, ""),
        ("https://huggingface.co/datasets/org/wds_cars/tree/v1.0/sub/dir", "v1.0", "sub/dir"),
        (f"hf://datasets/org/wds_cars@{SHA}/sub", SHA, "sub"),
        ("hf://datasets/org/wds_cars", "main", ""),
    ],
)
def test_hub_url_forms(url, revision, folder):
    ref = parse_hub_url(url)
    assert (ref.endpoint, ref.repo_id, ref.revision, ref.folder) == (
        "https://huggingface.co",
        "org/wds_cars",
        revision,
        folder,
    )
    assert ref.pinned == (revision == SHA)


def test_endpoint_override_applies_to_huggingface_urls_only(monkeypatch):
    monkeypatch.setenv("ZSBENCH_HF_ENDPOINT", "http://127.0.0.1:9/")
    assert parse_hub_url("https://huggingface.co/datasets/org/r").endpoint == "http://127.0.0.1:9"
    assert parse_hub_url("hf://datasets/org/r").endpoint == "http://127.0.0.1:9"
    mirror = parse_hub_url("https://mirror.example/hf/datasets/org/r/tree/main")
    assert (mirror.endpoint, mirror.repo_id) == ("https://mirror.example/hf", "org/r")
    assert (
        mirror.file_url("resolve", SHA, "test/0.tar")
        == f"https://mirror.example/hf/datasets/org/r/resolve/{SHA}/test/0.tar"
    )


def test_revision_flag_pins_and_must_agree_with_the_url():
    assert parse_hub_url("https://huggingface.co/datasets/org/r", SHA).revision == SHA
    assert parse_hub_url("https://huggingface.co/datasets/org/r/tree/main", "main").revision == "main"
    with pytest.raises(HubError, match="different revisions"):
        parse_hub_url("https://huggingface.co/datasets/org/r/tree/main", SHA)


# -- streaming ------------------------------------------------------------------------------------------------------
def test_hub_dataset_reads_like_the_local_folder_and_records_the_commit(wds_folder, tmp_path):
    local = load_dataset("wds/cifar10", wds_folder)
    with FakeHub(page_size=2) as fake:  # page_size 2: the tree listing is paginated (Link: rel="next")
        commit = fake.push_folder(REPO, wds_folder)
        data = load_dataset("wds/cifar10", f"{fake.url}/datasets/{REPO}/tree/main")
    assert data.targets == local.targets and data.classnames == local.classnames
    assert [data.images.read_bytes(i) for i in range(5)] == [local.images.read_bytes(i) for i in range(5)]
    info = data.info["hub"]
    assert (info["repo"], info["revision"], info["commit"], info["source"], info["shards"]) == (
        REPO,
        "main",
        commit,
        "fetched",
        3,
    )
    cached = tmp_path / "zcache" / "wds" / "org" / "wds_cifar10" / commit
    assert data.images.root == cached
    assert (
        info["files_sha256"]["test/1.tar"]
        == file_sha256(wds_folder / "test/1.tar")
        == file_sha256(cached / "test/1.tar")
    )
    assert set(info["files_sha256"]) == {
        "classnames.txt", "zeroshot_classification_templates.txt", "test/nshards.txt", "test/sizes.json",
        "test/0.tar", "test/1.tar", "test/2.tar",
    }  # fmt: skip
    assert (tmp_path / "zcache/wds/org/wds_cifar10/refs/main").read_text().strip() == commit


def test_pinned_commit_in_the_cache_makes_no_request(wds_folder):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        first = load_dataset("wds/cifar10", f"{fake.url}/datasets/{REPO}@{commit}")
        asked = len(fake.requests)
        again = load_dataset("wds/cifar10", f"{fake.url}/datasets/{REPO}/tree/{commit}")
        assert len(fake.requests) == asked  # a commit never changes: its checked files are read as they are
    assert first.info["hub"]["source"] == "fetched" and again.info["hub"]["source"] == "cache"
    assert again.info["hub"]["files_digest"] == first.info["hub"]["files_digest"]


def test_a_folder_inside_the_repository_and_the_revision_option(wds_folder, monkeypatch):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder, prefix="cifar/")
        fake.push(REPO, {"README.md": b"moved on"})  # main moves on without the folder
        with pytest.raises(HubError, match="no cifar/test/ folder"):
            load_dataset("wds/cifar10", f"{fake.url}/datasets/{REPO}/tree/main/cifar")
        monkeypatch.setenv("ZSBENCH_HF_ENDPOINT", fake.url)  # hf:// names go to the configured endpoint
        pinned = load_dataset("wds/cifar10", f"hf://datasets/{REPO}/cifar", revision=commit)
    assert (pinned.info["hub"]["folder"], pinned.info["hub"]["commit"], len(pinned.images)) == ("cifar", commit, 5)
    assert pinned.images.root.name == "cifar" and pinned.images.root.parent.name == commit


def test_two_runs_fetching_one_commit_take_turns(wds_folder):
    """Two loads at once (threads here, processes in real life): a lock on the commit, each shard fetched once."""
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        url = f"{fake.url}/datasets/{REPO}@{commit}"
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(load_dataset("wds/cifar10", url))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        shard_gets = [p for p in fake.requests if p.startswith("/cdn/")]
    assert len(results) == 2 and all(len(r.images) == 5 for r in results)
    assert len(shard_gets) == 3, shard_gets
    assert sorted(r.info["hub"]["source"] for r in results) == ["cache", "fetched"]


# -- zsbench eval / zsbench download ------------------------------------------------------------------------------
def test_eval_on_a_hub_url_end_to_end(wds_folder, tmp_path, fake_eval):
    local = fake_eval("--dataset", "wds/cifar10", "--dataset_root", wds_folder, "--output", tmp_path / "local.json")
    local.assert_ok()
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        res = fake_eval(
            "--dataset", "wds/cifar10", "--dataset_root", f"{fake.url}/datasets/org/wds_{{dataset_cleaned}}/tree/main",
            "--output", tmp_path / "hub.json",
        )  # fmt: skip
    res.assert_ok()
    hub_rec = json.loads((tmp_path / "hub.json").read_text())
    local_rec = json.loads((tmp_path / "local.json").read_text())
    assert hub_rec["metrics"] == local_rec["metrics"]
    info = hub_rec["zsbench"]["dataset_info"]["hub"]
    assert info["commit"] == commit and info["url"].endswith("/datasets/org/wds_cifar10/tree/main")
    assert info["files_sha256"]["test/0.tar"] == file_sha256(wds_folder / "test/0.tar")


def test_download_then_eval_offline(wds_folder, tmp_path, fake_eval, monkeypatch, caplog):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        url = f"{fake.url}/datasets/org/wds_{{dataset_cleaned}}/tree/main"
        res = run_cli("download", "--dataset", "wds/cifar10", "--dataset_root", url)
        res.assert_ok()
        assert f"wds/cifar10: {REPO}@{commit} test: 3 shards" in res.out
    monkeypatch.setattr(hub, "_RESOLVED", {})  # a new process
    res = fake_eval("--dataset", "wds/cifar10", "--dataset_root", url, "--output", tmp_path / "off.json")
    res.assert_ok()  # the server is gone: main's last commit, fetched by download, is used
    assert "cannot reach" in caplog.text and f"pre-fetched {REPO}@{commit}" in caplog.text
    assert (
        json.loads((tmp_path / "off.json").read_text())["zsbench"]["dataset_info"]["hub"]["source"] == "cache-offline"
    )


def test_datacomp_mapping_follows_download_evalsets():
    sets = datacomp_sets()
    assert len(sets) == 40 and len(set(s.task for s in sets)) == 40  # 38 scored + fairface + utkface
    by_task = {s.task: s for s in sets}
    assert by_task["vtab/caltech101"].repo == "djghosh/wds_vtab-caltech101_test"
    assert by_task["wilds/iwildcam"].repo == "djghosh/wds_wilds-iwildcam_test"
    assert by_task["fairness/dollar_street"].repo == "djghosh/wds_dollar_street_test"
    assert by_task["imagenet1k"].dataset == "wds/imagenet1k"
    not_wds = sorted(s.task for s in sets if not s.webdataset)
    assert not_wds == [
        "misc/winogavil",
        "retrieval/flickr_1k_test_image_text_retrieval",
        "retrieval/mscoco_2014_5k_test_image_text_retrieval",
    ]
    assert by_task["misc/winogavil"].repo == "nlphuji/winogavil"


def test_download_collection_datacomp(wds_folder, tmp_path, monkeypatch):
    """All 37 DataComp webdatasets from their repositories (here one tiny webdataset pushed 37 times)."""
    with FakeHub() as fake:
        for s in datacomp_sets():
            if s.webdataset:
                fake.push_folder(s.repo, wds_folder)
        monkeypatch.setenv("ZSBENCH_HF_ENDPOINT", fake.url)
        res = run_cli("download", "--collection", "datacomp", "--wds_cache_dir", tmp_path / "dc")
    res.assert_ok()
    assert res.out.count(" shards, ") == 37 and res.out.count("skipped ") == 3
    assert (tmp_path / "dc/djghosh/wds_vtab-caltech101_test").is_dir()
    assert (tmp_path / "dc/djghosh/wds_dollar_street_test").is_dir()
    assert "wds/dollar_street: djghosh/wds_dollar_street_test@" in res.out
