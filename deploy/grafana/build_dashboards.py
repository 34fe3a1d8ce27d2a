"""Build hookpipe's Grafana dashboards with grafana-foundation-sdk (Grafana 11.6 target) and write their JSON.

    python deploy/grafana/build_dashboards.py           # rewrite deploy/grafana/dashboards/*.json
    python deploy/grafana/build_dashboards.py --check   # exit 1 if a committed file differs from what is built

The JSON files are what Grafana provisions (deploy/grafana/provisioning); this script is their source, so edit
it and rebuild rather than editing the JSON. Needs the `deploy` extra (`pip install -e '.[deploy]'`), whose pin
`grafana-foundation-sdk==1769699379!11.6.0` matters: an unpinned install gets the Grafana 10.1 build.

Every panel query is run against a real Prometheus scraping a real pipeline by
tests/deploy/test_prometheus_dashboards.py, with the variables set as in `TEST_VARIABLES` there. Queries use
Grafana's variables only as `$datasource`, `$source`, `$destination`, `$prefix` and `$__rate_interval`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

OUTPUT = Path(__file__).resolve().parent / "dashboards"

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: RabbitMQ queue names are `{prefix}.router`, `{prefix}.deliver.{destination}`, `{prefix}.retry.{ms}`,
#: `{prefix}.dead.{destination}` (docs/architecture.md). `[.]` matches a dot without backslash escapes.
DELIVER_QUEUES = '"${prefix}[.]deliver[.]${destination}"'
WORK_QUEUES = '"${prefix}[.](router|deliver[.]${destination})"'
DEAD_QUEUES = '"${prefix}[.]dead[.]${destination}"'
RETRY_QUEUES = '"${prefix}[.]retry[.].+"'

#: Circuit breaker states as hookpipe_breaker_state reports them.
BREAKER_MAPPINGS = [model.ValueMap(options={
    "0": model.ValueMappingResult(text="closed", color="green", index=0),
    "1": model.ValueMappingResult(text="open", color="red", index=1),
    "2": model.ValueMappingResult(text="half-open", color="orange", index=2),
})]
PAUSED_MAPPINGS = [model.ValueMap(options={
    "0": model.ValueMappingResult(text="running", color="green", index=0),
    "1": model.ValueMappingResult(text="paused", color="blue", index=1),
})]
UP_MAPPINGS = [model.ValueMap(options={
    "0": model.ValueMappingResult(text="down", color="red", index=0),
    "1": model.ValueMappingResult(text="up", color="green", index=1),
})]
#: hookpipe_admin_index_active: the replica that indexes the streams, and standbys (PostgreSQL index).
INDEXING_MAPPINGS = [model.ValueMap(options={
    "0": model.ValueMappingResult(text="standby", color="blue", index=0),
    "1": model.ValueMappingResult(text="indexing", color="green", index=1),
})]


# --- building blocks ------------------------------------------------------------------------------------


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref).range()


def quantiles(metric: str, by: str, selector: str, legend: str) -> list[prometheus.Dataquery]:
    """p50, p95 and p99 of a histogram, one query each, grouped by `by`."""
    return [
        query(f"histogram_quantile({q}, sum by ({by}le) (rate({metric}_bucket{{{selector}}}[$__rate_interval])))",
              f"{legend} p{int(q * 100)}", ref)
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]


def success_ratio(by: str, selector: str) -> str:
    """Share of attempts answered 2xx, grouped `by` (may be empty). A destination with no success at all has no
    `delivered` series: `or ... * 0` makes its ratio 0 instead of no data."""
    grouping = f"sum by ({by}) " if by else "sum"
    attempts = f"{grouping}(rate(hookpipe_delivery_attempts_total{{{selector}}}[$__rate_interval]))"
    delivered = (f'{grouping}(rate(hookpipe_delivery_attempts_total{{{selector}, outcome="delivered"}}'
                 "[$__rate_interval]))")
    return f"({delivered} or {attempts} * 0) / {attempts}"


def graph(title: str, description: str, unit: str, targets: list[prometheus.Dataquery], *,
          width: int = 12, bars: bool = False, stacked: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(width).height(8).fill_opacity(10).line_width(1)
        .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM).show_legend(True))
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                 .sort(common.SortOrder.DESCENDING))
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def single(title: str, description: str, unit: str, target: prometheus.Dataquery, *, width: int = 4,
           mappings: list[model.ValueMapping] | None = None) -> stat.Panel:
    panel = (
        stat.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit).span(width).height(4)
        .graph_mode(common.BigValueGraphMode.AREA).color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .with_target(target)
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def states(title: str, description: str, target: prometheus.Dataquery, mappings: list[model.ValueMapping], *,
           width: int = 12) -> statetimeline.Panel:
    return (
        statetimeline.Panel().title(title).description(description).datasource(DATASOURCE).span(width).height(8)
        .mappings(mappings).show_value(common.VisibilityMode.NEVER).fill_opacity(80)
        .with_target(target)
    )


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def label_variable(name: str, label: str, metric: str, *, multi: bool) -> dash.QueryVariable:
    """A variable listing a label's values; with `multi`, also "All" (the regex `.*`)."""
    variable = (
        dash.QueryVariable(name).label(label).datasource(DATASOURCE)
        .query(f"label_values({metric}, {name})").refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def prefix_variable() -> dash.TextBoxVariable:
    return (dash.TextBoxVariable("prefix").label("Topology prefix").default_value("hookpipe")
            .description("broker.prefix of the pipeline: RabbitMQ queue names start with it"))


def base(title: str, uid: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title).uid(uid).description(description).tags(["hookpipe"]).timezone("browser")
        .time("now-1h", "now").refresh("30s").editable()
        .link(dash.DashboardLink("hookpipe").type(model.DashboardLinkType.DASHBOARDS).tags(["hookpipe"])
              .as_dropdown(False).include_vars(True).keep_time(True))
    )


