"""webdataset read/export round trips, and downloads against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import tarfile
import threading

import numpy as np
import pytest

from zsbench.datasets import get_spec, load_dataset
from zsbench.datasets.base import RETRIEVAL
from zsbench.datasets.loaders.download import DownloadError, download
from zsbench.datasets.loaders.webdataset import export_wds
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R


def test_wds_classification_round_trip(tmp_path):
    R.write_cifar10(tmp_path / "src", 7)
    data = load_dataset("cifar10", tmp_path / "src", allow_incomplete=True)
    export_wds(data, tmp_path / "wds", image_format="png", max_count=3)
    assert (tmp_path / "wds/test/nshards.txt").read_text().strip() == "3"
    back = load_dataset("wds/cifar10", tmp_path / "wds")
    assert back.targets == data.targets and back.classnames == data.classnames
    assert back.templates == data.templates
    for i in range(7):
        assert back.images.load_image(i).tobytes() == data.images.load_image(i).tobytes()  # png: lossless
    with tarfile.open(tmp_path / "wds/test/0.tar") as tar:
        assert tar.getnames()[:2] == ["s0000000.png", "s0000000.cls"]


def test_wds_multilabel_round_trip(tmp_path):
    R.write_voc2007(tmp_path / "src", 3)
    data = load_dataset("voc2007_multilabel", tmp_path / "src", allow_incomplete=True)
    export_wds(data, tmp_path / "wds")  # default: lossless webp, as clip_benchmark_export_wds
    assert (tmp_path / "wds/dataset_type.txt").read_text().strip() == "multilabel"
    back = load_dataset("wds/voc2007_multilabel", tmp_path / "wds")
    assert back.multilabel and np.array_equal(back.targets, data.targets)
    assert back.images.load_image(1).tobytes() == data.images.load_image(1).tobytes()


def test_wds_retrieval_round_trip(tmp_path):
    R.write_flickr30k(tmp_path / "src", 3)
    data = load_dataset("flickr30k", tmp_path / "src", allow_incomplete=True)
    export_wds(data, tmp_path / "wds", image_format="jpg")
    assert get_spec("wds/flickr30k").task == RETRIEVAL
    back = load_dataset("wds/flickr30k", tmp_path / "wds")
    assert back.captions == data.captions and len(back.images) == 3


def test_wds_missing_nshards_is_an_error(tmp_path):
    R.write_cifar10(tmp_path / "src", 2)
    export_wds(load_dataset("cifar10", tmp_path / "src", allow_incomplete=True), tmp_path / "wds", image_format="png")
    (tmp_path / "wds/test/nshards.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="nshards.txt"):
        load_dataset("wds/cifar10", tmp_path / "wds")


# --- downloads ------------------------------------------------------------------------------------------------------
class _RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        self.log.append(rng)
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(body) and rng:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    payload = bytes(range(256)) * 300
    _RangeHandler.files = {"/data.bin": payload}
    _RangeHandler.log = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", payload
    httpd.shutdown()
    httpd.server_close()


def test_download_checks_sha256_and_renames_atomically(tmp_path, server):
    url, payload = server
    dest = download(f"{url}/data.bin", tmp_path / "sub/data.bin", hashlib.sha256(payload).hexdigest(), progress=False)
    assert dest.read_bytes() == payload
    assert not (tmp_path / "sub/data.bin.part").exists()


def test_download_resumes_a_partial_file(tmp_path, server):
    url, payload = server
    (tmp_path / "data.bin.part").write_bytes(payload[:1000])
    download(f"{url}/data.bin", tmp_path / "data.bin", hashlib.sha256(payload).hexdigest(), progress=False)
    assert (tmp_path / "data.bin").read_bytes() == payload
    assert _RangeHandler.log == ["bytes=1000-"]


def test_download_checksum_mismatch_removes_part(tmp_path, server):
    url, _ = server
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(f"{url}/data.bin", tmp_path / "data.bin", "0" * 64, progress=False)
    assert not (tmp_path / "data.bin").exists() and not (tmp_path / "data.bin.part").exists()


def test_download_http_error_is_one_line(tmp_path, server):
    url, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{url}/missing.bin", tmp_path / "x", progress=False)


def test_loader_download_option_fetches_spec_files(tmp_path, server, monkeypatch):
    """``download=True`` fetches the annotation files a spec lists (here the Birdsnap test list), sha-checked."""
    import dataclasses

    from zsbench.datasets.base import RemoteFile
    from zsbench.datasets.loaders import birdsnap

    url, _ = server
    R.write_birdsnap(tmp_path)
    listing = (tmp_path / "test_images_valid.txt").read_bytes()
    (tmp_path / "test_images_valid.txt").unlink()
    _RangeHandler.files["/birdsnap/test_images_valid.txt"] = listing
    spec = dataclasses.replace(
        get_spec("birdsnap"),
        files=(
            RemoteFile(
                "test_images_valid.txt", f"{url}/birdsnap/test_images_valid.txt", hashlib.sha256(listing).hexdigest()
            ),
        ),
    )
    with pytest.raises(DatasetNotFoundError, match="test_images_valid.txt"):
        birdsnap.load_birdsnap(tmp_path, spec=spec, allow_incomplete=True)
    data = birdsnap.load_birdsnap(tmp_path, spec=spec, allow_incomplete=True, download=True, progress=False)
    assert len(data.images) == 3
