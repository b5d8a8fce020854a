"""Benchmarks of correlog's hot paths, each reported as a ratio to baselines run beside it.

``python benchmarks/run.py`` prints the table; ``docs/performance.md`` explains how to read it.
"""