# --- the overview ---------------------------------------------------------------------------------------


#: The overview's selectors of its multi-value variables.
SOURCES = 'source=~"$source"'
DESTINATIONS = 'destination=~"$destination"'

#: hookpipe admin's scrape job (deploy/prometheus/prometheus.yml).
ADMIN = 'job="hookpipe-admin"'


def overview() -> dash.Dashboard:
    board = (
        base("hookpipe overview", "hookpipe-overview",
             "Webhooks in, routed and delivered; failures, breakers, RabbitMQ's queues and hookpipe admin "
             "(docs/observability.md).")
        .with_variable(datasource_variable())
        .with_variable(label_variable("source", "Source", "hookpipe_ingest_requests_total", multi=True))
        .with_variable(label_variable("destination", "Destination", "hookpipe_delivery_attempts_total", multi=True))
        .with_variable(prefix_variable())
    )
    for row in (ingest_row, routing_row, delivery_row, rabbitmq_row, services_row, admin_row):
        board = row(board)
    return board


def ingest_row(board: dash.Dashboard) -> dash.Dashboard:
    src = SOURCES
    return (
        board.with_row(dash.Row("Ingest"))
        .with_panel(graph("Ingest rate by source", "Requests answered per second, by source (all statuses).",
                          "reqps", [query(f"sum by (source) (rate(hookpipe_ingest_requests_total{{{src}}}"
                                          "[$__rate_interval]))", "{{source}}")], width=8))
        .with_panel(graph("Rejects by reason", "Requests refused per second, by reason (bad_signature, too_large, "
                          "rate_limited, overloaded, broker_unavailable, ...).", "reqps",
                          [query(f"sum by (reason) (rate(hookpipe_ingest_rejections_total{{{src}}}"
                                 "[$__rate_interval]))", "{{reason}}")], width=8, stacked=True))
        .with_panel(graph("Ingest publish latency", "From publish to RabbitMQ's confirm; the provider waits for it.",
                          "s", quantiles("hookpipe_ingest_publish_seconds", "", "", "confirm"), width=8))
    )


def routing_row(board: dash.Dashboard) -> dash.Dashboard:
    dst = DESTINATIONS
    return (
        board.with_row(dash.Row("Routing"))
        .with_panel(graph("Router outcomes", "Events consumed by the router: routed, unmatched (no route) or "
                          "failed (dead-lettered).", "ops",
                          [query("sum by (outcome) (rate(hookpipe_router_events_total[$__rate_interval]))",
                                 "{{outcome}}")], width=8, stacked=True))
        .with_panel(graph("Matches per route", "Events matched per second, per route.", "ops",
                          [query("sum by (route) (rate(hookpipe_route_matches_total[$__rate_interval]))",
                                 "{{route}}")], width=8))
        .with_panel(graph("Router dead letters", "Events the router dead-lettered, by reason (malformed, "
                          "bad_json, transform_failed, publish_failed).", "short",
                          [query("sum by (reason) (increase(hookpipe_router_dead_letters_total[$__rate_interval]))",
                                 "{{reason}}")], width=8, bars=True))
        .with_panel(graph("Replays", "`hookpipe replay` traffic, counted apart from live events: router outcomes "
                          "and delivery attempts per destination.", "ops",
                          [query("sum by (outcome) (rate(hookpipe_router_replayed_events_total[$__rate_interval]))",
                                 "router {{outcome}}", "A"),
                           query(f"sum by (destination, outcome) (rate(hookpipe_replayed_delivery_attempts_total"
                                 f"{{{dst}}}[$__rate_interval]))", "{{destination}} {{outcome}}", "B")], width=24))
    )


