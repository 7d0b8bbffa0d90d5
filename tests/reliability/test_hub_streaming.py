"""Webdatasets streamed from the HF hub: cut transfers, wrong checksums, moved revisions, no network, bad URLs.

Each test serves one fault from :class:`zsbench.testing.fake_hub.FakeHub` (127.0.0.1, the hub's URL layout) and
checks the exit code, the one line, and that nothing unchecked is in the place the loader reads.
"""

from __future__ import annotations

import hashlib
import json
import socket

import pytest

from tests.reliability.conftest import run_cli
from zsbench.datasets import hub
from zsbench.testing.fake_hub import FakeHub, make_wds

REPO = "org/wds_cifar10"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """The hub cache under tmp_path, no waiting between retries, and a fresh process's revision memo."""
    monkeypatch.setenv("ZSBENCH_CACHE_DIR", str(tmp_path / "zcache"))
    for var in ("ZSBENCH_HF_ENDPOINT", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "BACKOFF_S", 0.0)
    monkeypatch.setattr(hub, "_RESOLVED", {})


@pytest.fixture(scope="module")
def wds_folder(tmp_path_factory):
    return make_wds(tmp_path_factory.mktemp("wds"), n=5, max_count=2)  # test/0.tar, 1.tar, 2.tar


def _repo_cache(tmp_path):
    return tmp_path / "zcache" / "wds" / "org" / "wds_cifar10"


def _result(tmp_path, name="out"):
    return json.loads(next((tmp_path / name).glob("*.json")).read_text())


def _eval(fake_eval, tmp_path, root, *extra, out="out"):
    return fake_eval(
        "--dataset", "wds/cifar10", "--dataset_root", root,
        "--output", tmp_path / out / "{dataset}_{language}.json", *extra,
    )  # fmt: skip


