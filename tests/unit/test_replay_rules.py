"""hookpipe replay's options, and how the router restricts a replayed event to one route or destination."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from control.replay import (
    ListedEvent,
    ReplayError,
    ReplayOptions,
    ReplaySummary,
    check_options,
    parse_moment,
    render_listing,
    render_progress,
)
from hookpipe.amqp.codec import encode_event
from hookpipe.config import parse_config
from hookpipe.event import Event
from router.rules import compile_routes
from tests.support.wire import as_delivered

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

CONFIG = parse_config({
    "sources": {"shop": {"verify": {"scheme": "none"}, "unverified": True}},
    "destinations": {
        name: {"url": f"https://{name}.example.com/hook", "signing": {"scheme": "none"}}
        for name in ("billing", "audit", "crm")
    },
    "routes": [
        {"name": "orders", "sources": ["shop"], "to": ["billing", "audit"]},
        {"name": "paid", "sources": ["shop"], "filter": {"body": {"paid": [True]}}, "to": ["crm", "audit"]},
    ],
}, environ={}).config

EVENT = Event(id="e1", source="shop", type="order", received_at=0, verified=True,
              content_type="application/json", body=b'{"paid": true}')


def destinations(event: Event) -> list[str]:
    return sorted(delivery.destination for delivery in compile_routes(CONFIG).match(event)[1])


def test_a_live_event_goes_to_every_matching_route() -> None:
    assert destinations(EVENT) == ["audit", "billing", "crm"]


def test_a_replay_restricted_to_a_route_evaluates_only_that_route() -> None:
    assert destinations(replace(EVENT, replay=True, replay_route="paid")) == ["audit", "crm"]
    assert destinations(replace(EVENT, body=b'{"paid": false}', replay=True, replay_route="paid")) == []


def test_a_replay_restricted_to_a_destination_keeps_only_its_delivery() -> None:
    assert destinations(replace(EVENT, replay=True, replay_destination="crm")) == ["crm"]
    assert destinations(replace(EVENT, body=b'{"paid": false}', replay=True, replay_destination="crm")) == []


def test_replay_restrictions_ride_on_the_message() -> None:
    event = replace(EVENT, replay=True, replay_route="paid", replay_destination=None)
    message = as_delivered(encode_event(event))
    assert message.headers["x-hookpipe-replay"] is True
    assert message.headers["x-hookpipe-replay-route"] == "paid"
    assert "x-hookpipe-replay-destination" not in message.headers


def test_moments_are_rfc3339_or_a_duration_back_from_now() -> None:
    assert parse_moment("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_moment("2026-11-27T07:30:00Z", NOW) == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    assert parse_moment("2026-11-27T09:30:00+02:00", NOW) == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    for bad in ("yesterday", "2026-11-27T07:30:00"):
        with pytest.raises(ReplayError):
            parse_moment(bad, NOW)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"route": "nope"}, "^unknown route 'nope'; routes: orders, paid$"),
    ({"destination": "nope"}, "^unknown destination 'nope'; destinations: billing, audit, crm$"),
    ({"since": NOW}, "--since must be before --until"),
    ({"listed": -1}, "--list must be 0 or more"),
])
def test_bad_options_are_refused_before_anything_is_read(changes: dict, problem: str) -> None:
    options = replace(ReplayOptions(since=NOW - timedelta(hours=1), until=NOW), **changes)
    with pytest.raises(ReplayError, match=problem):
        check_options(CONFIG, options)


def test_a_destination_given_as_a_route_is_named_with_the_option_it_needs() -> None:
    with pytest.raises(ReplayError) as route:
        check_options(CONFIG, ReplayOptions(since=NOW - timedelta(hours=1), until=NOW, route="billing"))
    assert str(route.value) == ("unknown route 'billing'; routes: orders, paid "
                                "(billing is a destination: use --destination billing)")
    with pytest.raises(ReplayError) as destination:
        check_options(CONFIG, ReplayOptions(since=NOW - timedelta(hours=1), until=NOW, destination="paid"))
    assert str(destination.value) == ("unknown destination 'paid'; destinations: billing, audit, crm "
                                      "(paid is a route: use --route paid)")


def test_a_config_without_archive_cannot_replay() -> None:
    with pytest.raises(ReplayError, match="archive: off"):
        no_archive = CONFIG.model_copy(update={"archive": None})
        check_options(no_archive, ReplayOptions(since=NOW - timedelta(hours=1), until=NOW))


def test_the_progress_bar_shows_how_far_through_the_window_the_archive_was_read() -> None:
    summary = ReplaySummary(read=40, matched=10, published=8, window=(1_000, 2_000), reached=1_500)
    assert render_progress(summary, 10) == "replay [#####.....]  50%  read 40  matched 10  published 8"
    assert render_progress(ReplaySummary(window=(1_000, 2_000)), 4).startswith("replay [....]   0%")


def test_a_dry_run_lists_each_event_with_its_destinations_then_how_many_more() -> None:
    summary = ReplaySummary(matched=5, listed=[
        ListedEvent("evt_1", "stripe", "invoice.paid", 1_795_766_400_000, ("billing", "audit")),
        ListedEvent("a-much-longer-id", "shop", None, 1_795_766_401_002, ("crm",)),
    ])
    assert render_listing(summary) == [
        "ID                SOURCE  TYPE          RECEIVED AT               DESTINATIONS",
        "evt_1             stripe  invoice.paid  2026-11-27T08:00:00.000Z  billing, audit",
        "a-much-longer-id  shop    -             2026-11-27T08:00:01.002Z  crm",
        "... and 3 more (--list N lists more)",
    ]
    assert render_listing(ReplaySummary(matched=2, listed=summary.listed))[-1].startswith("a-much-longer-id")
    assert render_listing(ReplaySummary(matched=7)) == []  # --list 0, or nothing matched: the counts say it
