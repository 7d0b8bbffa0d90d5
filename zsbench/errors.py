"""User-facing errors: one line that says what was wrong and what to do."""

from __future__ import annotations


class ZsbenchError(Exception):
    """An error caused by bad input; the CLI prints it as one line and exits with status 2."""


class UnknownNameError(ZsbenchError, KeyError):
    """A name (model type, dataset, task, language, ...) that no registry knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(ZsbenchError):
    """A dataset root is missing or incomplete."""


class CheckpointError(ZsbenchError):
    """A checkpoint file or folder is missing, unreadable, or has the wrong keys."""


class OutputError(ZsbenchError):
    """A result, table, classifier or other output file that cannot be written where it was asked for."""
