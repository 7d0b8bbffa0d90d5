"""The one answer to "where is dataset X": used by ``zsbench eval``, ``zsbench datasets`` and the pytest plugin.

CLIP_benchmark's ``--dataset_root`` is a template with ``{dataset}`` (the name, ``wds/`` removed, slashes kept) and
``{dataset_cleaned}`` (``/`` -> ``-``); its default is the literal ``root``. zsbench adds ``{datacomp}``: the
folder DataComp's ``download_evalsets.py`` puts the dataset in (``wds_<task>_test`` or ``hf_cache``), and keeps the
rest, except that with no template at all the built-in procedural datasets live in zsbench's data cache
(``<cache>/data``), where ``eval`` generates them: asking two places this question once gave two answers
(``zsbench datasets`` called ``shapes`` missing while ``eval`` found it).
"""

from __future__ import annotations

from zsbench.errors import ZsbenchError
from zsbench.paths import builtin_data_dir, check_template, fill_template

DATASET_ROOT_FLAG = "--dataset_root"
DATASET_ROOT_FIELDS = ("dataset", "dataset_cleaned", "datacomp")
DEFAULT_DATASET_ROOT = "root"  # CLIP_benchmark's default


def check_dataset_root_template(template: str) -> None:
    """One-line :class:`~zsbench.errors.ZsbenchError` for an empty template, an unknown ``{field}`` or bad braces."""
    if not isinstance(template, str) or not template.strip():
        raise ZsbenchError(
            f"{DATASET_ROOT_FLAG} {template!r} is empty; pass a folder, e.g. './data/{{dataset}}' (or omit the flag)"
        )
    check_template(template, DATASET_ROOT_FLAG, DATASET_ROOT_FIELDS)


def resolve_dataset_root(name: str, template: str | None) -> str:
    """The root folder of dataset ``name`` for ``--dataset_root`` ``template`` (``None``: the flag was not given).

    ``None`` gives ``<cache>/data`` for built-in datasets and CLIP_benchmark's ``root`` for the others. The result
    is a string, not a ``Path``: it is the text CLIP_benchmark would pass on (a trailing slash, or a URL such as
    ``https://huggingface.co/datasets/clip-benchmark/wds_{dataset_cleaned}``, stays exactly as written).
    """
    if template is None:
        from zsbench.datasets import get_spec

        if get_spec(name).builtin:
            return str(builtin_data_dir())
        template = DEFAULT_DATASET_ROOT
    check_dataset_root_template(template)
    dataset = name.removeprefix("wds/")
    from zsbench.datasets.catalog.datacomp import datacomp_folder

    return fill_template(
        template,
        DATASET_ROOT_FLAG,
        dataset=dataset,
        dataset_cleaned=dataset.replace("/", "-"),
        datacomp=datacomp_folder(name),  # the folder DataComp's download_evalsets.py writes it to
    )


__all__ = [
    "DATASET_ROOT_FIELDS",
    "DEFAULT_DATASET_ROOT",
    "check_dataset_root_template",
    "resolve_dataset_root",
]
