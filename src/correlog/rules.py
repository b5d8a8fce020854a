"""Rules: plain callables over records that say when a process deserves an alert.

A rule is anything callable as ``rule(record) -> str | bool | None``: a true value fires (a
string becomes the alert's message), ``None``/``False`` does not. Its name is its ``name``
attribute, else its ``__name__``. The :class:`~correlog.Monitor` decides *when* to ask (on the
first event that lets the rule decide, and at the latest when the record is final) and makes sure
one process raises at most one alert per rule.

Two rules ship with correlog:

* :class:`AnonymousWeb`: the anonymous web account (``IUSR_<machine>``) runs a program other than
  the expected script hosts. On IIS that is almost always a successful intrusion.
* :class:`WebServerChild`: a web server process (``httpd.exe``, ``w3wp.exe``, ...) starts a program
  other than the expected ones, whatever its account. This covers Apache on win32, which runs CGI
  children under its service account rather than IUSR, so the account form never sees them.

Both match images the same way (:class:`ImageSet`): a bare name matches the basename, a path
matches the whole path, ``*``/``?`` wildcards are allowed, case never matters, ``/`` equals ``\\``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Final

import attrs

from ._errors import UsageError
from ._monitor import RuleLike, rule_name
from ._records import Reason, Record

__all__ = [
    "DEFAULT_ALLOW",
    "DEFAULT_WEB_PARENTS",
    "DEFAULT_WEB_SERVERS",
    "AnonymousWeb",
    "ImageSet",
    "RuleLike",
    "WebServerChild",
    "basename",
    "rule_name",
]


#: Images the anonymous web account is expected to run (script hosts).
DEFAULT_ALLOW: Final = ("perl.exe", "php.exe")
#: The IIS processes that start CGI children, for :attr:`AnonymousWeb.parents`.
DEFAULT_WEB_PARENTS: Final = ("inetinfo.exe", "w3wp.exe", "dllhost.exe")
#: Web server images for :class:`WebServerChild`.
DEFAULT_WEB_SERVERS: Final = ("httpd.exe", "apache.exe", "w3wp.exe", "inetinfo.exe")


def basename(path: str) -> str:
    """The last component of a Windows or POSIX path (``C:\\PHP\\php.exe`` -> ``php.exe``)."""
    cut = max(path.rfind("\\"), path.rfind("/"))
    return path[cut + 1 :]


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(text.replace("/", "\\").casefold()))


#: Images (accounts) whose verdict an :class:`ImageSet` (:class:`AnonymousWeb`) remembers; past
#: this many it starts over.
_VERDICTS_BOUND: Final = 4096


@attrs.frozen
class ImageSet:
    """A set of images given as bare names, full paths, or wildcard patterns of either.

    >>> allow = ImageSet(["php.exe", r"C:\\Perl\\bin\\perl.exe"])
    >>> allow.matches(r"C:\\PHP\\php.exe"), allow.matches(r"D:\\Perl\\bin\\perl.exe")
    (True, False)
    """

    patterns: tuple[str, ...] = attrs.field(converter=_strings)
    _names: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _paths: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _name_globs: tuple[re.Pattern[str], ...] = attrs.field(init=False, repr=False, eq=False)
    _path_globs: tuple[re.Pattern[str], ...] = attrs.field(init=False, repr=False, eq=False)
    #: image -> verdict: a log names a few hundred images, and every record asks.
    _verdicts: dict[str, bool] = attrs.field(init=False, repr=False, eq=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        names: set[str] = set()
        paths: set[str] = set()
        name_globs: list[re.Pattern[str]] = []
        path_globs: list[re.Pattern[str]] = []
        for raw in self.patterns:
            if not isinstance(raw, str) or not raw.strip():
                raise UsageError(f"an image pattern must be a non-empty string, not {raw!r}")
            text = raw.strip().replace("/", "\\").casefold()
            is_path = "\\" in text
            if any(ch in text for ch in "*?["):
                (path_globs if is_path else name_globs).append(_pattern(text))
            else:
                (paths if is_path else names).add(text)
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_paths", frozenset(paths))
        object.__setattr__(self, "_name_globs", tuple(name_globs))
        object.__setattr__(self, "_path_globs", tuple(path_globs))

    def matches(self, image: str | None) -> bool:
        """True when ``image`` is one of the set (None never is)."""
        if image is None:
            return False
        verdict = self._verdicts.get(image)
        if verdict is None:
            path = image.replace("/", "\\").casefold()
            name = basename(path)
            verdict = (
                name in self._names
                or path in self._paths
                or any(g.fullmatch(name) for g in self._name_globs)
                or any(g.fullmatch(path) for g in self._path_globs)
            )
            if len(self._verdicts) >= _VERDICTS_BOUND:
                self._verdicts.clear()
            self._verdicts[image] = verdict
        return verdict


def _image_set(value: Iterable[str] | ImageSet) -> ImageSet:
    return value if isinstance(value, ImageSet) else ImageSet(tuple(value))


def _optional_image_set(value: Iterable[str] | ImageSet | None) -> ImageSet | None:
    return None if value is None else _image_set(value)


def _accounts(value: Iterable[str]) -> tuple[str, ...]:
    accounts = (value,) if isinstance(value, str) else tuple(value)
    if not accounts:
        raise UsageError("at least one account pattern is needed")
    return accounts


@attrs.frozen(kw_only=True)
class AnonymousWeb:
    """The anonymous web account runs something other than the expected script hosts.

    ``accounts``: wildcard patterns for the owner's user name (``IUSR_*``; ``DOMAIN\\user``
    patterns match against ``domain\\user``), case-insensitive. ``allow``: images it may run.
    ``parents``: when given, only children whose creator image is unknown or one of these fire.

    A final record whose image was never seen (a Windows 2000 exit whose creation was lost)
    fires too: nothing says the program was an expected one.
    """

    name: str = "anonymous-web"
    accounts: tuple[str, ...] = attrs.field(default=("IUSR_*",), converter=_accounts)
    allow: ImageSet = attrs.field(default=ImageSet(DEFAULT_ALLOW), converter=_image_set)
    parents: ImageSet | None = attrs.field(default=None, converter=_optional_image_set)
    _globs: tuple[tuple[re.Pattern[str], bool], ...] = attrs.field(init=False, repr=False, eq=False)
    #: (user, domain) -> verdict: a log names few accounts, and every record asks.
    _verdicts: dict[tuple[str, str | None], bool] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        globs = tuple((_pattern(a), "\\" in a or "/" in a) for a in self.accounts)
        object.__setattr__(self, "_globs", globs)

    def account_matches(self, user: str | None, domain: str | None) -> bool:
        """True when ``domain\\user`` is one of :attr:`accounts`."""
        if user is None:
            return False
        key = (user, domain)
        verdict = self._verdicts.get(key)
        if verdict is None:
            bare = user.casefold()
            qualified = f"{(domain or '').casefold()}\\{bare}"
            verdict = any(g.fullmatch(qualified if q else bare) for g, q in self._globs)
            if len(self._verdicts) >= _VERDICTS_BOUND:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def __call__(self, record: Record) -> str | None:
        if not self.account_matches(record.user, record.domain):
            return None
        parents = self.parents
        creator = record.creator_image
        if parents is not None and creator is not None and not parents.matches(creator):
            return None
        if record.image is None:
            if record.reason is Reason.OPEN:
                return None  # the image may still come
            return f"{record.user} ran a program whose image was never logged"
        if self.allow.matches(record.image):
            return None
        return f"{record.user} ran {record.image}"


@attrs.frozen(kw_only=True)
class WebServerChild:
    """A web server process starts a program other than the expected ones, as any account.

    ``servers``: the web server images (creator images). ``allow``: the children they may start.
    Needs the creator's image: from a 600's assigning process, a 4688's parent name, or the
    creator's own creation event when the correlator saw it.
    """

    name: str = "web-server-child"
    servers: ImageSet = attrs.field(default=ImageSet(DEFAULT_WEB_SERVERS), converter=_image_set)
    allow: ImageSet = attrs.field(default=ImageSet(DEFAULT_ALLOW), converter=_image_set)

    def __call__(self, record: Record) -> str | None:
        if record.image is None or not self.servers.matches(record.creator_image):
            return None
        if self.allow.matches(record.image):
            return None
        return f"{basename(record.creator_image or '')} started {record.image}"
