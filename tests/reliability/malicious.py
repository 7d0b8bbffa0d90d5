"""Bad files the checkpoint tests write: garbage bytes and a pickle whose loading would run code."""

from __future__ import annotations

from pathlib import Path

GARBAGE = b"this is not a checkpoint\n" * 200  # fixed: random bytes could start like a pickle


class WritesMarker:
    """Unpickling this runs ``exec``, which writes ``path``: what a malicious checkpoint does."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('code ran')",))
