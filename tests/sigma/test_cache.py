"""The compiled-rules cache: the same rules back, never from a place another user can write,
never a way to run code, and whatever is wrong with a cached file, the rules compiled afresh."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from correlog import UsageError
from correlog.cli import main
from correlog.sigma import RuleCache, RuleSet, _cache, _ir, _load, _plain, load_rules

from .conftest import RULES_DIR
from .records import sysmon_record
from .views import views_for_all

needs_rules = pytest.mark.skipif(not RULES_DIR.is_dir(), reason="no shared SigmaHQ rules")

_RULE = """\
title: {title}
id: {rule_id}
level: high
logsource: {{category: process_creation, product: windows}}
detection:
    sel: {{Image|endswith: '{ending}', CommandLine|contains|all: ['-enc', ' -nop']}}
    other: {{CommandLine|re: '(?i)iex\\s*\\('}}
    condition: sel or other
"""


def _write_rules(folder: Path, n: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        text = _RULE.format(
            title=f"rule {i}", rule_id=f"00000000-0000-4000-8000-{i:012d}", ending=f"\\\\x{i}.exe"
        )
        (folder / f"r{i}.yml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return _write_rules(tmp_path / "rules")


@pytest.fixture
def cache(tmp_path: Path) -> RuleCache:
    return RuleCache(tmp_path / "cache")


def _same(a: RuleSet, b: RuleSet) -> None:
    assert [(r.id, r.title, r.level, r.source, r.tags, r.tree, r.fields) for r in a] == [
        (r.id, r.title, r.level, r.source, r.tags, r.tree, r.fields) for r in b
    ]
    assert a.index_stats() == b.index_stats()
    assert (a.report.files, a.report.unsupported) == (b.report.files, b.report.unsupported)


def _files(cache: RuleCache) -> list[Path]:
    return sorted(cache.folder.glob("rules-*.json"))


def test_the_second_load_reads_the_cache(rules: Path, cache: RuleCache) -> None:
    first = load_rules(rules, cache=cache)
    assert first.report.cache == "written"
    [stored] = _files(cache)
    assert stat_mode(stored) == 0o600
    assert stat_mode(cache.folder) == 0o700
    second = load_rules(rules, cache=RuleCache(cache.folder))
    assert second.report.cache == "hit"
    assert "(cached)" in second.report.summary()
    _same(first, second)
    record = sysmon_record(image="C:\\x1.exe", command_line="a -nop -ENC b")
    assert [r.id for r in second.match(record)] == [r.id for r in first.match(record)] != []


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_changed_rules_or_another_version_make_a_new_entry(
    rules: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rules(rules, cache=cache)
    (rules / "r1.yml").write_text(
        (rules / "r1.yml").read_text(encoding="utf-8").replace("level: high", "level: low"),
        encoding="utf-8",
    )
    changed = load_rules(rules, cache=RuleCache(cache.folder))
    assert changed.report.cache == "written"
    assert [r.level for r in changed] == ["high", "low", "high"]
    monkeypatch.setattr(_cache, "__version__", "99.0")
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "written"
    assert len(_files(cache)) == 3


def test_at_most_keep_entries_are_kept(tmp_path: Path, cache: RuleCache) -> None:
    for n in range(1, _cache.KEEP + 3):
        load_rules(_write_rules(tmp_path / f"set{n}", n), cache=RuleCache(cache.folder))
    assert len(_files(cache)) == _cache.KEEP


def _rewrite(stored: Path, damage: Callable[[str], str], *, digest: bool = True) -> None:
    """Change a cached file's data; with ``digest``, as a forger would: its digest to match."""
    head, _, body = stored.read_bytes().partition(b"\n")
    data = damage(body.decode("utf-8")).encode("utf-8")
    stored.write_bytes(
        (hashlib.sha256(data).hexdigest().encode() if digest else head) + b"\n" + data
    )


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda text: text[: len(text) // 2], "not readable JSON"),
        (lambda text: "\x00garbage", "not readable JSON"),
        (lambda text: text.replace('"high"', "1", 1), "bad data"),
        (lambda text: text.replace('"fields":["', '"fields":[1,"', 1), "bad data"),
        (lambda text: text.replace('"key":"', '"key":"0', 1), "other rules or another version"),
        (lambda text: text.replace('"residual":[', '"residual":[99,', 1), "bad data"),
    ],
    ids=["truncated", "garbage", "wrong-type", "fields", "key", "index"],
)
def test_a_damaged_cache_is_ignored_and_rewritten(
    rules: Path, cache: RuleCache, damage: Callable[[str], str], why: str
) -> None:
    fresh = load_rules(rules, cache=cache)
    [stored] = _files(cache)
    _rewrite(stored, damage)
    again = load_rules(rules, cache=RuleCache(cache.folder))
    assert again.report.cache.startswith("ignored: ")
    assert why in again.report.cache
    assert again.report.cache.endswith("; written again")
    _same(fresh, again)
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "hit"


