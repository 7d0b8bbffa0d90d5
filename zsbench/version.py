"""The package version, in a module of its own so that no zsbench module imports upward from the package facade."""

__version__ = "0.1.0"
