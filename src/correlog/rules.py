"""Rules: plain callables over records that say when a process deserves an alert.

A rule is anything callable as ``rule(record) -> str | bool | None``: a true value fires (a
string becomes the alert's message), ``None``/``False`` does not. Its name is its ``name``
attribute, else its ``__name__``. The :class:`~correlog.Monitor` decides *when* to ask (on the
first event that lets the rule decide, and at the latest when the record is final) and makes sure
one process raises at most one alert per rule. A rule that also has a ``host_event(event)``
method is told about host events (log cleared, audits lost, audit policy changed) and returns a
message when one deserves an alert.

Three rules ship with correlog:

* :class:`AnonymousWeb`: a web account runs a program other than the expected ones. The default
  accounts cover every IIS era: ``IUSR_<machine>`` and ``IWAM_<machine>`` (IIS 5/6), the
  built-in ``NT AUTHORITY\\IUSR`` and the application pool identities ``IIS APPPOOL\\<pool>``
  (IIS 7+), and the service accounts a pool may run as (``NETWORK SERVICE``, ``LOCAL SERVICE``)
  when a web server image created the process. On IIS that is almost always an intrusion.
* :class:`WebServerChild`: a web server process (``httpd.exe``, ``w3wp.exe``, ...) starts a program
  other than the expected ones, whatever its account. This covers Apache on win32, which runs CGI
  children under its service account rather than IUSR, so the account form never sees them.
* :class:`AuditTamper`: the audit trail itself is cleared, loses events or has its policy
  changed: a monitor that goes blind must say so.

The web rules match images the same way (:class:`ImageSet`): a bare name matches the basename, a
path matches the whole path, ``*``/``?`` wildcards are allowed, case never matters, ``/`` equals
``\\``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import ClassVar, Final

import attrs

from ._errors import UsageError
from ._events import HostEvent, HostEventKind
from ._monitor import RuleLike, rule_name
from ._records import Reason, Record

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_ALLOW",
    "DEFAULT_SERVICE_ACCOUNTS",
    "DEFAULT_SERVICE_LOGONS",
    "DEFAULT_WEB_PARENTS",
    "DEFAULT_WEB_SERVERS",
    "POLICY_CHANGE_EVENT_IDS",
    "AnonymousWeb",
    "AuditTamper",
    "ImageSet",
    "RuleLike",
    "WebServerChild",
    "basename",
    "rule_name",
]


#: Images a web account is expected to run: script hosts (CGI and FastCGI) and what IIS itself
#: starts to compile ASP.NET pages (the docs' rules guide says why each one is here).
DEFAULT_ALLOW: Final = (
    "perl.exe",
    "php.exe",
    "php-cgi.exe",
    "csc.exe",
    "cvtres.exe",
    "conhost.exe",
)
#: The web server images: the processes that start CGI children and run as the web accounts
#: themselves (w3wp.exe as its pool, dllhost.exe as ``IWAM_<machine>``, Apache's child
#: httpd.exe as its service account). :attr:`AnonymousWeb.servers`.
DEFAULT_WEB_PARENTS: Final = ("w3wp.exe", "inetinfo.exe", "dllhost.exe", "httpd.exe")
#: Web server images for :class:`WebServerChild`.
DEFAULT_WEB_SERVERS: Final = ("httpd.exe", "apache.exe", "w3wp.exe", "inetinfo.exe")
#: The web accounts of every IIS era (:attr:`AnonymousWeb.accounts`): IIS 5/6's anonymous and
#: out-of-process accounts, IIS 7+'s built-in anonymous account and its application pools.
DEFAULT_ACCOUNTS: Final = ("IUSR_*", "IWAM_*", "NT AUTHORITY\\IUSR", "IIS APPPOOL\\*")
#: Service accounts an application pool may run as; they run much else besides, so they count
#: only for processes a web server image created (:attr:`AnonymousWeb.service_accounts`).
DEFAULT_SERVICE_ACCOUNTS: Final = ("NT AUTHORITY\\NETWORK SERVICE", "NT AUTHORITY\\LOCAL SERVICE")
#: The well-known logon ids of NETWORK SERVICE (0x3e4) and LOCAL SERVICE (0x3e5). A 4688 names
#: NETWORK SERVICE by the machine account (``WEB01$``), so the logon id is what tells it.
DEFAULT_SERVICE_LOGONS: Final = frozenset({0x3E4, 0x3E5})


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
    accounts = _strings(value)
    if not accounts:
        raise UsageError("at least one account pattern is needed")
    return accounts


def _logons(value: Iterable[int]) -> frozenset[int]:
    return frozenset(value)


def _account_globs(accounts: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Each pattern compiled, with whether it names a domain (``DOMAIN\\user``)."""
    return tuple((_pattern(a), "\\" in a or "/" in a) for a in accounts)


