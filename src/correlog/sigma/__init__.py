"""Hunt correlog's fat records with Sigma process_creation rules (SigmaHQ's, or your own).

Needs the ``sigma`` extra (pySigma), imported only when rules are loaded.
"""

from __future__ import annotations

from ._cache import RuleCache
from ._coverage import Coverage
from ._load import load_rules
from ._rules import LoadReport, Match, RuleSet, SigmaRule, Unsupported
from ._select import LEVELS, STATUSES, RuleFilter
from .view import record_schema, schema_label, sigma_view

__all__ = [
    "LEVELS",
    "STATUSES",
    "Coverage",
    "LoadReport",
    "Match",
    "RuleCache",
    "RuleFilter",
    "RuleSet",
    "SigmaRule",
    "Unsupported",
    "load_rules",
    "record_schema",
    "schema_label",
    "sigma_view",
]
