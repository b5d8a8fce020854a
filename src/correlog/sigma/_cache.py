"""Where compiled rules are kept between runs, and when a kept file may be trusted.

Theory of operation
-------------------
Compiling SigmaHQ's 1,183 rules (pySigma parsing the YAML, then correlog's trees and index)
takes seconds; reading them back takes a small fraction of that. The cache holds one JSON file
per set of rule files, named by a key: a SHA-256 of the cache format, correlog's and pySigma's
versions, and every rule file's path and bytes. Change a rule, add one, upgrade either package,
and the key changes; the old file is simply not asked for (the oldest beyond
:data:`KEEP` are deleted). Deleting the folder is always safe: the next run compiles and writes
it again. Beside them, ``stats-`` files name a key by the rule files' stats
(:func:`stats_key`), so that a later run need not read the files; when a stat may stand for
the bytes is decided in :func:`correlog.sigma._load._settled`.

The file is a SHA-256 of its data, a newline, then the data: plain JSON (:mod:`._plain`), never
a pickle. Each rule's tree is held as JSON text inside it, parsed when the rule is first used:
most of a large set is never asked about a given log's records, and the nested lists of
SigmaHQ's trees were most of what a cached start spent parsing (and freeing at exit). Loading
it runs no code: a file whose digest does not match is ignored, the metadata and index are
checked at once, and each rule's tree is checked when it is built, on the rule's first use (see
:func:`correlog.sigma._load._rule_from_plain`). A cache is still a way to change
what a hunt reports, so it is only read from, and written to, a place no other user can write:

* the folder (``$XDG_CACHE_HOME/correlog``, else ``~/.cache/correlog``; on Windows
  ``%LOCALAPPDATA%\\correlog\\cache``) is created private (0700); it must be a real folder, not a
  symbolic link, owned by the user and not writable by group or others;
* every folder above it must belong to the user or to root, and be either closed to group and
  others or sticky (``/tmp``: others may add files but not replace ours);
* the file is opened without following a symbolic link, and the open file itself must be a
  regular file owned by the user and not writable by group or others (checked on the open
  descriptor, so a file swapped after the check is not the one read).

Anything else is *refused*: the rules are compiled as if there were no cache, nothing is
written, and the reason is reported (:attr:`RuleCache.outcome`). A file that cannot be parsed,
or that was written for another key, is *ignored* and rewritten. On Windows, where the folder
is the user's own by its access list, the POSIX ownership checks do not apply.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from .. import __version__

__all__ = ["FORMAT", "KEEP", "RuleCache", "default_folder", "dumps", "loads"]

#: The layout of the cached data; part of the key, so a new layout never reads an old file.
FORMAT: Final = 3
#: Cached rule sets kept; older ones are deleted when a new one is written.
KEEP: Final = 8
_PREFIX: Final = "rules-"
#: Files that name a :func:`cache_key` by the rule files' stats (:meth:`RuleCache.recall`).
_STATS_PREFIX: Final = "stats-"
_KEY: Final = re.compile(rb"[0-9a-f]{64}")
#: A symbolic link is never followed to the file (POSIX); binary mode (Windows).
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def loads(data: bytes | str) -> Any:
    """JSON text parsed: with orjson when installed (the ``fast`` extra), else the standard
    library's parser. Both raise a :class:`ValueError` on text that is not JSON."""
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    return orjson.loads(data)


def dumps(data: Any) -> str:
    """Plain data as compact JSON text (what :func:`loads` reads back)."""
    return json.dumps(data, separators=(",", ":"))


def default_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The user's cache folder for correlog (not created here)."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA")
        if base:
            return Path(base) / "correlog" / "cache"
        return Path.home() / "AppData" / "Local" / "correlog" / "cache"
    xdg = env.get("XDG_CACHE_HOME", "")
    # The XDG specification: a relative path is invalid and is ignored.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "correlog"


