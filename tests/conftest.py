"""Test configuration: hypothesis profiles, and where the shared sample data lives.

``CI=true`` loads hypothesis' built-in "ci" profile (derandomized, no deadline), so a CI run is
reproducible; locally the default profile applies, without a deadline (this machine is shared).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
else:
    settings.load_profile("dev")
