"""The built-in rules, one question each: would an analyst want this alert?"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog import EventKind, Reason, Record, Status, UsageError
from correlog.rules import AnonymousWeb, ImageSet, WebServerChild, basename, rule_name

W3WP = r"C:\WINDOWS\system32\inetsrv\w3wp.exe"


def record(**kw: Any) -> Record:
    fields: dict[str, Any] = {
        "host": "iis02",
        "pid": 2216,
        "image": r"C:\WINDOWS\system32\ping.exe",
        "user": "IUSR_IIS02",
        "domain": "IIS02",
        "logon_id": 0x2A3C1,
        "owner_source": EventKind.TOKEN_ASSIGNED,
        "creator_pid": 3120,
        "creator_image": W3WP,
        "start": 0,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.OPEN,
        "provenance": (592, None, 600, None),
        "layout": None,
        "first_seen": 0,
    }
    fields.update(kw)
    return Record(**fields)


class TestImageSet:
    @pytest.mark.parametrize(
        ("image", "expected"),
        [
            (r"C:\PHP\php.exe", True),
            (r"C:\php\PHP.EXE", True),
            ("php.exe", True),
            ("C:/Perl/bin/perl.exe", True),
            (r"D:\Perl\bin\perl.exe", False),
            (r"C:\PHP\php-cgi.exe", False),
            (r"C:\tools\php5.exe", True),
            (None, False),
        ],
    )
    def test_bare_names_match_basenames_paths_match_whole_paths(
        self, image: str | None, expected: bool
    ) -> None:
        images = ImageSet(["php.exe", r"C:\Perl\bin\perl.exe", "php?.exe"])
        assert images.matches(image) is expected

    def test_empty_patterns_are_usage_errors(self) -> None:
        with pytest.raises(UsageError):
            ImageSet([" "])

    def test_basename_handles_both_separators(self) -> None:
        assert basename(r"C:\a\b.exe") == "b.exe"
        assert basename("/usr/bin/x") == "x"
        assert basename("x.exe") == "x.exe"


class TestAnonymousWeb:
    def test_iusr_running_ping_fires_with_a_message(self) -> None:
        assert AnonymousWeb()(record()) == r"IUSR_IIS02 ran C:\WINDOWS\system32\ping.exe"

    @pytest.mark.parametrize("image", [r"C:\PHP\php.exe", r"C:\Perl\bin\PERL.EXE"])
    def test_the_expected_script_hosts_do_not_fire(self, image: str) -> None:
        assert AnonymousWeb()(record(image=image)) is None

    def test_other_accounts_do_not_fire(self) -> None:
        assert AnonymousWeb()(record(user="SYSTEM", domain="NT AUTHORITY")) is None

    def test_account_patterns_are_case_insensitive_and_may_name_the_domain(self) -> None:
        assert AnonymousWeb()(record(user="iusr_web7"))
        rule = AnonymousWeb(accounts=[r"IIS02\IUSR_*"])
        assert rule(record())
        assert rule(record(domain="OTHER")) is None

    def test_a_custom_allowlist_replaces_the_default(self) -> None:
        rule = AnonymousWeb(allow=["ping.exe"])
        assert rule(record()) is None
        assert rule(record(image=r"C:\PHP\php.exe"))

    def test_expected_parents_limit_the_rule_when_the_parent_is_known(self) -> None:
        rule = AnonymousWeb(parents=["w3wp.exe", "inetinfo.exe"])
        assert rule(record())
        assert rule(record(creator_image=r"C:\evil\parent.exe")) is None
        assert rule(record(creator_image=None))

    def test_an_unknown_image_waits_while_open_and_fires_when_final(self) -> None:
        assert AnonymousWeb()(record(image=None)) is None
        assert AnonymousWeb()(record(image=None, reason=Reason.ORPHAN))

    def test_no_account_patterns_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError):
            AnonymousWeb(accounts=[])


class TestWebServerChild:
    def test_a_web_server_starting_a_shell_fires_whatever_the_account(self) -> None:
        apache = r"C:\Program Files\Apache Group\Apache\Apache.exe"
        verdict = WebServerChild()(
            record(user="SYSTEM", creator_image=apache, image=r"C:\WINNT\system32\cmd.exe")
        )
        assert verdict == r"Apache.exe started C:\WINNT\system32\cmd.exe"

    def test_expected_children_and_unknown_parents_do_not_fire(self) -> None:
        assert WebServerChild()(record(image=r"C:\PHP\php.exe")) is None
        assert WebServerChild()(record(creator_image=None)) is None
        assert WebServerChild()(record(creator_image=r"C:\x\explorer.exe")) is None


@given(
    st.text(alphabet="IUSR_abc*?\\é ", max_size=12),
    st.none() | st.text(alphabet="IUSR_abc\\", max_size=6),
    st.text(alphabet="abcPHP.exe\\/*é", max_size=16),
)
def test_remembered_verdicts_are_the_verdicts(user: str, domain: str | None, image: str) -> None:
    """A rule or image set asked twice, or after it forgot, answers as a fresh one does."""
    rule = AnonymousWeb(accounts=("IUSR_*", "iusr\\a*"))
    images = ImageSet(["php.exe", "C:\\a\\*.exe", "p?p.exe"])
    first = (rule.account_matches(user, domain), images.matches(image))
    assert (rule.account_matches(user, domain), images.matches(image)) == first
    fresh = (
        AnonymousWeb(accounts=("IUSR_*", "iusr\\a*")).account_matches(user, domain),
        ImageSet(["php.exe", "C:\\a\\*.exe", "p?p.exe"]).matches(image),
    )
    assert first == fresh


def test_remembered_verdicts_stay_bounded() -> None:
    rule = AnonymousWeb()
    images = ImageSet(["php.exe"])
    for n in range(10_000):
        assert rule.account_matches(f"IUSR_{n}", "D") is True
        assert rule.account_matches(f"u{n}", None) is False
        assert images.matches(f"C:\\{n}\\php.exe") is True
    assert len(rule._verdicts) <= 4096
    assert len(images._verdicts) <= 4096


def test_rule_names_come_from_name_then_function_name() -> None:
    def my_rule(r: Record) -> bool:
        return True

    assert rule_name(AnonymousWeb()) == "anonymous-web"
    assert rule_name(my_rule) == "my_rule"
