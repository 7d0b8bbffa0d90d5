"""Downloads: a short body is never the final file; an unverifiable one is refused; catalog digests are right."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from zsbench.datasets.loaders.download import DownloadError, download
from zsbench.errors import ZsbenchError
from zsbench.testing.shared import require_shared

PAYLOAD = bytes(range(256)) * 200


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/short``: announces the full length, sends half, closes (once; later requests get the rest).
    ``/nolength``: no Content-Length, the body ends when the connection closes (HTTP/1.0)."""

    short_sent = False

    def do_GET(self):  # noqa: N802 (http.server API)
        rng = self.headers.get("Range")
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if self.path == "/short":
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(PAYLOAD) - start))
            self.end_headers()
            if not type(self).short_sent:
                type(self).short_sent = True
                self.wfile.write(PAYLOAD[start : len(PAYLOAD) // 2])
                self.close_connection = True
                return
            self.wfile.write(PAYLOAD[start:])
        elif self.path == "/nolength":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.short_sent = False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _one_line(e: BaseException) -> str:
    msg = str(e)
    assert isinstance(e, ZsbenchError) and "\n" not in msg
    return msg


def test_body_shorter_than_content_length_is_never_the_final_file(tmp_path, server):
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError) as err:
        download(f"{server}/short", dest, progress=False)  # no checksum: only the length can tell
    msg = _one_line(err.value)
    assert f"stopped at {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes" in msg and "run the same command again" in msg
    assert not dest.exists()
    assert (tmp_path / "data.bin.part").stat().st_size == len(PAYLOAD) // 2  # kept for resuming
    # running again resumes from the .part and completes
    download(f"{server}/short", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "data.bin.part").exists()


def test_body_shorter_than_content_length_with_checksum_keeps_the_part(tmp_path, server):
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match="stopped at"):
        download(f"{server}/short", dest, hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert not dest.exists() and (tmp_path / "data.bin.part").exists()


def test_no_checksum_and_no_content_length_is_refused(tmp_path, server):
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError) as err:
        download(f"{server}/nolength", dest, progress=False)
    msg = _one_line(err.value)
    assert "no Content-Length" in msg and "no sha256" in msg and str(dest) in msg
    assert not dest.exists() and not (tmp_path / "data.bin.part").exists()


def test_no_content_length_but_a_checksum_is_fine(tmp_path, server):
    dest = download(f"{server}/nolength", tmp_path / "data.bin", hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert dest.read_bytes() == PAYLOAD


def _catalog_files() -> dict[tuple[str, str], str]:
    """(dataset, file name) -> sha256 of every RemoteFile in the catalog."""
    from zsbench.datasets import get_spec, list_datasets

    out = {}
    for name in list_datasets():
        for rf in get_spec(name).files:
            out[(name, rf.name)] = rf.sha256
    return out


def test_catalog_digests_match_the_shipped_annotation_files():
    """Every annotation file in ../shared/seed_data/annotations/<dataset>/ has its sha256 in the catalog, and it
    matches (a wrong or missing digest fails here)."""
    folder = require_shared("seed_data/annotations")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files, f"no annotation files under {folder}"
    catalog = _catalog_files()
    for path in files:
        key = (path.parent.name, path.name)
        assert key in catalog, f"{key} is not a RemoteFile of the catalog"
        assert catalog[key], f"{key}: the catalog records no sha256"
        assert catalog[key] == hashlib.sha256(path.read_bytes()).hexdigest(), f"{key}: wrong sha256 in the catalog"
