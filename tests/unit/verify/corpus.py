"""Corpus helpers for the scheme tests: see tests/support/corpus.py (the HTTP corpus test uses the same ones)."""

from tests.support.corpus import (  # noqa: F401 - re-exported for the scheme tests
    SCHEME_OF,
    SEPARABLE_REASONS,
    assert_scheme_verdict,
    body_of,
    cases_for,
    inbound,
    joined_headers,
    load_cases,
    query_of,
    rejection_reason,
    signed_url_base,
    verify_config,
    verify_settings,
)
