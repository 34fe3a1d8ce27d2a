"""`make run`'s plan, read from the config it runs with: the ports it needs, where to ask each service whether
it is ready, how to start the demo receiver, and the banner to print once all is up.

    .venv/bin/python scripts/run_plan.py CONFIG

Prints shell assignments for scripts/run-pipeline to `eval`. When a port the run needs is held by another
process, or wanted twice, prints one line on stderr naming the port, what wants it and how to choose another,
and exits 1 (2 when the config cannot be used), before anything is started.
"""

from __future__ import annotations

import errno
import re
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from hookpipe.config import Config, ConfigError, load_config
from hookpipe.runtime.ops_listener import ops_base_url, split_host_port

REPO = Path(__file__).resolve().parent.parent

#: The config `make run` uses when HOOKPIPE_CONFIG is not set.
EXAMPLE = REPO / "examples" / "pipeline.yaml"

#: The destination `make run` serves with examples/receiver.py, when its URL is on this machine.
DEMO_RECEIVER = "receiver"

#: Hosts a demo receiver can listen on.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})

#: Where `make run` keeps the admin API's token it made (scripts/run-pipeline), for the banner to point at.
ADMIN_TOKEN_FILE = ".hookpipe-admin-token"

#: How many ports above a held one are tried for the suggestion of another.
SUGGESTION_RANGE = 100

EXIT_PORT_PROBLEM = 1
EXIT_CONFIG_ERROR = 2

_WHOLE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


@dataclass(frozen=True)
class Listener:
    """A port the run listens on: which config key asks for it, and the variable the file reads it from."""

    key: str  # the config key, e.g. ingest.listen, or destinations.receiver.url
    host: str
    port: int
    variable: str | None  # set when the file's value is exactly `${VAR}` or `${VAR:-default}`
    url: str | None = None  # the receiver's URL; None for host:port keys

    def with_port(self, port: int) -> str:
        """The value that would move this listener to `port`, as its variable would be set."""
        if self.url is not None:
            parts = urlsplit(self.url)
            host = f"[{self.host}]" if ":" in self.host else self.host
            return urlunsplit(parts._replace(netloc=f"{host}:{port}"))
        return f"[{self.host}]:{port}" if ":" in self.host else f"{self.host}:{port}"


def variable_of(raw: Any, *keys: str) -> str | None:
    """The environment variable a raw (unexpanded) config value is read from, if it is one variable alone."""
    node = raw
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    match = _WHOLE_VARIABLE.fullmatch(node) if isinstance(node, str) else None
    return match.group(1) if match else None


def demo_receiver(config: Config) -> tuple[str, int, str] | None:
    """(host, port, path) where examples/receiver.py should listen: the `receiver` destination, if local."""
    destination = config.destinations.get(DEMO_RECEIVER)
    if destination is None:
        return None
    parts = urlsplit(destination.url)
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
        return None
    return parts.hostname, parts.port or 80, parts.path or "/"


def runs_admin(config: Config) -> bool:
    """Whether `make run` starts `hookpipe admin` too: when the config gives it a token."""
    return config.admin.token is not None


def listeners(config: Config, raw: Any) -> list[Listener]:
    found = []
    keys = ["ingest.listen", "ingest.ops", "router.ops", "deliverer.ops"]
    if runs_admin(config):
        keys += ["admin.listen", "admin.ops"]
    for key in keys:
        section, field = key.split(".")
        host, port = split_host_port(getattr(getattr(config, section), field))
        found.append(Listener(key, host, port, variable_of(raw, section, field)))
    receiver = demo_receiver(config)
    if receiver is not None:
        host, port, _ = receiver
        url = config.destinations[DEMO_RECEIVER].url
        found.append(Listener(f"destinations.{DEMO_RECEIVER}.url, the demo receiver", host, port,
                              variable_of(raw, "destinations", DEMO_RECEIVER, "url"), url))
    return found


