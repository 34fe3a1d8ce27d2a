"""What every provider generator here shares: deterministic secrets, a case in the corpus format, the file.

Used by the generators beside it (they import it as a sibling module: run them as
`python tests/corpus/generate/<name>.py` from the repository root). Stdlib only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

#: Secrets and keys are derived from this seed, so a regeneration writes the same files.
SEED = 20261204

#: The receiver's clock for every case unless a case says otherwise (2026-01-01T00:00:00Z).
NOW = 1767225600

FORMAT = "webhook-signature-cases/1"

ROOT = Path(__file__).resolve().parents[3]
PROVIDERS = ROOT / "tests" / "corpus" / "webhooks" / "providers"


def derived(provider: str, label: str, length: int = 32) -> str:
    """A secret for `provider`'s `label` ("current", "previous", "other"): base32 text of a seeded hash."""
    digest = hashlib.sha256(f"{SEED}:{provider}:{label}".encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:length]


def derived_bytes(provider: str, label: str, length: int = 24) -> bytes:
    return hashlib.sha256(f"{SEED}:{provider}:{label}:bytes".encode()).digest()[:length]


def request(provider: str, *, method: str = "POST", query: str = "", headers: list[list[str]],
            body: bytes) -> dict[str, Any]:
    url = f"https://hooks.example.test/ingest/{provider}" + (f"?{query}" if query else "")
    return {
        "method": method,
        "url": url,
        "path_suffix": f"/{provider}",
        "headers": headers,
        "body_b64": base64.b64encode(body).decode(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_len": len(body),
    }


def accept(event_id: str | None, event_type: str | None) -> dict[str, Any]:
    return {"verdict": "accept", "reason": None, "event_id": event_id, "event_type": event_type}


def reject(reason: str) -> dict[str, Any]:
    return {"verdict": "reject", "reason": reason}


def handshake(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    return {"verdict": "handshake", "reason": None,
            "answer": {"status": status, "content_type": content_type, "body_b64": base64.b64encode(body).decode()}}


def case(provider: str, number: int, title: str, *, request: dict[str, Any], receiver: dict[str, Any],
         signed_with: list[str], expected: dict[str, Any], basis: str, provenance: dict[str, Any],
         notes: str = "", signature_headers: list[str] | None = None, timestamp: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f"{provider}-{number:03d}",
        "provider": provider,
        "title": title,
        "request": request,
        "receiver": {"now": NOW, "tolerance_s": None, **receiver},
        "signature": {"timestamp": timestamp, "signed_with": signed_with},
        "expected": expected,
        "basis": basis,
        "provenance": provenance,
        "notes": notes,
    }
    if signature_headers:
        entry["signature_headers"] = signature_headers
    return entry


def write(provider: str, cases: list[dict[str, Any]], *, generator: str, generated_with: dict[str, str]) -> Path:
    """providers/<provider>.json, numbered in order."""
    for number, entry in enumerate(cases, start=1):
        entry["id"] = f"{provider}-{number:03d}"
    document = {
        "format": FORMAT,
        "provider": provider,
        "seed": SEED,
        "default_now": NOW,
        "generated_with": generated_with,
        "generator": generator,
        "count": len(cases),
        "cases": cases,
    }
    PROVIDERS.mkdir(parents=True, exist_ok=True)
    path = PROVIDERS / f"{provider}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path
