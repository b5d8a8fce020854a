"""Every output writes times one way: ``correlog.iso(ns, decimals)``, with a fixed number of
decimals, so a column of them sorts as text in time order.

The encoder's memoised path (:func:`time_json`) and the writers' (:func:`fixed_time`) are proven
equal to ``iso`` itself, the plain reference, for any time, memo hits included.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from correlog import iso, parse_iso
from correlog._time import DECIMALS, MAX_NS, MIN_NS, NS_PER_SECOND
from correlog.output import fixed_time
from correlog.output._text import time_json

in_range = st.integers(MIN_NS, MAX_NS)
# Whole seconds of the same minute come back from the memo; far ones take the expanded year.
any_time = in_range | st.integers(-(10**30), 10**30) | st.integers(0, 120).map(lambda s: s * 10**9)


@given(any_time)
def test_the_json_of_a_time_is_iso_with_nine_decimals(ns: int) -> None:
    want = json.dumps(iso(ns, DECIMALS))
    assert time_json(ns) == want
    assert time_json(ns) == want  # again, from the memo


@given(any_time, st.integers(0, 9))
def test_fixed_time_is_iso_with_that_many_decimals(ns: int, decimals: int) -> None:
    assert fixed_time(ns, decimals) == iso(ns, decimals)


@given(in_range, in_range)
def test_times_with_nine_decimals_sort_as_text_in_time_order(a: int, b: int) -> None:
    text_a, text_b = iso(a, DECIMALS), iso(b, DECIMALS)
    assert text_a is not None
    assert text_b is not None
    assert len(text_a) == len(text_b) == len("2003-03-04T09:15:00.000000000Z")
    assert (text_a < text_b) == (a < b)
    assert parse_iso(text_a) == a  # and nothing is lost


@given(in_range, st.integers(0, 9))
def test_fewer_decimals_truncate_toward_the_past(ns: int, decimals: int) -> None:
    text = iso(ns, decimals)
    assert text is not None
    unit = NS_PER_SECOND // 10**decimals
    assert parse_iso(text) == ns - ns % unit


def test_none_is_null_and_empty() -> None:
    assert iso(None, DECIMALS) is None
    assert time_json(None) == "null"
    assert fixed_time(None) == ""
