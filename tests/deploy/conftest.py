"""Deploy checks use tools outside the Python dev extra (hadolint, compose, promtool, a RabbitMQ node).

Where one is missing a test skips and says why; with HOOKPIPE_REQUIRE_DEPLOY_TOOLS=1 (`make check-deploy`,
which CI runs) it fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os

import pytest

REQUIRED = os.environ.get("HOOKPIPE_REQUIRE_DEPLOY_TOOLS") == "1"


def unavailable(reason: str) -> None:
    """Skip (or, when the tools are required, fail) because `reason`."""
    if REQUIRED:
        pytest.fail(f"required deploy tool unavailable: {reason}", pytrace=False)
    pytest.skip(reason)
