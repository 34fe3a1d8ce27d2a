"""Loading the pipeline file: YAML, `${VAR}` expansion, validation into the schema, and errors that name the
path and the problem but never a value. `load_config` is the only entry point the services and the commands use.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError
from yarl import URL

from hookpipe.config.schema import MIN_SECRET_BYTES, Config, whsec_key


class ConfigError(Exception):
    """A config file that cannot be used. `problems` are one line each: `path: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config, with the file it came from and warnings worth logging at start."""

    config: Config
    path: Path | None
    warnings: list[str] = field(default_factory=list)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_variables(node: Any, environ: dict[str, str] | os._Environ[str], path: str = "") -> Any:
    """Replace `${VAR}` and `${VAR:-default}` inside string values, after YAML parsing.

    Expanding after parsing means a value can never inject YAML structure. An unset variable without a default
    is an error naming the variable and where it is used.
    """
    if isinstance(node, str):
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = environ.get(name)
            if default is not None and not value:  # as in POSIX shells: `:-` also replaces an empty value
                return default
            if value is not None:
                return value
            raise ConfigError([f"{path or '<root>'}: environment variable {name} is not set"])

        return _VARIABLE.sub(replace, node)
    if isinstance(node, dict):
        return {key: expand_variables(value, environ, _join(path, key)) for key, value in node.items()}
    if isinstance(node, list):
        return [expand_variables(value, environ, f"{path}[{i}]") for i, value in enumerate(node)]
    return node


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _format_location(location: tuple[int | str, ...], data: Any) -> str:
    """The user's path to an error, such as `routes[2].filter`, walking the document itself.

    Pydantic adds the name of the union member it tried (`DedupConfig`, `bool`, `function-before[...]`) to an
    error's location; those parts are not keys of the document, so following the document drops them.
    """
    text = ""
    node = data
    for part in location:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            text += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and part in node:
            text = _join(text, part)
            node = node[part]
        elif isinstance(node, dict) and not isinstance(part, int) and part == location[-1]:
            text = _join(text, part)  # a missing or unknown key: name it
    return text or "<root>"


def _format_error(error: Any, data: Any) -> str:
    message: str = error["msg"]
    message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    location = _format_location(error["loc"], data)
    # Cross-reference errors from the top-level validator carry their own path.
    if location == "<root>" and re.match(r"^[a-z_]+(\[\d+\])?\.", message):
        return message
    return f"{location}: {message}"


def parse_config(data: Any, environ: dict[str, str] | os._Environ[str] | None = None) -> LoadedConfig:
    """Validate an already-parsed YAML document (expanding variables first)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["<root>: expected a mapping of sections (broker, sources, destinations, routes...)"])
    expanded = expand_variables(data, os.environ if environ is None else environ)
    try:
        config = Config.model_validate(expanded)
    except ValidationError as error:
        problems = list(dict.fromkeys(_format_error(e, expanded) for e in error.errors(include_input=False)))
        raise ConfigError(problems) from None
    return LoadedConfig(config=config, path=None, warnings=[*_weak_secret_warnings(config), *_host_warnings(config)])


def load_config(path: str | Path, environ: dict[str, str] | os._Environ[str] | None = None) -> LoadedConfig:
    """Read, expand and validate a config file; raises ConfigError with one line per problem."""
    path = Path(path)
    try:
        with path.open("rb") as stream:  # a stream, so YAML errors quote no line of the file
            data = yaml.safe_load(stream)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        # PyYAML quotes the offending token (an alias, a tag), which may be a secret: never repeat it.
        problem = _QUOTED.sub("<...>", error.problem or "syntax error")
        raise ConfigError([f"{path}: invalid YAML at {where}: {problem}"]) from None
    except Exception:  # PyYAML's constructors raise ValueError and others for values like 2023-02-30
        raise ConfigError([f"{path}: invalid YAML: a value cannot be read (quote it if it is a string)"]) from None
    loaded = parse_config(data, environ)
    return LoadedConfig(config=loaded.config, path=path, warnings=loaded.warnings)


def _weak_secret_warnings(config: Config) -> Iterator[str]:
    def weak(path: str, secrets: list[str] | None, is_standard: bool) -> Iterator[str]:
        for index, secret in enumerate(secrets or ()):
            key = whsec_key(secret) if secret.startswith("whsec_") and is_standard else secret.encode()
            if len(key) < MIN_SECRET_BYTES:
                yield f"{path}[{index}]: secret is shorter than {MIN_SECRET_BYTES} bytes"

    for name, source in config.sources.items():
        standard = source.verify.scheme == "standard-webhooks"  # Stripe's whsec_ secrets are used as written
        yield from weak(f"sources.{name}.verify.secrets", source.verify.secrets, standard)
    for name, destination in config.destinations.items():
        standard = destination.signing.scheme == "standard-webhooks"
        yield from weak(f"destinations.{name}.signing.secrets", destination.signing.secrets, standard)


def _host_warnings(config: Config) -> Iterator[str]:
    """A destination or proxy host not written as hookpipe connects to it: full-width `127.0.0.1` is 127.0.0.1 to the
    HTTP client, `Example.COM` is example.com, `127.1` is refused. Written in normal form, what the file says is
    what the SSRF guard checks and what an operator reads."""
    for name, destination in config.destinations.items():
        for key, url in (("url", destination.url), ("proxy", destination.proxy)):
            if url is not None and not _host_in_normal_form(url):
                yield (f"destinations.{name}.{key}: the host is not in normal form (lower-case ASCII, IDNA-encoded, "
                       "a plain IP address); write it as hookpipe connects to it")


def _host_in_normal_form(url: str) -> bool:
    written = urlsplit(url).netloc.rpartition("@")[2]
    written = written[1:].partition("]")[0] if written.startswith("[") else written.partition(":")[0]
    normal = URL(url).raw_host or ""
    if written != normal or normal.endswith("."):
        return False
    if ":" in normal:  # IPv6: the compressed lower-case form (a zone id is kept as written)
        address, _, zone = normal.partition("%25")
        return str(ipaddress.IPv6Address(address)) + (f"%25{zone}" if zone else "") == normal
    if "%" in normal:  # a name is never percent-encoded; some clients would decode it to an address
        return False
    if re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*", normal):
        # only numbers: a dotted-quad IPv4 address, never an inet_aton form such as 127.1 or 0x7f.0.0.1
        try:
            return str(ipaddress.IPv4Address(normal)) == normal
        except ValueError:
            return False
    return True


def redact_url(url: str | Sequence[str]) -> str:
    """An AMQP URL fit for logs: the password replaced by `***`. A list of them (`broker.url`'s nodes) gives each,
    comma-separated."""
    if not isinstance(url, str):
        return ", ".join(redact_url(one) for one in url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
