"""``kill -9`` in the middle of a run: no half-written result, and ``--skip_existing`` finishes the job.

The run is a real ``zsbench eval`` process on the fake model, slowed down (a sleep per image batch) or stopped inside
a write (fsync of a result's temporary file never returns), so the kill lands where it matters.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers, run_cli
from zsbench.testing import fake

# The CLI with a "slowfake" model type: fake, plus a line in $ZS_MARKER per image batch and a sleep of $ZS_SLEEP s;
# with $ZS_HANG_ON set, fsync of a temporary file whose name contains it never returns (killed inside a write).
SCRIPT = r"""
import os, sys, time
from zsbench.testing import fake
fake.register()
from zsbench.models import MODEL_TYPES

def load_slow(*args, **kwargs):
    model = fake.load_fake(*args, **kwargs)
    inner = model.image_fn
    def image_fn(pixels):
        with open(os.environ["ZS_MARKER"], "a") as f:
            f.write("batch\n")
        time.sleep(float(os.environ.get("ZS_SLEEP", "0")))
        return inner(pixels)
    model.image_fn = image_fn
    return model

MODEL_TYPES.register("slowfake", load_slow)
hang_on = os.environ.get("ZS_HANG_ON")
if hang_on:
    real_fsync = os.fsync
    def fsync(fd):
        name = os.readlink(f"/proc/self/fd/{fd}")
        if hang_on in name and name.endswith(".tmp"):
            with open(os.environ["ZS_MARKER"], "a") as f:
                f.write("writing\n")
            time.sleep(600)
        real_fsync(fd)
    os.fsync = fsync
from zsbench.cli import main
sys.exit(main(sys.argv[1:]))
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc and SIGKILL")


def _start(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    argv = [
        sys.executable, "-c", SCRIPT, "eval", "--model_type", "slowfake", "--model", "m", "--pretrained", "p",
        "--num_workers", "0", "--batch_size", "5", "--dataset", "fake_cls", "fake_ret",
        "--dataset_root", str(tmp_path), "--cache_dir", str(tmp_path / "cache"),
        "--output", str(tmp_path / "out" / "{dataset}_{model}_{language}_{task}.json"), "--quiet", *extra,
    ]  # fmt: skip
    full_env = {**os.environ, "ZS_MARKER": str(tmp_path / "marker"), **env}
    return subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {proc.returncode}) before the kill: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the run never reached the point of the kill")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _batches(tmp_path: Path) -> int:
    marker = tmp_path / "marker"
    return marker.read_text().count("batch") if marker.exists() else 0


CLS = "fake_cls_m_en_zeroshot_classification.json"
RET = "fake_ret_m_en_zeroshot_retrieval.json"


def _resume(tmp_path: Path) -> None:
    fake.register()
    res = run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
        "--batch_size", "5", "--dataset", "fake_cls", "fake_ret", "--dataset_root", tmp_path,
        "--cache_dir", tmp_path / "cache", "--output", tmp_path / "out" / "{dataset}_{model}_{language}_{task}.json",
        "--quiet", "--skip_existing",
    )  # fmt: skip
    res.assert_ok()


def test_kill_while_encoding_then_skip_existing_completes(tmp_path):
    proc = _start(tmp_path, {"ZS_SLEEP": "0.2"})
    out = tmp_path / "out"
    # fake_cls is 6 batches of 5; kill during fake_ret's encoding, after fake_cls's result is written.
    _wait_for(lambda: (out / CLS).exists() and _batches(tmp_path) > 6, proc)
    _kill(proc)
    assert not (out / RET).exists()
    first = (out / CLS).read_text()
    assert json.loads(first)["metrics"]["acc1"] is not None  # complete, valid JSON
    assert leftovers(tmp_path) == []

    images_before = fake.CALLS["images"]
    _resume(tmp_path)
    assert (out / CLS).read_text() == first  # skipped, not recomputed
    assert fake.CALLS["images"] == images_before + 12  # only fake_ret's 12 images were encoded
    record = json.loads((out / RET).read_text())
    assert record["zsbench"]["n_evaluated"] == 12 and "image_retrieval_recall@1" in record["metrics"]
    assert leftovers(tmp_path) == []


def test_kill_inside_a_result_write_leaves_the_old_state_and_the_next_run_cleans_up(tmp_path):
    proc = _start(tmp_path, {"ZS_HANG_ON": RET})
    out = tmp_path / "out"
    _wait_for(lambda: (tmp_path / "marker").exists() and "writing" in (tmp_path / "marker").read_text(), proc)
    _kill(proc)
    [stale] = leftovers(tmp_path)  # the killed writer's temporary file, named after its owner
    assert stale.parent == out and stale.name.startswith(f".{RET}.{proc.pid}@")
    assert not (out / RET).exists() and json.loads((out / CLS).read_text())["metrics"]

    _resume(tmp_path)
    assert leftovers(tmp_path) == []
    assert json.loads((out / RET).read_text())["metrics"]
    assert sorted(p.name for p in out.iterdir()) == [CLS, RET]  # no lock file either
