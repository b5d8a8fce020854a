"""Process trees: records linked creator -> children, per host, as data and as text.

Theory of operation
-------------------
A record names its creator two ways: :attr:`~correlog.Record.creator_process_id`, when the
correlator saw the creator's own events, and ``creator_pid`` / ``creator_image`` from the child's
events alone. :func:`build_forest` links a record under the record whose ``process_id`` is its
``creator_process_id``; a creator that has no record of its own (it started before the log, or
its events were filtered out) becomes a *synthetic* node, one per host and creator id (or, when
only the pid is known, per host and pid), so its children still hang together.

Links come from logs, and logs can lie (a reused pid, a forged field, two records claiming one
id): the forest never loops and never loses a record. Each record is exactly one node; when a
link would close a cycle it is dropped and that record becomes a root (found with a union-find
over the trees built so far, so even a hostile input costs near-linear time). Children are
sorted by start time (records without one by when they were first seen), then pid.

:func:`render_tree` prints the forest as indented text, one line per process, cut to a width;
:func:`marks_of` turns alerts and Sigma hits into the labels it shows beside a process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import attrs

from ._records import Alert, ProcessId, Record
from ._time import iso
from .rules import basename

if TYPE_CHECKING:
    from .sigma import Match

__all__ = ["Forest", "Marks", "Node", "build_forest", "marks_of", "render_tree"]

#: Labels shown beside processes: process id -> rule names (alert rules, Sigma rule titles).
Marks = Mapping[ProcessId, Sequence[str]]

#: A synthetic node's key: the creator id its children name, else (host, creator pid).
_SyntheticKey = tuple[str, ProcessId] | tuple[str, str, int]


@attrs.frozen(kw_only=True)
class Node:
    """One process in a tree: a record, or a creator known only from its children."""

    host: str
    pid: int
    #: The process's record; ``None`` for a creator that has no record in the input.
    record: Record | None
    image: str | None
    children: tuple[Node, ...] = ()

    @property
    def synthetic(self) -> bool:
        """True for a creator known only through its children's ``creator_*`` fields."""
        return self.record is None

    @property
    def start(self) -> int | None:
        """The process's start (ns), else when it was first seen; a synthetic node's earliest
        child's (it started before that)."""
        if self.record is not None:
            return _when(self.record)
        times = [t for t in (c.start for c in self.children) if t is not None]
        return min(times) if times else None

    def walk(self) -> Iterator[tuple[int, Node]]:
        """This node and its descendants, depth first, with their depth (0 for this one)."""
        stack: list[tuple[int, Node]] = [(0, self)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, c) for c in reversed(node.children))


@attrs.frozen
class Forest:
    """The process trees of every host: ``roots[host]`` are that host's top processes."""

    roots: Mapping[str, tuple[Node, ...]]

    def walk(self) -> Iterator[tuple[int, Node]]:
        """Every node of every host (hosts in name order), depth first, with its depth."""
        for host in sorted(self.roots):
            for root in self.roots[host]:
                yield from root.walk()

    def records(self) -> Iterator[Record]:
        """Every record in the forest, in tree order."""
        return (n.record for _, n in self.walk() if n.record is not None)


def _when(record: Record) -> int:
    return record.start if record.start is not None else record.first_seen


def _order(node: Node) -> tuple[int, int, int]:
    start = node.start
    return (start is None, 0 if start is None else start, node.pid)


class _Links:
    """Union-find over record indexes: which tree each record is in, to refuse cycles."""

    def __init__(self, size: int) -> None:
        self._up = list(range(size))

    def root(self, item: int) -> int:
        up = self._up
        while up[item] != item:
            up[item] = up[up[item]]
            item = up[item]
        return item

    def join(self, child: int, parent: int) -> bool:
        """Hang ``child`` (a tree's root) under ``parent``; False if that would close a cycle."""
        top = self.root(parent)
        if top == child:
            return False
        self._up[child] = top
        return True


def build_forest(records: Iterable[Record]) -> Forest:
    """Link records creator -> children into one tree set per host (see the module doc)."""
    items = list(records)
    index_of: dict[ProcessId, int] = {}
    for i, record in enumerate(items):
        index_of.setdefault(record.process_id, i)
    links = _Links(len(items))
    parent_of: dict[int, int] = {}
    synthetic_children: dict[_SyntheticKey, list[int]] = {}
    synthetic_pid: dict[_SyntheticKey, int] = {}
    # Latest first: in a loop, the links kept are later processes' claims on earlier creators
    # (as real ones are), and the one dropped is the claim of the loop's earliest process.
    for i in sorted(range(len(items)), key=lambda i: (-_when(items[i]), i)):
        record = items[i]
        creator = record.creator_process_id
        parent = None if creator is None else index_of.get(creator)
        if parent is not None and items[parent].host != record.host:
            parent = None  # a creator runs on its child's host: this link is wrong
        if parent is not None and parent != i and links.join(i, parent):
            parent_of[i] = parent
            continue
        if parent is None and creator is not None:
            key: _SyntheticKey = (record.host, creator)
            synthetic_pid[key] = creator[2]
        elif parent is None and record.creator_pid is not None:
            key = (record.host, record.channel or "", record.creator_pid)
            synthetic_pid[key] = record.creator_pid
        else:
            continue  # a root: no creator known, or its link would loop
        synthetic_children.setdefault(key, []).append(i)
    children: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        children.setdefault(parent, []).append(child)
    built = _build_nodes(items, children, parent_of)
    roots: dict[str, list[Node]] = {}
    grouped = {i for kids in synthetic_children.values() for i in kids}
    for i, record in enumerate(items):
        if i not in parent_of and i not in grouped:
            roots.setdefault(record.host, []).append(built[i])
    for key, kids in synthetic_children.items():
        first = items[kids[0]]
        image = next((items[k].creator_image for k in kids if items[k].creator_image), None)
        synthetic = Node(
            host=first.host,
            pid=synthetic_pid[key],
            record=None,
            image=image,
            children=tuple(sorted((built[k] for k in kids), key=_order)),
        )
        roots.setdefault(first.host, []).append(synthetic)
    return Forest({host: tuple(sorted(nodes, key=_order)) for host, nodes in roots.items()})


