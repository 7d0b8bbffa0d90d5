"""Run the speed suite and print the ratio table: ``python benchmarks/perf/run.py [pytest args]``.

``python benchmarks/perf/run.py --levers [--reps N] [--images N] [--only a,b]`` measures instead each CPU lever of
case (a) on and off and prints the README's lever rows (``levers.py``; about 2 x 2 cold runs per lever).

Equivalent to ``pytest benchmarks/perf --zs-perf -s``; the table is printed at the end of the pytest run and again
here from ``results.json`` ($ZSBENCH_PERF_RESULTS, default under $ZSBENCH_PERF_DIR or
``zsbench_perf`` in the system temporary folder).
Settings: ZSBENCH_PERF_REPS (default 2), ZSBENCH_PERF_WORKERS (2), ZSBENCH_PERF_BATCH_SIZE (64).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_data import default_dir  # noqa: E402
from perf_common import REPO, env, format_table  # noqa: E402


def main(argv: list[str]) -> int:
    if "--levers" in argv:
        import levers

        return levers.main([a for a in argv if a != "--levers"])
    results = Path(os.environ.get("ZSBENCH_PERF_RESULTS", default_dir() / "results.json"))
    if results.exists():
        results.unlink()  # never print a table left over from an earlier run
    cmd = [sys.executable, "-m", "pytest", str(HERE), "--zs-perf", "-s", "-p", "no:cacheprovider", *argv]
    rc = subprocess.call(cmd, cwd=REPO, env={**env(), "ZSBENCH_PERF_RESULTS": str(results)})
    if results.exists():
        print()
        print(format_table(json.loads(results.read_text())))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