def bind_error(host: str, port: int) -> OSError | None:
    """Why `host:port` cannot be listened on now, or None. Binds every address the host resolves to (as
    aiohttp's listener does: `localhost` is 127.0.0.1 and ::1), with SO_REUSEADDR as the services set it, so a
    port with only closing connections is not taken for held."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return OSError(errno.EADDRNOTAVAIL, f"cannot resolve {host} ({error.strerror})")
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                return error
    return None


def free_port_above(listener: Listener, taken: set[int]) -> int:
    for port in range(listener.port + 1, min(listener.port + SUGGESTION_RANGE, 65536)):
        if port not in taken and bind_error(listener.host, port) is None:
            return port
    return listener.port + 1


def how_to_choose(listener: Listener, port: int, config_path: str, is_example: bool) -> str:
    value = listener.with_port(port)
    key = listener.key.split(",")[0]
    if listener.variable is None:
        return f"change {key} in {config_path} (e.g. to {value})"
    if is_example:
        return (f"{listener.variable}={value} make run "
                f"(or copy examples/pipeline.yaml and run HOOKPIPE_CONFIG=my.yaml make run)")
    return f"{listener.variable}={value} make run (or change {key} in {config_path})"


def port_problem(found: list[Listener], config_path: str, is_example: bool) -> str | None:
    """One line about the first port that cannot be used, or None when all can."""
    taken = {listener.port for listener in found}
    seen: dict[int, Listener] = {}
    for listener in found:
        other = seen.get(listener.port)
        if other is not None:
            hint = how_to_choose(listener, free_port_above(listener, taken), config_path, is_example)
            return f"port {listener.port} is wanted by both {other.key} and {listener.key}: choose another: {hint}"
        seen[listener.port] = listener
    for listener in found:
        error = bind_error(listener.host, listener.port)
        if error is None:
            continue
        hint = how_to_choose(listener, free_port_above(listener, taken), config_path, is_example)
        if error.errno == errno.EADDRINUSE:
            return f"port {listener.port} ({listener.key}) is in use: stop what holds it, or choose another: {hint}"
        return (f"cannot listen on {listener.with_port(listener.port)} ({listener.key}): {error.strerror}; "
                f"choose another: {hint}")
    return None


def banner(config: Config, config_path: str) -> str:
    ingest = ops_base_url(config.ingest.listen)
    first_ops = ops_base_url(config.ingest.ops)
    ops = [f"{first_ops}/metrics (ingest)"]
    for name in ("router", "deliverer", *(["admin"] if runs_admin(config) else [])):
        url = ops_base_url(getattr(config, name).ops)
        same_host = url.rpartition(":")[0] == first_ops.rpartition(":")[0]
        ops.append(f"{':' + url.rpartition(':')[2] if same_host else url + '/metrics'} ({name})")
    lines = [
        "hookpipe is running (Ctrl-C stops it).",
        f"  config:   {config_path}",
        f"  ingest:   {ingest}/ingest/{{source}}",
        f"  ops:      {', '.join(ops)}",
    ]
    if runs_admin(config):
        lines.append(f"  admin:    {ops_base_url(config.admin.listen)}/api/v1 (bearer token: {ADMIN_TOKEN_FILE}, "
                     "or $HOOKPIPE_ADMIN_TOKEN)")
        lines.append(f"  console:  {ops_base_url(config.admin.listen)}/ (sign in with the same token)")
    if demo_receiver(config) is not None:
        lines.append(f"  receiver: {config.destinations[DEMO_RECEIVER].url} (prints every event it gets)")
    unsigned = [name for name, source in config.sources.items() if source.verify.scheme == "none"]
    if unsigned:
        name = unsigned[0]
        methods = config.sources[name].methods
        method = "POST" if "POST" in methods else methods[0]
        lines += ["", "Try:", f"  curl -X {method} {ingest}/ingest/{name} -H 'Content-Type: application/json' "
                              """-d '{"hello":"world"}'"""]
        if runs_admin(config):
            lines.append(f"  curl -s {ops_base_url(config.admin.listen)}/api/v1/events "
                         f'-H "Authorization: Bearer $(cat {ADMIN_TOKEN_FILE})"')
    elif config.sources:
        lines += ["", f"Sources: {', '.join(config.sources)} (each checks its sender's signature: docs/sources.md)"]
    else:
        lines += ["", "This config has no sources: ingest answers 404 to every request."]
    return "\n".join(lines)


def _array(values: list[str]) -> str:
    return "(" + " ".join(shlex.quote(value) for value in values) + ")"


def shell_plan(config: Config, config_path: str) -> str:
    names = ["ingest", "router", "deliverer", *(["admin"] if runs_admin(config) else [])]
    urls = [f"{ops_base_url(getattr(config, name).ops)}/readyz" for name in names]
    receiver = demo_receiver(config)
    if receiver is None:
        receiver_args: list[str] = []
        receiver_url = ""
    else:
        host, port, path = receiver
        receiver_args = ["--host", host, "--port", str(port), "--path", path]
        receiver_url = config.destinations[DEMO_RECEIVER].url
    return "\n".join([
        f"broker_url={shlex.quote(config.broker.url[0])}",  # the node `make run` checks (or starts)
        f"ready_services={_array(names)}",
        f"ready_urls={_array(urls)}",
        f"receiver_args={_array(receiver_args)}",
        f"receiver_url={shlex.quote(receiver_url)}",
        f"banner={shlex.quote(banner(config, config_path))}",
    ])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    config_path = argv[0]
    try:
        config = load_config(config_path).config
    except ConfigError as error:
        for line in error.problems:
            print(f"hookpipe: config error: {line}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    with open(config_path, "rb") as stream:  # readable and valid YAML: load_config just read it
        raw = yaml.safe_load(stream)
    is_example = Path(config_path).resolve() == EXAMPLE
    problem = port_problem(listeners(config, raw), config_path, is_example)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_PORT_PROBLEM
    print(shell_plan(config, config_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
