"""Installing zsbench changes no one else's test run: its pytest plugin loads only where a project asks for it."""

from __future__ import annotations

import subprocess
import sys

FOREIGN_TEST = """
import sys

def test_zsbench_plugin_is_not_loaded():
    assert "zsbench.pytest_plugin" not in sys.modules
"""


def _foreign_project(root):
    """A project of someone else's with a perf/ folder and an expected/ folder of its own JSON."""
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "perf").mkdir()
    (root / "perf" / "test_timing.py").write_text("def test_fast_enough():\n    assert 1 + 1 == 2\n")
    (root / "expected").mkdir()
    (root / "expected" / "golden.json").write_text('[1, 2, "not a zsbench snapshot"]')
    (root / "expected" / "broken.json").write_text("{")
    (root / "test_mine.py").write_text(FOREIGN_TEST)


def _pytest(root, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
                          cwd=root, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_foreign_project_is_untouched(tmp_path):
    _foreign_project(tmp_path)
    proc = _pytest(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "2 passed" in out and "skipped" not in out, out  # the perf/ test runs; nothing reads expected/
    assert "zs-" not in _pytest(tmp_path, "--help").stdout  # no zsbench options either
    assert not (tmp_path / "zsbench-report.md").exists()


def test_the_plugin_is_there_when_asked_for(tmp_path):
    """The same project with ``-p zsbench.pytest_plugin``: the options exist; perf/ still runs (marker only)."""
    _foreign_project(tmp_path)
    (tmp_path / "test_mine.py").unlink()
    proc = _pytest(tmp_path, "-p", "zsbench.pytest_plugin", "perf")
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "--zs-report" in _pytest(tmp_path, "-p", "zsbench.pytest_plugin", "--help").stdout
    assert not (tmp_path / "zsbench-report.md").exists()  # a report only when asked
