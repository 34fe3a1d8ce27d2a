"""The catalogue of schemes holds together: every scheme the config accepts is built, every provider scheme is
proven by a corpus with the cases users rely on, and docs/sources.md lists every one of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hookpipe.config import VERIFY_KEYS
from ingest import app  # noqa: F401 - what ingest gives its schemes (SNS's HTTPS client) is given here too
from ingest.verify import SCHEME_MODULES, build_scheme
from tests.support.corpus import PROVIDER_FILES, load_cases, scheme_of, verify_config

ROOT = Path(__file__).resolve().parents[2]
SOURCES_DOC = ROOT / "docs" / "sources.md"

#: Schemes that are not one provider's: configured by the user, proven by their own unit tests.
GENERIC_SCHEMES = {"none", "bearer", "basic-auth", "hmac", "gitlab"}

#: Providers that use a scheme named otherwise (Svix, Resend and Clerk sign as Standard Webhooks; Postmark sends
#: basic auth; Meta's apps sign as the generic hmac scheme with a handshake of their own).
PROVIDERS_ON_OTHER_SCHEMES = {"svix", "resend", "clerk", "postmark", "meta"}


@pytest.mark.parametrize("scheme", sorted(VERIFY_KEYS))
def test_every_scheme_the_config_accepts_has_its_module(scheme: str) -> None:
    module = ROOT / "ingest" / "verify" / f"{SCHEME_MODULES[scheme]}.py"
    assert module.is_file(), f"scheme {scheme} would answer 501: {module} is missing"


def provider_files() -> list[Path]:
    files = sorted(PROVIDER_FILES.glob("*.json"))
    assert files, f"no provider corpus in {PROVIDER_FILES}"
    return files


@pytest.mark.parametrize("path", provider_files(), ids=lambda path: path.stem)
def test_each_provider_corpus_says_how_it_was_made_and_covers_the_basics(path: Path) -> None:
    corpus = json.loads(path.read_text())
    cases = corpus["cases"]
    assert corpus["count"] == len(cases) and {case["provider"] for case in cases} == {path.stem}
    assert corpus.get("generator") and (ROOT / corpus["generator"]).is_file(), "the generator script is missing"
    assert all(case["basis"] in ("library", "published-example", "documented", "library+policy") for case in cases)
    verdicts = [case["expected"]["verdict"] for case in cases]
    assert "accept" in verdicts and "reject" in verdicts
    reasons = {case["expected"]["reason"] for case in cases}
    assert reasons & {"bad_signature", "wrong_secret", "tampered_body"}, "no forged request among the cases"
    assert "missing_header" in reasons or path.stem == "msgraph", "no case without the signature"
    for case in cases:
        if case["expected"]["verdict"] == "accept":
            assert "event_id" in case["expected"] and "event_type" in case["expected"], case["id"]
        if case["expected"]["verdict"] == "handshake":
            assert set(case["expected"]["answer"]) == {"status", "content_type", "body_b64"}, case["id"]


def test_every_provider_scheme_has_a_corpus() -> None:
    proven = {scheme_of(case) for case in load_cases()}
    assert set(VERIFY_KEYS) - GENERIC_SCHEMES - proven == set()


def test_every_corpus_case_configures_a_valid_source() -> None:
    for case in load_cases():
        build_scheme(verify_config(case))


def supported_providers_table() -> list[list[str]]:
    """The rows of docs/sources.md's "Supported providers" table, as cells."""
    text = SOURCES_DOC.read_text()
    section = text.split("## Supported providers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_docs_list_every_scheme_and_provider_with_how_its_cases_were_made() -> None:
    rows = supported_providers_table()
    assert len(rows) >= 25
    documented = {scheme for row in rows for scheme in re.findall(r"`([a-z-]+)`", row[1])}
    assert set(VERIFY_KEYS) - GENERIC_SCHEMES - documented == set()
    for row in rows:
        assert len(row) == 5 and all(row), f"a row with an empty cell: {row}"
