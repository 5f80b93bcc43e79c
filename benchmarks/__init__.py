"""Benchmarks: scripts run as ``.venv/bin/python benchmarks/NAME.py`` (docs/benchmarks.md). A package so that
the tests import their report logic as ``from benchmarks import transfer`` (pyproject.toml puts the repository
root on the import path)."""