def _matches_any(
    globs: tuple[tuple[re.Pattern[str], bool], ...], user: str, domain: str | None
) -> bool:
    bare = user.casefold()
    qualified = f"{(domain or '').casefold()}\\{bare}"
    return any(g.fullmatch(qualified if q else bare) for g, q in globs)


#: What an owner is to :class:`AnonymousWeb`: not a web account, a web account, or a service
#: account that counts only under a web server.
_OTHER: Final = 0
_WEB: Final = 1
_SERVICE: Final = 2


@attrs.frozen(kw_only=True)
class AnonymousWeb:
    """A web account runs something other than the expected script hosts.

    ``accounts``: wildcard patterns for the owner's user name (default :data:`DEFAULT_ACCOUNTS`;
    ``DOMAIN\\user`` patterns match against ``domain\\user``), case-insensitive: any process
    they own counts. ``service_accounts`` (patterns) and ``service_logons`` (logon ids): owners
    that count only when the creator image is one of ``servers``, since ``NETWORK SERVICE``
    runs many things besides a web server; give empty ones to turn this off.
    ``servers``: the web server images (:data:`DEFAULT_WEB_PARENTS`); a process of one of them is
    the server itself (``w3wp.exe`` runs as its pool), never an alert. ``allow``: other images the
    web accounts may run. ``parents``: when given, only children whose creator image is unknown
    or one of these fire.

    A final record whose image was never seen (a Windows 2000 exit whose creation was lost)
    fires too: nothing says the program was an expected one.
    """

    #: The record fields its verdict reads: an open process whose values of these it has
    #: already judged is not asked again (see :class:`correlog.Monitor`).
    record_fields: ClassVar[frozenset[str]] = frozenset(
        {"user", "domain", "logon_id", "creator_image", "image", "reason"}
    )
    name: str = "anonymous-web"
    accounts: tuple[str, ...] = attrs.field(default=DEFAULT_ACCOUNTS, converter=_accounts)
    allow: ImageSet = attrs.field(default=ImageSet(DEFAULT_ALLOW), converter=_image_set)
    parents: ImageSet | None = attrs.field(default=None, converter=_optional_image_set)
    service_accounts: tuple[str, ...] = attrs.field(
        default=DEFAULT_SERVICE_ACCOUNTS, converter=_strings
    )
    service_logons: frozenset[int] = attrs.field(default=DEFAULT_SERVICE_LOGONS, converter=_logons)
    servers: ImageSet = attrs.field(default=ImageSet(DEFAULT_WEB_PARENTS), converter=_image_set)
    _globs: tuple[tuple[re.Pattern[str], bool], ...] = attrs.field(init=False, repr=False, eq=False)
    _service_globs: tuple[tuple[re.Pattern[str], bool], ...] = attrs.field(
        init=False, repr=False, eq=False
    )
    #: (user, domain) -> _OTHER/_WEB/_SERVICE: a log names few accounts, and every record asks.
    _verdicts: dict[tuple[str, str | None], int] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_globs", _account_globs(self.accounts))
        object.__setattr__(self, "_service_globs", _account_globs(self.service_accounts))

    def _owner_kind(self, user: str, domain: str | None) -> int:
        key = (user, domain)
        kind = self._verdicts.get(key)
        if kind is None:
            if _matches_any(self._globs, user, domain):
                kind = _WEB
            elif _matches_any(self._service_globs, user, domain):
                kind = _SERVICE
            else:
                kind = _OTHER
            if len(self._verdicts) >= _VERDICTS_BOUND:
                self._verdicts.clear()
            self._verdicts[key] = kind
        return kind

    def account_matches(self, user: str | None, domain: str | None) -> bool:
        """True when ``domain\\user`` is one of :attr:`accounts`."""
        return user is not None and self._owner_kind(user, domain) == _WEB

    def is_web_owned(self, record: Record) -> bool:
        """True when the record's owner is a web account, or a service account (by name or
        logon id) and its creator a web server image."""
        kind = _OTHER if record.user is None else self._owner_kind(record.user, record.domain)
        if kind == _WEB:
            return True
        if kind == _OTHER and record.logon_id not in self.service_logons:
            return False
        return self.servers.matches(record.creator_image)

    def __call__(self, record: Record) -> str | None:
        if not self.is_web_owned(record):
            return None
        parents = self.parents
        creator = record.creator_image
        if parents is not None and creator is not None and not parents.matches(creator):
            return None
        if record.image is None:
            if record.reason is Reason.OPEN:
                return None  # the image may still come
            return f"{record.user} ran a program whose image was never logged"
        if self.allow.matches(record.image) or self.servers.matches(record.image):
            return None
        return f"{record.user} ran {record.image}"


