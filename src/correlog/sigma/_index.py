"""Which rules a record could match, found without asking every rule.

Theory of operation
-------------------
Most of SigmaHQ's 1,183 process_creation rules can only match a process whose image (or
original file name) is one of a few named binaries, or whose command line holds one of a few
literals. For each rule the index computes a *trigger set*: atoms of which at least one is true
of every record the rule matches. An atom is one of

* ``base``: the basename of a path field equals a name (``Image|endswith: '\\cmd.exe'``, or
  ``'\\System32\\cmd.exe'``),
* ``eq``: a field equals a value (``OriginalFileName: 'Cmd.Exe'``),
* ``gram``: a field contains a 4-character substring of one of the rule's literals,
* ``after=``: a field holds ``=`` followed by 4 given characters. Only for ``Hashes``
  (``MD5=...,SHA256=...,IMPHASH=...``), where rules name hashes as ``ALGORITHM=HEX``: looking
  up what follows each ``=`` costs three lookups instead of the value's 150 substrings.

The trigger set of a leaf is its best atom; of ``a or b`` the union of both; of ``a and b`` the
cheaper of the two (both must hold, so either is necessary). A regular expression offers the
literal runs every match of it holds. A ``not``, a ``null`` test or a literal too short to give
a substring has none: a rule for which no trigger set can be found goes into the *residual*
list and is asked about every record.

For a record the index looks up the basename and the value of each indexed field in dicts, and
the set of its 4-character substrings against the substrings rules asked for; the rules named
(plus the residual ones) are the candidates, and only they are evaluated. A rule that is not a
candidate cannot be true (in two-valued or in three-valued logic: every step above keeps "the
rule is true implies an atom is true"), so this changes the cost, never the result.

Substrings are chosen to be rare: a substring common in ordinary command lines (``.exe``,
``\\win``) would make many records candidates for nothing, so each literal offers its substring
that occurs least in a small sample of ordinary Windows command lines (:data:`_BACKGROUND`), ties
broken by how few rules share it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

from ._ir import And, Const, Glob, Node, Not, Or, Regex, Str

__all__ = ["GRAM", "Atom", "RuleIndex", "triggers"]

#: Length of the substrings the index keys command lines by.
GRAM: Final = 4

#: Fields whose values are paths: an ``endswith '\name'`` test keys by basename.
PATH_FIELDS: Final = frozenset({"Image", "ParentImage"})

#: Fields keyed by the characters after each ``=`` when a literal allows (see ``after=``).
ANCHORED_FIELDS: Final = frozenset({"Hashes"})

#: Ordinary Windows command lines and paths (lower case): substrings frequent here are poor keys.
_BACKGROUND: Final = " ".join(
    [
        r'"c:\windows\system32\svchost.exe" -k netsvcs -p -s schedule',
        r"c:\windows\system32\svchost.exe -k localservicenetworkrestricted -p",
        r'"c:\program files (x86)\google\chrome\application\chrome.exe" --type=renderer',
        r"--field-trial-handle=1234,i,5678 --lang=en-us --service-sandbox-type=none",
        r'"c:\program files\microsoft office\root\office16\winword.exe" /n "c:\users\'',
        r"c:\users\administrator\appdata\local\temp\setup.exe /quiet",
        r"c:\users\public\documents\report.docx c:\programdata\microsoft\windows defender",
        r"\??\c:\windows\system32\conhost.exe 0xffffffff -forcev1",
        r'"c:\windows\system32\windowspowershell\v1.0\powershell.exe" -noprofile',
        r'c:\windows\system32\cmd.exe /c "c:\program files\app\run.bat"',
        r"c:\windows\system32\rundll32.exe c:\windows\system32\shell32.dll,control_rundll",
        r"c:\windows\system32\msiexec.exe /v c:\windows\syswow64\wbem\wmiprvse.exe",
        r'c:\windows\explorer.exe "c:\windows\system32\taskhostw.exe" microsoft\windows',
        r"c:\windows\microsoft.net\framework64\v4.0.30319\mscorsvw.exe -startupevent",
        r"c:\windows\system32\backgroundtaskhost.exe -serverName:app.microsoft.com",
    ]
)


class Atom(NamedTuple):
    """One necessary fact about a record: ``kind`` is ``base``, ``eq`` or ``gram``."""

    kind: str
    field: str
    text: str


def _grams(text: str) -> Iterable[str]:
    return (text[i : i + GRAM] for i in range(len(text) - GRAM + 1))


class _Chooser:
    """Picks each literal's rarest substring."""

    def __init__(self, literals: Iterable[str]) -> None:
        self.background = Counter(_grams(_BACKGROUND))
        self.shared: Counter[str] = Counter()
        for text in literals:
            self.shared.update(set(_grams(text.lower())))

    def gram(self, text: str) -> str | None:
        text = text.lower()
        if len(text) < GRAM:
            return None
        return min(_grams(text), key=lambda g: (self.background[g], self.shared[g], g))

    def cost(self, atoms: frozenset[Atom]) -> int:
        # A name or value lookup is as selective as it gets; a substring the sample holds
        # often costs more.
        return sum(1 if a.kind != "gram" else 2 + 5 * self.background[a.text] for a in atoms)


