"""Test configuration: hypothesis profiles, and where the shared sample data lives.

``CI=true`` loads hypothesis' built-in "ci" profile (derandomized, no deadline), so a CI run is
reproducible; locally the default profile applies, without a deadline (this machine is shared).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("dev", deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
else:
    settings.load_profile("dev")


@pytest.fixture(autouse=True, scope="session")
def _private_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands that hunt write compiled rules to the user's cache folder: the tests', and the
    subprocesses they start, go to a folder of their own, never to the real one."""
    folder = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        patch.setenv("LOCALAPPDATA", str(folder))
        yield
