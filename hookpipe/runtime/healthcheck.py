"""`python -m hookpipe.runtime.healthcheck [SERVICE...]`: exit 0 once a service's ops listener answers /healthz.

The container image's HEALTHCHECK. One image runs whichever service its command names, while the config file
names an ops address for each of the four (`admin.ops` too); in a container only one of them listens, so by
default every configured ops address is tried and the first that answers 200 wins. A wildcard listen address (`0.0.0.0`,
`::`) is probed on loopback. The config is found as the services find it: `--config FILE` or HOOKPIPE_CONFIG.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

from hookpipe.config import ConfigError, load_config
from hookpipe.runtime.ops_listener import ops_base_url

#: Services whose ops listener may answer, in the order tried (each is a section of the config with `ops`).
SERVICES = ("ingest", "router", "deliverer", "admin")

#: Seconds one probe may take: well under Docker's default healthcheck time-out (30 s).
PROBE_TIMEOUT = 2.0

def probe_urls(ops_addresses: list[str]) -> list[str]:
    """The /healthz URL of each ops address, wildcards replaced by loopback."""
    return [f"{ops_base_url(address)}/healthz" for address in ops_addresses]


def healthy(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="only these (default: any of the four)")
    parser.add_argument("--config", default=os.environ.get("HOOKPIPE_CONFIG"))
    args = parser.parse_args(argv)
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service {', '.join(sorted(unknown))}; expected {', '.join(SERVICES)}")
    if not args.config:
        print("healthcheck: give --config FILE or set HOOKPIPE_CONFIG", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config).config
    except ConfigError as error:
        print(f"healthcheck: config error: {'; '.join(error.problems)}", file=sys.stderr)
        return 2
    services = args.services or SERVICES
    for url in probe_urls([getattr(config, service).ops for service in services]):
        if healthy(url):
            return 0
    print(f"healthcheck: no ops listener of {', '.join(services)} answered /healthz", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
