"""The regression suite: one case per snapshot file under expected/ (the README's 54 results + CPU cases).

pytest -m gpu benchmarks/              # reproduce the paper (needs weights in ./pretrained, data in ./data)
pytest -m "not gpu"                    # CI: the CPU cases through the same machinery
pytest -m gpu benchmarks/ --snapshot-update   # rewrite `expected` for a new checkpoint
"""

from __future__ import annotations

from zsbench.pytest_plugin import check_case, run_case


def test_case(zs_case, zs_pretrained, zs_data_root, zs_engine, request):
    record = run_case(zs_case, zs_engine, zs_pretrained, zs_data_root)
    check_case(request, zs_case, record)
