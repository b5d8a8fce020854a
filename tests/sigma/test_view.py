"""The Sigma view: Sysmon's names and spellings, absent never empty, and each source's schema."""

from __future__ import annotations

from correlog import EventKind
from correlog.sigma import record_schema, schema_label, sigma_view
from correlog.sigma.view import SYSMON_CREATE_FIELDS

from .records import legacy_record, sysmon_record


def test_a_sysmon_record_reads_under_sysmon_names_and_spellings() -> None:
    view = sigma_view(sysmon_record())
    assert view["Image"] == r"C:\Windows\System32\bitsadmin.exe"
    assert view["ParentImage"] == r"C:\Windows\System32\cmd.exe"
    assert view["User"] == "WS1\\xodih"
    assert view["LogonId"] == "0x317fb"  # lower-case hex, as Sysmon renders it
    assert view["ProcessId"] == "7732"
    assert view["ParentProcessId"] == "14736"
    assert view["IntegrityLevel"] == "Medium"
    assert view["OriginalFileName"] == "bitsadmin.exe"
    assert view["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert view["CommandLine"].startswith("bitsadmin /transfer")
    assert all(isinstance(v, str) for v in view.values())
    assert set(view) <= SYSMON_CREATE_FIELDS


def test_a_field_the_record_does_not_know_is_absent_not_empty() -> None:
    view = sigma_view(legacy_record(command_line=None, creator_image=None, logon_id=None))
    for field in ("CommandLine", "ParentImage", "LogonId", "OriginalFileName", "IntegrityLevel"):
        assert field not in view
    assert sigma_view(sysmon_record(command_line=""))["CommandLine"] == ""


def test_a_user_without_domain_is_the_bare_name() -> None:
    assert sigma_view(legacy_record(domain=None))["User"] == "IUSR_WEB2K"
    assert "User" not in sigma_view(legacy_record(user=None, domain=None))


def test_extra_never_overrides_the_merged_fields() -> None:
    record = sysmon_record(extra={"Image": "forged.exe", "User": "x\\y", "Hashes": "MD5=00"})
    view = sigma_view(record)
    assert view["Image"] == r"C:\Windows\System32\bitsadmin.exe"
    assert view["User"] == "WS1\\xodih"
    assert view["Hashes"] == "MD5=00"


def test_providers_by_source() -> None:
    assert sigma_view(legacy_record())["Provider_Name"] == "Security"
    vista = legacy_record(provenance=(4688, 1, 4689, 2))
    assert sigma_view(vista)["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert "Provider_Name" not in sigma_view(legacy_record(provenance=()))


def test_schemas_say_what_each_source_always_carries() -> None:
    sysmon = record_schema(sysmon_record())
    assert {"CommandLine", "OriginalFileName", "ParentImage", "Hashes"} <= sysmon
    legacy = record_schema(legacy_record())
    assert "CommandLine" not in legacy
    assert "ParentImage" not in legacy  # a 592 names the creator's pid, never its image
    assert {"Image", "User", "LogonId", "ProcessId", "ParentProcessId"} <= legacy
    # A 600 names the assigning process's image: the creator's, for every documented case.
    assert "ParentImage" in record_schema(legacy_record(provenance=(592, 1, 600, 2)))
    # Windows 2000's 593 has no image: a record from it alone does not carry one.
    assert "Image" not in record_schema(legacy_record(provenance=(593, 9)))
    # A source correlog has no table for carries nothing for sure.
    assert record_schema(legacy_record(provenance=())) == frozenset()


def test_schema_labels_name_the_log_and_the_events() -> None:
    assert schema_label(sysmon_record()) == "sysmon:1"
    assert schema_label(legacy_record()) == "security:592+593"
    assert schema_label(legacy_record(provenance=(593, 2, 592, 1))) == "security:592+593"
    assert schema_label(legacy_record(provenance=())) == "security:-"


def test_the_owner_source_does_not_change_the_view() -> None:
    # The view shows the merged owner; which event named it is the record's business.
    a = sigma_view(legacy_record(owner_source=EventKind.CREATED))
    b = sigma_view(legacy_record(owner_source=EventKind.EXITED))
    assert a == b
