"""The corpora in tests/corpus are whole: every file is there and is the file its manifest or case describes.

A truncated or re-encoded corpus file would make the tests that read it check something else than the providers'
own libraries judged; these tests catch that before any verdict is compared.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path

from tests.corpus.make_payloads import WEBHOOKS, extract, manifest, problems_with
from tests.support.corpus import CORPUS, load_cases

EVENTBRIDGE = Path(__file__).resolve().parents[1] / "corpus" / "eventbridge" / "cases.jsonl"


def test_every_payload_file_is_the_one_its_manifest_entry_describes() -> None:
    entries = manifest()
    assert Counter(entry["provider"] for entry in entries) == {"github": 16, "stripe": 8}
    for entry in entries:
        assert problems_with(entry, (WEBHOOKS / "payloads" / entry["file"]).read_bytes()) == [], entry["file"]
    listed = {entry["file"] for entry in entries}
    assert {path.name for path in (WEBHOOKS / "payloads").iterdir()} == listed, "a payload file has no manifest entry"


def test_stripe_resource_files_are_extracted_from_the_fixtures_file_beside_them() -> None:
    fixtures = (WEBHOOKS / "payloads" / "stripe__fixtures3.json").read_bytes()
    extracted = [entry for entry in manifest() if entry["source"]["extracted"]]
    assert len(extracted) == 7
    for entry in extracted:
        assert entry["source"]["path"] == "openapi/fixtures3.json"
        made = extract(fixtures, entry["source"]["extracted"])
        assert made == (WEBHOOKS / "payloads" / entry["file"]).read_bytes(), entry["file"]


def test_every_signature_case_body_matches_its_recorded_hash_and_length() -> None:
    document = json.loads((CORPUS / "cases.json").read_text())
    assert len(document["cases"]) == document["count"] == 92
    for path in (CORPUS / "providers").glob("*.json"):
        provider_file = json.loads(path.read_text())
        assert len(provider_file["cases"]) == provider_file["count"], path.name
    cases = load_cases()
    assert len({case["id"] for case in cases}) == len(cases)
    for case in cases:
        for request in [case["request"], *case.get("prior_requests", [])]:
            body = base64.b64decode(request["body_b64"], validate=True)
            if "body_sha256" in request:
                assert hashlib.sha256(body).hexdigest() == request["body_sha256"], case["id"]
        body = base64.b64decode(case["request"]["body_b64"])
        assert len(body) == case["request"]["body_len"], case["id"]


def test_every_eventbridge_case_has_a_verdict_and_a_unique_name() -> None:
    cases = [json.loads(line) for line in EVENTBRIDGE.read_text().splitlines() if line.strip()]
    assert len(cases) == 997
    assert len({case["name"] for case in cases}) == len(cases)
    assert Counter(str(case["expected"]) for case in cases) == {"False": 596, "True": 350, "invalid": 51}