@attrs.frozen(kw_only=True)
class WebServerChild:
    """A web server process starts a program other than the expected ones, as any account.

    ``servers``: the web server images (creator images). ``allow``: the children they may start.
    Needs the creator's image: from a 600's assigning process, a 4688's parent name, or the
    creator's own creation event when the correlator saw it.
    """

    #: The record fields its verdict reads (see :attr:`AnonymousWeb.record_fields`).
    record_fields: ClassVar[frozenset[str]] = frozenset({"creator_image", "image"})
    name: str = "web-server-child"
    servers: ImageSet = attrs.field(default=ImageSet(DEFAULT_WEB_SERVERS), converter=_image_set)
    allow: ImageSet = attrs.field(default=ImageSet(DEFAULT_ALLOW), converter=_image_set)

    def __call__(self, record: Record) -> str | None:
        if record.image is None or not self.servers.matches(record.creator_image):
            return None
        if self.allow.matches(record.image) or self.servers.matches(record.image):
            return None  # Apache's parent httpd.exe starts its child httpd.exe: the server itself
        return f"{basename(record.creator_image or '')} started {record.image}"


#: Audit policy changes: 612 (NT4 to 2003), 4719 (Vista+).
POLICY_CHANGE_EVENT_IDS: Final = frozenset({612, 4719})


@attrs.frozen(kw_only=True)
class AuditTamper:
    """The audit trail is cleared (517, 1102), loses audits (516, 1101) or has its audit policy
    changed (612, 4719): whatever happens next may not be in the log, so say so.

    It judges host events, not processes: :meth:`host_event` answers with a message when one
    deserves an alert; as a process rule it never fires. A host restart (512, 4608) is not
    tampering and gives nothing.
    """

    name: str = "audit-tamper"
    #: It reads no field of a record: the monitor asks it about one record, then never again.
    record_fields: frozenset[str] = frozenset()

    def __call__(self, record: Record) -> bool:
        """Processes never fire this rule."""
        return False

    def host_event(self, event: HostEvent) -> str | None:
        """A message when ``event`` is a log clear, a loss of audits or a policy change."""
        if event.event_id in POLICY_CHANGE_EVENT_IDS:
            return f"the audit policy of {event.host} was changed (event {event.event_id})"
        if event.kind is HostEventKind.LOG_CLEARED:
            return f"the Security log of {event.host} was cleared (event {event.event_id})"
        if event.kind is HostEventKind.AUDITS_DISCARDED:
            dropped = "audits" if event.dropped is None else f"{event.dropped} audits"
            return f"{event.host} discarded {dropped} (event {event.event_id})"
        return None
