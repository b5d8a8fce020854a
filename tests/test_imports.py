"""The import graph of ``correlog``: no cycle, and the Sigma engine only where it is used.

``import correlog`` and every command but ``hunt`` and ``watch --sigma`` start without pySigma
and without :mod:`correlog.sigma` (checked in ``sys.modules`` of a fresh interpreter).

The graph is read statically from every ``import`` statement of every module, lazy ones inside
functions included (a lazy import that closes a cycle still makes the layering circular, it only
hides it from the interpreter). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import correlog

PACKAGE = Path(correlog.__file__).parent


def module_name(path: Path) -> str:
    parts = ["correlog", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
            continue
        yield node
        yield from runtime_nodes(node)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The correlog modules ``path`` imports (anywhere in it, at run time)."""
    name = module_name(path)
    package = name if is_package(path) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = node.module or ""
            if node.level:
                target = f"{base}.{target}" if target else base
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, [*stack, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_the_import_graph_has_no_cycle_lazy_imports_included() -> None:
    graph = import_graph()
    assert "correlog.cli.hunt" in graph["correlog.cli"]  # the walk sees the package's imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_lazy_import_inside_a_function_is_an_edge() -> None:
    source = "def f():\n    from . import b\n"
    tree = ast.parse(source)
    assert any(isinstance(n, ast.ImportFrom) for n in runtime_nodes(tree))
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
    assert not any(
        isinstance(n, ast.ImportFrom) and n.module is None
        for n in runtime_nodes(ast.parse(guarded))
    )


def test_the_sigma_package_never_imports_the_command_line() -> None:
    graph = import_graph()
    sigma = [m for m in graph if m == "correlog.sigma" or m.startswith("correlog.sigma.")]
    assert sigma
    assert all(not any(t.startswith("correlog.cli") for t in graph[m]) for m in sigma)


_LOADED = """
import contextlib, io, sys
import correlog
{run}
print(" ".join(sorted(sys.modules)))
"""
_RUN = """
from correlog.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main({argv!r})
"""


def modules_after(argv: list[str] | None) -> set[str]:
    """The modules a fresh interpreter holds after ``import correlog`` (and running ``argv``)."""
    run = "" if argv is None else _RUN.format(argv=argv)
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(run=run)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split())


def sigma_engine(modules: set[str]) -> set[str]:
    """pySigma (``sigma``) and correlog's Sigma package among ``modules``."""
    return {m for m in modules if m.split(".")[0] == "sigma" or m.startswith("correlog.sigma")}


@pytest.mark.parametrize(
    "argv",
    [
        None,
        ["correlate", "--sample"],
        ["watch", "--sample"],
        ["events", "--sample"],
        ["sample"],
    ],
)
def test_only_hunting_imports_the_sigma_engine(argv: list[str] | None) -> None:
    assert sigma_engine(modules_after(argv)) == set()


def test_hunting_does_import_it(tmp_path: Path) -> None:
    pytest.importorskip("sigma")
    rule = tmp_path / "cmd.yml"
    rule.write_text(
        "title: cmd\nid: 00000000-0000-4000-8000-00000000c3d0\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection: {sel: {Image|endswith: '\\\\cmd.exe'}, condition: sel}\n",
        encoding="utf-8",
    )
    loaded = modules_after(["hunt", "--sample", "--rules", str(rule)])
    assert {"sigma", "correlog.sigma"} <= sigma_engine(loaded)  # so the check above can fail


# -- start-up: what a command imports that it does not use --------------------------------

#: Modules only some inputs and uses need (archives, pipes spooled to a file, Event XML, a named
#: time zone, a monitor's alert memory).
_INPUT_SPECIFIC = {"zipfile", "tempfile", "gzip", "xml.etree.ElementTree", "zoneinfo", "cachetools"}


def format_modules(modules: set[str]) -> set[str]:
    """The readers' per-format modules among ``modules`` (``correlog.readers.snare``, ...)."""
    prefix = "correlog.readers."
    return {m for m in modules if m.startswith(prefix) and not m[len(prefix)].startswith("_")}


def modules_after_code(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    code = f"import sys\n{code}\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def modules_after_reading(path: Path) -> set[str]:
    """The modules a fresh interpreter holds after reading every event of ``path``."""
    return modules_after_code(f"import correlog\nlist(correlog.read({str(path)!r}))")


def test_import_correlog_imports_no_format_reader_nor_archive_modules() -> None:
    # What start-up costs: a format's module (and what it needs) is imported by the first input
    # in that format, zipfile and tempfile by the first archive or spooled input.
    loaded = modules_after(None)
    assert format_modules(loaded) == set()
    assert loaded & _INPUT_SPECIFIC == set()


def test_reading_an_input_imports_its_format_only(tmp_path: Path) -> None:
    import zipfile

    sample = PACKAGE / "samples" / "iis-intrusion.snare"
    loaded = modules_after_reading(sample)
    assert "correlog.readers.snare" in loaded  # the walk sees what reading imports
    assert loaded & _INPUT_SPECIFIC == set()
    zipped = tmp_path / "sample.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(sample, "sample.snare")
    assert {"zipfile", "correlog.readers.snare"} <= modules_after_reading(zipped)


def test_the_command_line_imports_tls_and_package_resources_only_when_used() -> None:
    # ``listen --tls-cert`` needs ssl, ``--sample`` the package's resources: no other command.
    loaded = modules_after_code("import correlog.cli")
    assert loaded & {"ssl", "importlib.resources", *_INPUT_SPECIFIC} == set()
    assert "correlog.cli.listen" in loaded  # every command's module is there
