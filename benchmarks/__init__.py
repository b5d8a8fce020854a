"""correlog's benchmarks: each case against a baseline measured in the same run.

``python -m benchmarks`` prints the table (:mod:`benchmarks.run`); ``docs/performance.md``
explains how to read it and what to expect.
"""
