"""Resend and Clerk send Svix-signed webhooks: scheme `standard-webhooks` (ingest/verify/standard_webhooks.py)
gets their own SDKs' verdicts (resend's webhooks.verify, @clerk/backend's verifyWebhook) on their corpus cases,
and the svix-id and the body's `type` as the event's id and type."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.verify import build_scheme
from tests.unit.verify.corpus import SCHEME_OF, assert_scheme_verdict, cases_for, verify_config


@pytest.mark.parametrize("case", cases_for("resend", "clerk"))
def test_every_corpus_case_gets_the_sdks_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_resend_and_clerk_are_verified_as_standard_webhooks() -> None:
    assert SCHEME_OF["resend"] == SCHEME_OF["clerk"] == "standard-webhooks"
