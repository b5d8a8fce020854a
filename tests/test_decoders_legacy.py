"""The legacy decoders, told through the documented examples.

Every rendered example below is quoted from public documentation (Microsoft KB 221212, the
pylogsparser normalizers, ultimatewindowssecurity.com, Snare's output format appendix); the
tests check what correlog makes of each. Then the awkward cases one by one: labels run together,
missing values, APIDs, hex pids, malformed input. Last, a property: for any generated values,
reading the rendered message and reading the insertion strings give the same event.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given

from correlog import (
    EventKind,
    HostEvent,
    HostEventKind,
    Layout,
    ParseError,
    ProcessEvent,
)
from correlog.decoders import (
    EVENT_IDS,
    MESSAGE_DECODERS,
    STRING_DECODERS,
    decode_message,
    decode_strings,
)

from .strategies import Legacy, legacy_events

T = 1_046_769_300_000_000_000  # 2003-03-04T09:15:00Z, any time will do

# -- [A] Event 592, Windows NT 4.0, Microsoft KB 221212 ----------------------------------------
KB221212_592 = """A new process has been created:
   New Process ID:      2209180864
   Image File Name:     \\temp\\myprog.exe
   Creator Process ID:  2159539168
   User Name:           SYSTEM
   Domain:              NT AUTHORITY
   Logon ID:            (0x0,0x3E7)"""

# -- [B] Event 592, Windows 2000, pylogsparser (\WINNT path, APID-like values) -----------------
W2000_592 = """A new process has been created:
New Process ID: 2167588800
Image File Name: \\WINNT\\system32\\notepad.exe
Creator Process ID: 2167187648
User Name: administrator
Domain: ELMW2
Logon ID: (0x0,0x804C2)"""

# -- [C] Event 593, XP/2003 layout, pylogsparser -----------------------------------------------
XP_593 = """A process has exited:
Process ID: 2084
Image File Name: C:\\WINDOWS\\system32\\notepad.exe
User Name: administrator
Domain: ELM
Logon ID: (0x0,0x158EB7)"""

# -- [D] Event 600, 2003/XP, ultimatewindowssecurity.com ---------------------------------------
UWS_600 = """A process was assigned a primary token.
 Assigning Process Information:
  Process ID: 700
  Image File Name: C:\\WINDOWS\\system32\\winlogon.exe
  Primary User Name: DC3$
  Primary Domain: ACME
  Primary Logon ID: (0x0,0x3E7)
 New Process Information:
  Process ID: 3232
  Image File Name: C:\\WINDOWS\\system32\\userinit.exe
  Target User Name: administrator
  Target Domain: ACME
  Target Logon ID: (0x0,0x2DFE8B)"""

# -- [E] Event 593, Windows 2000 layout, in Snare's DataString (labels run together) ------------
SNARE_2000_593 = (
    "A process has exited:Process ID: 656 User Name: Administrator "
    "Domain: LE5678WSPLogon ID: (0x0,0x6C52)"
)


class TestDocumentedExamples:
    def test_nt4_592_keeps_apids_and_marks_the_layout(self) -> None:
        event = decode_message(592, KB221212_592, host="NT4BOX", time=T)
        assert event == ProcessEvent(
            kind=EventKind.CREATED,
            host="nt4box",
            pid=2209180864,
            time=T,
            event_id=592,
            image="\\temp\\myprog.exe",
            user="SYSTEM",
            domain="NT AUTHORITY",
            logon_id=0x3E7,
            own_account=False,
            creator_pid=2159539168,
            layout=Layout.NT4_2000,
        )
        assert event.is_apid

    def test_windows_2000_592_without_a_drive_letter(self) -> None:
        event = decode_message(592, W2000_592, host="ELMW2", time=T, record_number=7)
        assert isinstance(event, ProcessEvent)
        assert (event.pid, event.creator_pid) == (0x8132C7C0, 0x812CA8C0)
        assert event.image == "\\WINNT\\system32\\notepad.exe"
        assert (event.user, event.domain, event.logon_id) == ("administrator", "ELMW2", 0x804C2)
        assert event.layout is Layout.NT4_2000
        assert event.record_number == 7
        assert event.own_account is False

    def test_xp_593_names_the_image_and_its_own_account(self) -> None:
        event = decode_message(593, XP_593, host="ELM", time=T)
        assert event == ProcessEvent(
            kind=EventKind.EXITED,
            host="elm",
            pid=2084,
            time=T,
            event_id=593,
            image="C:\\WINDOWS\\system32\\notepad.exe",
            user="administrator",
            domain="ELM",
            logon_id=0x158EB7,
            own_account=True,
            layout=Layout.XP_2003,
        )

    def test_600_takes_the_target_account_and_the_assigning_process_as_creator(self) -> None:
        event = decode_message(600, UWS_600, host="DC3", time=T)
        assert event == ProcessEvent(
            kind=EventKind.TOKEN_ASSIGNED,
            host="dc3",
            pid=3232,
            time=T,
            event_id=600,
            image="C:\\WINDOWS\\system32\\userinit.exe",
            user="administrator",
            domain="ACME",
            logon_id=0x2DFE8B,
            own_account=True,
            creator_pid=700,
            creator_image="C:\\WINDOWS\\system32\\winlogon.exe",
            layout=Layout.XP_2003,
        )

    def test_snare_593_with_labels_run_together(self) -> None:
        event = decode_message(593, SNARE_2000_593, host="LE5678WSP", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.pid == 656
        assert event.image is None
        assert (event.user, event.domain, event.logon_id) == ("Administrator", "LE5678WSP", 0x6C52)
        assert event.layout is Layout.NT4_2000

    def test_the_same_events_from_insertion_strings(self) -> None:
        nt4 = decode_strings(
            592,
            [
                "2209180864",
                "\\temp\\myprog.exe",
                "2159539168",
                "SYSTEM",
                "NT AUTHORITY",
                "(0x0,0x3E7)",
            ],
            host="NT4BOX",
            time=T,
        )
        assert nt4 == decode_message(592, KB221212_592, host="NT4BOX", time=T)
        xp = decode_strings(
            593,
            [
                "2084",
                "C:\\WINDOWS\\system32\\notepad.exe",
                "administrator",
                "ELM",
                "(0x0,0x158EB7)",
            ],
            host="ELM",
            time=T,
        )
        assert xp == decode_message(593, XP_593, host="ELM", time=T)
        token = decode_strings(
            600,
            [
                "700",
                "C:\\WINDOWS\\system32\\winlogon.exe",
                "DC3$",
                "ACME",
                "(0x0,0x3E7)",
                "3232",
                "C:\\WINDOWS\\system32\\userinit.exe",
                "administrator",
                "ACME",
                "(0x0,0x2DFE8B)",
            ],
            host="DC3",
            time=T,
        )
        assert token == decode_message(600, UWS_600, host="DC3", time=T)
        w2000 = decode_strings(
            593, ["656", "Administrator", "LE5678WSP", "(0x0,0x6C52)"], host="LE5678WSP", time=T
        )
        assert w2000 == decode_message(593, SNARE_2000_593, host="LE5678WSP", time=T)


class TestLayouts:
    def test_593_layout_follows_the_string_count(self) -> None:
        four = decode_strings(593, ["4", "u", "d", "-"], host="h", time=T)
        five = decode_strings(593, ["4", "x.exe", "u", "d", "-"], host="h", time=T)
        assert isinstance(four, ProcessEvent)
        assert isinstance(five, ProcessEvent)
        assert (four.layout, four.image) == (Layout.NT4_2000, None)
        assert (five.layout, five.image) == (Layout.XP_2003, "x.exe")

    def test_593_message_layout_follows_the_image_label(self) -> None:
        without = decode_message(
            593, "Process ID: 4 User Name: u Domain: d Logon ID: -", host="h", time=T
        )
        with_dash = decode_message(
            593,
            "Process ID: 4 Image File Name: - User Name: u Domain: d Logon ID: -",
            host="h",
            time=T,
        )
        assert isinstance(without, ProcessEvent)
        assert isinstance(with_dash, ProcessEvent)
        assert without.layout is Layout.NT4_2000
        # A missing image is still the XP/2003 layout: the label is there.
        assert (with_dash.layout, with_dash.image) == (Layout.XP_2003, None)

    def test_592_with_real_pids_does_not_guess_the_platform(self) -> None:
        event = decode_strings(592, ["1452", "x", "1020", "u", "d", "-"], host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.layout is None

    @pytest.mark.parametrize(("pid", "creator"), [("2209180864", "4"), ("8", "2147483648")])
    def test_either_apid_marks_592_as_nt4_2000(self, pid: str, creator: str) -> None:
        event = decode_strings(592, [pid, "x", creator, "u", "d", "-"], host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.layout is Layout.NT4_2000

    def test_the_apid_threshold_itself_is_an_apid_and_one_below_is_not(self) -> None:
        at = decode_strings(592, ["2147483648", "x", "-", "u", "d", "-"], host="h", time=T)
        below = decode_strings(592, ["2147483647", "x", "-", "u", "d", "-"], host="h", time=T)
        assert isinstance(at, ProcessEvent)
        assert isinstance(below, ProcessEvent)
        assert (at.layout, below.layout) == (Layout.NT4_2000, None)


class TestNormalization:
    def test_dash_and_empty_are_missing(self) -> None:
        event = decode_strings(592, ["8", "-", "-", "", " - ", "-"], host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert (event.image, event.creator_pid, event.user, event.domain, event.logon_id) == (
            None,
            None,
            None,
            None,
            None,
        )

    def test_missing_values_in_a_message(self) -> None:
        text = (
            "A new process has been created: New Process ID: 8 Image File Name: - "
            "Creator Process ID: - User Name: Domain: - Logon ID: -"
        )
        event = decode_message(592, text, host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert (event.image, event.creator_pid, event.user, event.domain, event.logon_id) == (
            None,
            None,
            None,
            None,
            None,
        )

    @pytest.mark.parametrize(
        ("text", "pid"), [("3232", 3232), ("0xCA0", 3232), ("0xca0", 3232), (" 3232 ", 3232)]
    )
    def test_pids_are_decimal_or_hex_with_0x(self, text: str, pid: int) -> None:
        event = decode_strings(593, [text, "u", "d", "-"], host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.pid == pid

    @pytest.mark.parametrize(
        ("text", "luid"),
        [
            ("(0x0,0x3E7)", 0x3E7),
            ("(0x1,0x2)", (1 << 32) | 2),
            ("( 0x0 , 0x3e7 )", 0x3E7),
            ("0x3e7", 0x3E7),
            ("0X3E7", 0x3E7),
            ("(0xFFFFFFFF,0xFFFFFFFF)", 2**64 - 1),
        ],
    )
    def test_logon_ids(self, text: str, luid: int) -> None:
        event = decode_strings(593, ["4", "u", "d", text], host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.logon_id == luid

    def test_host_is_case_folded_and_strings_interned(self) -> None:
        # Build the strings at run time so they are not the compiler's interned constants.
        user = "".join(["IUSR_", "IIS02"])
        image = "".join(["C:\\PHP\\", "php.exe"])
        a = decode_strings(593, ["4", image, user, "IIS02", "-"], host="IIS02", time=T)
        b = decode_strings(
            593,
            ["8", "".join(["C:\\PHP\\", "php.exe"]), "".join(["IUSR_", "IIS02"]), "IIS02", "-"],
            host="iis02",
            time=T,
        )
        assert isinstance(a, ProcessEvent)
        assert isinstance(b, ProcessEvent)
        assert a.host == "iis02"
        assert a.host is b.host
        assert a.user is b.user is sys.intern(user)
        assert a.image is b.image

    def test_values_with_spaces_survive(self) -> None:
        text = (
            "A process has exited: Process ID: 4 "
            "Image File Name: C:\\Program Files\\My App\\a b.exe "
            "User Name: Some User Domain: NT AUTHORITY Logon ID: (0x0,0x3E7)"
        )
        event = decode_message(593, text, host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.image == "C:\\Program Files\\My App\\a b.exe"
        assert (event.user, event.domain) == ("Some User", "NT AUTHORITY")

    def test_text_after_the_logon_id_is_not_part_of_it(self) -> None:
        text = XP_593 + "   (trailing text a transport added)"
        event = decode_message(593, text, host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert event.logon_id == 0x158EB7

    def test_every_label_run_together(self) -> None:
        text = (
            "A new process has been created:New Process ID:1452Image File Name:\\WINNT\\cmd.exe"
            "Creator Process ID:1020User Name:SYSTEMDomain:NT AUTHORITYLogon ID:(0x0,0x3E7)"
        )
        event = decode_message(592, text, host="h", time=T)
        assert isinstance(event, ProcessEvent)
        assert (event.pid, event.image, event.creator_pid) == (1452, "\\WINNT\\cmd.exe", 1020)
        assert (event.user, event.domain, event.logon_id) == ("SYSTEM", "NT AUTHORITY", 0x3E7)


class TestHostEvents:
    def test_512_is_a_host_start(self) -> None:
        event = decode_message(
            512, "Windows is starting up.", host="IIS01", time=T, record_number=1
        )
        assert event == HostEvent(
            kind=HostEventKind.HOST_STARTED, host="iis01", time=T, event_id=512, record_number=1
        )
        assert decode_strings(512, [], host="IIS01", time=T, record_number=1) == event

    def test_516_carries_the_count_when_it_has_one(self) -> None:
        text = (
            "Internal resources allocated for the queuing of audit messages have been exhausted, "
            "leading to the loss of some audits. Number of audit messages discarded: 37"
        )
        event = decode_message(516, text, host="h", time=T)
        assert isinstance(event, HostEvent)
        assert (event.kind, event.dropped) == (HostEventKind.AUDITS_DISCARDED, 37)
        assert decode_strings(516, ["37"], host="h", time=T) == event
        counted_nothing = decode_strings(516, [], host="h", time=T)
        assert isinstance(counted_nothing, HostEvent)
        assert counted_nothing.dropped is None

    def test_516_with_a_count_that_is_not_a_number_is_an_error(self) -> None:
        with pytest.raises(ParseError, match="bad count"):
            decode_strings(516, ["many"], host="h", time=T)

    def test_517_is_a_log_clear(self) -> None:
        strings = ["Administrator", "DOM", "(0x0,0x1)", "Administrator", "DOM", "(0x0,0x1)"]
        event = decode_strings(517, strings, host="h", time=T)
        assert isinstance(event, HostEvent)
        assert event.kind is HostEventKind.LOG_CLEARED


class TestUnknownAndMalformed:
    @pytest.mark.parametrize("event_id", [528, 540, 4688, 0])
    def test_other_event_ids_are_not_errors(self, event_id: int) -> None:
        assert decode_strings(event_id, ["x"], host="h", time=T) is None
        assert decode_message(event_id, "anything", host="h", time=T) is None

    def test_the_decoder_tables_cover_exactly_the_known_ids(self) -> None:
        assert set(STRING_DECODERS) == set(MESSAGE_DECODERS) == EVENT_IDS

    @pytest.mark.parametrize(
        ("event_id", "count"), [(592, 5), (592, 7), (593, 3), (593, 6), (600, 9), (600, 0)]
    )
    def test_wrong_string_count(self, event_id: int, count: int) -> None:
        with pytest.raises(ParseError, match="wrong number of strings") as info:
            decode_strings(event_id, ["1"] * count, host="h", time=T, record_number=42)
        assert info.value.record == 42
        assert f"event {event_id}" in str(info.value)

    @pytest.mark.parametrize("pid", ["12ab", "0x", "0xZZ", "²", "-", "", "-4"])
    def test_bad_or_missing_pid(self, pid: str) -> None:
        with pytest.raises(ParseError, match="process id"):
            decode_strings(593, [pid, "u", "d", "-"], host="h", time=T)

    @pytest.mark.parametrize("logon", ["(0x0)", "3e7", "(0x0,0x123456789)", "(1,2)"])
    def test_bad_logon_id(self, logon: str) -> None:
        with pytest.raises(ParseError, match="bad logon id"):
            decode_strings(593, ["4", "u", "d", logon], host="h", time=T)

    @pytest.mark.parametrize(
        ("event_id", "text"),
        [
            (592, "A new process has been created."),
            (593, "Ein Prozess wurde beendet: Prozess-ID: 4"),
            (600, UWS_600.replace("New Process Information:", "")),
            (592, KB221212_592.replace("Logon ID:", "Logon:")),
        ],
    )
    def test_messages_without_their_labels(self, event_id: int, text: str) -> None:
        with pytest.raises(ParseError, match="unreadable message"):
            decode_message(event_id, text, host="h", time=T, record_number=9)

    def test_a_missing_host_is_an_error(self) -> None:
        with pytest.raises(ParseError, match="missing host"):
            decode_strings(593, ["4", "u", "d", "-"], host=" ", time=T)


@given(legacy_events())
def test_message_and_strings_agree(legacy: Legacy) -> None:
    """Whatever the values and whitespace, both entry points read the same event."""
    from_strings = decode_strings(legacy.event_id, legacy.strings, host="Host1", time=T)
    from_message = decode_message(legacy.event_id, legacy.message, host="Host1", time=T)
    assert from_message == from_strings
    assert isinstance(from_strings, ProcessEvent)
    assert from_strings.event_id == legacy.event_id