def literals(node: Node) -> Iterable[str]:
    """Every literal a tree's string tests hold (for the substring statistics)."""
    if isinstance(node, Str):
        yield node.text
    elif isinstance(node, Glob):
        yield from node.literals
    elif isinstance(node, Regex):
        yield from node.required
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from literals(item)
    elif isinstance(node, Not):
        yield from literals(node.item)


def _leaf_atom(node: Str | Glob | Regex, chooser: _Chooser) -> Atom | None:
    if isinstance(node, Str):
        text = node.text.lower()
        field = node.field
        if field in PATH_FIELDS and node.kind in ("eq", "endswith"):
            # A value equal to, or ending with, "...\\name" has the basename "name".
            cut = text.rfind("\\")
            if (node.kind == "eq" or cut >= 0) and text[cut + 1 :]:
                return Atom("base", field, text[cut + 1 :])
        elif node.kind == "eq":
            return Atom("eq", field, text)
        if field in ANCHORED_FIELDS:
            cut = text.find("=")
            if cut >= 0 and len(text) >= cut + 1 + GRAM:
                return Atom("after=", field, text[cut + 1 : cut + 1 + GRAM])
        gram = chooser.gram(text)
        return None if gram is None else Atom("gram", field, gram)
    runs = node.required if isinstance(node, Regex) else node.literals
    grams = [g for g in (chooser.gram(t) for t in runs) if g is not None]
    if not grams:
        return None
    best = min(grams, key=lambda g: (chooser.background[g], chooser.shared[g], g))
    return Atom("gram", node.field, best)


def triggers(node: Node, chooser: _Chooser) -> frozenset[Atom] | None:
    """Atoms one of which holds whenever the tree is true; None when none can be found."""
    if isinstance(node, Str | Glob | Regex):
        if node.field == "":
            return None
        atom = _leaf_atom(node, chooser)
        return None if atom is None else frozenset({atom})
    if isinstance(node, Const):
        return None if node.value else frozenset()
    if isinstance(node, Or):
        union: set[Atom] = set()
        for item in node.items:
            found = triggers(item, chooser)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if isinstance(node, And):
        options = [t for t in (triggers(item, chooser) for item in node.items) if t is not None]
        if not options:
            return None
        return min(options, key=chooser.cost)
    return None


class RuleIndex:
    """Candidate rules for a lowered view; see the module docs. ``trees[i]`` is rule ``i``."""

    def __init__(self, trees: Sequence[Node]) -> None:
        chooser = _Chooser(text for tree in trees for text in literals(tree))
        base: dict[str, dict[str, list[int]]] = {}
        eq: dict[str, dict[str, list[int]]] = {}
        gram: dict[str, dict[str, list[int]]] = {}
        after: dict[str, dict[str, list[int]]] = {}
        residual: list[int] = []
        tables = {"base": base, "eq": eq, "gram": gram, "after=": after}
        for i, tree in enumerate(trees):
            atoms = triggers(tree, chooser)
            if atoms is None:
                residual.append(i)
                continue
            for atom in atoms:
                tables[atom.kind].setdefault(atom.field, {}).setdefault(atom.text, []).append(i)
        self._base = [(f, {k: tuple(v) for k, v in t.items()}) for f, t in base.items()]
        self._eq = [(f, {k: tuple(v) for k, v in t.items()}) for f, t in eq.items()]
        self._after = [(f, {k: tuple(v) for k, v in t.items()}) for f, t in after.items()]
        self._gram = [
            (f, {k: tuple(v) for k, v in t.items()}, frozenset(t)) for f, t in gram.items()
        ]
        #: Rules asked about every record (no trigger set could be found).
        self.residual: tuple[int, ...] = tuple(residual)
        self.size = len(trees)

    def candidates(self, lowered: Mapping[str, str]) -> set[int]:
        """Indices of the rules that could match a record with this lowered view."""
        out = set(self.residual)
        for field, names in self._base:
            value = lowered.get(field)
            if value is not None:
                hits = names.get(value[value.rfind("\\") + 1 :])
                if hits is not None:
                    out.update(hits)
        for field, values in self._eq:
            value = lowered.get(field)
            if value is not None:
                hits = values.get(value)
                if hits is not None:
                    out.update(hits)
        for field, anchored in self._after:
            value = lowered.get(field)
            if value is not None:
                for piece in value.split("=")[1:]:
                    hits = anchored.get(piece[:GRAM])
                    if hits is not None:
                        out.update(hits)
        for field, grams, keys in self._gram:
            value = lowered.get(field)
            if value is None or len(value) < GRAM:
                continue
            if len(keys) * 2 < len(value):
                # Few keys, long value: asking for each key beats slicing every substring.
                for g in keys:
                    if g in value:
                        out.update(grams[g])
            else:
                present = {value[i : i + GRAM] for i in range(len(value) - GRAM + 1)}
                for g in present & keys:
                    out.update(grams[g])
        return out

    def stats(self) -> dict[str, int]:
        """How the rules are keyed: atom counts by kind, and the residual count."""
        return {
            "rules": self.size,
            "residual": len(self.residual),
            "base_keys": sum(len(t) for _, t in self._base),
            "eq_keys": sum(len(t) for _, t in self._eq),
            "gram_keys": sum(len(t) for _, t, _k in self._gram),
            "after_keys": sum(len(t) for _, t in self._after),
        }
