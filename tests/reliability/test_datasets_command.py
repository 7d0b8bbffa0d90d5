"""``zsbench datasets``: every name once, grouped by CLIP_benchmark's collections, with a status a copy on disk earns
(present / incomplete / missing), ``--collection``, ``--format json``, and ``--download`` of the catalog's public
files from a local HTTP server (checked by sha256; a wrong or unverifiable file is never left behind)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import threading

import pytest

from zsbench.datasets import DATASETS, get_spec, list_datasets
from zsbench.datasets.base import RemoteFile
from zsbench.engine.plan import DATASET_COLLECTIONS
from zsbench.testing import replicas as R

from .conftest import leftovers, run_cli

GOOD = b"path\nCoopers_Hawk/0561.jpg\n"
NO_LENGTH = b"species list without a length\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/good``: a file with its length; ``/nolength``: no Content-Length (HTTP/1.0, ends at close)."""

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path == "/good":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD)
        elif self.path == "/nolength":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(NO_LENGTH)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _serve_birdsnap(monkeypatch, *files: RemoteFile) -> None:
    """birdsnap's catalog entry with its RemoteFiles pointing at the local server (the registry is restored after)."""
    spec = dataclasses.replace(get_spec("birdsnap"), files=files)
    monkeypatch.setitem(DATASETS._entries, "birdsnap", spec)


def _json(*argv) -> dict:
    res = run_cli("datasets", "--format", "json", *argv)
    res.assert_ok()
    return json.loads(res.out)


def test_every_name_once_grouped_by_first_collection(tmp_path):
    doc = _json("--dataset_root", tmp_path / "{dataset}")
    rows = doc["datasets"]
    assert sorted(r["name"] for r in rows) == sorted(list_datasets())  # each name exactly once
    by = {r["name"]: r for r in rows}
    # In three collections: shown under the first (imagenet_robustness), the others named.
    assert by["imagenetv2"]["collection"] == "imagenet_robustness"
    assert by["imagenetv2"]["collections"] == ["imagenet_robustness", "vtab+", "internvl_classification"]
    assert by["sun397"]["collection"] == "vtab" and by["cifar10"]["collection"] == "internvl_classification"
    assert by["dummy"]["collection"] == by["shapes"]["collection"] == "other"
    assert by["dummy"]["collections"] == []
    # Groups in the collections' order, "other" last, each group contiguous.
    order = [r["collection"] for r in rows]
    groups = list(dict.fromkeys(order))
    assert groups == [g for g in DATASET_COLLECTIONS if g in groups] + ["other"]
    assert order == sorted(order, key=groups.index)
    text = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}").out
    assert "imagenet_robustness (5)" in text and "\nother (" in text
    assert text.count("\n  imagenetv2 ") == 1  # once, under its first group


def test_collection_filter_lists_all_its_members(tmp_path):
    rows = _json("--dataset_root", tmp_path / "{dataset}", "--collection", "vtab+")["datasets"]
    assert [r["name"] for r in rows] == DATASET_COLLECTIONS["vtab+"]
    assert {r["collection"] for r in rows} == {"vtab+"}
    other = _json("--collection", "other")["datasets"]
    assert "dummy" in [r["name"] for r in other] and "cifar10" not in [r["name"] for r in other]


def test_unknown_collection_is_one_line(tmp_path):
    res = run_cli("datasets", "--collection", "vtab++")
    res.assert_one_line_error("unknown collection 'vtab++'", "vtab+", "other")
    assert res.out == ""