def _build_nodes(
    items: list[Record], children: Mapping[int, list[int]], parent_of: Mapping[int, int]
) -> dict[int, Node]:
    """Each record's node, children first (no recursion: a chain may be as long as the log)."""
    order: list[int] = []
    stack = [i for i in range(len(items)) if i not in parent_of]
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(children.get(i, ()))
    built: dict[int, Node] = {}
    for i in reversed(order):  # every child comes after its parent in ``order``
        record = items[i]
        kids = sorted((built[c] for c in children.get(i, ())), key=_order)
        built[i] = Node(
            host=record.host,
            pid=record.pid,
            record=record,
            image=record.image,
            children=tuple(kids),
        )
    return built


def marks_of(
    alerts: Iterable[Alert] = (), hits: Iterable[Match] = ()
) -> dict[ProcessId, list[str]]:
    """The labels to show beside processes: each alert's rule name, each Sigma hit's rule
    title, per process id, in order, without repeats."""
    marks: dict[ProcessId, list[str]] = {}
    labelled = [(a.record.process_id, a.rule) for a in alerts if a.record is not None]
    labelled += [(h.record.process_id, h.rule.title) for h in hits]
    for process, label in labelled:
        labels = marks.setdefault(process, [])
        if label not in labels:
            labels.append(label)
    return marks


#: The default width of a rendered line, when the caller does not know the terminal's.
DEFAULT_WIDTH: Final = 100
#: Below this a line would hold no more than its tree prefix.
_MIN_WIDTH: Final = 20


#: Tree branches: a child that has younger siblings, the last child, and the lines under them.
_BRANCH: Final = "\u251c\u2500 "
_LAST: Final = "\u2514\u2500 "
_PIPE: Final = "\u2502  "
_SPACE: Final = "   "
_ELLIPSIS: Final = "\u2026"


def describe(node: Node, labels: Sequence[str] = ()) -> str:
    """One process as a line of text: pid (after a ``!`` when it has ``labels``), image name,
    the labels in brackets, start (UTC, to the second), owner, and the command line."""
    record = node.record
    name = basename(node.image) if node.image else "?"
    parts = [f"! {node.pid}" if labels else str(node.pid), name]
    if labels:
        parts.append(f"[{', '.join(labels)}]")
    if record is None:
        parts.append("(no record: known from its children)")
        return "  ".join(parts)
    when = iso(record.start)
    parts.append("-" if when is None else when[:19].replace("T", " "))
    if record.user is not None:
        parts.append(f"{record.domain}\\{record.user}" if record.domain else record.user)
    if record.command_line:
        parts.append(" ".join(record.command_line.split()))
    elif node.image and node.image != name:
        parts.append(node.image)
    return "  ".join(parts)


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + _ELLIPSIS


def render_tree(forest: Forest, *, width: int = DEFAULT_WIDTH, marks: Marks | None = None) -> str:
    """The forest as text: a line per host, then one line per process (:func:`describe`),
    indented under its creator with box-drawing branches and cut to ``width`` characters (an
    ellipsis ends a cut line). A process with marks (see :func:`marks_of`) starts with ``!``
    and names them right after its image, so a cut keeps them as long as it can."""
    width = max(width, _MIN_WIDTH)
    marks = marks or {}
    lines: list[str] = []
    for host in sorted(forest.roots):
        lines.append(_cut(host, width))
        stack = _children_of("", forest.roots[host])
        while stack:
            prefix, last, node = stack.pop()
            labels = () if node.record is None else marks.get(node.record.process_id, ())
            lines.append(
                _cut(prefix + (_LAST if last else _BRANCH) + describe(node, labels), width)
            )
            stack.extend(_children_of(prefix + (_SPACE if last else _PIPE), node.children))
    return "".join(line + "\n" for line in lines)


def _children_of(prefix: str, nodes: Sequence[Node]) -> list[tuple[str, bool, Node]]:
    """Stack entries for ``nodes``, so that they pop in order (the last one marked last)."""
    return [(prefix, i == 0, node) for i, node in enumerate(reversed(nodes))]
