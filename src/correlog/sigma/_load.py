"""Loading rule files: compiled with pySigma, or read back from the compiled-rules cache."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._errors import UsageError
from . import _ir, _plain
from ._cache import RuleCache, cache_key, dumps, loads, stats_key
from ._convert import NotSupported
from ._index import RuleIndex
from ._rules import LoadReport, RuleSet, SigmaRule, Unsupported, _bad_input, _build, _pysigma

__all__ = ["load_rules"]


def _files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The rule files, as texts (cheaper than paths for a folder of a thousand), each spelled
    as its path prints (``./rules/`` as ``rules``)."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Sorted by their parts, as paths sort (``a/b`` before ``a-c/d``).
            found = sorted(_rule_files(str(path)), key=lambda name: name.split(os.sep))
            files.extend(found)
        elif path.exists():
            files.append(str(path))
        else:
            raise UsageError(f"no such rule file or directory: {raw}")
    return files


def _rule_files(folder: str) -> Iterator[str]:
    """The ``*.yml`` and ``*.yaml`` files under a folder, recursively (as texts: cheaper to
    find and to sort than paths, for a folder of a thousand rules)."""
    for top, _, names in os.walk(folder):
        for name in names:
            if name.endswith((".yml", ".yaml")):
                yield os.path.join(top, name)


#: How long before a load a rule file must have last changed (its ctime and mtime) for its
#: stat to stand for its bytes in a later run (:func:`_settled`); covers file systems' coarse
#: timestamps (FAT's two seconds) and the lag of the kernel's clock behind ``time.time_ns``.
SETTLED_NS = 2_000_000_000


def _contents(files: Sequence[str]) -> list[tuple[str, bytes | OSError]]:
    contents: list[tuple[str, bytes | OSError]] = []
    for path in files:
        try:
            with open(path, "rb") as file:
                contents.append((path, file.read()))
        except OSError as exc:
            contents.append((path, exc))
    return contents


def _stats(files: Sequence[str]) -> list[tuple[str, os.stat_result]] | None:
    """Each file's stat, or None where a stat cannot stand for the bytes: on Windows (whose
    ``st_ctime`` is the creation time, not the last change) or when a file cannot be stat'ed."""
    if os.name == "nt":
        return None
    try:
        return [(path, os.stat(path)) for path in files]
    except OSError:
        return None


def _settled(st: os.stat_result, began: int) -> bool:
    """Whether a file last changed well before ``began`` (when its stat was taken, before its
    bytes were read): any later change, even to the same size with its mtime set back, moves
    its ctime (which no user can set) past ``began``, so its stat can never again be this one."""
    return max(st.st_ctime_ns, st.st_mtime_ns) < began - SETTLED_NS


def _cached(cache: RuleCache, key: str) -> RuleSet | None:
    data = cache.load(key)
    if data is None:
        return None
    try:
        ruleset = _from_plain(data, cache.path(key))
    except (_plain.BadPlainData, UsageError, ValueError, TypeError, RecursionError) as exc:
        cache.ignore(f"{cache.path(key)} holds bad data ({exc})")
        return None
    ruleset.report = attrs.evolve(ruleset.report, cache="hit")
    return ruleset


def load_rules(*paths: str | os.PathLike[str], cache: RuleCache | None = None) -> RuleSet:
    """Load and compile every rule in the given files and directories (``*.yml``, recursive).

    Nothing is skipped silently: a file pySigma cannot parse, a rule for another log source,
    a rule using a feature the engine cannot run, a second rule with an id already loaded,
    each is in the returned set's :attr:`RuleSet.report` with its reason.

    ``cache``: a :class:`~correlog.sigma.RuleCache` to read the compiled rules from when the
    same files were compiled before (by the same versions), and to write them to otherwise.
    The report's ``cache`` says which happened, and why a cache was refused or ignored.
    """
    files = _files(paths)
    began = time.time_ns()
    stats = _stats(files) if cache is not None else None
    if cache is not None and stats is not None:
        # The files' stats stand for their bytes when a run recorded them settled (_settled).
        known = cache.recall(stats_key(stats))
        ruleset = None if known is None else _cached(cache, known)
        if ruleset is not None:
            return ruleset
    contents = _contents(files)
    readable = [(str(p), data) for p, data in contents if isinstance(data, bytes)]
    if cache is None or len(readable) < len(contents):
        # A file that could not be read now might be later: such a set is never cached.
        ruleset = _compile(contents)
        if cache is not None:
            ruleset.report = attrs.evolve(ruleset.report, cache="unused: a file was unreadable")
        return ruleset
    key = cache_key(readable)
    ruleset = _cached(cache, key)
    if ruleset is None:
        ruleset = _compile(contents)
        cache.store(key, _to_plain(ruleset))
        ruleset.report = attrs.evolve(ruleset.report, cache=cache.outcome)
    if stats is not None and all(_settled(st, began) for _, st in stats):
        cache.remember(stats_key(stats), key)
    return ruleset


