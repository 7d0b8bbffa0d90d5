"""Class names and zero-shot templates: the bundled CLIP_benchmark files, plus user-supplied ones.

The bundled files in ``zsbench/datasets/data`` are ``<lang>_classnames.json`` and
``<lang>_zeroshot_classification_templates.json`` for en, cn, jp, ar, it, copied from the ``clip-benchmark``
1.6.2 wheel (MIT, see ``data/LICENSE.clip_benchmark``), plus the InternVL fork's single Birdsnap template under
``birdsnap`` in the English templates. They equal the fork's files.

Lookup rules (CLIP_benchmark's, notes 3.6):

* templates: the dataset's own key, then (for ``vtab/x``, ``wds/x``) the short name, then ``imagenet1k``'s, in the
  same language. So a dataset without its own templates gets ImageNet's 80 (English) templates;
* class names: no fallback; a missing key or language is an error;
* custom files (``--custom_classname_file`` / ``--custom_template_file``): JSON keyed by dataset name; a bare file
  name is also looked up in the bundled data folder. Templates fall back as above (ending at ``imagenet1k``);
  class names are looked up by full then short name, with no further fallback.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from zsbench.datasets.languages import LanguageNotAvailableError, canonical_language
from zsbench.errors import ZsbenchError

DATA_DIR = Path(__file__).resolve().parent / "data"
PROMPT_LANGUAGES = ("en", "cn", "jp", "ar", "it")
FALLBACK_TEMPLATE_KEY = "imagenet1k"

Templates = list[str] | dict[str, list[str]]


@cache
def _bundled(kind: str, language: str) -> dict[str, Any]:
    name = "classnames" if kind == "classnames" else "zeroshot_classification_templates"
    path = DATA_DIR / f"{language}_{name}.json"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def lookup_keys(dataset_name: str) -> list[str]:
    """``[name]``, or ``[name, short]`` for ``vtab/``, ``tfds/`` and ``wds/`` names (as CLIP_benchmark)."""
    if dataset_name.split("/", 1)[0] in ("vtab", "tfds", "wds") and "/" in dataset_name:
        return [dataset_name, dataset_name.split("/", 1)[1]]
    return [dataset_name]


def prompt_languages(prompt_key: str, kind: str = "templates") -> list[str]:
    """Languages whose bundled ``kind`` (``classnames`` or ``templates``) file has ``prompt_key``."""
    out = []
    for lang in PROMPT_LANGUAGES:
        table = _bundled(kind, lang)
        if prompt_key in table or (kind == "templates" and FALLBACK_TEMPLATE_KEY in table):
            out.append(lang)
    return out


def classnames(prompt_key: str, language: str = "en") -> list[str]:
    """The bundled class names under ``prompt_key`` in ``language``."""
    lang = canonical_language(language)
    table = _bundled("classnames", lang)
    if prompt_key not in table:
        have = prompt_languages(prompt_key, "classnames")
        raise LanguageNotAvailableError(
            f"no bundled class names for {prompt_key!r} in language {language!r}; "
            f"available: {', '.join(have) if have else 'none (the dataset provides its own English names)'}"
        )
    return list(table[prompt_key])


def template_source(prompt_key: str, language: str = "en") -> str:
    """``<lang>:<key>`` of the bundled templates used for ``prompt_key`` (the key may be the fallback)."""
    lang = canonical_language(language)
    table = _bundled("templates", lang)
    for key in (prompt_key, FALLBACK_TEMPLATE_KEY):
        if key in table:
            return f"{lang}:{key}"
    raise LanguageNotAvailableError(
        f"no bundled templates in language {language!r}; available: {', '.join(PROMPT_LANGUAGES)}"
    )


def templates(prompt_key: str, language: str = "en") -> list[str]:
    """The bundled templates for ``prompt_key`` in ``language``, falling back to ``imagenet1k``'s."""
    lang, key = template_source(prompt_key, language).split(":", 1)
    return list(_bundled("templates", lang)[key])


