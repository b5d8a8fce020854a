"""``python -m benchmarks``: the benchmark runner (:mod:`benchmarks.run`)."""

import sys

from benchmarks.run import main

sys.exit(main())