def test_any_change_that_keeps_the_digest_is_ignored(rules: Path, cache: RuleCache) -> None:
    load_rules(rules, cache=cache)
    [stored] = _files(cache)
    _rewrite(stored, lambda text: text.replace("x1.exe", "x9.exe", 1), digest=False)
    again = load_rules(rules, cache=RuleCache(cache.folder))
    assert again.report.cache == (
        f"ignored: {stored} is damaged (its digest does not match its data); written again"
    )


@pytest.mark.parametrize(
    "damage",
    [
        # A tree is JSON text inside the file's JSON: its quotes are escaped there.
        lambda text: text.replace('[\\"str\\",', '[\\"evil\\",', 1),
        lambda text: text.replace('\\"endswith\\"', '\\"endswith(1) or exec(2)#\\"', 1),
        lambda text: text.replace('"fields":["', '"fields":["Other","', 1),
        lambda text: text.replace('"tree":"[', '"tree":"{[', 1),
    ],
    ids=["unknown-node", "code-as-kind", "fields-not-the-tree's", "tree-not-json"],
)
def test_a_forged_tree_is_refused_when_first_asked(
    rules: Path, cache: RuleCache, damage: Callable[[str], str]
) -> None:
    # Trees are checked when a rule is first asked, not at load: a forged one (its digest made
    # to match) never runs, the file is deleted and the error names it.
    load_rules(rules, cache=cache)
    [stored] = _files(cache)
    _rewrite(stored, damage)
    forged = load_rules(rules, cache=RuleCache(cache.folder))
    assert forged.report.cache == "hit"
    # The first rule's data was changed: asking it is what finds out.
    with pytest.raises(UsageError, match=r"holds a bad tree for rule .*run again") as caught:
        forged.rules[0].matches({"Image": "C:\\x0.exe", "CommandLine": "a -nop -enc b"})
    assert str(stored) in str(caught.value)
    assert not stored.exists()
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "written"


needs_posix = pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership checks")


@needs_posix
def test_a_folder_others_can_write_is_refused(rules: Path, cache: RuleCache) -> None:
    fresh = load_rules(rules, cache=cache)
    cache.folder.chmod(0o777)
    refused = load_rules(rules, cache=RuleCache(cache.folder))
    assert refused.report.cache == f"refused: {cache.folder} is writable by group or others"
    _same(fresh, refused)
    cache.folder.chmod(0o700)
    [stored] = _files(cache)
    stored.chmod(0o620)
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == (
        f"refused: {stored} is writable by group or others"
    )


