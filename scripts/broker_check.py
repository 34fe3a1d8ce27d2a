"""What scripts/ensure-rabbitmq asks about the broker; the standard library only, so any python3 runs it.

    python3 scripts/broker_check.py probe URL        # exit 0: a broker answered the AMQP handshake
    python3 scripts/broker_check.py where URL        # "host port local user": where URL points
    python3 scripts/broker_check.py install-hint     # the command that installs RabbitMQ here
    python3 scripts/broker_check.py docker-image     # the RabbitMQ image deploy/docker-compose.yml runs

`probe` exits 3 when nothing accepts connections at URL (so starting a broker may help), and 4 with one line
on stderr when something accepts but does not answer as AMQP 0-9-1 in time (a mute or foreign server: starting
a broker cannot help). Messages name host:port only, never the URL's password.
"""

from __future__ import annotations

import platform
import re
import socket
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Seconds the broker gets to connect and answer the protocol header with Connection.Start.
HANDSHAKE_TIMEOUT = 5.0

#: What an AMQP 0-9-1 client sends first.
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"

#: The start of the broker's reply: a method frame (type 1) on channel 0, then (after the 4-byte size) class 10
#: method 10, Connection.Start.
FRAME_METHOD = 1
CONNECTION_START = (10, 10)

EXIT_NOTHING_LISTENS = 3
EXIT_NOT_AMQP = 4

#: Hosts that mean this machine: only there can a broker be started for the URL.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: When deploy/docker-compose.yml cannot be read.
FALLBACK_IMAGE = "rabbitmq:3.13-management"

REPO = Path(__file__).resolve().parent.parent


def where(url: str) -> tuple[str, int, bool]:
    """(host, port, whether the host is this machine) of an amqp:// or amqps:// URL, with AMQP's defaults."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    return host, port, host in LOCAL_HOSTS


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_connection_start(reply: bytes) -> bool:
    """Whether the first 11 bytes a broker sent are a Connection.Start method frame."""
    if len(reply) < 11 or reply[0] != FRAME_METHOD or reply[1:3] != b"\x00\x00":
        return False
    return (int.from_bytes(reply[7:9], "big"), int.from_bytes(reply[9:11], "big")) == CONNECTION_START


def describe_reply(reply: bytes) -> str:
    if not reply:
        return "closed the connection without a word"
    if reply.startswith(b"AMQP"):
        return "answered with another AMQP protocol version"
    if reply.startswith(b"HTTP/") or reply[:1] == b"<":
        return "answered as an HTTP server"
    return "answered, but not with AMQP's Connection.Start"


def probe(url: str, timeout: float = HANDSHAKE_TIMEOUT) -> tuple[int, str]:
    """(exit status, one line): 0 when a broker answers the protocol header with Connection.Start."""
    host, port, _ = where(url)
    address = host_port(host, port)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        return EXIT_NOTHING_LISTENS, f"nothing accepts connections at {address} ({error.strerror or error})"
    reply = b""
    try:
        if urlsplit(url).scheme == "amqps":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(PROTOCOL_HEADER)
        while len(reply) < 11:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(11 - len(reply))
            if not chunk:
                break
            reply += chunk
    except TimeoutError:
        return EXIT_NOT_AMQP, (f"RabbitMQ at {address} accepts connections but sent no AMQP handshake within "
                               f"{timeout:g} s: something else may hold that port, or the broker is stuck; "
                               f"free the port, or set AMQP_URL to a running broker")
    except OSError as error:
        return EXIT_NOT_AMQP, (f"RabbitMQ at {address} failed the AMQP handshake ({error}); "
                               f"set AMQP_URL to a running broker")
    finally:
        sock.close()
    if is_connection_start(reply):
        return 0, f"RabbitMQ answers at {address}"
    return EXIT_NOT_AMQP, (f"the server at {address} {describe_reply(reply)}: it is not RabbitMQ; "
                           f"set AMQP_URL to a running broker")


def install_command(system: str, os_release: str) -> str | None:
    """The one command that installs RabbitMQ on this platform (`uname -s`, /etc/os-release), if known."""
    if system == "Darwin":
        return "brew install rabbitmq && brew services start rabbitmq"
    fields = dict(re.findall(r'^([A-Z_]+)="?([^"\n]*)"?$', os_release, re.MULTILINE))
    ids = {fields.get("ID", ""), *fields.get("ID_LIKE", "").split()}
    if ids & {"debian", "ubuntu"}:
        return "sudo apt-get install rabbitmq-server"
    if ids & {"fedora", "rhel", "centos"}:
        return "sudo dnf install rabbitmq-server"
    return None


def compose_image(compose_text: str) -> str | None:
    match = re.search(r"^\s*image:\s*[\"']?(rabbitmq:[^\s\"']+)", compose_text, re.MULTILINE)
    return match.group(1) if match else None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "probe" and len(args) == 1:
        status, line = probe(args[0])
        print(line, file=sys.stderr if status else sys.stdout)
        return status
    if command == "where" and len(args) == 1:
        host, port, local = where(args[0])
        user = unquote(urlsplit(args[0]).username or "guest")
        print(host, port, "local" if local else "remote", user)
        return 0
    if command == "install-hint" and not args:
        hint = install_command(platform.system(), _read(Path("/etc/os-release")))
        print(hint or "https://www.rabbitmq.com/docs/download")
        return 0
    if command == "docker-image" and not args:
        print(compose_image(_read(REPO / "deploy" / "docker-compose.yml")) or FALLBACK_IMAGE)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
