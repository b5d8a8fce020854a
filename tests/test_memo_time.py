"""The one memo class, and the one time module's range promises."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog._errors import Malformed
from correlog._memo import Memo, clear_caches
from correlog._time import MAX_NS, MIN_NS, LocalTime, parse_iso
from correlog.decoders import _common


class TestMemo:
    def test_a_miss_is_computed_once_and_a_failure_is_not_kept(self) -> None:
        calls: list[str] = []

        def make(key: str) -> str:
            calls.append(key)
            if key == "bad":
                raise Malformed("bad value")
            return key.upper()

        memo = Memo(make, 8)
        assert (memo["a"], memo["a"]) == ("A", "A")
        with pytest.raises(Malformed):
            memo["bad"]
        assert "bad" not in memo
        assert calls == ["a", "bad"]

    @given(st.lists(st.text(max_size=3), max_size=200), st.integers(1, 10))
    def test_never_holds_more_than_its_bound_and_answers_like_make(
        self, keys: list[str], bound: int
    ) -> None:
        memo = Memo(str.swapcase, bound)
        for key in keys:
            assert memo[key] == key.swapcase()
            assert len(memo) <= bound

    def test_clear_caches_empties_the_decoders_memos(self) -> None:
        assert _common.HOSTS["  IIS01 "] == "iis01"
        assert "  IIS01 " in _common.HOSTS
        clear_caches()
        assert len(_common.HOSTS) == len(_common.LOGONS) == len(_common.VALUES) == 0


class TestTimeRange:
    @given(st.integers(-(10**30), 10**30))
    def test_iso_never_raises_for_an_int(self, ns: int) -> None:
        text = correlog.iso(ns)
        assert text is not None
        assert text.endswith("Z")
        if MIN_NS <= ns <= MAX_NS:
            assert parse_iso(text) == ns
        else:
            assert text[0] in "+-"
            with pytest.raises(ValueError, match=r"Invalid isoformat|outside years"):
                parse_iso(text)

    def test_the_expanded_form_names_the_right_day(self) -> None:
        assert correlog.iso(MAX_NS + 1) == "+10000-01-01T00:00:00Z"
        assert correlog.iso(MIN_NS - 3600 * 10**9) == "+0000-12-31T23:00:00Z"
        assert correlog.iso(MIN_NS) == "0001-01-01T00:00:00Z"

    @pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"])
    def test_parse_iso_refuses_a_time_that_leaves_years_1_to_9999(self, text: str) -> None:
        with pytest.raises(ValueError, match="outside years 1-9999"):
            parse_iso(text)

    @pytest.mark.parametrize("year", [0, 10_000, 2**31, 2**63, -5])
    def test_local_time_refuses_years_outside_1_to_9999(self, year: int) -> None:
        with pytest.raises(Malformed, match="bad time"):
            LocalTime(dt.UTC)(year, 1, 1, 0, 0, 0)

    def test_local_time_refuses_a_time_its_zone_moves_out_of_range(self) -> None:
        east = LocalTime(dt.timezone(dt.timedelta(hours=1)))
        with pytest.raises(Malformed, match="outside years 1-9999"):
            east(1, 1, 1, 0, 0, 0)
        assert LocalTime(dt.UTC)(1, 1, 1, 0, 0, 0) == MIN_NS
