"""Hypothesis profiles: "ci" (derandomized, no deadline) when the CI variable is set."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", settings())
settings.load_profile("ci" if os.environ.get("CI") else "dev")
