"""Result files keep every record: concurrent runs, earlier runs, killed runs' temporary files, permissions."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import leftovers, run_cli
from zsbench.engine.results import read_records

WRITER = """
import sys
from zsbench.engine.results import write_record
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    record = {"dataset": f"d{i}", "model": "m", "pretrained": "p", "task": "zeroshot_classification",
              "metrics": {"acc1": i / n}, "language": tag}
    write_record(path, record, shared=False)
"""


def test_concurrent_runs_appending_to_one_output_keep_every_record(tmp_path):
    out = tmp_path / "result.json"
    n = 40
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(out), tag, str(n)], stderr=subprocess.PIPE, text=True)
        for tag in ("en", "cn", "jp")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    records = read_records(out)
    assert len(records) == 3 * n
    assert {(r["dataset"], r["language"]) for r in records} == {
        (f"d{i}", t) for i in range(n) for t in ("en", "cn", "jp")
    }
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no lock or temporary file left


def test_a_later_run_joins_the_earlier_runs_record_as_json_lines(fake_eval, tmp_path):
    out = tmp_path / "result.json"
    fake_eval("--dataset", "fake_cls", "--output", out).assert_ok()
    assert isinstance(json.loads(out.read_text()), dict)  # one job: CLIP_benchmark's single object
    fake_eval("--dataset", "fake_ret", "--output", out).assert_ok()
    records = read_records(out)
    assert [r["dataset"] for r in records] == ["fake_cls", "fake_ret"]
    assert [json.loads(line)["dataset"] for line in out.read_text().splitlines()] == ["fake_cls", "fake_ret"]
    fake_eval("--dataset", "fake_cls", "--output", out, "--seed", "3").assert_ok()  # a rerun replaces its own line
    records = read_records(out)
    assert sorted(r["dataset"] for r in records) == ["fake_cls", "fake_ret"]
    assert next(r for r in records if r["dataset"] == "fake_cls")["zsbench"]["seed"] == 3


def test_an_output_that_is_not_a_result_file_is_refused_before_work(fake_eval, tmp_path, fake_model):
    out = tmp_path / "notes.json"
    out.write_text("my notes, not JSON\n")
    images_before = fake_model.CALLS["images"]
    fake_eval("--dataset", "fake_cls", "--output", out).assert_one_line_error(str(out), "not a result file")
    assert out.read_text() == "my notes, not JSON\n"
    assert fake_model.CALLS["images"] == images_before


def test_written_files_get_the_usual_permissions(fake_eval, tmp_path):
    old = os.umask(0o022)
    try:
        fake_eval("--dataset", "fake_cls").assert_ok()
        csv_path, md_path = tmp_path / "bench.csv", tmp_path / "bench.md"
        assert run_cli("build", tmp_path / "out", "--output", csv_path, "--markdown", md_path).rc == 0
    finally:
        os.umask(old)
    files = [*(tmp_path / "out").glob("*.json"), csv_path, md_path, *(tmp_path / "cache").rglob("*.safetensors")]
    assert len(files) >= 5
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f


def _dead_process_temp_name(target: str) -> str:
    """The temporary file name a writer that has since died (pid gone) would have used."""
    code = f"from zsbench.engine.atomic import temp_name; print(temp_name({target!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_stale_temporary_files_of_dead_runs_are_removed_and_live_ones_kept(fake_eval, tmp_path):
    from zsbench.engine import atomic

    out_dir = tmp_path / "out"
    shard = tmp_path / "cache" / "embeddings" / "ab"
    out_dir.mkdir()
    shard.mkdir(parents=True)
    dead = [
        out_dir / _dead_process_temp_name("fake_cls_m_en_zeroshot_classification.json"),
        out_dir / _dead_process_temp_name("other_result.json"),  # a file this run does not write
        shard / _dead_process_temp_name("ab12.safetensors"),
    ]
    live_name = atomic.temp_name("other_result.json").replace(f".{os.getpid()}@", f".{os.getppid()}@")
    live = out_dir / live_name  # a concurrent run that is still writing
    for p in [*dead, live]:
        p.write_bytes(b"half")
    assert len(leftovers(tmp_path)) == 4

    fake_eval("--dataset", "fake_cls").assert_ok()
    assert leftovers(tmp_path) == [live]
    assert (out_dir / "fake_cls_m_en_zeroshot_classification.json").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_or_lock_file(tmp_path, monkeypatch):
    from zsbench.engine import atomic
    from zsbench.engine.results import write_record
    from zsbench.errors import OutputError

    out = tmp_path / "r.json"
    record = {"dataset": "d", "model": "m", "pretrained": "p", "task": "t", "metrics": {"acc1": 1.0}, "language": "en"}
    write_record(out, record)
    before = out.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OutputError) as e:
        write_record(out, {**record, "language": "cn"})
    assert str(out) in str(e.value) and "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert out.read_bytes() == before
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["r.json"]
