"""A full disk or a read-only folder: the cache degrades to a warning, a result that cannot be written is one line.

Full and read-only file systems are small tmpfs mounts, which needs root (CI runs as root); elsewhere the disk-full
cases skip and a read-only folder is a ``chmod 555`` folder.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers


@pytest.fixture
def tmpfs(tmp_path):
    """``make(name, readonly=False)``: a 64 KiB tmpfs mounted at ``tmp_path/name``, unmounted afterwards."""
    mounts: list[Path] = []

    def make(name: str, *, readonly: bool = False) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root (CI runs as root)")
        folder = tmp_path / name
        folder.mkdir()
        options = "size=64k" + (",ro" if readonly else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(folder)
        return folder

    yield make
    for folder in reversed(mounts):
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def readonly_dir(tmp_path, tmpfs):
    """A folder nobody can write to: a read-only tmpfs as root, a ``chmod 555`` folder otherwise."""
    if os.geteuid() == 0:
        yield tmpfs("readonly", readonly=True)
        return
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def fill(folder: Path) -> None:
    """Write zeros until the file system is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def _result(tmp_path: Path) -> Path:
    return tmp_path / "out" / "fake_cls_m_en_zeroshot_classification.json"


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_unwritable_cache_is_one_warning_and_the_result_is_written(fake_eval, tmp_path, readonly_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="zsbench"):
        res = fake_eval("--dataset", "fake_cls", "fake_ret", "--cache_dir", readonly_dir / "cache")
    res.assert_ok()
    assert _result(tmp_path).exists()
    assert (tmp_path / "out" / "fake_ret_m_en_zeroshot_retrieval.json").exists()
    [warning] = _warnings(caplog)  # one line for the run, not one per entry
    assert "embedding cache" in warning and str(readonly_dir) in warning and "\n" not in warning


def test_cache_on_a_full_disk_is_one_warning_and_the_result_is_written(fake_eval, tmp_path, tmpfs, caplog):
    full = tmpfs("full")
    (full / "cache").mkdir()
    fill(full)
    with caplog.at_level(logging.WARNING, logger="zsbench"):
        res = fake_eval("--dataset", "fake_cls", "--cache_dir", full / "cache")
    res.assert_ok()
    assert _result(tmp_path).exists()
    [warning] = _warnings(caplog)
    assert "No space left on device" in warning and str(full) in warning
    assert leftovers(full) == []


def test_result_on_a_full_disk_is_one_line_and_the_old_file_stays(fake_eval, tmp_path, tmpfs):
    full = tmpfs("full")
    out = full / "r.json"
    fake_eval("--dataset", "fake_cls", "--output", out).assert_ok()
    before = out.read_bytes()
    fill(full)
    res = fake_eval("--dataset", "fake_cls", "--output", out, "--seed", "1")
    res.assert_one_line_error("cannot write result", str(out), "No space left on device")
    assert out.read_bytes() == before
    assert sorted(p.name for p in full.iterdir()) == ["filler", "r.json"]  # no temporary or lock file


def test_new_result_on_a_full_disk_leaves_no_partial_file(fake_eval, tmpfs):
    full = tmpfs("full")
    fill(full)
    out = full / "new" / "r.json"
    fake_eval("--dataset", "fake_cls", "--output", out).assert_one_line_error("r.json", "No space left on device")
    assert not out.exists() and leftovers(full) == []


def test_read_only_output_folder_is_refused_before_any_work(fake_eval, readonly_dir, fake_model):
    images_before = fake_model.CALLS["images"]
    res = fake_eval("--dataset", "fake_cls", "--output", readonly_dir / "sub" / "r.json")
    res.assert_one_line_error("--output", str(readonly_dir), "not writable")
    assert fake_model.CALLS["images"] == images_before  # refused before encoding anything


def test_build_into_a_read_only_folder_is_one_line(fake_eval, tmp_path, readonly_dir):
    from tests.reliability.conftest import run_cli

    fake_eval("--dataset", "fake_cls").assert_ok()
    res = run_cli("build", tmp_path / "out", "--output", readonly_dir / "bench.csv")
    res.assert_one_line_error("--output", "not writable")
