"""A fake Hugging Face hub on 127.0.0.1 for tests: the URL layout and JSON shapes zsbench reads, and faults.

Serves, for dataset repositories held in memory:

* ``/api/datasets/<org>/<repo>/revision/<rev>`` -> ``{"id": ..., "sha": <commit>}`` (404 + ``X-Error-Code:
  RevisionNotFound`` / ``RepoNotFound`` as the hub answers);
* ``/api/datasets/<org>/<repo>/tree/<rev>[/<path>]`` -> a page of ``{"type", "path", "size", "oid"[, "lfs":
  {"oid": sha256, "size", "pointerSize"}]}`` (``*.tar`` files are LFS files, as on the hub), paginated with a
  ``Link: <...>; rel="next"`` header every ``page_size`` entries;
* ``/datasets/<org>/<repo>/resolve/<rev>/<path>``: the content (LFS files through a 302 to ``/cdn/<sha256>``, as
  the hub redirects to its CDN), with ``Range`` requests answered 206;
* ``/datasets/<org>/<repo>/raw/<rev>/<path>``: the content, or the LFS pointer for LFS files.

Faults: ``truncate[path] = n`` sends only part of that file (then closes the connection) for the next ``n``
requests (-1: always); ``wrong_sha256`` lists files whose listing carries a wrong SHA-256; ``ignore_range`` answers
every request with the whole file. ``requests`` logs every
path asked for, ``ranges`` every ``Range`` header. Only 127.0.0.1, one daemon thread per connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


def _lfs(path: str) -> bool:
    return path.endswith(".tar")


@dataclass
class FakeRepo:
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> path -> bytes


class FakeHub:
    def __init__(self, page_size: int = 1000) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.truncate: dict[str, int] = {}
        self.wrong_sha256: set[str] = set()
        self.ignore_range = False  # answer every request with the whole file (200), as some mirrors and proxies do
        self.page_size = page_size
        self.requests: list[str] = []
        self.ranges: list[tuple[str, str]] = []  # (path, Range header) of every ranged request
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    # -- content ----------------------------------------------------------------------------------------------------
    def push(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """A new commit of ``files`` on ``branch``; returns its (made-up, deterministic) 40-hex id."""
        repo = self.repos.setdefault(repo_id, FakeRepo())
        h = hashlib.sha1(repo_id.encode(), usedforsecurity=False)
        for path in sorted(files):
            h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        h.update(str(len(repo.commits)).encode())
        commit = h.hexdigest()
        repo.commits[commit] = dict(files)
        repo.refs[branch] = commit
        return commit

    def push_folder(self, repo_id: str, folder: Path, prefix: str = "", branch: str = "main") -> str:
        files = {
            prefix + p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
        }
        return self.push(repo_id, files, branch)

    # -- server -----------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with hub._lock:
                    hub.requests.append(self.path)
                    if self.headers.get("Range"):
                        hub.ranges.append((self.path, self.headers["Range"]))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    hub._answer(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- answers ----------------------------------------------------------------------------------------------------
    def _commit(self, repo_id: str, rev: str) -> tuple[FakeRepo | None, str | None]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return None, None
        commit = repo.refs.get(rev, rev)
        return repo, commit if commit in repo.commits else None

    def _answer(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(h.path)
        parts = [urllib.parse.unquote(p) for p in parsed.path.strip("/").split("/")]
        query = urllib.parse.parse_qs(parsed.query)
        if parts[:1] == ["cdn"] and len(parts) == 2:
            for repo in self.repos.values():
                for files in repo.commits.values():
                    for path, data in files.items():
                        if hashlib.sha256(data).hexdigest() == parts[1]:
                            return self._content(h, path, data)
            return self._status(h, 404, "EntryNotFound")
        api = parts[:2] == ["api", "datasets"]
        base = parts[2:] if api else parts[1:]
        if (parts[:1] != ["datasets"] and not api) or len(base) < 4:
            return self._status(h, 404, "")
        repo_id, kind, rev, path = f"{base[0]}/{base[1]}", base[2], base[3], "/".join(base[4:])
        repo, commit = self._commit(repo_id, rev)
        if repo is None:
            return self._status(h, 404, "RepoNotFound")
        if commit is None:
            return self._status(h, 404, "RevisionNotFound")
        files = repo.commits[commit]
        if api and kind == "revision":
            return self._json(h, {"id": repo_id, "sha": commit, "siblings": [{"rfilename": p} for p in sorted(files)]})
        if api and kind == "tree":
            return self._tree(h, files, path, int(query.get("cursor", ["0"])[0]), parsed.path)
        if not api and kind in ("resolve", "raw") and path in files:
            data = files[path]
            if kind == "raw" and _lfs(path):
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}"
                return self._content(h, path, f"{pointer}\nsize {len(data)}\n".encode())
            if kind == "resolve" and _lfs(path):
                h.send_response(302)
                h.send_header("Location", f"/cdn/{hashlib.sha256(data).hexdigest()}")
                h.send_header("X-Repo-Commit", commit)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return None
            return self._content(h, path, data)
        return self._status(h, 404, "EntryNotFound")

    def _tree(self, h: Any, files: dict[str, bytes], folder: str, cursor: int, path: str) -> None:
        prefix = folder + "/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for name, data in sorted(files.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if "/" in rest:
                sub = prefix + rest.split("/", 1)[0]
                entries.setdefault(sub, {"type": "directory", "oid": "0" * 40, "size": 0, "path": sub})
                continue
            entry: dict[str, Any] = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": name}
            if _lfs(name):
                sha = hashlib.sha256(data).hexdigest()
                if name in self.wrong_sha256:
                    sha = hashlib.sha256(b"not " + data).hexdigest()
                entry["oid"] = git_blob_id(f"oid sha256:{sha}".encode())  # the pointer's blob
                entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 130}
            entries[name] = entry
        if folder and not entries:
            return self._status(h, 404, "EntryNotFound")
        items = list(entries.values())
        page = items[cursor : cursor + self.page_size]
        link = None
        if cursor + self.page_size < len(items):
            link = f'<{path}?recursive=false&expand=false&cursor={cursor + self.page_size}>; rel="next"'
        return self._json(h, page, link)

    @staticmethod
    def _json(h: Any, obj: Any, link: str | None = None) -> None:
        body = json.dumps(obj).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if link:
            h.send_header("Link", link)
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def _status(h: Any, code: int, error_code: str) -> None:
        body = json.dumps({"error": error_code or "not found"}).encode()
        h.send_response(code)
        if error_code:
            h.send_header("X-Error-Code", error_code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _content(self, h: Any, path: str, data: bytes) -> None:
        start = 0
        rng = None if self.ignore_range else h.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng[6:].rstrip("-").isdigit():
            start = int(rng[6:].rstrip("-"))
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        body = data[start:]
        cut = None
        with self._lock:
            left = self.truncate.get(path, 0)
            if left:
                cut = max(1, len(body) // 3)  # a third of what is left, then the connection closes
                self.truncate[path] = left - 1 if left > 0 else left
        h.send_response(206 if start else 200)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        h.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            h.wfile.flush()
            h.close_connection = True


def make_wds(folder: Path, n: int = 5, max_count: int = 2) -> Path:
    """A CIFAR-10 replica of ``n`` images exported as webdataset shards (png, ``max_count`` samples a shard)."""
    from zsbench.datasets import load_dataset
    from zsbench.datasets.loaders.webdataset import export_wds
    from zsbench.testing import replicas

    replicas.write_cifar10(folder / "src", n)
    data = load_dataset("cifar10", folder / "src", allow_incomplete=True)
    return export_wds(data, folder / "wds", image_format="png", max_count=max_count)


__all__ = ["FakeHub", "git_blob_id", "make_wds"]
