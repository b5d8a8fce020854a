"""``correlog.toml``: everything the live monitor's flags say, in one file, checked key by key.

:func:`load_config` reads the file with the standard library's ``tomllib`` and checks it against
:data:`SCHEMA`, a table of every section and key with its kind and default, so that the checks,
the defaults and the documentation (``docs/live.md``) are one fact. Any problem raises
:class:`ConfigError` naming the key (``checkpoint.interval: expected a number above 0, got
'soon'``); an unknown key is an error too, so a typo is never silently ignored. Sinks are a list
of tables (``[[sink]]``), each checked against the keys of its ``type``; :func:`build_sinks`
makes them.

The result is plain data (:class:`LiveConfig`: ``section -> key -> value``, defaults filled in):
the CLI lays its flags over it, flags winning.
"""

from __future__ import annotations

import os
import ssl
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from .._errors import UsageError
from .sinks import JsonLinesSink, LiveSink, SmtpSink, SyslogSink, WebhookSink

__all__ = [
    "SCHEMA",
    "SINK_SCHEMAS",
    "ConfigError",
    "LiveConfig",
    "build_sinks",
    "load_config",
    "parse_sink",
    "sinks_from_texts",
]


class ConfigError(UsageError):
    """The config file is not valid TOML, or a key's value is wrong; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@attrs.frozen
class Kind:
    """What a key holds: a check that returns the value (normalised) or raises ValueError with
    what was expected."""

    name: str
    check: Callable[[Any], Any]


def _number(minimum: float = 0.0, *, above: bool = True) -> Kind:
    word = "above" if above else "at least"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        if value < minimum or (above and value == minimum):
            raise ValueError
        return float(value)

    return Kind(f"a number {word} {minimum:g}", check)


def _integer(minimum: int = 1, maximum: int | None = None) -> Kind:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError
        return value

    span = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
    return Kind(f"an integer {span}", check)


def _text() -> Kind:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError
        return value

    return Kind("a non-empty string", check)


def _texts() -> Kind:
    def check(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError
        return tuple(value)

    return Kind("a string or a list of strings", check)


def _flag() -> Kind:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError
        return value

    return Kind("true or false", check)


def _choice(*options: str) -> Kind:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return Kind("one of " + ", ".join(repr(o) for o in options), check)


def _address() -> Kind:
    def check(value: Any) -> tuple[str, int]:
        if not isinstance(value, str):
            raise ValueError
        return parse_address(value)

    return Kind("an address 'HOST:PORT' (IPv6: '[::1]:514')", check)


def _table() -> Kind:
    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError
        return dict(value)

    return Kind("a table of strings", check)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT``) as ``(host, port)``; ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


#: Required keys have the default :data:`REQUIRED`.
REQUIRED: Final = object()

#: Every section, every key: ``(kind, default)``. None as a default: unset.
SCHEMA: Final[Mapping[str, Mapping[str, tuple[Kind, Any]]]] = {
    "input": {
        "format": (_text(), "auto"),
        "errors": (_choice("skip", "strict"), "skip"),
        "tz": (_text(), None),
    },
    "engine": {
        "ttl": (_number(), 3600.0),
        "max_open": (_integer(), 100_000),
        "max_skew": (_number(), 3600.0),
        "lateness": (_number(above=False), 0.0),
    },
    "rules": {
        "rule": (_texts(), ()),
        "account": (_texts(), ()),
        "allow": (_texts(), ()),
        "parent": (_texts(), ()),
        "web_server": (_texts(), ()),
        "single_event": (_flag(), False),
        "sigma": (_texts(), ()),
    },
    "follow": {
        "paths": (_texts(), ()),
        "interval": (_number(), 0.25),
    },
    "listen": {
        "udp": (_address(), None),
        "tcp": (_address(), None),
        "tls_cert": (_text(), None),
        "tls_key": (_text(), None),
        "max_message": (_integer(480, 1 << 24), 64 * 1024),
    },
    "windows": {
        "backend": (_choice("evtsubscribe", "readeventlog"), "evtsubscribe"),
        "channel": (_text(), "Security"),
    },
    "checkpoint": {
        "path": (_text(), None),
        "interval": (_number(), 1.0),
        "max_outbox": (_integer(), 100_000),
    },
    "delivery": {
        "backoff_base": (_number(), 1.0),
        "backoff_factor": (_number(1.0, above=False), 2.0),
        "backoff_cap": (_number(), 300.0),
        "poll": (_number(), 1.0),
    },
    "stats": {
        "interval": (_number(), None),
        "metrics": (_address(), None),
    },
}

#: The keys of each sink type (``type`` and ``name`` besides).
SINK_SCHEMAS: Final[Mapping[str, Mapping[str, tuple[Kind, Any]]]] = {
    "jsonl": {"path": (_text(), "-"), "fsync": (_flag(), False)},
    "syslog": {
        "address": (_address(), REQUIRED),
        "transport": (_choice("udp", "tcp", "tls"), "tcp"),
        "ca_file": (_text(), None),
        "facility": (_integer(0, 23), 13),
        "severity": (_integer(0, 7), 4),
    },
    "webhook": {
        "url": (_text(), REQUIRED),
        "slack": (_flag(), False),
        "headers": (_table(), {}),
        "timeout": (_number(), 10.0),
    },
    "smtp": {
        "address": (_address(), REQUIRED),
        "sender": (_text(), REQUIRED),
        "recipients": (_texts(), REQUIRED),
        "starttls": (_flag(), True),
        "ca_file": (_text(), None),
        "username": (_text(), None),
        #: The password is never in the file: the name of an environment variable holding it.
        "password_env": (_text(), None),
        "timeout": (_number(), 30.0),
    },
}


@attrs.frozen
class LiveConfig:
    """A checked config: each section's keys with defaults filled in, and the sinks' tables."""

    sections: Mapping[str, Mapping[str, Any]]
    sinks: tuple[Mapping[str, Any], ...] = ()

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.sections[section]


def _checked(
    data: Mapping[str, Any], keys: Mapping[str, tuple[Kind, Any]], prefix: str
) -> dict[str, Any]:
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", f"unknown key (known: {', '.join(keys)})")
    result: dict[str, Any] = {}
    for key, (kind, default) in keys.items():
        if key not in data:
            if default is REQUIRED:
                raise ConfigError(f"{prefix}{key}", "is required")
            result[key] = default
            continue
        try:
            result[key] = kind.check(data[key])
        except ValueError:
            raise ConfigError(
                f"{prefix}{key}", f"expected {kind.name}, got {data[key]!r}"
            ) from None
    return result


def parse_config(data: Mapping[str, Any]) -> LiveConfig:
    """Check already-parsed TOML data; see :func:`load_config`."""
    unknown = sorted(set(data) - set(SCHEMA) - {"sink"})
    if unknown:
        raise ConfigError(unknown[0], f"unknown section (known: {', '.join([*SCHEMA, 'sink'])})")
    sections = {}
    for section, keys in SCHEMA.items():
        given = data.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(section, "expected a table")
        sections[section] = _checked(given, keys, f"{section}.")
    raw_sinks = data.get("sink", [])
    if not isinstance(raw_sinks, list):
        raise ConfigError("sink", "expected an array of tables ([[sink]])")
    sinks = []
    names: set[str] = set()
    for n, raw in enumerate(raw_sinks):
        prefix = f"sink[{n}]."
        if not isinstance(raw, dict):
            raise ConfigError(f"sink[{n}]", "expected a table")
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in SINK_SCHEMAS:
            raise ConfigError(f"{prefix}type", f"expected one of {', '.join(SINK_SCHEMAS)}")
        name = raw.get("name", kind)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{prefix}name", "expected a non-empty string")
        if name in names:
            raise ConfigError(f"{prefix}name", f"{name!r} is used twice; give each sink a name")
        names.add(name)
        body = {k: v for k, v in raw.items() if k not in ("type", "name")}
        sinks.append({"type": kind, "name": name, **_checked(body, SINK_SCHEMAS[kind], prefix)})
    listen = sections["listen"]
    if (listen["tls_cert"] is None) != (listen["tls_key"] is None):
        raise ConfigError("listen.tls_key", "tls_cert and tls_key go together")
    if listen["tls_cert"] is not None and listen["tcp"] is None:
        raise ConfigError("listen.tcp", "TLS needs a tcp address")
    return LiveConfig(sections=sections, sinks=tuple(sinks))


def load_config(path: str | os.PathLike[str]) -> LiveConfig:
    """Read and check a ``correlog.toml``; :class:`ConfigError` names the key at fault."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{os.fspath(path)}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError("", f"cannot read the config file: {exc}") from exc
    return parse_config(data)


