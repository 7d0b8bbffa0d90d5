"""Fetch one file over HTTP(S) with the standard library: progress bar, sha256 check, resume, atomic rename.

CLIP_benchmark shells out to ``wget``/``mv`` in the working directory and never checks the result (notes 6.1).
Here a download goes to ``<dest>.part``; an existing ``.part`` is resumed with an HTTP ``Range`` request (a server
that ignores it answers 200 and the file restarts); the finished file is hashed and only then renamed onto
``dest`` (``os.replace``, atomic on one filesystem). A checksum mismatch removes the ``.part`` and raises, so the
next try starts clean. A body shorter than its ``Content-Length`` keeps the ``.part`` (run again to resume) and is
never renamed; a file that can be checked neither by a sha256 nor by a length is refused (a connection that drops
mid-way would otherwise leave a short file that looks complete). Nothing is run in a shell.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from zsbench.datasets.base import RemoteFile
from zsbench.errors import ZsbenchError
from zsbench.paths import file_sha256


class DownloadError(ZsbenchError):
    """A download failed or its checksum did not match."""


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    progress: bool = True,
    timeout: float = 60.0,
    chunk_size: int = 1 << 16,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify ``sha256`` if given, and return ``dest``."""
    from tqdm import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "zsbench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    total: int | None = None  # the complete size, when the server says it
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the .part is already complete (if it is as long as the file)
            response = None
            content_range = e.headers.get("Content-Range", "") if e.headers else ""
            if content_range.startswith("bytes */") and content_range[8:].strip().isdigit():
                total = int(content_range[8:])
        else:
            raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"cannot download {url}: {e}; fetch it by hand and place it at {dest}") from e

    if response is not None:
        with response:
            resumed = response.status == 206
            if have and not resumed:
                have = 0  # the server ignored Range: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None and length.strip().isdigit() else None
            with (
                open(part, "ab" if resumed else "wb") as out,
                tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar,
            ):
                try:
                    while block := response.read(chunk_size):
                        out.write(block)
                        bar.update(len(block))
                except (OSError, http.client.HTTPException) as e:
                    raise DownloadError(f"download of {url} interrupted ({e}); run again to resume from {part}") from e

    got = part.stat().st_size if part.exists() else 0
    if total is not None and got != total:
        if got > total:  # not a prefix of this file: resuming cannot fix it
            part.unlink(missing_ok=True)
            raise DownloadError(f"download of {url} is {got} bytes, the server says {total}; removed {part}, run again")
        raise DownloadError(
            f"download of {url} stopped at {got} of {total} bytes; kept {part}: run the same command again to resume"
        )
    if total is None and not sha256:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"cannot verify the download of {url}: the server sent no Content-Length and zsbench has no sha256 for "
            f"it, so a cut-off transfer would look complete; fetch it by hand and place it at {dest}"
        )
    if sha256:
        actual = file_sha256(part)
        if actual != sha256.lower():
            part.unlink(missing_ok=True)
            raise DownloadError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; removed {part}")
    os.replace(part, dest)
    return dest


def fetch_missing(
    root: Path, files: Iterable[RemoteFile], language: str | None = None, progress: bool = True
) -> list[Path]:
    """Download the spec files that are missing under ``root`` (only those ``language`` needs)."""
    done = []
    for rf in files:
        if language and rf.languages and language not in rf.languages:
            continue
        target = root / rf.name
        if not target.exists():
            done.append(download(rf.url, target, rf.sha256 or None, progress=progress))
    return done


__all__ = ["DownloadError", "download", "fetch_missing"]