def delivery_row(board: dash.Dashboard) -> dash.Dashboard:
    dst = DESTINATIONS
    return (
        board.with_row(dash.Row("Delivery"))
        .with_panel(graph("End-to-end latency", "From ingest accepting an event to its successful delivery, "
                          "per destination (retries included).", "s",
                          quantiles("hookpipe_end_to_end_seconds", "destination, ", dst, "{{destination}}")))
        .with_panel(graph("Delivery success ratio", "Share of attempts answered 2xx, per destination.",
                          "percentunit",
                          [query(success_ratio("destination", dst), "{{destination}}")]))
        .with_panel(graph("Delivery outcomes", "Attempts per second by destination, outcome and status class "
                          "(none: time-out, connection or DNS error, blocked address).", "ops",
                          [query(f"sum by (destination, outcome, status_class) "
                                 f"(rate(hookpipe_delivery_attempts_total{{{dst}}}[$__rate_interval]))",
                                 "{{destination}} {{outcome}} {{status_class}}")], stacked=True))
        .with_panel(graph("Attempt latency", "Duration of one outbound HTTP attempt, per destination.", "s",
                          quantiles("hookpipe_delivery_attempt_seconds", "destination, ", dst, "{{destination}}")))
        .with_panel(graph("Retries scheduled", "Failed attempts sent to a retry rung, per second.", "ops",
                          [query(f"sum by (destination) (rate(hookpipe_retries_scheduled_total{{{dst}}}"
                                 "[$__rate_interval]))", "{{destination}}")], width=8))
        .with_panel(graph("Dead letters", "Deliveries dead-lettered, by destination and reason (exhausted, "
                          "expired, dead_letter_on, blocked_address).", "short",
                          [query(f"sum by (destination, reason) (increase(hookpipe_dead_letters_total{{{dst}}}"
                                 "[$__rate_interval]))", "{{destination}} {{reason}}")], width=8, bars=True))
        .with_panel(graph("Deliveries in flight", "Outbound requests in progress, per destination.", "short",
                          [query(f"sum by (destination) (hookpipe_deliveries_in_flight{{{dst}}})",
                                 "{{destination}}")], width=8))
        .with_panel(states("Breaker state", "Circuit breaker per destination: closed, open (not consuming) or "
                           "half-open (one probe).",
                           query(f"max by (destination) (hookpipe_breaker_state{{{dst}}})", "{{destination}}"),
                           BREAKER_MAPPINGS))
        .with_panel(states("Paused destinations", "Destinations held by hand (`hookpipe destination pause`).",
                           query(f"max by (destination) (hookpipe_destination_paused{{{dst}}})", "{{destination}}"),
                           PAUSED_MAPPINGS))
    )


def rabbitmq_row(board: dash.Dashboard) -> dash.Dashboard:
    return (
        board.with_row(dash.Row("RabbitMQ"))
        .with_panel(graph("Queue depth", "Messages ready and unacknowledged in the router and destination queues "
                          "(RabbitMQ's Prometheus plugin, /metrics/per-object).", "short",
                          [query(f"sum by (queue) (rabbitmq_queue_messages_ready{{queue=~{WORK_QUEUES}}})",
                                 "{{queue}} ready", "A"),
                           query(f"sum by (queue) (rabbitmq_queue_messages_unacked{{queue=~{WORK_QUEUES}}})",
                                 "{{queue}} unacked", "B")]))
        .with_panel(graph("Queue consumers", "Consumers per queue. 0 on a destination queue: its breaker is open, "
                          "it is paused, or no deliverer runs.", "short",
                          [query(f"sum by (queue) (rabbitmq_queue_consumers{{queue=~{WORK_QUEUES}}})",
                                 "{{queue}}")]))
        .with_panel(graph("Dead-letter queues", "Messages waiting in the dead queues (`hookpipe dlq list`).",
                          "short", [query(f"sum by (queue) (rabbitmq_queue_messages{{queue=~{DEAD_QUEUES}}})",
                                          "{{queue}}")]))
        .with_panel(graph("Retry rungs", "Messages waiting out a retry delay, per rung (ms).", "short",
                          [query(f"sum by (queue) (rabbitmq_queue_messages{{queue=~{RETRY_QUEUES}}})",
                                 "{{queue}}")]))
    )