def test_shard_cut_short_once_is_resumed(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        fake.truncate["test/1.tar"] = 2  # the first two transfers stop a third of the way
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
        ranges = [r for p, r in fake.ranges if p.startswith("/cdn/")]
    res.assert_ok()
    assert len(ranges) == 2 and all(r.startswith("bytes=") and r != "bytes=0-" for r in ranges)  # resumed, not redone
    shard = _repo_cache(tmp_path) / commit / "test/1.tar"
    assert shard.read_bytes() == (wds_folder / "test/1.tar").read_bytes()
    assert not list(_repo_cache(tmp_path).rglob("*.part"))


def test_server_that_ignores_range_restarts_the_shard(wds_folder, tmp_path, fake_eval):
    """A resumed request answered 200 with the whole file: start over, never append it to the partial one."""
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        fake.truncate["test/0.tar"] = 1
        fake.ignore_range = True
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
        sha = hashlib.sha256((wds_folder / "test/0.tar").read_bytes()).hexdigest()
        gets = fake.requests.count(f"/cdn/{sha}")
    res.assert_ok()
    assert gets == 2  # the cut one and one whole answer, written from the start (appended, it would be too long)
    assert (_repo_cache(tmp_path) / commit / "test/0.tar").read_bytes() == (wds_folder / "test/0.tar").read_bytes()


def test_server_that_always_cuts_a_shard_short(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        fake.truncate["test/1.tar"] = -1
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
        attempts = sum(1 for p in fake.requests if p.startswith("/cdn/"))
    res.assert_one_line_error("test/1.tar", commit, f"after {hub.RETRIES + 1} attempts", "resume")
    local = _repo_cache(tmp_path) / commit
    assert not (local / "test/1.tar").exists()  # never in the place the loader reads
    assert (local / "test/1.tar.part").exists()  # kept on purpose: the next run resumes from it
    assert not (local / ".zsbench-hub-test.json").exists() and not (tmp_path / "out").exists()
    assert attempts == 1 + hub.RETRIES + 1  # shard 0 once, shard 1 a bounded number of times, then it stops


def test_listing_checksum_differs_from_the_content(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        fake.wrong_sha256.add("test/2.tar")
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
    res.assert_one_line_error("test/2.tar", commit, "sha256", "differs from the hub's listing", "nothing was kept")
    local = _repo_cache(tmp_path) / commit
    assert not (local / "test/2.tar").exists() and not (local / "test/2.tar.part").exists()
    assert not (local / ".zsbench-hub-test.json").exists()


def test_pinned_commit_no_longer_served(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        old = fake.push_folder(REPO, wds_folder)
        fake.push(REPO, {"README.md": b"history rewritten"})
        del fake.repos[REPO].commits[old]  # force-pushed away
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}@{old}")
    res.assert_one_line_error(f"commit {old}", REPO, "not served")
    assert not (_repo_cache(tmp_path) / old).exists()


def test_main_moved_between_two_runs(wds_folder, tmp_path, fake_eval, monkeypatch, caplog):
    """The second run reads the new commit into its own folder and says so; the first commit's folder is untouched."""
    with FakeHub() as fake:
        first = fake.push_folder(REPO, wds_folder)
        url = f"{fake.url}/datasets/{REPO}/tree/main"
        _eval(fake_eval, tmp_path, url, out="run1").assert_ok()
        files = {p: b for p, b in fake.repos[REPO].commits[first].items()}
        files["classnames.txt"] = files["classnames.txt"].replace(b"airplane", b"aeroplane")
        second = fake.push(REPO, files)
        monkeypatch.setattr(hub, "_RESOLVED", {})  # a new process
        res = _eval(fake_eval, tmp_path, url, out="run2")
    res.assert_ok()
    assert f"moved from {first}" in caplog.text and f"this run reads {second}" in caplog.text
    assert _result(tmp_path, "run1")["zsbench"]["dataset_info"]["hub"]["commit"] == first
    assert _result(tmp_path, "run2")["zsbench"]["dataset_info"]["hub"]["commit"] == second
    cache = _repo_cache(tmp_path)
    assert b"aeroplane" in (cache / second / "classnames.txt").read_bytes()
    assert b"aeroplane" not in (cache / first / "classnames.txt").read_bytes()  # no mixing of two commits
    assert (cache / "refs/main").read_text().strip() == second


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the with ends: connections are refused


def test_offline_without_prefetched_shards(tmp_path, fake_eval):
    url = f"http://127.0.0.1:{_closed_port()}/datasets/{REPO}/tree/main"
    res = _eval(fake_eval, tmp_path, url)
    res.assert_one_line_error("cannot reach", "connection refused", "pre-fetched shards are used when present")
    assert not (tmp_path / "out").exists()


def test_offline_mode_makes_no_request(wds_folder, tmp_path, fake_eval, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with FakeHub() as fake:
        fake.push_folder(REPO, wds_folder)
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
        assert fake.requests == []
    res.assert_one_line_error("HF_HUB_OFFLINE", "pre-fetched shards are used when present")


def test_offline_with_prefetched_shards_of_a_pinned_commit(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        commit = fake.push_folder(REPO, wds_folder)
        url = f"{fake.url}/datasets/{REPO}/tree/{commit}"
        run_cli("download", "--dataset", "wds/cifar10", "--dataset_root", url).assert_ok()
    res = _eval(fake_eval, tmp_path, url)  # the server is gone
    res.assert_ok()
    assert _result(tmp_path)["zsbench"]["dataset_info"]["hub"]["commit"] == commit


@pytest.mark.parametrize(
    ("root", "needles"),
    [
        ("https://huggingface.co/models/org/repo", ["/datasets/<org>/<repo>"]),
        ("https://huggingface.co/datasets/org/repo?x=1", ["query"]),
        ("https://huggingface.co/datasets/org/repo/commits/main", ["tree/<revision>", "commits/main"]),
        ("ftp://huggingface.co/datasets/org/repo", ["scheme 'ftp'"]),
        ("https://huggingface.co/datasets/org/repo@v1/tree/v2", ["different revisions", "v1", "v2"]),
    ],
)
def test_malformed_hub_url(root, needles, tmp_path, fake_eval):
    res = _eval(fake_eval, tmp_path, root)
    res.assert_one_line_error(*needles)


def test_revision_with_a_local_root(wds_folder, tmp_path, fake_eval):
    _eval(fake_eval, tmp_path, wds_folder, "--revision", "main").assert_one_line_error("--revision", "HF hub")


def test_url_root_for_a_dataset_that_is_not_a_webdataset(tmp_path, fake_eval):
    res = fake_eval("--dataset", "cifar10", "--dataset_root", "https://huggingface.co/datasets/org/cifar")
    res.assert_one_line_error("cifar10", "only wds/<name> datasets are read from a URL")


def test_split_missing_on_the_hub(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        fake.push_folder(REPO, wds_folder)
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main", "--split", "val")
    res.assert_one_line_error("no val/ folder", REPO, "test/")


def test_nshards_larger_than_the_repository(wds_folder, tmp_path, fake_eval):
    with FakeHub() as fake:
        files = {p.relative_to(wds_folder).as_posix(): p.read_bytes() for p in wds_folder.rglob("*") if p.is_file()}
        files["test/nshards.txt"] = b"5\n"
        fake.push(REPO, files)
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/{REPO}/tree/main")
    res.assert_one_line_error("nshards.txt says 5 shards", "test/3.tar")


def test_unknown_repository(tmp_path, fake_eval):
    with FakeHub() as fake:
        res = _eval(fake_eval, tmp_path, f"{fake.url}/datasets/org/nope/tree/main")
    res.assert_one_line_error("dataset repository org/nope does not exist on", fake.url)


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--dataset", "cifar10", "--dataset_root", "https://huggingface.co/datasets/o/r"], ["'cifar10' is not one"]),
        (["--dataset", "wds/cifar10"], ["--dataset_root is needed"]),
        (["--dataset", "wds/cifar10", "--dataset_root", "data/{dataset}"], ["local folder"]),
        (["--collection", "nope"], ["'nope' is not a collection", "datacomp"]),
    ],
)
def test_download_bad_arguments(argv, needles):
    run_cli("download", *argv).assert_one_line_error(*needles)
