"""Process trees: every record once, links honoured, no loop whatever the links say."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import Monitor, ProcessId, Reason, Record, Status
from correlog.rules import AnonymousWeb
from correlog.tree import Forest, Node, build_forest, marks_of, render_tree

from . import iis7

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"


def record(pid: int, start: int | None = None, host: str = "web", **kw: Any) -> Record:
    fields: dict[str, Any] = {
        "host": host,
        "pid": pid,
        "image": f"C:\\bin\\p{pid}.exe",
        "user": "u",
        "domain": "D",
        "logon_id": None,
        "owner_source": None,
        "creator_pid": None,
        "creator_image": None,
        "start": start,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.FLUSHED,
        "provenance": (4688, pid),
        "layout": None,
        "first_seen": start if start is not None else 0,
        "process_id": (host, None, pid, start or 0, pid),
    }
    fields.update(kw)
    return Record(**fields)


def shape(node: Node) -> tuple[Any, ...]:
    return (node.pid, node.synthetic, tuple(shape(c) for c in node.children))


def records_of(path: Path | list[str]) -> tuple[list[Record], list[correlog.Alert]]:
    records: list[Record] = []
    monitor = Monitor([AnonymousWeb()], on_record=records.append)
    alerts = monitor.feed_many(correlog.read(path)) + monitor.close()
    return records, alerts


class TestLinks:
    def test_children_hang_under_their_creator_in_start_order(self) -> None:
        parent = record(1, 10)
        late = record(3, 30, creator_process_id=parent.process_id, creator_pid=1)
        early = record(2, 20, creator_process_id=parent.process_id, creator_pid=1)
        forest = build_forest([late, parent, early])
        assert [shape(n) for n in forest.roots["web"]] == [
            (1, False, ((2, False, ()), (3, False, ())))
        ]

    def test_creators_known_only_by_pid_become_one_synthetic_node_per_pid(self) -> None:
        a = record(2, 20, creator_pid=9, creator_image=r"C:\iis\w3wp.exe")
        b = record(3, 30, creator_pid=9)
        c = record(4, 40, creator_pid=8)
        forest = build_forest([a, b, c])
        [nine, eight] = forest.roots["web"]
        assert (nine.synthetic, nine.pid, nine.image, nine.start) == (
            True,
            9,
            r"C:\iis\w3wp.exe",
            20,
        )
        assert [n.pid for n in nine.children] == [2, 3]
        assert [n.pid for n in eight.children] == [4]

    def test_a_creator_id_without_its_record_is_a_synthetic_node_too(self) -> None:
        gone: ProcessId = ("web", None, 7, 5, 1)
        child = record(2, 20, creator_process_id=gone, creator_pid=7)
        [root] = build_forest([child]).roots["web"]
        assert (root.synthetic, root.pid, [c.pid for c in root.children]) == (True, 7, [2])

    def test_hosts_are_separate_trees(self) -> None:
        forest = build_forest([record(1, 1, host="b"), record(1, 1, host="a")])
        assert sorted(forest.roots) == ["a", "b"]

    def test_a_loop_is_cut_and_every_record_stays(self) -> None:
        a = record(1, 10)
        b = record(2, 20, creator_process_id=a.process_id)
        a = a._replace(creator_process_id=b.process_id)
        itself = record(3, 30)
        itself = itself._replace(creator_process_id=itself.process_id)
        forest = build_forest([a, b, itself])
        # The earlier process's claim on the later one is the one dropped.
        assert [shape(n) for n in forest.roots["web"]] == [
            (1, False, ((2, False, ()),)),
            (3, False, ()),
        ]

    def test_a_chain_as_long_as_a_log_needs_no_recursion(self) -> None:
        chain = [record(0, 0)]
        for n in range(1, 5000):
            chain.append(record(n, n, creator_process_id=chain[-1].process_id))
        forest = build_forest(reversed(chain))
        assert max(depth for depth, _ in forest.walk()) == 4999
        assert render_tree(forest).count("\n") == 5001


ids = st.integers(0, 7)


@st.composite
def linked_records(draw: st.DrawFn) -> list[Record]:
    """Records whose creator links point anywhere: at each other, at themselves, at ids that
    exist nowhere, with process ids shared between records."""
    count = draw(st.integers(0, 14))
    records = [
        record(
            draw(ids),
            draw(st.none() | st.integers(0, 50)),
            host=draw(st.sampled_from(["a", "b"])),
            creator_pid=draw(st.none() | ids),
        )
        for _ in range(count)
    ]
    linked = []
    for r in records:
        target = draw(st.none() | st.sampled_from(records) if records else st.none())
        creator = None if target is None else target.process_id
        if draw(st.booleans()):
            creator = (r.host, None, draw(ids), draw(ids), None)
        linked.append(r._replace(creator_process_id=creator))
    return linked


def nodes_of(forest: Forest) -> list[Node]:
    return [node for _, node in forest.walk()]


@given(linked_records())
def test_every_record_is_in_the_forest_exactly_once(records: list[Record]) -> None:
    forest = build_forest(records)
    assert Counter(forest.records()) == Counter(records)
    nodes = nodes_of(forest)
    assert len({id(n) for n in nodes}) == len(nodes)  # a node reached twice would be a loop
    # One line per node, and one per host.
    assert render_tree(forest).count("\n") == len(nodes) + len(forest.roots)


@given(linked_records())
def test_every_link_is_one_a_record_claims_and_children_are_in_start_order(
    records: list[Record],
) -> None:
    for _, node in build_forest(records).walk():
        starts = [c.start for c in node.children]
        known = [s for s in starts if s is not None]
        assert known == sorted(known)
        for child in node.children:
            assert child.record is not None
            assert child.host == node.host
            if node.record is not None:
                assert child.record.creator_process_id == node.record.process_id
            else:
                claimed = child.record.creator_process_id
                assert child.record.creator_pid == node.pid or (
                    claimed is not None and claimed[2] == node.pid
                )


class TestRender:
    def test_the_sample_tree_marks_the_intrusions(self) -> None:
        records, alerts = records_of(SAMPLE)
        text = render_tree(build_forest(records), width=200, marks=marks_of(alerts))
        marked = [line for line in text.splitlines() if "[anonymous-web]" in line]
        assert len(marked) == 2
        assert (
            "! 1452  cmd.exe  [anonymous-web]  2003-03-04 09:15:00  WEB2K\\IUSR_WEB2K" in marked[1]
        )
        assert "└─ ! 2216  ping.exe" in marked[0]
        assert "1020  ?  (no record: known from its children)" in text

    def test_lines_are_cut_to_the_width_and_keep_the_marks(self) -> None:
        records, alerts = records_of(iis7.log_lines(iis7.webshell_story()))
        text = render_tree(build_forest(records), width=80, marks=marks_of(alerts))
        lines = text.splitlines()
        assert max(len(line) for line in lines) == 80
        assert any(line.endswith("…") for line in lines)
        assert sum("! " in line for line in lines) == 1 + iis7.APPCMDS
        powershell = next(line for line in lines if "powershell.exe" in line)
        assert powershell.startswith("      └─ ! 4864  powershell.exe  [anonymous-web]  2024-05-06")

    def test_marks_name_each_rule_once(self) -> None:
        _, alerts = records_of(SAMPLE)
        marks = marks_of([*alerts, *alerts])
        assert sorted(tuple(v) for v in marks.values()) == [("anonymous-web",)] * 2

    def test_an_empty_forest_renders_nothing(self) -> None:
        assert render_tree(build_forest([])) == ""