def services_row(board: dash.Dashboard) -> dash.Dashboard:
    return (
        board.with_row(dash.Row("Services"))
        .with_panel(states("Targets up", "Each scraped hookpipe service and RabbitMQ.",
                           query('up{job=~"hookpipe-.+|rabbitmq"}', "{{job}} {{instance}}"), UP_MAPPINGS))
        .with_panel(states("Broker links", "Each service's consume and publish connections to RabbitMQ.",
                           query("min by (job, instance, link) (hookpipe_broker_connected)",
                                 "{{job}} {{instance}} {{link}}"), UP_MAPPINGS))
    )


def admin_row(board: dash.Dashboard) -> dash.Dashboard:
    """hookpipe admin: its API (requests, latency, refused tokens) and its delivery-log index (lag, records,
    which replica indexes). Last: it is not in the path of events."""
    # Every hookpipe process exports the index's unlabelled gauges (at 0): only job hookpipe-admin's mean anything.
    # A standby's lag gauge keeps what it last saw: the lag shown is the indexing replica's.
    active = f"hookpipe_admin_index_active{{{ADMIN}}}"
    return (
        board.with_row(dash.Row("Admin"))
        .with_panel(graph("Admin API requests", "Requests to the admin API (/api/v1) answered per second, by HTTP "
                          "status (401: a refused token).", "reqps",
                          [query("sum by (status) (rate(hookpipe_admin_requests_total[$__rate_interval]))",
                                 "{{status}}")], width=8, stacked=True))
        .with_panel(graph("Admin API latency p99", "Time the admin API took to answer, p99 per endpoint (the route "
                          "template).", "s",
                          [query("histogram_quantile(0.99, sum by (endpoint, le) "
                                 "(rate(hookpipe_admin_request_seconds_bucket[$__rate_interval])))",
                                 "{{endpoint}}")], width=8))
        .with_panel(graph("Refused admin tokens", "Admin API requests refused with 401, by reason: missing (no "
                          "Authorization), malformed (not Bearer), wrong.", "short",
                          [query("sum by (reason) (increase(hookpipe_admin_unauthorized_total[$__rate_interval]))",
                                 "{{reason}}")], width=8, bars=True))
        .with_panel(graph("Index lag", "How far the delivery-log index is behind the streams (the indexing "
                          "replica's), and how long it took to write its last batch.", "s",
                          [query(f"max(hookpipe_admin_index_lag_seconds{{{ADMIN}}} and on (job, instance) "
                                 f"{active} == 1)", "lag", "A"),
                           query(f"max(hookpipe_admin_index_last_batch_seconds{{{ADMIN}}} and on (job, instance) "
                                 f"{active} == 1)", "last batch write", "B")], width=8))
        .with_panel(graph("Records indexed", "Records written to the index per second, by kind (archived, "
                          "routed, attempt, dead), and stream messages skipped as unreadable.", "ops",
                          [query("sum by (kind) (rate(hookpipe_admin_index_records_total[$__rate_interval]))",
                                 "{{kind}}", "A"),
                           query("sum by (stream) (rate(hookpipe_admin_index_malformed_messages_total"
                                 "[$__rate_interval]))", "unreadable {{stream}}", "B")], width=8))
        .with_panel(states("Indexing replica", "Which hookpipe admin replica indexes the streams (one at a time; "
                           "the others stand by and share its PostgreSQL index).",
                           query(f"max by (instance) ({active})", "{{instance}}"),
                           INDEXING_MAPPINGS, width=8))
    )


# --- one destination ------------------------------------------------------------------------------------


