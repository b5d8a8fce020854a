"""The engine on rules built in code: every modifier and condition form SigmaHQ uses, Sigma's
null semantics, the three-valued reading of missing sources, and what it refuses by name."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from correlog import EventKind, Monitor, ProcessEvent, UsageError
from correlog._records import LevelledAlert
from correlog.sigma import RuleSet, SigmaRule, load_rules

from .records import legacy_record, sysmon_record

WINDOWS = {"category": "process_creation", "product": "windows"}


def rule(detection: dict[str, Any], condition: str | list[str] = "sel", **meta: Any) -> SigmaRule:
    """A rule from a detection, as a user builds one in code."""
    return SigmaRule.from_dict(
        {
            "title": meta.pop("title", "test rule"),
            "id": meta.pop("id", "00000000-0000-4000-8000-000000000001"),
            "logsource": meta.pop("logsource", WINDOWS),
            "detection": {**detection, "condition": condition},
            **meta,
        }
    )


def uid(letter: str) -> str:
    """A valid rule id (pySigma requires UUIDs) that reads as its letter."""
    return f"{letter * 8}-0000-4000-8000-000000000000"


def matches(detection: dict[str, Any], view: dict[str, str], condition: str = "sel") -> bool:
    return rule(detection, condition).matches(view)


class TestStrings:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("cmd.exe", True), ("CMD.EXE", True), ("cmd.exe ", False), ("xcmd.exe", False)],
    )
    def test_plain_values_match_whole_and_ignore_case(self, value: str, expected: bool) -> None:
        assert matches({"sel": {"OriginalFileName": "Cmd.Exe"}}, {"OriginalFileName": value}) is (
            expected
        )

    @pytest.mark.parametrize(
        ("modifier", "value", "expected"),
        [
            ("contains", "a INVOKE-x b", True),
            ("contains", "invok", False),
            ("startswith", "Invoke-X and more", True),
            ("startswith", " invoke-x", False),
            ("endswith", "call invoke-X", True),
            ("endswith", "invoke-x.", False),
        ],
    )
    def test_position_modifiers(self, modifier: str, value: str, expected: bool) -> None:
        detection = {"sel": {f"CommandLine|{modifier}": "Invoke-X"}}
        assert matches(detection, {"CommandLine": value}) is expected

    def test_a_list_is_any_of_and_all_makes_it_every_one(self) -> None:
        anyof = {"sel": {"CommandLine|contains": ["alpha", "beta"]}}
        allof = {"sel": {"CommandLine|contains|all": ["alpha", "beta"]}}
        assert matches(anyof, {"CommandLine": "x beta"})
        assert not matches(allof, {"CommandLine": "x beta"})
        assert matches(allof, {"CommandLine": "BETA then Alpha"})

    @pytest.mark.parametrize(
        ("pattern", "value", "expected"),
        [
            (r"C:\\*\cmd.exe", r"c:\windows\system32\CMD.exe", True),
            (r"C:\\*\cmd.exe", r"d:\windows\cmd.exe", False),
            (r"C:\*\cmd.exe", r"c:*\cmd.exe", True),  # '\*' is an escaped '*'
            (r"C:\*\cmd.exe", r"c:\x\cmd.exe", False),
            ("?md.exe", "cmd.exe", True),
            ("?md.exe", "md.exe", False),
            (r"a\*b", "a*b", True),  # an escaped wildcard is a literal
            (r"a\*b", "axb", False),
            (r"a\?b", "a?b", True),
            (r"a\?b", "axb", False),
            (r"C:\Users\\*", "c:\\users\\x\ny", True),  # '*' spans newlines
            ("*", "", True),
        ],
    )
    def test_wildcards_and_escapes(self, pattern: str, value: str, expected: bool) -> None:
        assert matches({"sel": {"Image": pattern}}, {"Image": value}) is expected

    def test_cased_compares_exactly(self) -> None:
        detection = {"sel": {"CommandLine|cased|contains": "-Enc"}}
        assert matches(detection, {"CommandLine": "x -Enc y"})
        assert not matches(detection, {"CommandLine": "x -enc y"})

    @pytest.mark.parametrize(
        "value", ["x -enc y", "x /enc y", "x \u2013enc y", "x \u2014enc y", "x \u2015enc y"]
    )
    def test_windash_accepts_every_dash_windows_accepts(self, value: str) -> None:
        assert matches({"sel": {"CommandLine|windash|contains": "-enc"}}, {"CommandLine": value})

    def test_windash_does_not_accept_other_prefixes(self) -> None:
        assert not matches(
            {"sel": {"CommandLine|windash|contains": " -enc"}}, {"CommandLine": "xenc"}
        )

    def test_base64_and_base64offset(self) -> None:
        # |base64 encodes the value alone: it is found when it starts the encoded text and
        # fills whole 3-byte groups (12 bytes here), else its padding is in the way.
        encoded = base64.b64encode(b"IEX (New-Object Net.WebClient)").decode()
        detection = {"sel": {"CommandLine|base64|contains": "IEX (New-Obj"}}
        assert matches(detection, {"CommandLine": encoded})
        assert not matches(detection, {"CommandLine": base64.b64encode(b"xIEX (New-Obj").decode()})
        for prefix in (b"", b"a", b"ab"):
            text = base64.b64encode(prefix + b"Invoke-Expression tail").decode()
            detection = {"sel": {"CommandLine|base64offset|contains": "Invoke-Expression"}}
            assert matches(detection, {"CommandLine": f"powershell -e {text}"}), prefix
        other = base64.b64encode(b"Invoke-Command").decode()
        detection = {"sel": {"CommandLine|base64offset|contains": "Invoke-Expression"}}
        assert not matches(detection, {"CommandLine": other})

    def test_many_alternatives_take_the_grouped_paths(self) -> None:
        # More alternatives than a chain of tests: a prefix-factored regex, and a set for
        # single characters; each must still answer like the chain.
        words = [f"w{i:03d}x" for i in range(40)] + ["\U0001f986", "\u202e"]
        detection = {"sel": {"CommandLine|contains": words}}
        assert matches(detection, {"CommandLine": "a W017X b"})
        assert matches(detection, {"CommandLine": "duck \U0001f986"})
        assert matches(detection, {"CommandLine": "rtl \u202e"})
        assert not matches(detection, {"CommandLine": "w017 w17x"})
        wide = [f"\U0001f600{i}" for i in range(10)]  # beyond U+FFFF: the chain path
        assert matches({"sel": {"CommandLine|contains": wide}}, {"CommandLine": "\U0001f6007"})
        assert not matches({"sel": {"CommandLine|contains": wide}}, {"CommandLine": "\U0001f600"})


class TestRegex:
    def test_regex_is_a_case_sensitive_search(self) -> None:
        detection = {"sel": {"CommandLine|re": r"\s-c\s"}}
        assert matches(detection, {"CommandLine": "curl -c jar"})
        assert not matches(detection, {"CommandLine": "curl -C jar"})

    def test_flags(self) -> None:
        assert matches({"sel": {"CommandLine|re|i": r"\s-c\s"}}, {"CommandLine": "curl -C x"})
        assert matches({"sel": {"CommandLine|re": r"(?i)\s-c\s"}}, {"CommandLine": "a -C x"})
        assert matches({"sel": {"CommandLine|re|m": "^second$"}}, {"CommandLine": "first\nsecond"})
        assert not matches({"sel": {"CommandLine|re": "^second$"}}, {"CommandLine": "a\nsecond"})
        assert matches({"sel": {"CommandLine|re|s": "a.b"}}, {"CommandLine": "a\nb"})
        assert not matches({"sel": {"CommandLine|re": "a.b"}}, {"CommandLine": "a\nb"})

    def test_required_literals_never_lose_a_match(self) -> None:
        # The prefilter tests lowered literals: a case-insensitive regex must still match.
        detection = {"sel": {"CommandLine|re|i": r"Invoke-\w+Expression"}}
        assert matches(detection, {"CommandLine": "INVOKE-MyEXPRESSION"})
        assert not matches(detection, {"CommandLine": "INVOKE-EXPRESSION"})


class TestOtherValues:
    def test_null_is_absent_and_empty_is_empty(self) -> None:
        null = {"sel": {"ParentImage": None}}
        empty = {"sel": {"ParentImage": ""}}
        assert matches(null, {})
        assert not matches(null, {"ParentImage": ""})
        assert matches(empty, {"ParentImage": ""})
        assert not matches(empty, {})

    def test_exists(self) -> None:
        assert matches({"sel": {"Hashes|exists": True}}, {"Hashes": ""})
        assert not matches({"sel": {"Hashes|exists": True}}, {})
        assert matches({"sel": {"Hashes|exists": False}}, {})

    def test_fieldref(self) -> None:
        same = {"sel": {"ParentUser|fieldref": "User"}}
        assert matches(same, {"User": "DOM\\Bob", "ParentUser": "dom\\bob"})
        assert not matches(same, {"User": "DOM\\Bob", "ParentUser": "DOM\\Eve"})
        assert not matches(same, {"User": "DOM\\Bob"})
        assert matches(
            {"sel": {"CommandLine|fieldref|contains": "Image"}},
            {"Image": "a.exe", "CommandLine": "run A.EXE now"},
        )
        assert matches(
            {"sel": {"CommandLine|fieldref|startswith": "Image"}},
            {"Image": "a.exe", "CommandLine": "a.exe now"},
        )
        assert matches(
            {"sel": {"CommandLine|fieldref|endswith": "Image"}},
            {"Image": "a.exe", "CommandLine": "run a.exe"},
        )
        assert not matches(
            {"sel": {"CommandLine|fieldref|endswith": "Image"}},
            {"Image": "a.exe", "CommandLine": "a.exe now"},
        )

    def test_numbers_and_comparisons(self) -> None:
        assert matches({"sel": {"TerminalSessionId": 1}}, {"TerminalSessionId": "1"})
        assert matches({"sel": {"TerminalSessionId": 1}}, {"TerminalSessionId": "0x1"})
        assert not matches({"sel": {"TerminalSessionId": 1}}, {"TerminalSessionId": "2"})
        for modifier, passing, failing in (
            ("gt", "3", "2"),
            ("gte", "2", "1"),
            ("lt", "1", "2"),
            ("lte", "2", "3"),
        ):
            detection = {"sel": {f"TerminalSessionId|{modifier}": 2}}
            assert matches(detection, {"TerminalSessionId": passing}), modifier
            assert not matches(detection, {"TerminalSessionId": failing}), modifier
            assert not matches(detection, {"TerminalSessionId": "n/a"}), modifier
            assert not matches(detection, {}), modifier

    def test_neq(self) -> None:
        detection = {"sel": {"Image|endswith": "\\cmd.exe", "User|neq": "NT AUTHORITY\\SYSTEM"}}
        assert matches(detection, {"Image": "c:\\cmd.exe", "User": "CORP\\bob"})
        assert not matches(detection, {"Image": "c:\\cmd.exe", "User": "nt authority\\system"})

    def test_wide_base64offset(self) -> None:
        # PowerShell's -EncodedCommand is base64 of UTF-16LE text.
        encoded = base64.b64encode("IEX (iwr x)".encode("utf-16-le")).decode()
        detection = {"sel": {"CommandLine|wide|base64offset|contains": "IEX ("}}
        assert matches(detection, {"CommandLine": f"powershell -enc {encoded}"})
        plain = base64.b64encode(b"IEX (iwr x)").decode()
        assert not matches(detection, {"CommandLine": f"powershell -enc {plain}"})

    def test_cidr(self) -> None:
        detection = {"sel": {"SourceIp|cidr": "10.0.0.0/8"}}
        assert matches(detection, {"SourceIp": "10.20.30.40"})
        assert not matches(detection, {"SourceIp": "11.0.0.1"})
        assert not matches(detection, {"SourceIp": "not an address"})
        assert matches({"sel": {"SourceIp|cidr": "fe80::/10"}}, {"SourceIp": "fe80::1"})

    def test_booleans(self) -> None:
        assert matches({"sel": {"Flag": True}}, {"Flag": "true"})
        assert not matches({"sel": {"Flag": True}}, {"Flag": "false"})

    def test_keywords_search_every_value(self) -> None:
        detection = {"keywords": ["mimikatz"]}
        assert matches(detection, {"CommandLine": "x MimiKatz.exe"}, "keywords")
        assert matches(detection, {"Description": "mimikatz"}, "keywords")
        assert not matches(detection, {"CommandLine": "mimi katz"}, "keywords")


class TestConditions:
    views = (
        {"Image": "a.exe", "CommandLine": "x"},
        {"Image": "b.exe", "CommandLine": "x"},
        {"Image": "a.exe", "CommandLine": "y"},
        {"Image": "c.exe"},
    )
    detections: dict[str, Any] = {  # noqa: RUF012
        "sel_a": {"Image|endswith": "a.exe"},
        "sel_b": {"Image|endswith": "b.exe"},
        "filter_x": {"CommandLine": "x"},
    }

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("sel_a", [True, False, True, False]),
            ("sel_a and not filter_x", [False, False, True, False]),
            ("not filter_x", [False, False, True, True]),  # absent CommandLine: not "x"
            ("(sel_a or sel_b) and filter_x", [True, True, False, False]),
            ("sel_a or sel_b and filter_x", [True, True, True, False]),  # and binds tighter
            ("1 of sel_*", [True, True, True, False]),
            ("all of sel_*", [False, False, False, False]),
            ("1 of them", [True, True, True, False]),
            ("all of them", [False, False, False, False]),
            ("not 1 of sel_*", [False, False, False, True]),
        ],
    )
    def test_forms(self, condition: str, expected: list[bool]) -> None:
        r = rule(self.detections, condition)
        assert [r.matches(v) for v in self.views] == expected

    def test_several_conditions_are_any_of(self) -> None:
        r = rule(self.detections, ["sel_b", "sel_a and filter_x"])
        assert [r.matches(v) for v in self.views] == [True, True, False, False]

    def test_a_detection_list_is_any_of_its_maps(self) -> None:
        r = rule({"sel": [{"Image|endswith": "b.exe"}, {"CommandLine": "y"}]})
        assert [r.matches(v) for v in self.views] == [False, True, True, False]


class TestThreeValued:
    """A field the source never carries is unknown, not absent."""

    webshell: dict[str, Any] = {  # noqa: RUF012
        "sel_parent": {"ParentImage|endswith": "\\w3wp.exe"},
        "sel_child": {"Image|endswith": "\\cmd.exe"},
        "filter_cli": {"CommandLine|contains": "healthcheck"},
    }

    def test_decided_without_the_missing_field(self) -> None:
        r = rule(self.webshell, "all of sel_* and not filter_cli")
        legacy = {"Image", "ParentImage", "User"}
        view = {"Image": r"C:\w\cmd.exe", "ParentImage": r"C:\w\w3wp.exe"}
        assert r.evaluate(view, legacy) is None  # the filter could have spared it
        r2 = rule(self.webshell, "all of sel_* or filter_cli")
        assert r2.evaluate(view, legacy) is True  # matches whatever the command line
        assert r2.evaluate({"Image": "x.exe", "ParentImage": "y.exe"}, legacy) is None
        r3 = rule(self.webshell, "all of sel_* and filter_cli")
        assert r3.evaluate({"Image": "x.exe", "ParentImage": "y.exe"}, legacy) is False

    def test_a_field_in_the_schema_but_absent_is_null(self) -> None:
        r = rule(self.webshell, "all of sel_* and not filter_cli")
        view = {"Image": r"C:\w\cmd.exe", "ParentImage": r"C:\w\w3wp.exe"}
        assert r.evaluate(view, {"Image", "ParentImage", "CommandLine"}) is True
        assert r.evaluate(view) is True  # no schema: Sigma's own reading

    def test_null_and_exists_on_unknown_fields_are_unknown(self) -> None:
        assert rule({"sel": {"Hashes": None}}).evaluate({}, {"Image"}) is None
        assert rule({"sel": {"Hashes|exists": False}}).evaluate({}, {"Image"}) is None
        assert rule({"sel": {"Hashes": None}}).evaluate({}, {"Hashes"}) is True

    def test_a_record_is_asked_with_its_source_schema(self) -> None:
        r = rule(
            {
                "sel": {"Image|endswith": "\\cmd.exe", "ParentImage|endswith": "\\dllhost.exe"},
                "filter": {"CommandLine|contains": "benign"},
            },
            "sel and not filter",
        )
        assert r(legacy_record()) is None  # no command line on Windows 2000: undecided
        assert r(sysmon_record(image=r"C:\cmd.exe", creator_image=r"C:\dllhost.exe")) is not None


class TestRefusals:
    def test_a_rule_for_another_log_source_is_refused_by_name(self) -> None:
        with pytest.raises(UsageError, match="not windows process_creation"):
            rule(
                {"sel": {"Image": "x"}}, logsource={"category": "file_event", "product": "windows"}
            )

    def test_timestamp_parts_are_refused(self) -> None:
        with pytest.raises(UsageError, match="timestamp part modifier"):
            rule({"sel": {"UtcTime|minute": 5}})

    def test_placeholders_are_refused(self) -> None:
        with pytest.raises(UsageError, match="placeholder %admins%"):
            rule({"sel": {"User|expand": "%admins%"}})

    def test_invalid_yaml_rules_are_refused(self) -> None:
        with pytest.raises(UsageError):
            SigmaRule.from_yaml("title: x\ndetection: {condition: sel}\n")

    def test_load_reports_every_rule_it_did_not_compile(self, tmp_path: Path) -> None:
        good = {"sel": {"Image|endswith": "\\cmd.exe"}}
        (tmp_path / "a_good.yml").write_text(
            _yaml("good", "11111111-1111-4111-8111-111111111111", good)
        )
        (tmp_path / "b_dup.yml").write_text(
            _yaml("dup", "11111111-1111-4111-8111-111111111111", good)
        )
        (tmp_path / "stamp.yml").write_text(
            _yaml("stamp", "22222222-2222-4222-8222-222222222222", {"sel": {"UtcTime|hour": 3}})
        )
        (tmp_path / "broken.yml").write_text("title: [unclosed\n")
        (tmp_path / "notes.txt").write_text("not a rule")
        ruleset = load_rules(tmp_path)
        report = ruleset.report
        assert [r.title for r in ruleset] == ["good"]
        assert report.files == 4
        assert report.compiled == 1
        reasons = {Path(u.source).name: u.reason for u in report.unsupported}
        assert set(reasons) == {"b_dup.yml", "stamp.yml", "broken.yml"}
        assert reasons["b_dup.yml"].startswith("duplicate")
        assert "timestamp part modifier |hour" in reasons["stamp.yml"]
        assert "3 not compiled" in report.summary()

    def test_correlation_rules_and_filters_are_reported(self, tmp_path: Path) -> None:
        target = "4b991083-3d0e-44ce-8fc4-b254025d8d4b"
        (tmp_path / "corr.yml").write_text(
            "title: Many\nid: 44444444-4444-4444-8444-444444444444\n"
            f"correlation: {{type: event_count, rules: [{target}], group-by: [User],"
            " timespan: 5m, condition: {gte: 10}}\n"
        )
        (tmp_path / "filter.yml").write_text(
            "title: Not admins\nid: 55555555-5555-4555-8555-555555555555\n"
            "logsource: {category: process_creation, product: windows}\n"
            f"filter: {{rules: [{target}], selection: {{User: admin}}, condition: not selection}}\n"
        )
        report = load_rules(tmp_path).report
        assert report.compiled == 0
        reasons = sorted(u.reason for u in report.unsupported)
        assert reasons == [
            "not a detection rule: SigmaCorrelationRule",
            "not a detection rule: a Sigma filter (correlog does not apply filters)",
        ]

    def test_a_missing_path_is_a_usage_error(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="no such rule file"):
            load_rules(tmp_path / "absent")


def _yaml(title: str, rule_id: str, detection: dict[str, Any]) -> str:
    import json

    # JSON is YAML: a rule file without a YAML writer.
    return json.dumps(
        {
            "title": title,
            "id": rule_id,
            "author": "correlog tests",
            "level": "high",
            "logsource": WINDOWS,
            "detection": {**detection, "condition": "sel"},
        }
    )


class TestRuleSetAndMonitor:
    def test_ids_must_be_unique(self) -> None:
        r = rule({"sel": {"Image": "x"}})
        with pytest.raises(UsageError, match="unique"):
            RuleSet([r, r])

    def test_a_set_answers_like_its_rules_one_by_one(self) -> None:
        rules = [
            rule({"sel": {"Image|endswith": "\\cmd.exe"}}, id=uid("a"), title="a"),
            rule({"sel": {"OriginalFileName": "Cmd.Exe"}}, id=uid("b"), title="b"),
            rule({"sel": {"CommandLine|contains": "whoami"}}, id=uid("c"), title="c"),
            rule({"sel": {"CommandLine|re": "who.mi"}}, id=uid("d"), title="d"),
            rule({"sel": {"Image|endswith": "\\cmd.exe"}}, "not sel", id=uid("e"), title="e"),
        ]
        ruleset = RuleSet(rules)
        views = [
            {"Image": r"C:\Windows\cmd.exe", "CommandLine": "cmd /c WHOAMI"},
            {"Image": r"C:\x\powershell.exe", "OriginalFileName": "cmd.exe"},
            {"CommandLine": "whoxmi"},
            {},
        ]
        for view in views:
            assert ruleset.match_view(view) == [r for r in rules if r.matches(view)]

    def test_sigma_rules_alert_through_the_monitor(self) -> None:
        r = rule(
            {"sel": {"Image|endswith": "\\bitsadmin.exe", "CommandLine|contains": "/transfer"}},
            title="Bits transfer",
            id="d059842b-6b9d-4ed1-b5c3-5b89143c6ede",
            author="Someone (Somewhere)",
            level="medium",
        )
        event = ProcessEvent(
            kind=EventKind.CREATED,
            host="ws1",
            pid=7732,
            time=0,
            event_id=1,
            record_number=1,
            image=r"C:\Windows\System32\bitsadmin.exe",
            user="xodih",
            domain="WS1",
            creator_pid=14736,
            channel="sysmon",
            command_line="bitsadmin /transfer job https://example.org/x.exe x.exe",
        )
        monitor = Monitor([r])
        [alert] = monitor.feed(event) + monitor.close()
        assert alert.rule == r.name == "d059842b-6b9d-4ed1-b5c3-5b89143c6ede"
        assert alert.event_id == 1
        assert "Bits transfer" in alert.message
        assert "Someone (Somewhere)" in alert.message
        assert "<dict>" in alert.message  # the source, as the caller named it
        assert isinstance(alert, LevelledAlert)
        assert (alert.level, alert.title) == (r.level, r.title) == ("medium", "Bits transfer")

    def test_monitor_rules_of_a_set_share_its_index(self) -> None:
        rules = [
            rule({"sel": {"Image|endswith": "\\bitsadmin.exe"}}, id=uid("a"), title="a"),
            rule({"sel": {"Image|endswith": "\\cmd.exe"}}, id=uid("b"), title="b"),
        ]
        members = RuleSet(rules).monitor_rules()
        assert [m.name for m in members] == [uid("a"), uid("b")]  # type: ignore[attr-defined]
        record = sysmon_record()
        assert [m(record) is not None for m in members] == [True, False]
