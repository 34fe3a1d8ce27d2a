"""Refusing a signature reused with another body, for schemes whose signature does not cover the body.

Mailgun signs `timestamp + token` only: within the freshness window, one captured signature would verify any
`event-data`. Mailgun's advice is to remember tokens; a token seen again with the same body is the provider
retrying (answered as before, and dedup keeps it from being published twice), with another body a replay
(`replayed`, 401).

Best effort, like dedup: per process (each replica remembers what it verified), bounded (oldest forgotten
first), and a nonce is forgotten once its signature is no longer fresh, when the scheme refuses it anyway.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ingest.verify import Nonce

#: Nonces remembered per source. About 250 bytes each, so at most ~12 MiB; Mailgun sends well under 50 webhooks
#: a second to most accounts, and 50/s for the default 15-minute window is 45,000.
MAX_NONCES = 50_000


class UsedNonces:
    """The nonces of verified requests whose signatures are still fresh, each with its body's digest."""

    def __init__(self, *, max_nonces: int = MAX_NONCES) -> None:
        self.max_nonces = max_nonces
        self._seen: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, nonce: Nonce, body: bytes, now: float) -> bool:
        """Remember `nonce` with `body`; False when it was used with another body and is still fresh."""
        self._forget_stale(now)
        digest = hashlib.sha256(body).digest()
        seen = self._seen.get(nonce.value)
        if seen is not None and seen[1] >= now:
            return seen[0] == digest
        self._seen[nonce.value] = (digest, nonce.fresh_until)
        self._seen.move_to_end(nonce.value)
        while len(self._seen) > self.max_nonces:
            self._seen.popitem(last=False)
        return True

    def _forget_stale(self, now: float) -> None:
        # Roughly in expiry order (fresh_until is the signed time plus a fixed tolerance): stop at the first
        # fresh one; any stale one behind it is ignored by first_use and goes when it reaches the front.
        while self._seen:
            _, (_, fresh_until) = next(iter(self._seen.items()))
            if fresh_until >= now:
                return
            self._seen.popitem(last=False)
