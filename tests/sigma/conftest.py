"""Fixtures for the Sigma tests: SigmaHQ's rules from the shared data, compiled once."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlog.sigma import RuleSet, load_rules

#: The shared data beside the repository; tests that need it skip when it is absent.
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SIGMA_DATA = SHARED / "data" / "sigma"
RULES_DIR = SIGMA_DATA / "rules"
REGRESSION_DIR = SIGMA_DATA / "regression"


@pytest.fixture(scope="session")
def sigmahq() -> RuleSet:
    """All of SigmaHQ's process_creation rules, compiled (about 3 s, once per session)."""
    if not RULES_DIR.is_dir():
        pytest.skip(f"the shared SigmaHQ rules are not here ({RULES_DIR})")
    return load_rules(RULES_DIR)