def destination() -> dash.Dashboard:
    dst = 'destination="$destination"'
    queue = '"${prefix}[.]deliver[.]${destination}"'
    board = (
        base("hookpipe destination", "hookpipe-destination",
             "One destination in detail: attempts, latency, retries, dead letters, breaker and its queues.")
        .with_variable(datasource_variable())
        .with_variable(label_variable("destination", "Destination", "hookpipe_delivery_attempts_total", multi=False))
        .with_variable(prefix_variable())
    )
    board = (
        board.with_row(dash.Row("$destination now"))
        .with_panel(single("Success ratio", "Share of attempts answered 2xx.", "percentunit",
                           query(success_ratio("", dst))))
        .with_panel(single("Attempts", "Attempts per second.", "ops",
                           query(f"sum(rate(hookpipe_delivery_attempts_total{{{dst}}}[$__rate_interval]))")))
        .with_panel(single("Breaker", "Circuit breaker state.", "none",
                           query(f"max(hookpipe_breaker_state{{{dst}}})"), mappings=BREAKER_MAPPINGS))
        .with_panel(single("Paused", "Held by `hookpipe destination pause`.", "none",
                           query(f"max(hookpipe_destination_paused{{{dst}}})"), mappings=PAUSED_MAPPINGS))
        .with_panel(single("Queue depth", "Messages in the destination's queue (ready and unacked).", "short",
                           query(f"sum(rabbitmq_queue_messages{{queue=~{queue}}})")))
        .with_panel(single("Dead letters waiting", "Messages in the destination's dead queue.", "short",
                           query(f"sum(rabbitmq_queue_messages{{queue=~{DEAD_QUEUES}}})")))
    )
    return (
        board.with_row(dash.Row("$destination over time"))
        .with_panel(graph("Attempts by outcome", "Attempts per second by outcome and status class.", "ops",
                          [query(f"sum by (outcome, status_class) (rate(hookpipe_delivery_attempts_total{{{dst}}}"
                                 "[$__rate_interval]))", "{{outcome}} {{status_class}}")], stacked=True))
        .with_panel(graph("Routed to it", "Delivery messages the router published for this destination.", "ops",
                          [query(f"sum(rate(hookpipe_router_deliveries_total{{{dst}}}[$__rate_interval]))",
                                 "routed")]))
        .with_panel(graph("End-to-end latency", "From ingest accepting an event to its delivery.", "s",
                          quantiles("hookpipe_end_to_end_seconds", "", dst, "end-to-end")))
        .with_panel(graph("Attempt latency", "Duration of one outbound HTTP attempt.", "s",
                          quantiles("hookpipe_delivery_attempt_seconds", "", dst, "attempt")))
        .with_panel(graph("Retries and dead letters", "Retries scheduled and deliveries dead-lettered by reason; "
                          "410 Gone answers apart.", "short",
                          [query(f"sum(increase(hookpipe_retries_scheduled_total{{{dst}}}[$__rate_interval]))",
                                 "retries", "A"),
                           query(f"sum by (reason) (increase(hookpipe_dead_letters_total{{{dst}}}"
                                 "[$__rate_interval]))", "dead letter {{reason}}", "B"),
                           query(f"sum(increase(hookpipe_delivery_gone_total{{{dst}}}[$__rate_interval]))",
                                 "410 Gone", "C")], bars=True))
        .with_panel(states("Breaker state", "Closed, open (not consuming) or half-open (one probe).",
                           query(f"max(hookpipe_breaker_state{{{dst}}})", "breaker"), BREAKER_MAPPINGS))
        .with_panel(graph("Queue", "The destination's queue: ready, unacked, consumers; and its dead queue.",
                          "short",
                          [query(f"sum(rabbitmq_queue_messages_ready{{queue=~{queue}}})", "ready", "A"),
                           query(f"sum(rabbitmq_queue_messages_unacked{{queue=~{queue}}})", "unacked", "B"),
                           query(f"sum(rabbitmq_queue_consumers{{queue=~{queue}}})", "consumers", "C"),
                           query(f"sum(rabbitmq_queue_messages{{queue=~{DEAD_QUEUES}}})", "dead letters", "D")]))
        .with_panel(graph("In flight", "Outbound requests in progress.", "short",
                          [query(f"sum(hookpipe_deliveries_in_flight{{{dst}}})", "in flight")]))
    )


DASHBOARDS = {"hookpipe-overview.json": overview, "hookpipe-destination.json": destination}


def render(board: dash.Dashboard) -> str:
    built = board.build()
    # Grafana links to a panel by its id (view, share, alerts): number them in layout order, rows included.
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if a committed file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, make in DASHBOARDS.items():
        text = render(make())
        path = OUTPUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python deploy/grafana/build_dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
