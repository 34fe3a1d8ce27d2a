"""What the preset generators (zoom.py, linear.py, calendly.py, pagerduty.py, twitch.py) share: secrets derived
from the seed, the case record of tests/corpus/webhooks/providers/<provider>.json, a node judge's verdicts, and
the file itself. Python stdlib only; run with python3 from the repository root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

SEED = 20261204
DEFAULT_NOW = 1767225600  # 2026-01-01T00:00:00Z
NODE_VERSION = "v20.20.2"
PROVIDERS_DIR = Path(__file__).resolve().parents[1] / "webhooks" / "providers"


def derived_secret(provider: str, name: str, length: int = 32) -> str:
    """A secret for `name` (`current`, `previous`, `other`) that a rerun derives again from the seed."""
    return hashlib.sha256(f"{SEED}:{provider}:{name}".encode()).hexdigest()[:length]


def derived_uuid(provider: str, name: str) -> str:
    text = hashlib.sha256(f"{SEED}:{provider}:uuid:{name}".encode()).hexdigest()
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


def compact_json(document: Any) -> bytes:
    """JSON as the providers send it: no spaces, non-ASCII as UTF-8."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def request_record(provider: str, headers: list[list[str]], body: bytes, method: str = "POST") -> dict[str, Any]:
    return {
        "method": method,
        "url": f"https://hooks.example.test/ingest/{provider}",
        "path_suffix": f"/{provider}",
        "headers": headers,
        "body_b64": base64.b64encode(body).decode(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_len": len(body),
    }


def answer_record(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    return {"status": status, "content_type": content_type, "body_b64": base64.b64encode(body).decode()}


def case_record(
    provider: str,
    number: int,
    title: str,
    *,
    headers: list[list[str]],
    body: bytes,
    secrets: list[str],
    tolerance_s: float | None,
    timestamp: Any,
    signed_with: list[str] | None,
    verdict: str,
    reason: str | None = None,
    event_id: str | None = None,
    event_type: str | None = None,
    answer: dict[str, Any] | None = None,
    basis: str,
    provenance: dict[str, Any],
    notes: str = "",
    signature_headers: list[str] | None = None,
    now: int = DEFAULT_NOW,
) -> dict[str, Any]:
    expected: dict[str, Any] = {"verdict": verdict, "reason": reason}
    if verdict == "accept":
        expected |= {"event_id": event_id, "event_type": event_type}
    if verdict == "handshake":
        expected["answer"] = answer
    record: dict[str, Any] = {
        "id": f"{provider}-{number:03d}",
        "provider": provider,
        "title": title,
        "request": request_record(provider, headers, body),
        "receiver": {"now": now, "secrets": secrets, "tolerance_s": tolerance_s},
        "signature": {"timestamp": timestamp, "signed_with": signed_with},
        "expected": expected,
        "basis": basis,
        "provenance": provenance,
        "notes": notes,
    }
    if signature_headers:
        record["signature_headers"] = signature_headers
    return record


def judge_with_node(script: Path, node_modules: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request judged by `script` (one JSON document in, one JSON list out), run with node from the scratch
    directory holding the library (NODE_PATH does not serve ES modules, so the script is copied there)."""
    target = node_modules.parent / script.name
    target.write_text(script.read_text())
    completed = subprocess.run(
        ["node", str(target)], input=json.dumps(requests), capture_output=True, text=True, check=True
    )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


def write_corpus(provider: str, generated_with: dict[str, str], cases: list[dict[str, Any]]) -> Path:
    ids = [case["id"] for case in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"
    document = {
        "format": "webhook-signature-cases/1",
        "provider": provider,
        "seed": SEED,
        "default_now": DEFAULT_NOW,
        "generated_with": generated_with,
        "generator": f"tests/corpus/generate/{provider}.py",
        "count": len(cases),
        "cases": cases,
    }
    PROVIDERS_DIR.mkdir(parents=True, exist_ok=True)
    path = PROVIDERS_DIR / f"{provider}.json"
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return path


def documented_provenance(signed_by: str, source: str) -> dict[str, Any]:
    """`provenance` of a case no official verifier judged: its verdict follows the provider's docs."""
    return {"signed_by": f"computed-by-stdlib: {signed_by}",
            "verified_by": "none: the provider publishes no verifier; the verdict follows its docs",
            "library_result": None, "source": source}
