"""Benchmarks of correlog's hot paths, each reported as a ratio to baselines run beside it.

``python benchmarks/run.py`` prints the table, ``--all`` every goal of the performance issue as
well; ``docs/performance.md`` explains how to read them and what dominates where goals are missed.
"""
