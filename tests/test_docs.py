"""The docs stay true: the policy page is drawn from the table the code uses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_policy_page_is_drawn_from_the_current_merge_policy() -> None:
    spec = importlib.util.spec_from_file_location("make_policy", DOCS / "make_policy.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    on_disk = (DOCS / "policy.md").read_text(encoding="utf-8")
    assert on_disk == module.render(), "docs/policy.md is stale: run python docs/make_policy.py"