def test_present_incomplete_missing_on_replicas(tmp_path):
    R.write_cifar10(tmp_path / "cifar10", 3)  # present
    (tmp_path / "stl10" / "stl10_binary").mkdir(parents=True)  # root there, files not: incomplete
    R.write_gtsrb(tmp_path / "gtsrb")
    (tmp_path / "gtsrb/gtsrb/GT-final_test.csv").write_bytes(b"")  # an empty required file: incomplete
    (tmp_path / "eurosat/eurosat/2750").mkdir(parents=True)  # an empty required folder: incomplete
    R.write_birdsnap(tmp_path / "birdsnap")  # its test list is not the fork's (sha256 differs): incomplete
    rows = {r["name"]: r for r in _json("--dataset_root", tmp_path / "{dataset}")["datasets"]}
    assert rows["cifar10"]["status"] == "present" and rows["cifar10"]["problems"] == []
    assert rows["stl10"]["status"] == "incomplete"
    assert rows["stl10"]["missing"] == ["stl10_binary/test_X.bin", "stl10_binary/test_y.bin",
                                        "stl10_binary/class_names.txt"]  # fmt: skip
    assert rows["gtsrb"]["status"] == "incomplete" and "GT-final_test.csv is empty" in rows["gtsrb"]["problems"][0]
    assert rows["eurosat"]["status"] == "incomplete" and "empty folder" in rows["eurosat"]["problems"][0]
    assert rows["birdsnap"]["status"] == "incomplete" and rows["birdsnap"]["missing"] == []
    assert "test_images_valid.txt is not the catalog's file" in rows["birdsnap"]["problems"][0]
    assert rows["imagenet1k"]["status"] == "missing" and rows["imagenet1k"]["path"] == str(tmp_path / "imagenet1k")
    text = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}").out
    assert "birdsnap (missing: " in text and "sha256 differs" in text
    assert "\ncifar10 (" not in text and "\ncifar10:" not in text  # present: no advice line


def test_download_fetches_checked_files_one_line_each(tmp_path, server, monkeypatch):
    _serve_birdsnap(
        monkeypatch, RemoteFile("test_images_valid.txt", f"{server}/good", hashlib.sha256(GOOD).hexdigest())
    )
    root = tmp_path / "birdsnap"
    res = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}", "--dataset", "birdsnap", "--download")
    res.assert_ok()
    assert (root / "test_images_valid.txt").read_bytes() == GOOD
    assert leftovers(root) == []
    lines = res.out.splitlines()
    assert lines[0] == f"fetched  birdsnap: {root / 'test_images_valid.txt'} ({len(GOOD)} bytes, sha256 verified)"
    # The status after the download: the list is there now; species.txt is not, so still incomplete.
    assert "birdsnap (missing: species.txt)" in res.out
    again = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}", "--dataset", "birdsnap", "--download")
    assert again.out.splitlines()[0].startswith("present  birdsnap: ")


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, server, monkeypatch):
    _serve_birdsnap(monkeypatch, RemoteFile("test_images_valid.txt", f"{server}/good", "0" * 64))
    res = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}", "--dataset", "birdsnap", "--download")
    res.assert_one_line_error("1 of 1 files could not be fetched", "checksum mismatch", f"{server}/good")
    assert res.out.splitlines()[0].startswith("failed   birdsnap: ")
    assert list((tmp_path / "birdsnap").iterdir()) == []  # no file, no .part


def test_download_without_checksum_or_length_is_refused(tmp_path, server, monkeypatch):
    _serve_birdsnap(monkeypatch, RemoteFile("species.txt", f"{server}/nolength"))
    res = run_cli("datasets", "--dataset_root", tmp_path / "{dataset}", "--dataset", "birdsnap", "--download",
                  "--format", "json")  # fmt: skip
    res.assert_one_line_error("could not be fetched", "no Content-Length", "no sha256")
    doc = json.loads(res.out)
    assert [d["status"] for d in doc["downloads"]] == ["failed"]
    assert list((tmp_path / "birdsnap").iterdir()) == []


def test_bad_input_is_checked_before_any_download(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("downloaded before the input was checked")

    monkeypatch.setattr("zsbench.datasets.loaders.download.download", refuse)
    run_cli("datasets", "--download", "--dataset", "birdsnapp").assert_one_line_error("unknown dataset 'birdsnapp'")
    run_cli("datasets", "--download", "--dataset_root", "{nope}").assert_one_line_error("{nope}")