@needs_posix
def test_a_parent_others_can_write_is_refused_unless_sticky(tmp_path: Path, rules: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    cache = RuleCache(shared / "correlog")
    report = load_rules(rules, cache=cache).report
    assert report.cache == f"refused: {shared} is writable by group or others"
    shared.chmod(0o1777)  # as /tmp: others may add files, not replace ours
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "written"


@needs_posix
def test_symbolic_links_are_not_followed(tmp_path: Path, rules: Path, cache: RuleCache) -> None:
    load_rules(rules, cache=cache)
    [stored] = _files(cache)
    elsewhere = tmp_path / "elsewhere.json"
    stored.rename(elsewhere)
    stored.symlink_to(elsewhere)
    report = load_rules(rules, cache=RuleCache(cache.folder)).report
    assert report.cache.startswith(f"refused: cannot open {stored}")
    linked = tmp_path / "linked"
    linked.symlink_to(cache.folder)
    assert load_rules(rules, cache=RuleCache(linked)).report.cache == (
        f"refused: {linked} is a symbolic link"
    )


@needs_posix
@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_a_file_another_user_owns_is_refused(rules: Path, cache: RuleCache) -> None:
    load_rules(rules, cache=cache)
    [stored] = _files(cache)
    os.chown(stored, 4321, -1)
    report = load_rules(rules, cache=RuleCache(cache.folder)).report
    assert report.cache == f"refused: {stored} belongs to uid 4321, not to this user (0)"
    os.chown(cache.folder, 4321, -1)
    assert "belongs to uid 4321" in load_rules(rules, cache=RuleCache(cache.folder)).report.cache


def test_a_literal_never_becomes_code() -> None:
    # Texts go into the generated predicate as Python literals (repr), whatever they hold.
    sly = "x' or __import__('os')._exit(3) or '"
    node = _plain.node_from_plain(["or", [["str", "Image", "eq", sly, False], ["null", sly]]])
    predicate = _ir.compile_predicate(node)
    assert predicate({"Image": "y", sly: "1"}, {"image": "y", sly: "1"}) is False
    assert predicate({"Image": sly}, {"Image": sly}) is True


def test_the_default_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if sys.platform == "win32":
        assert _cache.default_folder({"LOCALAPPDATA": "C:\\L"}) == Path("C:\\L/correlog/cache")
        return
    assert _cache.default_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "correlog"
    home = Path.home() / ".cache" / "correlog"
    assert _cache.default_folder({"XDG_CACHE_HOME": "relative/path"}) == home
    assert _cache.default_folder({}) == home


def test_hunt_uses_the_cache_unless_told_not_to(
    capsys: pytest.CaptureFixture[str], rules: Path, tmp_path: Path
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    folder = Path(os.environ["XDG_CACHE_HOME"]) / "correlog"
    before = set(folder.glob("*")) if folder.exists() else set()
    assert main(["hunt", str(log), "--rules", str(rules), "--no-cache"]) == 0
    assert (set(folder.glob("*")) if folder.exists() else set()) == before
    assert "(cached)" not in capsys.readouterr().err
    assert main(["hunt", str(log), "--rules", str(rules)]) == 0
    assert main(["hunt", str(log), "--rules", str(rules)]) == 0
    assert "compiled 3 Sigma rules from 3 files (cached)" in capsys.readouterr().err
    folder.chmod(0o777)
    try:
        assert main(["hunt", str(log), "--rules", str(rules)]) == 0
    finally:
        folder.chmod(0o700)
    if hasattr(os, "getuid"):
        err = capsys.readouterr().err
        assert "compiled-rules cache refused: " in err
        assert "writable by group or others" in err


def test_a_cached_hunt_needs_no_pysigma(rules: Path, cache: RuleCache) -> None:
    load_rules(rules, cache=cache)
    script = (
        "import sys\nfrom correlog.sigma import RuleCache, load_rules\n"
        f"s = load_rules({str(rules)!r}, cache=RuleCache({str(cache.folder)!r}))\n"
        "print(s.report.cache, len(s), 'sigma' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["hit", "3", "False"]


@needs_rules
def test_sigmahq_rules_come_back_from_the_cache_unchanged(sigmahq: RuleSet, tmp_path: Path) -> None:
    cache = RuleCache(tmp_path / "cache")
    assert load_rules(RULES_DIR, cache=cache).report.cache == "written"
    cached = load_rules(RULES_DIR, cache=RuleCache(cache.folder))
    assert cached.report.cache == "hit"
    # Matched first, so that each cached rule's tree is made when routing first asks for it.
    views = views_for_all(list(sigmahq))
    for view in views:
        assert [r.id for r in cached.match_view(view)] == [r.id for r in sigmahq.match_view(view)]
    _same(sigmahq, cached)
    # The plain form holds everything: a tree written and read back is the same tree.
    assert all(_plain.node_from_plain(_plain.node_to_plain(r.tree)) == r.tree for r in sigmahq)
    stored = next(cache.folder.glob("rules-*.json")).read_bytes()
    data = json.loads(stored.partition(b"\n")[2])
    assert len(data["rules"]) == 1183


def _no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(files: object) -> None:
        raise AssertionError("the rule files were read")

    monkeypatch.setattr(_load, "_contents", refuse)


@needs_posix
def test_settled_files_are_known_by_their_stats(
    rules: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "SETTLED_NS", 0)  # the files were written just now
    fresh = load_rules(rules, cache=cache)
    assert len(list(cache.folder.glob("stats-*"))) == 1
    with monkeypatch.context() as patched:
        _no_reading(patched)
        again = load_rules(rules, cache=RuleCache(cache.folder))
    assert again.report.cache == "hit"
    _same(fresh, again)


@needs_posix
def test_a_rule_changed_behind_an_unchanged_mtime_is_read_again(
    rules: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same size, same mtime (set back, as an archive or a copy keeping times would), same
    # inode: only the ctime, which no user can set, tells; the stat key holds it.
    monkeypatch.setattr(_load, "SETTLED_NS", 0)
    load_rules(rules, cache=cache)
    rule = rules / "r1.yml"
    before = rule.stat()
    time.sleep(0.05)  # past the kernel clock's tick: with SETTLED_NS off, nothing else waits
    with rule.open("r+", encoding="utf-8") as file:
        text = file.read()
        file.seek(0)
        file.write(text.replace("level: high", "level: low "))
    os.utime(rule, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = rule.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    changed = load_rules(rules, cache=RuleCache(cache.folder))
    assert [r.level for r in changed] == ["high", "low", "high"]


def test_files_changed_just_now_are_not_known_by_their_stats(
    rules: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file changed within SETTLED_NS of a load could change again with the same stat within
    # a timestamp's granularity: its stat is not kept, its bytes are read next time.
    load_rules(rules, cache=cache)
    assert list(cache.folder.glob("stats-*")) == []
    with monkeypatch.context() as patched:
        _no_reading(patched)
        with pytest.raises(AssertionError, match="were read"):
            load_rules(rules, cache=RuleCache(cache.folder))
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "hit"


@needs_posix
def test_a_stats_file_naming_a_missing_set_falls_back_to_the_bytes(
    rules: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "SETTLED_NS", 0)
    load_rules(rules, cache=cache)
    [pointer] = cache.folder.glob("stats-*")
    for stored in _files(cache):
        stored.unlink()
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "written"
    pointer.write_text("not a key")
    assert load_rules(rules, cache=RuleCache(cache.folder)).report.cache == "hit"