def build_sinks(config: LiveConfig, environ: Mapping[str, str] | None = None) -> list[LiveSink]:
    """The sinks a config names, ready for a :class:`~correlog.live.delivery.DeliveryWorker`."""
    environ = os.environ if environ is None else environ
    sinks: list[LiveSink] = []
    for n, table in enumerate(config.sinks):
        kind, name = table["type"], table["name"]
        if kind == "jsonl":
            path = table["path"]
            sinks.append(
                JsonLinesSink(None if path == "-" else path, name=name, fsync=table["fsync"])
            )
        elif kind == "syslog":
            host, port = table["address"]
            sinks.append(
                SyslogSink(
                    host,
                    port,
                    transport=table["transport"],
                    name=name,
                    ssl_context=_client_context(table["ca_file"]),
                    facility=table["facility"],
                    severity=table["severity"],
                )
            )
        elif kind == "webhook":
            sinks.append(
                WebhookSink(
                    table["url"],
                    name=name,
                    slack=table["slack"],
                    headers=table["headers"],
                    timeout=table["timeout"],
                )
            )
        else:
            host, port = table["address"]
            login = None
            if table["username"] is not None:
                variable = table["password_env"]
                if variable is None or variable not in environ:
                    raise ConfigError(
                        f"sink[{n}].password_env",
                        "a username needs password_env naming a set environment variable",
                    )
                login = (table["username"], environ[variable])
            sinks.append(
                SmtpSink(
                    host,
                    port,
                    sender=table["sender"],
                    recipients=table["recipients"],
                    name=name,
                    starttls=table["starttls"],
                    ssl_context=_client_context(table["ca_file"]),
                    login=login,
                    timeout=table["timeout"],
                )
            )
    return sinks


