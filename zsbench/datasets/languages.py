"""One set of language codes for every task, with aliases.

CLIP_benchmark and its InternVL fork are inconsistent: ImageNet Chinese is ``cn`` (the prompt file name), Flickr
Chinese is ``zh`` upstream and ``cn`` in the fork, XTD uses ``zh`` and ``jp``, XM3600 uses ``ja``. zsbench keeps
the fork's file codes as canonical (``cn``, ``jp``: they name the bundled prompt files and the README's result
rows) and accepts ``zh`` / ``ja`` as aliases everywhere. A dataset without prompts or captions in a language
raises :class:`LanguageNotAvailableError`; nothing falls back to English.
"""

from __future__ import annotations

from collections.abc import Iterable

from zsbench.datasets.language_codes import FLORES_200, ISO_639
from zsbench.errors import UnknownNameError, ZsbenchError

LANGUAGES: dict[str, str] = {
    "en": "English",
    "cn": "Chinese",
    "jp": "Japanese",
    "ar": "Arabic",
    "it": "Italian",
    "es": "Spanish",
    "fr": "French",
    "ko": "Korean",
    "ru": "Russian",
    "pl": "Polish",
    "tr": "Turkish",
}

ALIASES: dict[str, str] = {"zh": "cn", "zh-cn": "cn", "zh_cn": "cn", "ja": "jp"}
CORE_LANGUAGES = tuple(LANGUAGES)
# The multilingual datasets' own codes (Babel-ImageNet, Crossmodal-3600: ISO 639; xtd200, flickr30k-200: FLORES-200
# such as 'deu_Latn'), canonical as those datasets write them and matched case-insensitively.
LANGUAGES.update({c: n for c, n in ISO_639.items() if c not in ALIASES and c not in LANGUAGES})
LANGUAGES.update({c: f"FLORES-200 {c}" for c in FLORES_200})
_BY_LOWER = {c.lower(): c for c in LANGUAGES}


class LanguageNotAvailableError(ZsbenchError):
    """A dataset has no prompts or captions in the requested language."""


def canonical_language(code: str) -> str:
    """The canonical code for ``code`` (``zh`` -> ``cn``, ``ja`` -> ``jp``); unknown codes raise one line."""
    key = str(code).strip().lower()
    key = _BY_LOWER.get(ALIASES.get(key, key))
    if key is None:
        known = ", ".join(CORE_LANGUAGES)
        aliases = ", ".join(f"{a}={c}" for a, c in ALIASES.items() if "_" not in a and "-" not in a)
        raise UnknownNameError(
            f"unknown language {code!r}; valid choices: {known} (aliases: {aliases}), or a multilingual dataset's "
            "own ISO 639 or FLORES-200 code (de, sw, deu_Latn, ...; 'zsbench datasets' lists each dataset's)"
        )
    return key


def require_language(code: str, available: Iterable[str], dataset: str, what: str = "prompts") -> str:
    """Canonical ``code`` if ``dataset`` has ``what`` in it, else an error naming the languages that exist."""
    lang = canonical_language(code)
    have = [canonical_language(a) for a in available]
    if lang not in have:
        raise LanguageNotAvailableError(
            f"dataset {dataset!r} has no {what} in language {code!r} ({LANGUAGES[lang]}); "
            f"available: {', '.join(have)}. zsbench never falls back to English; pass --custom_classname_file and "
            f"--custom_template_file to supply your own"
        )
    return lang


__all__ = ["ALIASES", "LANGUAGES", "LanguageNotAvailableError", "canonical_language", "require_language"]