def template_set_id(templates: Templates, source: str = "") -> tuple[str, str]:
    """A readable id and the sha256 of a template set, recorded with results.

    The id is ``<source>/<n>`` (e.g. ``en:imagenet1k/80``), or ``custom/<n>``; the sha256 covers the exact
    strings (canonical JSON), so two runs with equal hashes used equal prompts.
    """
    blob = json.dumps(templates, ensure_ascii=False, sort_keys=isinstance(templates, dict), separators=(",", ":"))
    digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()
    n = len(templates)
    return f"{source or 'custom'}/{n}", digest


def load_custom_file(path: str | Path) -> dict[str, Any]:
    """A custom classname/template JSON; a bare name that does not exist is looked up in the bundled folder."""
    p = Path(path)
    if not p.exists() and not p.is_absolute() and (DATA_DIR / p).exists():
        p = DATA_DIR / p
    if not p.exists():
        raise ZsbenchError(f"custom prompt file {str(path)!r} does not exist (also looked in {DATA_DIR})")
    with open(p, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ZsbenchError(f"custom prompt file {p} must hold a JSON object keyed by dataset name")
    return data


def _first(table: dict[str, Any], keys: list[str]) -> tuple[str, Any] | None:
    for k in keys:
        if k in table:
            return k, table[k]
    return None


def resolve(
    dataset_name: str,
    prompt_key: str,
    language: str,
    *,
    classnames_key: str | None = None,
    dataset_classnames: list[str] | None = None,
    custom_classname_file: str | Path | None = None,
    custom_template_file: str | Path | None = None,
    cupl: bool = False,
) -> tuple[list[str], Templates, dict[str, Any]]:
    """Class names, templates and provenance for one dataset in one (canonical) language.

    ``prompt_key`` selects the templates (then the short name, then ``imagenet1k``). Class names come from the
    bundled ``classnames_key`` where CLIP_benchmark overrides them (imagenet1k, mnist, gtsrb, ...), else from
    ``dataset_classnames``, the names the dataset itself provides (torchvision ``.classes``, mapping files,
    ``species.txt``), which are English. The caller has already checked the language is available.
    """
    lang = canonical_language(language)
    keys = lookup_keys(dataset_name)
    info: dict[str, Any] = {}

    if custom_classname_file:
        found = _first(load_custom_file(custom_classname_file), keys)
        if found is None:
            raise ZsbenchError(
                f"custom classname file {custom_classname_file} has no key {' or '.join(map(repr, keys))}"
            )
        names = list(found[1])
        info["classnames_source"] = f"custom:{found[0]}"
    elif classnames_key:
        names = classnames(classnames_key, lang)
        info["classnames_source"] = f"{lang}:{classnames_key}"
    elif dataset_classnames is not None and lang == "en":
        names = list(dataset_classnames)
        info["classnames_source"] = "dataset"
    else:
        # Only reachable when a spec lists a language it has no class names for: fail loudly, never mix languages.
        raise LanguageNotAvailableError(f"dataset {dataset_name!r} has no class names in language {language!r}")

    if custom_template_file:
        found = _first(load_custom_file(custom_template_file), keys + [FALLBACK_TEMPLATE_KEY])
        if found is None:
            raise ZsbenchError(f"custom template file {custom_template_file} has no key {' or '.join(map(repr, keys))}")
        tmpl = found[1]
        source = f"custom:{found[0]}"
    else:
        tkey = next((k for k in [prompt_key, *keys[1:]] if k in _bundled("templates", lang)), prompt_key)
        source = template_source(tkey, lang)
        tmpl = templates(tkey, lang)
    if cupl and not isinstance(tmpl, dict):
        raise ZsbenchError(f"--cupl needs templates given as a JSON object classname -> prompts ({source} is a list)")
    if isinstance(tmpl, dict):
        missing = [c for c in names if c not in tmpl]
        if missing:
            raise ZsbenchError(f"CuPL templates {source} have no prompts for classes {missing[:5]}")
    tid, sha = template_set_id(tmpl, source)
    info.update(template_set=tid, template_sha256=sha, language=lang)
    return names, tmpl, info


__all__ = [
    "DATA_DIR",
    "PROMPT_LANGUAGES",
    "classnames",
    "load_custom_file",
    "lookup_keys",
    "prompt_languages",
    "resolve",
    "template_set_id",
    "template_source",
    "templates",
]
