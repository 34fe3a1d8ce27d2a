"""Rebuild tests/corpus/webhooks/payloads/ from checkouts of the repositories it was copied from.

payloads.manifest.json is the recipe: for each file, the repository, the commit, the path in it, and whether the
file is a byte-for-byte copy (`extracted` null) or one entry of Stripe's `resources` map, re-serialised with
`json.dumps(indent=2, ensure_ascii=False)` and a trailing newline. Every rebuilt file must have the manifest's
size and SHA-256, so a checkout at another commit is caught, not silently copied.

    git clone https://github.com/octokit/webhooks && git -C webhooks checkout 3a58428aa5c399cf5aa12c8663aea1fb1f515254
    git clone https://github.com/stripe/openapi && git -C openapi checkout f6c2a48fbac2819d1feba8143d942ffc65e1c0d2
    python3 tests/corpus/make_payloads.py --repo octokit/webhooks=webhooks --repo stripe/openapi=openapi
    python3 tests/corpus/make_payloads.py --check      # the files in the repository against the manifest only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

#: The webhook corpus folder: payloads/ and payloads.manifest.json.
WEBHOOKS = Path(__file__).resolve().parent / "webhooks"
#: `extracted` of a Stripe resource: which key of fixtures3.json's `resources` map the file holds.
RESOURCE_KEY = re.compile(r"^resources\['([^']+)'\]")


def manifest() -> list[dict[str, Any]]:
    return list(json.loads((WEBHOOKS / "payloads.manifest.json").read_text()))


def extract(source_bytes: bytes, extracted: str | None) -> bytes:
    """The payload file made from the source file's bytes, as the manifest's `extracted` says."""
    if extracted is None:
        return source_bytes
    match = RESOURCE_KEY.match(extracted)
    if match is None:
        raise ValueError(f"unknown extraction: {extracted!r}")
    resource = json.loads(source_bytes)["resources"][match.group(1)]
    return (json.dumps(resource, indent=2, ensure_ascii=False) + "\n").encode()


def problems_with(entry: dict[str, Any], data: bytes) -> list[str]:
    """Why `data` is not the file the manifest entry describes (empty when it is)."""
    found = []
    if len(data) != entry["size"]:
        found.append(f"size {len(data)}, manifest {entry['size']}")
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        found.append("sha256 differs from the manifest")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=PATH",
                        help="a checkout of a repository named in the manifest, at the manifest's commit")
    parser.add_argument("--check", action="store_true", help="only check the payload files against the manifest")
    args = parser.parse_args()
    checkouts = dict(item.split("=", 1) for item in args.repo)
    failures = 0
    for entry in manifest():
        target = WEBHOOKS / "payloads" / entry["file"]
        if args.check:
            data = target.read_bytes()
        else:
            source = entry["source"]
            if source["repo"] not in checkouts:
                parser.error(f"--repo {source['repo']}=PATH is needed (commit {source['commit']})")
            data = extract((Path(checkouts[source["repo"]]) / source["path"]).read_bytes(), source["extracted"])
        problems = problems_with(entry, data)
        if problems:
            failures += 1
            print(f"{entry['file']}: {'; '.join(problems)}", file=sys.stderr)
        elif not args.check:
            target.write_bytes(data)
    print(f"{len(manifest()) - failures} files match the manifest, {failures} do not")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
