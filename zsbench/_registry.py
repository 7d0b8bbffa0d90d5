"""A small generic registry: name -> object, or a lazy ``"module:attr"`` placeholder.

Entries are registered explicitly (decorator or call), never discovered by importing every module, so
``import zsbench`` stays light. Unknown names raise one line naming the valid choices and the closest match.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from zsbench.errors import UnknownNameError

T = TypeVar("T")


def unknown_name(
    kind: str, name: str, choices: Sequence[str], *, also_match: Sequence[str] = (), extra: str = ""
) -> UnknownNameError:
    """The one-line error for an unknown name: the valid choices and the closest match."""
    close = difflib.get_close_matches(name, list(choices) + list(also_match), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint}; valid choices: {', '.join(choices)}{extra}")


def resolve_lazy(ref: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Registry(Generic[T]):
    """Maps names (plus aliases) to entries; lazy string entries are imported on first ``get``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, obj: T | str | None = None, *, aliases: tuple[str, ...] = ()) -> Any:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator."""

        def add(value: T | str) -> T | str:
            if name in self._entries or name in self._aliases:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = value
            for alias in aliases:
                if alias in self._entries or alias in self._aliases:
                    raise ValueError(f"{self.kind} alias {alias!r} is registered twice")
                self._aliases[alias] = name
            return value

        if obj is None:
            return add
        add(obj)
        return obj

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; raises a one-line error if unknown."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise unknown_name(self.kind, name, self.names(), also_match=list(self._aliases))

    def get(self, name: str) -> T:
        key = self.canonical(name)
        value = self._entries[key]
        if isinstance(value, str):
            value = resolve_lazy(value)
            self._entries[key] = value
        return value  # type: ignore[return-value]

    def names(self) -> list[str]:
        return list(self._entries)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def decorator_for(registry: Registry[Any], name: str, **kwargs: Any) -> Callable[[T], T]:
    """``@decorator_for(REG, "name")`` registers the decorated object."""
    return registry.register(name, **kwargs)
