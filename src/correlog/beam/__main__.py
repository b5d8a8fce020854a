"""``python -m correlog.beam``: see :mod:`correlog.beam._pipeline`."""

from __future__ import annotations

import sys

from ._pipeline import main

if __name__ == "__main__":
    sys.exit(main())
