"""Shared pieces of the reliability suite: run the CLI and check that bad input is one clear line.

Every reliability test runs a ``zsbench`` command on one bad input and asserts three things: the exit code, that
stderr has no traceback and names the problem, and that nothing half-written or wrong is left behind.
Most run the CLI in-process (fast: no torch import per case); ``run_cli_subprocess`` is for what needs a real
process (kill -9, loader workers, environment).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from zsbench.testing import fake

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    rc: int
    out: str
    err: str

    def assert_one_line_error(self, *needles: str, rc: int = 2) -> str:
        """Exit ``rc``, no traceback, exactly one line on stderr that contains every needle (case-insensitive)."""
        assert "Traceback" not in self.err, f"traceback instead of one line:\n{self.err}"
        assert self.rc == rc, f"exit {self.rc} (want {rc}); stderr:\n{self.err}"
        lines = [line for line in self.err.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("zsbench: error:")]
        assert len(errors) == 1, f"want one 'zsbench: error:' line, got:\n{self.err}"
        for needle in needles:
            assert needle.lower() in errors[0].lower(), f"{needle!r} not in {errors[0]!r}"
        return errors[0]

    def assert_ok(self) -> None:
        assert "Traceback" not in self.err, self.err
        assert self.rc == 0, f"exit {self.rc}; stderr:\n{self.err}"


def run_cli(*argv: str) -> CliResult:
    """``zsbench ARGV`` in this process; an uncaught exception becomes rc 1 and a traceback, as Python would print."""
    from zsbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # argparse errors
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = 1
    return CliResult(rc, out.getvalue(), err.getvalue())


def run_cli_subprocess(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300):
    """``python -m zsbench ARGV`` in a fresh interpreter (the one running the tests)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "zsbench", *map(str, argv)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def leftovers(folder: Path) -> list[Path]:
    """Half-written files a killed or failed write could leave: ``*.tmp``, ``*.part``."""
    return sorted(p for p in Path(folder).rglob("*") if p.name.endswith((".tmp", ".part")))


@pytest.fixture
def fake_model():
    """The engine's fake model type (``--model_type fake``) and its in-memory datasets ``fake_cls`` / ``fake_ret``."""
    fake.register()
    return fake


@pytest.fixture
def fake_eval(tmp_path, fake_model):
    """``zsbench eval`` on the fake model with its cache and outputs under ``tmp_path``; extra args appended."""

    def run(*extra: str) -> CliResult:
        return run_cli(
            "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
            "--dataset_root", tmp_path, "--cache_dir", tmp_path / "cache",
            "--output", tmp_path / "out" / "{dataset}_{model}_{language}_{task}.json", "--quiet", *extra,
        )  # fmt: skip

    return run