def _pysigma_version() -> str:
    """pySigma's installed version, from its distribution's folder name: found without
    importing pySigma or :mod:`importlib.metadata` (each costs more than loading the cache)."""
    spec = importlib.util.find_spec("sigma")
    if spec is None or not spec.submodule_search_locations:
        return "-"
    site = os.path.dirname(next(iter(spec.submodule_search_locations)))
    # Names compared, not globbed: a glob compiles a regular expression, on every start.
    found = sorted(
        name
        for name in os.listdir(site)
        if name.lower().startswith("pysigma-") and name.endswith(".dist-info")
    )
    return ",".join(found) or "?"


def cache_key(files: Iterable[tuple[str, bytes]]) -> str:
    """The key of a set of rule files: their paths and bytes, and the versions that read them."""
    digest = hashlib.sha256()
    digest.update(f"correlog-rules {FORMAT} {__version__} {_pysigma_version()}\0".encode())
    for path, data in files:
        name = path.encode("utf-8", "surrogateescape")
        digest.update(b"%d:%s\0%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def stats_key(stats: Iterable[tuple[str, os.stat_result]]) -> str:
    """The key of a set of rule files by their paths and stats (device, inode, size, mtime and
    ctime): what :meth:`RuleCache.recall` looks up, to find the :func:`cache_key` of their
    bytes without reading them."""
    digest = hashlib.sha256()
    digest.update(f"correlog-stats {FORMAT} {__version__} {_pysigma_version()}\0".encode())
    for path, st in stats:
        name = path.encode("utf-8", "surrogateescape")
        digest.update(b"%d:%s\0" % (len(name), name))
        digest.update(
            b"%d %d %d %d %d\0" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        )
    return digest.hexdigest()


def _owner_problem(st: os.stat_result, what: str, *, uid: int, root_ok: bool) -> str | None:
    owners = (uid, 0) if root_ok else (uid,)
    if st.st_uid not in owners:
        return f"{what} belongs to uid {st.st_uid}, not to this user ({uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (
        root_ok and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    ):
        return f"{what} is writable by group or others"
    return None