def _client_context(ca_file: str | None) -> ssl.SSLContext | None:
    return None if ca_file is None else ssl.create_default_context(cafile=ca_file)


#: ``--sink`` forms, for messages and the docs (``docs/live.md`` shows each with an example).
SINK_FORMS: Final = (
    "jsonl:PATH ('-': stdout)",
    "syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT[?ca=FILE]",
    "webhook:URL, slack:URL",
    "smtp://[USER@]HOST:PORT?from=ADDR&to=ADDR[&to=ADDR...][&starttls=no][&ca=FILE]"
    "[&password_env=VAR]",
)
#: Query keys a ``--sink`` URL may carry, to the sink table's keys.
_SINK_QUERY: Final[Mapping[str, Mapping[str, str]]] = {
    "syslog": {"ca": "ca_file", "facility": "facility", "severity": "severity", "name": "name"},
    "smtp": {
        "from": "sender",
        "to": "recipients",
        "starttls": "starttls",
        "ca": "ca_file",
        "password_env": "password_env",
        "timeout": "timeout",
        "name": "name",
    },
}
_NUMERIC_QUERY: Final = {"facility": int, "severity": int, "timeout": float}


def parse_sink(text: str) -> dict[str, Any]:
    """One ``--sink`` text as a sink table (the keys of a ``[[sink]]`` table), not yet checked.

    The forms are :data:`SINK_FORMS`. :class:`ConfigError` (key ``--sink``) for a text that is
    none of them; :func:`sinks_from_texts` checks the tables against :data:`SINK_SCHEMAS`.
    """
    scheme, _, rest = text.partition(":")
    if scheme == "jsonl" and rest:
        return {"type": "jsonl", "path": rest}
    if scheme in ("webhook", "slack") and rest.startswith(("http://", "https://")):
        return {"type": "webhook", "url": rest, "slack": scheme == "slack"}
    kind, _, transport = scheme.partition("+")
    if kind in _SINK_QUERY and rest.startswith("//"):
        url = urllib.parse.urlsplit(text)
        table: dict[str, Any] = {"type": kind}
        if kind == "syslog":
            table["transport"] = transport or "tcp"
        elif transport:
            raise ConfigError("--sink", f"{text!r}: smtp takes no '+{transport}'")
        host = url.hostname or ""
        port = url.port if url.port is not None else (25 if kind == "smtp" else 514)
        table["address"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if url.username:
            table["username"] = urllib.parse.unquote(url.username)
        if url.password:
            raise ConfigError("--sink", "no password on the command line: ?password_env=VAR")
        for key, value in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
            if key not in _SINK_QUERY[kind]:
                known = ", ".join(_SINK_QUERY[kind])
                raise ConfigError("--sink", f"{text!r}: unknown parameter {key!r} (known: {known})")
            table.update(_query_value(_SINK_QUERY[kind][key], value, table, text))
        return table
    raise ConfigError("--sink", f"{text!r} is not a sink: use " + "; ".join(SINK_FORMS))


def _query_value(key: str, value: str, table: Mapping[str, Any], text: str) -> dict[str, Any]:
    if key == "recipients":
        return {key: [*table.get(key, []), value]}
    if key == "starttls":
        if value not in ("yes", "no"):
            raise ConfigError("--sink", f"{text!r}: starttls is yes or no, not {value!r}")
        return {key: value == "yes"}
    if key in _NUMERIC_QUERY:
        try:
            return {key: _NUMERIC_QUERY[key](value)}
        except ValueError:
            raise ConfigError("--sink", f"{text!r}: {key} is a number, not {value!r}") from None
    return {key: value}


def sinks_from_texts(texts: Sequence[str]) -> tuple[Mapping[str, Any], ...]:
    """The checked sink tables of ``--sink`` texts, named by type (``webhook``, then
    ``webhook-2``, ... in the order given) unless a text names its own (``?name=``).

    The name is what the outbox records acceptance under: keep the same order of ``--sink``
    options across restarts, or name them.
    """
    tables = []
    seen: dict[str, int] = {}
    for text in texts:
        table = parse_sink(text)
        if "name" not in table:
            kind = table["type"]
            seen[kind] = seen.get(kind, 0) + 1
            table["name"] = kind if seen[kind] == 1 else f"{kind}-{seen[kind]}"
        try:
            (checked,) = parse_config({"sink": [table]}).sinks
        except ConfigError as exc:
            message = str(exc).removeprefix(f"{exc.key}: ")
            field = exc.key.rpartition(".")[2]
            raise ConfigError("--sink", f"{text!r}: {field}: {message}") from None
        tables.append(checked)
    names = [table["name"] for table in tables]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("--sink", f"two sinks are named {name!r}")
    return tuple(tables)
