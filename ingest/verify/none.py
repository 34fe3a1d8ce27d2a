"""Scheme `none`: accepts every request. Only allowed with `unverified: true` (the config enforces it)."""

from __future__ import annotations

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme


def build(_: VerifyConfig) -> Scheme:
    def verify(_: InboundRequest) -> None:
        return None

    return Scheme(verify=verify)
