"""Which rules to hunt with: by level, status and tags (``hunt --min-level/--status/--tags``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import attrs

from .._errors import UsageError

if TYPE_CHECKING:
    from ._rules import SigmaRule

__all__ = ["LEVELS", "STATUSES", "RuleFilter"]

#: Sigma's levels, lowest first.
LEVELS: Final = ("informational", "low", "medium", "high", "critical")
#: Sigma's rule statuses.
STATUSES: Final = ("stable", "test", "experimental", "deprecated", "unsupported")


def _tags(values: Iterable[str]) -> frozenset[str]:
    return frozenset(t.strip().lower() for v in values for t in v.split(",") if t.strip())


@attrs.frozen(kw_only=True)
class RuleFilter:
    """Keeps the rules at ``min_level`` or above, with one of ``statuses``, tagged with one of
    ``tags``; an empty criterion keeps every rule.

    A tag names itself and the tags under it: ``attack.t1059`` keeps ``attack.t1059`` and
    ``attack.t1059.001`` (case-insensitively); tags may also come comma-separated. A rule
    without a level is dropped by any ``min_level``, one without a status by any ``statuses``.
    """

    min_level: str | None = None
    statuses: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)

    def __attrs_post_init__(self) -> None:
        if self.min_level is not None and self.min_level not in LEVELS:
            raise UsageError(f"unknown level {self.min_level!r}; expected one of {LEVELS}")
        unknown = self.statuses - set(STATUSES)
        if unknown:
            raise UsageError(f"unknown status {sorted(unknown)}; expected some of {STATUSES}")

    @property
    def keeps_all(self) -> bool:
        """True when no criterion is given."""
        return self.min_level is None and not self.statuses and not self.tags

    def __call__(self, rule: SigmaRule) -> bool:
        """Whether the rule is kept."""
        if self.min_level is not None and (
            rule.level not in LEVELS or LEVELS.index(rule.level) < LEVELS.index(self.min_level)
        ):
            return False
        if self.statuses and rule.status not in self.statuses:
            return False
        return not self.tags or any(self._tagged(t.lower()) for t in rule.tags)

    def _tagged(self, tag: str) -> bool:
        while True:
            if tag in self.tags:
                return True
            cut = tag.rfind(".")
            if cut < 0:
                return False
            tag = tag[:cut]
