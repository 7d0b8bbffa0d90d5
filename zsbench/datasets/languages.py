"""One set of language codes for every task, with aliases.

CLIP_benchmark and its InternVL fork are inconsistent: ImageNet Chinese is ``cn`` (the prompt file name), Flickr
Chinese is ``zh`` upstream and ``cn`` in the fork, XTD uses ``zh`` and ``jp``, XM3600 uses ``ja``. zsbench keeps
the fork's file codes as canonical (``cn``, ``jp``: they name the bundled prompt files and the README's result
rows) and accepts ``zh`` / ``ja`` as aliases everywhere. A dataset without prompts or captions in a language
raises :class:`LanguageNotAvailableError`; nothing falls back to English.
"""

from __future__ import annotations

from collections.abc import Iterable

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


class LanguageNotAvailableError(ZsbenchError):
    """A dataset has no prompts or captions in the requested language."""


def canonical_language(code: str) -> str:
    """The canonical code for ``code`` (``zh`` -> ``cn``, ``ja`` -> ``jp``); unknown codes raise one line."""
    key = str(code).strip().lower()
    key = ALIASES.get(key, key)
    if key not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        aliases = ", ".join(f"{a}={c}" for a, c in ALIASES.items() if "_" not in a and "-" not in a)
        raise UnknownNameError(f"unknown language {code!r}; valid choices: {known} (aliases: {aliases})")
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