class RuleCache:
    """The compiled-rules cache in ``folder`` (default: :func:`default_folder`).

    :meth:`load` returns the stored plain data for a key, or None; :meth:`store` writes it.
    :attr:`outcome` says what happened, for the load report: ``hit``, ``miss``,
    ``written``, ``refused: <why>`` (not trusted: compiled afresh, nothing written),
    ``ignored: <why>`` (unreadable or foreign: compiled and written again), or
    ``not written: <why>``.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self.outcome = "unused"
        self._refused = False

    def path(self, key: str) -> Path:
        """The file of a key."""
        return self.folder / f"{_PREFIX}{key}.json"

    # -- trust ---------------------------------------------------------------------------------

    def _folder_problem(self) -> str | None:
        """Why the folder may not be trusted (None: it may); it must exist."""
        if not hasattr(os, "getuid"):
            return None  # Windows: the folder's access list is the user's
        uid = os.getuid()
        try:
            st = os.lstat(self.folder)
            if stat.S_ISLNK(st.st_mode):
                return f"{self.folder} is a symbolic link"
            if not stat.S_ISDIR(st.st_mode):
                return f"{self.folder} is not a folder"
            problem = _owner_problem(st, str(self.folder), uid=uid, root_ok=False)
            if problem:
                return problem
            for parent in Path(os.path.realpath(self.folder)).parents:
                problem = _owner_problem(os.stat(parent), str(parent), uid=uid, root_ok=True)
                if problem:
                    return problem
        except OSError as exc:
            return f"cannot check {self.folder}: {exc.strerror or exc}"
        return None

    def _refuse(self, why: str) -> None:
        self._refused = True
        self.outcome = f"refused: {why}"

    # -- reading and writing -------------------------------------------------------------------

    def _read(self, path: Path) -> bytes | None:
        """A file's bytes, when it and its folder may be trusted (None: see :attr:`outcome`)."""
        if not self.folder.exists():
            self.outcome = "miss"
            return None
        problem = self._folder_problem()
        if problem:
            self._refuse(problem)
            return None
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            self.outcome = "miss"
            return None
        except OSError as exc:
            self._refuse(f"cannot open {path}: {exc.strerror or exc}")
            return None
        with open(fd, "rb") as file:
            st = os.fstat(file.fileno())
            if not stat.S_ISREG(st.st_mode):
                self._refuse(f"{path} is not a regular file")
                return None
            if hasattr(os, "getuid"):
                problem = _owner_problem(st, str(path), uid=os.getuid(), root_ok=False)
                if problem:
                    self._refuse(problem)
                    return None
            return file.read()

    def load(self, key: str) -> dict[str, Any] | None:
        """The data stored for ``key``, or None (see :attr:`outcome` for why)."""
        path = self.path(key)
        raw = self._read(path)
        if raw is None:
            return None
        digest, _, body = raw.partition(b"\n")
        if digest != hashlib.sha256(body).hexdigest().encode():
            self.outcome = f"ignored: {path} is damaged (its digest does not match its data)"
            return None
        try:
            data = loads(body)
        except (ValueError, RecursionError) as exc:
            self.outcome = f"ignored: {path} is not readable JSON ({exc})"
            return None
        if type(data) is not dict or data.get("key") != key or data.get("format") != FORMAT:
            self.outcome = f"ignored: {path} was written for other rules or another version"
            return None
        self.outcome = "hit"
        return data

    def recall(self, stats: str) -> str | None:
        """The :func:`cache_key` that :meth:`remember` kept for a :func:`stats_key`, or None."""
        raw = self._read(self.folder / f"{_STATS_PREFIX}{stats}")
        if raw is None or not _KEY.fullmatch(raw):
            return None
        return raw.decode("ascii")

    def remember(self, stats: str, key: str) -> None:
        """Keep that files with these stats hold the bytes of ``key`` (unless the cache was
        refused; a failure to write only costs the next run the reading of the files)."""
        if self._refused or not self.folder.is_dir():
            return
        try:
            self._write(self.folder / f"{_STATS_PREFIX}{stats}", key.encode("ascii"))
            self._prune(_STATS_PREFIX, "", keep=self.folder / f"{_STATS_PREFIX}{stats}")
        except OSError:
            pass

    def _write(self, path: Path, data: bytes) -> None:
        """Write a file atomically, private (0600)."""
        import tempfile  # only when writing: its imports cost more than a cached start

        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".rules-", suffix=".tmp")
        try:
            with open(fd, "wb") as file:
                file.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def ignore(self, why: str) -> None:
        """Say that the data :meth:`load` returned could not be used (it is rewritten)."""
        self.outcome = f"ignored: {why}"

    def store(self, key: str, data: Mapping[str, Any]) -> None:
        """Write the data for ``key`` (atomically, private), unless the cache was refused."""
        if self._refused:
            return
        before = self.outcome
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            problem = self._folder_problem()
            if problem:
                self._refuse(problem)
                return
            body = dumps({**data, "format": FORMAT, "key": key})
            encoded = body.encode("utf-8")
            digest = hashlib.sha256(encoded).hexdigest().encode()
            self._write(self.path(key), digest + b"\n" + encoded)
            self._prune(_PREFIX, ".json", keep=self.path(key))
        except OSError as exc:
            self.outcome = f"not written: {exc.strerror or exc}"
            return
        self.outcome = "written" if before == "miss" else f"{before}; written again"

    def _prune(self, prefix: str, suffix: str, keep: Path) -> None:
        """Delete the oldest files of a kind beyond :data:`KEEP`."""
        cached = sorted(
            (p for p in self.folder.glob(f"{prefix}*{suffix}") if p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in cached[KEEP - 1 :]:
            old.unlink(missing_ok=True)