def _compile(contents: Sequence[tuple[str, bytes | OSError]]) -> RuleSet:
    sigma = _pysigma()
    import yaml

    unreadable: tuple[type[Exception], ...] = (OSError, UnicodeDecodeError, *_bad_input())
    rules: list[SigmaRule] = []
    unsupported: list[Unsupported] = []
    seen: set[str] = set()
    for path, data in contents:
        source = str(path)
        try:
            if isinstance(data, OSError):
                raise data
            text = data.decode("utf-8")
            # pySigma's own loader, which is libyaml's (its from_yaml takes PyYAML's pure
            # Python one: four times slower over SigmaHQ's rules).
            documents = list(yaml.load_all(text, Loader=sigma.rule.SigmaYAMLLoader))
            # Filters collected, not applied, and references left alone: each file stands
            # alone, and a filter or correlation rule in it is reported, not acted on.
            collection = sigma.collection.SigmaCollection.from_dicts(
                documents, collect_errors=True, collect_filters=True, resolve_references=False
            )
        except unreadable as exc:
            unsupported.append(Unsupported(source, None, None, f"unreadable: {exc}"))
            continue
        unsupported.extend(
            Unsupported(source, None, None, f"invalid: {error}") for error in collection.errors
        )
        unsupported.extend(
            Unsupported(
                source,
                None if item.id is None else str(item.id),
                item.title,
                "not a detection rule: a Sigma filter (correlog does not apply filters)",
            )
            for item in collection.filters
        )
        for item in collection.rules:
            rid = None if getattr(item, "id", None) is None else str(item.id)
            title = getattr(item, "title", None)
            if not isinstance(item, sigma.rule.SigmaRule):
                kind = type(item).__name__
                unsupported.append(Unsupported(source, rid, title, f"not a detection rule: {kind}"))
                continue
            if item.errors:
                unsupported.extend(
                    Unsupported(source, rid, title, f"invalid: {error}") for error in item.errors
                )
                continue
            try:
                rule = _build(item, source)
            except NotSupported as exc:
                unsupported.append(Unsupported(source, rid, title, str(exc)))
                continue
            if rule.name in seen:
                unsupported.append(
                    Unsupported(source, rid, title, f"duplicate: id {rule.name} already loaded")
                )
                continue
            seen.add(rule.name)
            rules.append(rule)
    report = LoadReport(files=len(contents), compiled=len(rules), unsupported=tuple(unsupported))
    return RuleSet(rules, report=report)


# -- the cached form -------------------------------------------------------------------------

_RULE_KEYS = (
    "id", "title", "level", "status", "author", "source", "description", "references", "tags",
    "service", "fields", "tree",
)  # fmt: skip
_SET_KEYS = ("files", "rules", "unsupported", "index", "residual")


def _rule_to_plain(rule: SigmaRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "level": rule.level,
        "status": rule.status,
        "author": rule.author,
        "source": rule.source,
        "description": rule.description,
        "references": list(rule.references),
        "tags": list(rule.tags),
        "service": rule.service,
        "fields": sorted(rule.fields),
        # As JSON text, parsed on the rule's first use (see _tree_decoder).
        "tree": dumps(_plain.node_to_plain(rule.tree)),
    }


#: A rule's metadata that is text or None, and that is a list of texts.
_OPTIONAL_TEXTS = ("id", "title", "level", "status", "author", "source", "description", "service")
_TEXT_LISTS = ("references", "tags", "fields")
_RULE_KEY_SET = frozenset(_RULE_KEYS)
_TEXT_OR_NONE = frozenset({str, type(None)})


