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
* ``char``: a field holds a given character, for literals shorter than a substring key (SigmaHQ
  looks for emoji, homoglyphs, the right-to-left override and ``^^`` this way): the literal's
  rarest character, a non-ASCII one when it has one. Nearly every real value is ASCII, which
  Python knows without reading it, so non-ASCII keys cost nothing on such values.
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

__all__ = ["GRAM", "KINDS", "Atom", "RuleIndex", "Tables", "triggers"]

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
        # An image's name or original name is as selective as it gets; a parent's name less
        # (a few parents start most processes); any other field's value (Company, integrity
        # level) may be shared by half the records; a substring the sample holds often is a
        # poor key too, and an ASCII character poorer.
        return sum(_cost(a, self.background) for a in atoms)


def _cost(atom: Atom, background: Counter[str]) -> int:
    if atom.kind == "gram":
        return 2 + 5 * background[atom.text]
    if atom.kind == "char":
        return 2 if not atom.text.isascii() else 3 + 5 * _BACKGROUND.count(atom.text)
    if atom.field in ("Image", "OriginalFileName"):
        return 1
    if atom.field == "ParentImage":
        return 2
    return 6


def _rarest_char(text: str) -> str:
    return min(text, key=lambda c: (c.isascii(), c.isalnum(), _BACKGROUND.count(c), c))


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
        if 0 < len(text) < GRAM:
            return Atom("char", field, _rarest_char(text))
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


class _FieldKeys:
    """Every key the rules ask of one field, and what a value of that field makes candidate."""

    __slots__ = ("after", "ascii_chars", "base", "chars", "eq", "field", "grams", "memo")

    def __init__(self, field: str, tables: Mapping[str, Mapping[str, list[int]]]) -> None:
        def frozen(kind: str) -> dict[str, tuple[int, ...]]:
            return {k: tuple(v) for k, v in tables.get(kind, {}).items()}

        self.field = field
        self.base = frozen("base")
        self.eq = frozen("eq")
        self.after = frozen("after=")
        self.chars = frozen("char")
        self.ascii_chars = any(k.isascii() for k in self.chars)
        self.grams = frozen("gram")
        self.memo: dict[str, tuple[int, ...]] = {}

    def hits(self, value: str) -> tuple[int, ...]:
        """The rules a value of this field makes candidate (memoised: see :meth:`_hits`)."""
        found = self.memo.get(value)
        if found is None:
            found = self._hits(value)
            if len(self.memo) >= _MEMO_SIZE:
                # Images, parents, companies repeat endlessly, command lines less: a bounded
                # memo, emptied when full, keeps the common values without growing.
                self.memo.clear()
            self.memo[value] = found
        return found

    def _hits(self, value: str) -> tuple[int, ...]:
        out: set[int] = set()
        if self.base:
            out.update(self.base.get(value[value.rfind("\\") + 1 :], ()))
        if self.eq:
            out.update(self.eq.get(value, ()))
        if self.chars and (self.ascii_chars or not value.isascii()):
            for ch in self.chars.keys() & set(value):
                out.update(self.chars[ch])
        if self.after:
            for piece in value.split("=")[1:]:
                out.update(self.after.get(piece[:GRAM], ()))
        grams = self.grams
        if grams and len(value) >= GRAM:
            if len(grams) * 2 < len(value):
                # Few keys, long value: asking for each key beats slicing every substring.
                for g, rules in grams.items():
                    if g in value:
                        out.update(rules)
            else:
                present = {value[i : i + GRAM] for i in range(len(value) - GRAM + 1)}
                for g in grams.keys() & present:
                    out.update(grams[g])
        return tuple(sorted(out))


#: Values remembered per field (see :meth:`_FieldKeys.hits`).
_MEMO_SIZE: Final = 4096


#: Every kind of atom (see the module docs).
KINDS: Final = ("base", "eq", "after=", "char", "gram")

#: The index as plain data: per field, per atom kind, per key text, the rules' indices.
Tables = dict[str, dict[str, dict[str, list[int]]]]


class RuleIndex:
    """Candidate rules for a lowered view; see the module docs. ``trees[i]`` is rule ``i``."""

    def __init__(self, trees: Sequence[Node]) -> None:
        chooser = _Chooser(text for tree in trees for text in literals(tree))
        by_field: Tables = {}
        residual: list[int] = []
        for i, tree in enumerate(trees):
            atoms = triggers(tree, chooser)
            if atoms is None:
                residual.append(i)
                continue
            for atom in atoms:
                kinds = by_field.setdefault(atom.field, {})
                kinds.setdefault(atom.kind, {}).setdefault(atom.text, []).append(i)
        self._setup(by_field, residual, len(trees))

    def _setup(self, tables: Tables, residual: Iterable[int], size: int) -> None:
        #: The keys as plain data (what :meth:`from_tables` takes back).
        self.tables = tables
        self._fields = [_FieldKeys(field, kinds) for field, kinds in sorted(tables.items())]
        #: Rules asked about every record (no trigger set could be found).
        self.residual: tuple[int, ...] = tuple(residual)
        self.size = size

    @classmethod
    def from_tables(cls, tables: Tables, residual: Iterable[int], size: int) -> RuleIndex:
        """An index from the keys another one computed (:attr:`tables`, :attr:`residual`)."""
        index = cls.__new__(cls)
        index._setup(tables, residual, size)
        return index

    def subset(self, kept: Sequence[int]) -> RuleIndex:
        """The index of the rules ``kept`` (indices into this one, in order), renumbered.

        Each rule's keys hold whatever other rules are indexed with it, so the keys are kept
        as they are, without choosing them again.
        """
        new = {old: i for i, old in enumerate(kept)}
        tables: Tables = {}
        for field, kinds in self.tables.items():
            for kind, keys in kinds.items():
                for text, rules in keys.items():
                    renumbered = [new[r] for r in rules if r in new]
                    if renumbered:
                        tables.setdefault(field, {}).setdefault(kind, {})[text] = renumbered
        residual = [new[r] for r in self.residual if r in new]
        return RuleIndex.from_tables(tables, residual, len(kept))

    def candidates(self, lowered: Mapping[str, str]) -> set[int]:
        """Indices of the rules that could match a record with this lowered view."""
        out = set(self.residual)
        for keys in self._fields:
            value = lowered.get(keys.field)
            if value is not None:
                out.update(keys.hits(value))
        return out

    def stats(self) -> dict[str, int]:
        """How the rules are keyed: key counts by kind, and the residual count."""
        counts = {
            f"{kind}_keys": sum(len(getattr(k, kind)) for k in self._fields)
            for kind in ("base", "eq", "grams", "after", "chars")
        }
        return {"rules": self.size, "residual": len(self.residual), **counts}
