"""A nonce-signed request (Mailgun) is accepted again only with the same body, while its signature is fresh."""

from __future__ import annotations

from typing import Any

from ingest.replays import UsedNonces
from ingest.verify import Nonce

NOW = 1_767_225_600.0


def test_a_nonce_used_again_with_another_body_is_refused_while_fresh() -> None:
    used = UsedNonces()
    assert used.first_use(Nonce("tok", NOW + 900), b'{"id": "a"}', NOW)
    assert not used.first_use(Nonce("tok", NOW + 900), b'{"id": "b"}', NOW + 10)


def test_the_provider_retrying_the_same_body_is_not_a_replay() -> None:
    used = UsedNonces()
    assert used.first_use(Nonce("tok", NOW + 900), b"same", NOW)
    assert used.first_use(Nonce("tok", NOW + 900), b"same", NOW + 60)


def test_a_nonce_is_forgotten_once_its_signature_is_stale() -> None:
    used = UsedNonces()
    assert used.first_use(Nonce("old", NOW + 900), b"a", NOW)
    assert used.first_use(Nonce("new", NOW + 1800), b"a", NOW + 901)  # pushes "old" out: stale
    assert len(used) == 1
    # Were the scheme to accept the stale signature (it does not), it would be a first use again.
    assert used.first_use(Nonce("old", NOW + 2000), b"b", NOW + 902)


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    used = UsedNonces(max_nonces=3)
    for n in range(5):
        assert used.first_use(Nonce(f"t{n}", NOW + 900), b"body", NOW)
    assert len(used) == 3
    assert used.first_use(Nonce("t0", NOW + 900), b"other", NOW)  # forgotten: best effort, bounded
    assert not used.first_use(Nonce("t4", NOW + 900), b"other", NOW)


def test_an_unbounded_tolerance_keeps_nonces_until_evicted() -> None:
    used = UsedNonces()
    assert used.first_use(Nonce("tok", float("inf")), b"a", NOW)
    assert not used.first_use(Nonce("tok", float("inf")), b"b", NOW + 86400 * 365)


def test_a_reload_keeps_the_nonces_a_source_has_used() -> None:
    from ingest.app import carry_state, compile_sources
    from tests.support.pipeline import load, pipeline_config

    def compiled(secret: str) -> dict[str, Any]:
        sources = {"mailgun": {"verify": {"scheme": "mailgun", "secrets": [secret]}}}
        return compile_sources(load(pipeline_config("hp-unit", "http://127.0.0.1:9/", sources=sources,
                                                    routes=[])).config)

    running, rotated = compiled("k1"), compiled("k2")
    assert running["mailgun"].nonces is not None
    assert carry_state(running, rotated)["mailgun"].nonces is running["mailgun"].nonces