def _rule_from_plain(data: object, origin: Path) -> SigmaRule:
    """A rule's metadata, checked now; its tree checked and built when first asked. (The
    checks are by set, not a call per value: a cached start checks 1,183 rules.)"""
    if type(data) is not dict or data.keys() != _RULE_KEY_SET:
        raise _plain.BadPlainData(f"expected a mapping of {', '.join(_RULE_KEYS)}")
    if not _TEXT_OR_NONE.issuperset(map(type, map(data.__getitem__, _OPTIONAL_TEXTS))):
        raise _plain.BadPlainData("a rule's metadata is text or null")
    for name in _TEXT_LISTS:
        values = data[name]
        if type(values) is not list or not {str}.issuperset(map(type, values)):
            raise _plain.BadPlainData(f"a rule's {name} are a list of texts")
    title, source, rule_id = data["title"], data["source"], data["id"]
    if title is None or source is None:
        raise _plain.BadPlainData("a rule has a title and a source")
    if type(data["tree"]) is not str:
        raise _plain.BadPlainData("a rule's tree is JSON text")
    fields = frozenset(data["fields"])
    return SigmaRule._deferred(
        _tree_decoder(data["tree"], fields, origin, rule_id or title),
        fields,
        id=rule_id,
        title=title,
        level=data["level"],
        status=data["status"],
        author=data["author"],
        source=source,
        description=data["description"],
        references=tuple(data["references"]),
        tags=tuple(data["tags"]),
        service=data["service"],
    )


def _tree_decoder(
    text: str, fields: frozenset[str], origin: Path, name: str
) -> Callable[[], _ir.Node]:
    """What makes a cached rule's tree from its JSON text: parsed and checked as when the whole
    set was (the cache file's digest already told that it is what correlog wrote). A tree that
    fails the check can only come from a file rewritten on purpose with a matching digest: the
    file is deleted, so that the next run compiles the rules, and a :class:`UsageError` names
    it. (JSON that does not parse is a :class:`ValueError`, as :class:`~._plain.BadPlainData`
    is.)"""

    def decode() -> _ir.Node:
        try:
            tree = _plain.node_from_plain(loads(text))
            if _ir.fields_of(tree) != fields:
                raise _plain.BadPlainData("the rule's fields are not its tree's")
        except (ValueError, RecursionError) as exc:
            origin.unlink(missing_ok=True)
            raise UsageError(
                f"the compiled-rules cache {origin} holds a bad tree for rule {name} ({exc}); "
                "it was deleted: run again to compile the rules afresh"
            ) from None
        return tree

    return decode


def _to_plain(ruleset: RuleSet) -> dict[str, Any]:
    """A compiled set as plain data: its rules, its load report and its index's keys."""
    index = ruleset._index
    return {
        "files": ruleset.report.files,
        "rules": [_rule_to_plain(rule) for rule in ruleset.rules],
        "unsupported": [list(attrs.astuple(u)) for u in ruleset.report.unsupported],
        "index": index.tables,
        "residual": list(index.residual),
    }


def _unsupported_from_plain(data: object) -> Unsupported:
    if type(data) is not list or len(data) != 4:
        raise _plain.BadPlainData("an unsupported rule is a list of four")
    source, rule_id, title, reason = map(_plain.optional_text, data)
    if source is None or reason is None:
        raise _plain.BadPlainData("an unsupported rule has a source and a reason")
    return Unsupported(source, rule_id, title, reason)


def _from_plain(data: dict[str, Any], origin: Path) -> RuleSet:
    """The set :func:`_to_plain` wrote to ``origin``, checked (:class:`~._plain.BadPlainData`
    otherwise; each rule's tree when first asked, see :func:`_rule_from_plain`)."""
    d = _plain.expect_keys({k: v for k, v in data.items() if k not in ("format", "key")}, _SET_KEYS)
    if type(d["files"]) is not int or type(d["rules"]) is not list:
        raise _plain.BadPlainData("bad rule set")
    if type(d["unsupported"]) is not list:
        raise _plain.BadPlainData("bad list of unsupported rules")
    rules = [_rule_from_plain(r, origin) for r in d["rules"]]
    unsupported = tuple(_unsupported_from_plain(u) for u in d["unsupported"])
    size = len(rules)
    index = RuleIndex.from_tables(
        _plain.tables_from_plain(d["index"], size), _plain.indices(d["residual"], size), size
    )
    report = LoadReport(files=d["files"], compiled=size, unsupported=unsupported)
    return RuleSet(rules, report=report, index=index)
