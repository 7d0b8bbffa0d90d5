"""Webdatasets streamed from the Hugging Face hub: URL forms, a pinned commit, verified shards in the cache.

``--dataset_root`` for a ``wds/<name>`` dataset may be a hub URL in any form CLIP_benchmark or DataComp use:

    https://huggingface.co/datasets/<org>/<repo>/tree/<rev>[/<folder>]   (CLIP_benchmark's README; also resolve/,
                                                                          raw/ and blob/ in place of tree/)
    https://huggingface.co/datasets/<org>/<repo>                         (DataComp's download_evalsets.py; rev main)
    hf://datasets/<org>/<repo>[@<rev>][/<folder>]                        (huggingface_hub's file-system form)

``<repo>@<rev>`` or ``--revision <rev>`` pin a revision. A branch or tag (``main``) is resolved once per process to
its commit through ``/api/datasets/<org>/<repo>/revision/<rev>``; everything after that is read at that commit, and
the commit is recorded in the result (``dataset_info.hub``), so a rerun with ``@<commit>`` reads the same bytes.

What is fetched, and how (CLIP_benchmark shells out to ``curl`` and checks nothing; DataComp's script shells out to
``wget`` and compares ``sha256sum`` with the LFS pointer at ``raw/main``): the split's files listed by the tree API
(``/api/datasets/<org>/<repo>/tree/<commit>/<path>``, each file's ``size``, git ``oid`` and, for LFS files,
``lfs.oid`` = the SHA-256 of the content), i.e. ``classnames.txt``, ``zeroshot_classification_templates.txt`` and
``dataset_type.txt`` where present, ``<split>/nshards.txt``, ``<split>/sizes.json`` where present and the shards
``<split>/{0..n-1}.tar``. LFS files come from ``resolve/<commit>/``, the others from ``raw/<commit>/`` (as
CLIP_benchmark splits them). Each file is written to ``<file>.part`` with resume (HTTP ``Range``) and a bounded
number of retries, checked against the listing (size, and SHA-256 for LFS files or the git blob id for the others)
and only then renamed into place. The folder is ``<cache>/wds/<org>/<repo>/<commit>/[<folder>/]`` (``<cache>`` =
``--wds_cache_dir`` or zsbench's cache folder), so two commits never share a folder; a lock on
``<commit>.lock`` lets two runs meet, the second finding the first one's files. A file ``.zsbench-hub-<split>.json``
written last records what was checked; with it, a pinned commit is read without any request.

Offline (connection refused, unknown host, or ``HF_HUB_OFFLINE=1``): a pinned commit, or the commit a branch last
resolved to (``<cache>/wds/<org>/<repo>/refs/<rev>``), is used when its files were fetched before, with a warning
for a branch; otherwise one line says the URL could not be reached. ``ZSBENCH_HF_ENDPOINT`` (else
``HF_ENDPOINT``, as huggingface_hub) sends requests for ``https://huggingface.co/...`` URLs and ``hf://`` names to a
mirror. No token is ever sent: public repositories only (a token would follow redirects to the CDN's host).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zsbench.errors import DatasetNotFoundError, ZsbenchError
from zsbench.paths import default_cache_dir, file_sha256

if TYPE_CHECKING:
    from zsbench.datasets.base import DatasetSpec

log = logging.getLogger("zsbench")

HUB = "https://huggingface.co"
ENDPOINT_ENV = "ZSBENCH_HF_ENDPOINT"
RETRIES = 4  # after the first attempt; each retry resumes the .part where the last one stopped
BACKOFF_S = 1.0  # doubled each retry, at most 30 s
TIMEOUT_S = 60.0
MAX_PAGES = 10_000  # tree listing pages (1000 entries each on the hub): a loop bound, not a real limit
META_FILES = ("classnames.txt", "zeroshot_classification_templates.txt", "dataset_type.txt")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class HubError(DatasetNotFoundError):
    """A hub webdataset that cannot be resolved, listed or fetched intact (one line, exit 2)."""


class _Unreachable(Exception):
    """No answer at all (refused, unknown host, offline mode): pre-fetched files may still serve."""


class _HttpStatus(Exception):
    def __init__(self, url: str, code: int, error_code: str, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}".strip())
        self.url, self.code, self.error_code = url, code, error_code


# -- URLs -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubRef:
    """A webdataset folder on the hub: where requests go, the repository, the revision asked for, the folder."""

    url: str  # as given
    endpoint: str  # scheme://host[/prefix] requests go to
    org: str
    repo: str
    revision: str  # a branch, tag or 40-hex commit
    folder: str = ""  # inside the repository; '' = its root

    @property
    def repo_id(self) -> str:
        return f"{self.org}/{self.repo}"

    @property
    def pinned(self) -> bool:
        return bool(_COMMIT.fullmatch(self.revision))

    def file_url(self, kind: str, commit: str, path: str) -> str:
        """``<endpoint>/datasets/<org>/<repo>/<kind>/<commit>/<path>`` (kind: resolve or raw)."""
        return f"{self.endpoint}/datasets/{self.repo_id}/{kind}/{commit}/{urllib.parse.quote(path, safe='/')}"

    def api_url(self, what: str, rev: str, path: str = "") -> str:
        quoted = "/" + urllib.parse.quote(path, safe="") if path else ""
        return f"{self.endpoint}/api/datasets/{self.repo_id}/{what}/{urllib.parse.quote(rev, safe='')}{quoted}"


def hub_endpoint() -> str:
    """``$ZSBENCH_HF_ENDPOINT``, else ``$HF_ENDPOINT`` (huggingface_hub's), else https://huggingface.co."""
    value = os.environ.get(ENDPOINT_ENV) or os.environ.get("HF_ENDPOINT") or HUB
    if not value.startswith(("http://", "https://")):
        raise ZsbenchError(f"{ENDPOINT_ENV} / HF_ENDPOINT {value!r} is not an http(s) URL, e.g. {HUB}")
    return value.rstrip("/")


def is_remote(root: str | os.PathLike[str]) -> bool:
    return isinstance(root, str) and "://" in root


def _usage(url: str, what: str) -> HubError:
    return HubError(
        f"--dataset_root {url!r}: {what}; webdatasets on the HF hub are given as "
        "https://huggingface.co/datasets/<org>/<repo>[/tree/<revision>[/<folder>]] or hf://datasets/<org>/<repo>"
        "[@<revision>]"
    )


def parse_hub_url(url: str, revision: str | None = None) -> HubRef:
    """The :class:`HubRef` of a ``--dataset_root`` URL; ``revision`` is ``--revision`` (it must agree with the URL)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.query or parsed.fragment:
        raise _usage(url, "a query or fragment is not part of a dataset folder")
    if parsed.scheme == "hf":
        endpoint = hub_endpoint()
        path = f"/{parsed.netloc}{parsed.path}"
        prefix = ""
    elif parsed.scheme in ("http", "https") and parsed.netloc:
        path = parsed.path
        if "/datasets/" not in path + "/":
            raise _usage(url, "no /datasets/<org>/<repo> in the path")
        prefix, _, rest = (path + "/").partition("/datasets/")
        path = "/datasets/" + rest
        # A URL on huggingface.co goes to the configured mirror or test server, if any (as huggingface_hub does).
        official = f"{parsed.scheme}://{parsed.netloc}{prefix}" == HUB
        endpoint = hub_endpoint() if official else f"{parsed.scheme}://{parsed.netloc}{prefix}".rstrip("/")
    else:
        raise _usage(url, f"scheme {parsed.scheme!r} is not http, https or hf")
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[0] != "datasets":
        raise _usage(url, "it names no <org>/<repo>")
    org, repo = parts[1], parts[2]
    url_revs = []
    if "@" in repo:
        repo, _, at = repo.partition("@")
        url_revs.append(at)
    rest = parts[3:]
    folder_parts: list[str] = []
    if parsed.scheme == "hf":
        folder_parts = rest
    elif rest:
        if rest[0] not in ("tree", "resolve", "raw", "blob") or len(rest) < 2:
            raise _usage(url, f"expected tree/<revision> after the repository, got {'/'.join(rest)!r}")
        url_revs.append(rest[1])
        folder_parts = rest[2:]
    for name in (org, repo):
        if not _NAME.fullmatch(name):
            raise _usage(url, f"{name!r} is not a hub organisation or repository name")
    if any(p in (".", "..") for p in folder_parts):
        raise _usage(url, "'.' and '..' are not folder names on the hub")
    asked = [r for r in (*url_revs, revision) if r]
    if any(not r.strip() or "\n" in r for r in asked):
        raise _usage(url, "an empty revision")
    if len(set(asked)) > 1:
        raise HubError(
            f"--dataset_root {url!r} and --revision name different revisions ({', '.join(dict.fromkeys(asked))}); "
            "give one"
        )
    return HubRef(url, endpoint, org, repo, asked[0] if asked else "main", "/".join(folder_parts))


# -- HTTP -----------------------------------------------------------------------------------------------------------
def _offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _unreachable_reason(e: BaseException) -> str | None:
    """Why nothing answered (refused, unknown host, no route), or None for an error worth retrying."""
    reason = getattr(e, "reason", e)
    if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
        return "connection refused" if isinstance(reason, ConnectionRefusedError) else f"unknown host ({reason})"
    if isinstance(reason, OSError) and reason.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
        return f"no route ({reason.strerror})"
    return None


def _open(url: str, headers: dict[str, str] | None = None) -> Any:
    """``urlopen`` with zsbench's user agent and timeout; no token, ever (it would follow redirects to the CDN)."""
    if _offline_mode():
        raise _Unreachable("HF_HUB_OFFLINE is set")
    request = urllib.request.Request(url, headers={"User-Agent": "zsbench", **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 (http(s) only: checked by parse)
    except urllib.error.HTTPError as e:
        code = e.headers.get("X-Error-Code", "") if e.headers else ""
        e.close()
        raise _HttpStatus(url, e.code, code, e.reason or "") from e
    except (urllib.error.URLError, OSError) as e:
        why = _unreachable_reason(e)
        if why:
            raise _Unreachable(why) from e
        raise


def _sleep(attempt: int) -> None:
    time.sleep(min(BACKOFF_S * 2**attempt, 30.0))


def _retryable(e: BaseException) -> bool:
    if isinstance(e, _HttpStatus):
        return e.code == 429 or e.code >= 500
    return isinstance(e, (urllib.error.URLError, OSError, http.client.HTTPException, ValueError))


def _get_json(url: str) -> tuple[Any, Any]:
    """The JSON body and headers of ``url``; retried (bounded) on 429/5xx and dropped connections."""
    last: BaseException | None = None
    for attempt in range(RETRIES + 1):
        try:
            with _open(url, {"Accept": "application/json"}) as response:
                return json.loads(response.read().decode("utf-8")), response.headers
        except Exception as e:
            if isinstance(e, _Unreachable) or not _retryable(e):
                raise
            last = e
            if attempt < RETRIES:
                _sleep(attempt)
    raise HubError(f"{url} did not answer with JSON after {RETRIES + 1} attempts ({last})")


def _next_link(headers: Any) -> str | None:
    """The ``rel="next"`` URL of a GitHub-style ``Link`` header (the hub's tree pagination)."""
    for part in (headers.get("Link") or "").split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if m and re.search(r'rel="?next"?', m.group(2)):
            return m.group(1)
    return None


# -- revisions ------------------------------------------------------------------------------------------------------
_RESOLVED: dict[tuple[str, str, str], str] = {}  # (endpoint, repo, revision) -> commit: one lookup per process


def _cache_base(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir) if cache_dir else default_cache_dir() / "wds"


def _ref_file(repo_dir: Path, revision: str) -> Path:
    return repo_dir / "refs" / urllib.parse.quote(revision, safe="")


def _read_ref(repo_dir: Path, revision: str) -> str | None:
    try:
        text = _ref_file(repo_dir, revision).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _COMMIT.fullmatch(text) else None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _resolve_commit(ref: HubRef) -> str:
    """The commit ``ref.revision`` names now, from the revision endpoint (memoised for the process)."""
    key = (ref.endpoint, ref.repo_id, ref.revision)
    if key in _RESOLVED:
        return _RESOLVED[key]
    url = ref.api_url("revision", ref.revision)
    try:
        info, _ = _get_json(url)
    except _HttpStatus as e:
        if e.code in (401, 403) or e.error_code == "GatedRepo":
            raise HubError(
                f"{ref.repo_id} on {ref.endpoint} refused access ({e}): zsbench sends no token and reads public "
                "repositories only; download it with huggingface_hub and pass the local folder"
            ) from e
        if e.code == 404 and e.error_code == "RepoNotFound":
            raise HubError(f"dataset repository {ref.repo_id} does not exist on {ref.endpoint} ({url})") from e
        if e.code == 404:
            what = "commit" if ref.pinned else "revision"
            raise HubError(
                f"{what} {ref.revision} of {ref.repo_id} is not served by {ref.endpoint} (HTTP 404: moved, "
                f"force-pushed away or mistyped); pin a commit the repository has (see its history on the hub)"
            ) from e
        raise HubError(f"cannot resolve {ref.repo_id}@{ref.revision}: {url} answered {e}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise HubError(f"cannot resolve {ref.repo_id}@{ref.revision}: {url} did not answer JSON ({e})") from e
    sha = info.get("sha") if isinstance(info, dict) else None
    if not isinstance(sha, str) or not _COMMIT.fullmatch(sha):
        raise HubError(f"cannot resolve {ref.repo_id}@{ref.revision}: {url} gave no commit ('sha': {sha!r})")
    if ref.pinned and sha != ref.revision:
        raise HubError(f"{url} answered commit {sha} for the pinned commit {ref.revision}; refusing to mix them")
    _RESOLVED[key] = sha
    return sha


# -- listing --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    path: str  # from the repository root
    size: int
    oid: str  # git blob id
    sha256: str | None  # LFS files only


def _list_folder(ref: HubRef, commit: str, folder: str) -> tuple[dict[str, _Entry], list[str]]:
    """The files and sub-folders directly in ``folder`` at ``commit`` (tree API, paginated, bounded); empty when it
    does not exist."""
    url: str | None = ref.api_url("tree", commit, folder) + "?recursive=false&expand=false"
    files: dict[str, _Entry] = {}
    folders: list[str] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return files, folders
        try:
            page, headers = _get_json(url)
        except _HttpStatus as e:
            if e.code == 404 and e.error_code in ("", "EntryNotFound"):
                return files, folders
            if e.code == 404:
                raise HubError(f"commit {commit} of {ref.repo_id} is not served by {ref.endpoint} ({e})") from e
            raise HubError(f"cannot list {ref.repo_id}@{commit}/{folder}: {url} answered {e}") from e
        except (ValueError, UnicodeDecodeError) as e:
            raise HubError(f"the listing {url} is not JSON ({e})") from e
        if not isinstance(page, list):
            raise HubError(f"the listing {url} is not a JSON list of files")
        for item in page:
            entry = _entry(item, url)
            if isinstance(entry, _Entry):
                files[entry.path] = entry
            else:
                folders.append(entry)
        nxt = _next_link(headers)
        url = urllib.parse.urljoin(url, nxt) if nxt else None
    raise HubError(f"the listing of {ref.repo_id}@{commit}/{folder} has more than {MAX_PAGES} pages")


def _entry(item: Any, url: str) -> _Entry | str:
    """One file of a tree page (``{"type": "file", "path", "size", "oid", "lfs": {"oid": sha256, "size"}}``), or a
    folder's path (``{"type": "directory", "path"}``)."""
    if not isinstance(item, dict) or item.get("type") not in ("file", "directory"):
        raise HubError(f"the listing {url} has an entry zsbench does not understand: {str(item)[:120]}")
    if item["type"] == "directory":
        return str(item.get("path"))
    path, size, oid, lfs = item.get("path"), item.get("size"), item.get("oid"), item.get("lfs")
    sha = lfs.get("oid") if isinstance(lfs, dict) else None
    if isinstance(lfs, dict) and isinstance(lfs.get("size"), int):
        size = lfs["size"]
    ok = isinstance(path, str) and isinstance(size, int) and size >= 0 and isinstance(oid, str)
    if not ok or (lfs is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha))):
        raise HubError(f"the listing {url} has a file entry without path, size and checksum: {str(item)[:120]}")
    return _Entry(path, size, oid, sha)


# -- fetching -------------------------------------------------------------------------------------------------------
def _git_blob_id(path: Path) -> str:
    """The git object id of a file (``sha1("blob <size>\\0" + bytes)``): the hub's ``oid`` of a non-LFS file."""
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _fetch(ref: HubRef, commit: str, entry: _Entry, dest: Path, label: str, progress: bool | None) -> str:
    """Download ``entry`` to ``dest`` via ``dest.part`` (resumed, bounded retries), check it, rename; its sha256."""
    from tqdm import tqdm

    url = ref.file_url("resolve" if entry.sha256 else "raw", commit, entry.path)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if entry.size == 0:
        part.write_bytes(b"")  # nothing to fetch; still checked against the listing's id below
    last = ""
    for attempt in range(RETRIES + 1):
        last = ""
        have = part.stat().st_size if part.exists() else 0
        if have > entry.size:  # not a prefix of this file: resuming cannot fix it
            part.unlink()
            have = 0
        if have == entry.size:
            break
        try:
            response = _open(url, {"Range": f"bytes={have}-"} if have else None)
        except _HttpStatus as e:
            if e.code in (404, 410):
                raise HubError(f"{label}: {url} answered {e}: commit {commit} no longer serves it") from e
            if not _retryable(e):
                raise HubError(f"{label}: {url} answered {e}") from e
            last = str(e)
        except _Unreachable as e:
            last = f"cannot reach {ref.endpoint}: {e}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            last = str(getattr(e, "reason", e)) or e.__class__.__name__
        else:
            with response:
                resumed = response.status == 206 and _range_start(response.headers) == have
                mode = "ab" if resumed else "wb"  # a server that ignores Range sends the whole file: start over
                with (
                    open(part, mode) as out,
                    tqdm(
                        total=entry.size, initial=have if resumed else 0, unit="B", unit_scale=True,
                        desc=label, disable=None if progress is None else not progress, leave=False,
                    ) as bar,
                ):  # fmt: skip
                    try:
                        while block := response.read(1 << 16):
                            out.write(block)
                            bar.update(len(block))
                            if out.tell() > entry.size:  # longer than the listing says: stop reading
                                break
                    except (OSError, http.client.HTTPException) as e:
                        last = f"the connection closed early ({e.__class__.__name__})"
            got = part.stat().st_size
            if got == entry.size:
                break
            last = last or f"the server sent {got} of {entry.size} bytes"
            if got > entry.size:
                last = f"the server sent more than the {entry.size} bytes the listing gives"
        if attempt < RETRIES:
            _sleep(attempt)
    else:
        have = part.stat().st_size if part.exists() else 0
        raise HubError(
            f"{label}: download from {url} stopped at {have} of {entry.size} bytes after {RETRIES + 1} attempts "
            f"({last}); kept {part}: run the same command again to resume"
        )
    return _verify(part, dest, entry, label)


def _range_start(headers: Any) -> int | None:
    m = re.match(r"bytes (\d+)-", headers.get("Content-Range") or "")
    return int(m.group(1)) if m else None


def _verify(part: Path, dest: Path, entry: _Entry, label: str) -> str:
    """Size and checksum against the listing; only a file that matches is renamed onto ``dest``."""
    sha256 = file_sha256(part)
    if entry.sha256:
        ok, want, got, kind = sha256 == entry.sha256, entry.sha256, sha256, "sha256"
    else:
        blob = _git_blob_id(part)
        ok, want, got, kind = blob == entry.oid, entry.oid, blob, "git blob id"
    if not ok:
        part.unlink(missing_ok=True)
        raise HubError(
            f"{label}: {kind} {got} differs from the hub's listing ({want}); the download was removed and nothing "
            "was kept: run again, and if it repeats the repository's listing and content disagree"
        )
    os.replace(part, dest)
    return sha256


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (blocking): two runs fetching one commit take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _manifest_path(local: Path, split: str) -> Path:
    return local / f".zsbench-hub-{split}.json"


def _read_manifest(local: Path, split: str, commit: str) -> dict[str, Any] | None:
    """The record of a complete fetch of ``split`` at ``commit``, if every file in it is still there at its size."""
    try:
        manifest = json.loads(_manifest_path(local, split).read_text(encoding="utf-8"))
        if manifest.get("commit") != commit:
            return None
        for rel, meta in manifest["files"].items():
            if (local / rel).stat().st_size != meta["size"]:
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _relative(ref: HubRef, path: str) -> str:
    return path[len(ref.folder) + 1 :] if ref.folder else path


def _download_split(ref: HubRef, commit: str, split: str, local: Path, progress: bool | None) -> dict[str, Any]:
    """Fetch and check what ``split`` needs into ``local``; returns the manifest (written last)."""
    where = f"{ref.repo_id}@{commit}"
    top, top_folders = _list_folder(ref, commit, ref.folder)
    split_path = f"{ref.folder}/{split}" if ref.folder else split
    listed, _ = _list_folder(ref, commit, split_path) if split_path in top_folders else ({}, [])
    if not listed:
        names = sorted([*(_relative(ref, p) + "/" for p in top_folders), *(_relative(ref, p) for p in top)])
        raise HubError(
            f"{where}: no {split_path}/ folder with files (its top level: {', '.join(names)[:200] or 'nothing'}); "
            "is the URL the webdataset folder, and the split right?"
        )
    files: dict[str, dict[str, Any]] = {}

    def get(entry: _Entry) -> None:
        rel = _relative(ref, entry.path)
        dest = local / rel
        label = f"webdataset file {rel} of {where}"
        sha = None
        if dest.exists() and dest.stat().st_size == entry.size:
            # A file checked earlier (a killed run, or another split's fetch) is checked again before reuse.
            sha = file_sha256(dest)
            if not (sha == entry.sha256 if entry.sha256 else _git_blob_id(dest) == entry.oid):
                dest.unlink()
                sha = None
        if sha is None:
            sha = _fetch(ref, commit, entry, dest, label, progress)
        files[rel] = {"size": entry.size, "sha256": sha}

    for name in META_FILES:
        path = f"{ref.folder}/{name}" if ref.folder else name
        if path in top:
            get(top[path])
    nshards_entry = listed.get(f"{split_path}/nshards.txt")
    if nshards_entry is None:
        raise HubError(f"{where}: {split_path}/nshards.txt is not in the repository (it says how many shards)")
    get(nshards_entry)
    try:
        n = int((local / split / "nshards.txt").read_text().strip())
    except ValueError as e:
        raise HubError(f"{where}: {split_path}/nshards.txt does not hold a shard count ({e})") from e
    if f"{split_path}/sizes.json" in listed:
        get(listed[f"{split_path}/sizes.json"])
    missing = [f"{split}/{i}.tar" for i in range(n) if f"{split_path}/{i}.tar" not in listed]
    if missing:
        raise HubError(f"{where}: nshards.txt says {n} shards but the repository lacks {', '.join(missing[:5])}")
    shards = [listed[f"{split_path}/{i}.tar"] for i in range(n)]
    total = sum(e.size for e in shards)
    todo = [e for e in shards if not (local / _relative(ref, e.path)).exists()]
    if todo:
        log.warning(
            "zsbench: fetching %d of %d shards (%s) of %s/%s into %s",
            len(todo), n, human_size(sum(e.size for e in todo)), where, split_path, local,
        )  # fmt: skip
    for entry in shards:
        get(entry)
    digest = hashlib.sha256("".join(f"{p}\0{m['sha256']}\n" for p, m in sorted(files.items())).encode()).hexdigest()
    manifest = {
        "repo": ref.repo_id,
        "commit": commit,
        "folder": ref.folder,
        "split": split,
        "endpoint": ref.endpoint,
        "shards": n,
        "bytes": total,
        "files_digest": digest,
        "files": files,
    }
    _write_atomic(_manifest_path(local, split), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def human_size(n: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, as the hub shows sizes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _offline_error(ref: HubRef, why: str, repo_dir: Path) -> HubError:
    return HubError(
        f"cannot reach {ref.endpoint} for {ref.repo_id}@{ref.revision} ({why}); pre-fetched shards are used when "
        f"present, and {repo_dir} has none for this revision and split: run 'zsbench download' where the hub can be "
        "reached (then copy the cache folder), or pass the local webdataset folder"
    )


def fetch_wds(
    ref: HubRef,
    split: str = "test",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The local folder holding ``split`` of ``ref`` at one commit (fetched and checked if needed), and its record.

    The record (for ``dataset_info.hub``) names the URL, endpoint, repository, the revision asked for, the commit
    read, how it was obtained (``fetched``, ``cache``, ``cache-offline``) and a digest of every file's SHA-256.
    """
    repo_dir = _cache_base(cache_dir) / ref.org / ref.repo
    source = "cache"
    try:
        if ref.pinned:
            commit = ref.revision
            if _read_manifest(_local(repo_dir, commit, ref), split, commit) is None:
                _resolve_commit(ref)  # is it still served? (a 404 names the commit)
        else:
            commit = _resolve_commit(ref)
            previous = _read_ref(repo_dir, ref.revision)
            if previous and previous != commit and (ref.endpoint, ref.repo_id, ref.revision, previous) not in _SAID:
                _SAID.add((ref.endpoint, ref.repo_id, ref.revision, previous))
                log.warning(
                    "zsbench: warning: %s@%s moved from %s (last run) to %s; this run reads %s (pin a commit with "
                    "@<commit> or --revision to keep one)",
                    ref.repo_id, ref.revision, previous, commit, commit,
                )  # fmt: skip
    except _Unreachable as e:
        commit = ref.revision if ref.pinned else _read_ref(repo_dir, ref.revision) or ""
        manifest = _read_manifest(_local(repo_dir, commit, ref), split, commit) if commit else None
        if manifest is None:
            raise _offline_error(ref, str(e), repo_dir) from e
        if not ref.pinned:
            log.warning(
                "zsbench: warning: cannot reach %s (%s); using the pre-fetched %s@%s, which %s named last time",
                ref.endpoint, e, ref.repo_id, commit, ref.revision,
            )  # fmt: skip
        return _local(repo_dir, commit, ref), _record(ref, commit, split, manifest, "cache-offline")
    local = _local(repo_dir, commit, ref)
    with _locked(repo_dir / f"{commit}.lock"):
        manifest = _read_manifest(local, split, commit)
        if manifest is None:
            try:
                manifest = _download_split(ref, commit, split, local, progress)
            except _Unreachable as e:
                raise _offline_error(ref, str(e), repo_dir) from e
            source = "fetched"
    if not ref.pinned:
        _write_atomic(_ref_file(repo_dir, ref.revision), commit + "\n")
    return local, _record(ref, commit, split, manifest, source)


_SAID: set[tuple[str, ...]] = set()


def _local(repo_dir: Path, commit: str, ref: HubRef) -> Path:
    return repo_dir / commit / ref.folder if ref.folder else repo_dir / commit


def _record(ref: HubRef, commit: str, split: str, manifest: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "url": ref.url,
        "endpoint": ref.endpoint,
        "repo": ref.repo_id,
        "revision": ref.revision,
        "commit": commit,
        "folder": ref.folder,
        "split": split,
        "source": source,
        "shards": manifest.get("shards"),
        "bytes": manifest.get("bytes"),
        "files_digest": manifest.get("files_digest"),
        "files_sha256": {rel: meta["sha256"] for rel, meta in sorted(manifest.get("files", {}).items())},
    }


def localize_root(spec: DatasetSpec, root: str, split: str, options: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """``load_dataset``'s entry: a URL root of a ``wds/`` dataset becomes its verified local folder (and record)."""
    if not spec.name.startswith("wds/"):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: --dataset_root {root!r} is a URL; only wds/<name> datasets are read from a URL "
            "(webdatasets on the HF hub): download the dataset and pass its local folder"
        )
    if split not in spec.splits:  # before any request
        raise ZsbenchError(f"dataset {spec.name!r} has no split {split!r}; available: {', '.join(spec.splits)}")
    ref = parse_hub_url(root, options.get("revision"))
    return fetch_wds(ref, split, cache_dir=options.get("wds_cache_dir"), progress=options.get("progress"))


# -- DataComp -------------------------------------------------------------------------------------------------------
# DataComp's evaluation sets (mlfoundations/datacomp): the tasks are the keys of tasklist.yml (commit 4afedc4: 40
# tasks, the 38 scored ones plus fairness/fairface and fairness/utkface, which have no main metric), and
# download_evalsets.py (commit 274dbee) fetches each from https://huggingface.co/datasets/djghosh/wds_<name>_test,
# <name> = the task with 'fairness/' dropped and '/' -> '-', except retrieval/* and misc/* tasks, which it loads
# with HF `datasets` from nlphuji/<task without prefix> (not webdatasets: zsbench does not read them this way).
# The zsbench name is wds/<name with '/'>, so a --dataset_root template
# https://huggingface.co/datasets/djghosh/wds_{dataset_cleaned}_test/tree/main finds the same repository.
DATACOMP_TASKS: tuple[str, ...] = (
    "vtab/caltech101", "cifar10", "vtab/cifar100", "vtab/clevr_count_all", "vtab/clevr_closest_object_distance",
    "country211", "vtab/dtd", "vtab/eurosat", "fgvc_aircraft", "food101", "gtsrb", "imagenet1k", "imagenet_sketch",
    "imagenetv2", "imagenet-a", "imagenet-o", "imagenet-r", "vtab/kitti_closest_vehicle_distance", "mnist",
    "objectnet", "vtab/flowers", "vtab/pets", "voc2007", "vtab/pcam", "renderedsst2", "vtab/resisc45", "cars",
    "stl10", "sun397", "vtab/svhn", "retrieval/flickr_1k_test_image_text_retrieval",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval", "misc/winogavil", "wilds/iwildcam", "wilds/camelyon17",
    "wilds/fmow", "fairness/dollar_street", "fairness/geode", "fairness/fairface", "fairness/utkface",
)  # fmt: skip
DATACOMP_UNSCORED = ("fairness/fairface", "fairness/utkface")


@dataclass(frozen=True)
class DataCompSet:
    task: str  # DataComp's task key (tasklist.yml)
    repo: str  # org/repo on the hub
    webdataset: bool  # False: an HF `datasets` repository (retrieval/*, misc/*), not fetched by zsbench

    @property
    def dataset(self) -> str:
        """The zsbench name: wds/<DataComp's folder name with '/'> (fairness/ dropped, as DataComp does)."""
        return "wds/" + self.task.removeprefix("fairness/")

    @property
    def url(self) -> str:
        return f"{HUB}/datasets/{self.repo}"


def datacomp_sets() -> list[DataCompSet]:
    """DataComp's 40 evaluation sets in tasklist.yml order, with the hub repository download_evalsets.py uses."""
    out = []
    for task in DATACOMP_TASKS:
        if task.startswith(("retrieval/", "misc/")):
            out.append(DataCompSet(task, f"nlphuji/{task.split('/', 1)[1]}", False))
        else:
            name = task.removeprefix("fairness/").replace("/", "-")
            out.append(DataCompSet(task, f"djghosh/wds_{name}_test", True))
    return out


__all__ = [
    "DATACOMP_TASKS",
    "DataCompSet",
    "HubError",
    "HubRef",
    "datacomp_sets",
    "fetch_wds",
    "hub_endpoint",
    "human_size",
    "is_remote",
    "localize_root",
    "parse_hub_url",
]
