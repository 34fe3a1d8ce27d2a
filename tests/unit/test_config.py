"""The config file (docs/configuration.md): units, `${VAR}` expansion, validation, error messages and the CLI check."""

from __future__ import annotations

import copy
import ipaddress
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hookpipe.config import VERIFY_KEYS, ConfigError, LoadedConfig, load_config, parse_config
from hookpipe.config.units import format_duration, parse_duration, parse_rate, parse_size

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
HOOKPIPE = Path(sys.executable).parent / "hookpipe"

SECRET = "S3CRET-VALUE-XYZ"
TOKEN = "partner-token-0123456789"  # long enough to raise no warning
WHSEC = "whsec_aG9va3BpcGUtdW5pdC10ZXN0LXNpZ25pbmctc2VjcmV0"


def valid_config() -> dict[str, Any]:
    """A small config that passes validation, to break one key at a time."""
    return {
        "sources": {
            "partner": {"verify": {"scheme": "bearer", "secrets": [TOKEN]}},
            "demo": {"verify": {"scheme": "none"}, "unverified": True},
        },
        "destinations": {
            "d": {"url": "https://example.com/hooks", "signing": {"scheme": "standard-webhooks", "secrets": [WHSEC]}},
        },
        "routes": [{"name": "r", "sources": ["partner"], "to": ["d"]}],
    }


def with_value(path: str, value: Any, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """`valid_config()` with the value at a dotted path (`routes.0.to`) replaced or added."""
    config = copy.deepcopy(valid_config() if config is None else config)
    *parents, last = path.split(".")
    node: Any = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


def problems(config: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config, environ={} if environ is None else environ)
    return caught.value.problems


def parse(config: Any, environ: dict[str, str] | None = None) -> LoadedConfig:
    return parse_config(config, environ={} if environ is None else environ)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


# --- units ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("5s", 5.0), ("2m", 120.0), ("1h", 3600.0), ("3d", 259200.0), ("1.5s", 1.5), (" 5 s ", 5.0),
     (5, 5.0), (2.5, 2.5)],
)
def test_durations_read_ms_s_m_h_d_or_bare_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "5S", "1w", "-1s", "", "five seconds", None, True, [5], "1e3s"])
def test_malformed_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_negative_bare_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)


def test_nan_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_duration(math.nan)


@pytest.mark.parametrize(
    ("text", "size"),
    [("256KiB", 262144), ("1MiB", 1048576), ("10GiB", 10 * 1024**3), ("1KB", 1000), ("2MB", 2_000_000),
     ("100", 100), ("100B", 100), ("1.5MiB", 1572864), (4096, 4096)],
)
def test_sizes_read_binary_and_decimal_units(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1mib", "1 MiBs", "KiB", "-1KiB", 1.5, True, None, ["1MiB"]])
def test_malformed_sizes_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


@pytest.mark.parametrize("text", [0, "0KiB", "0.0001KiB", -5])
def test_sizes_must_be_positive(text: object) -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_size(text)


@pytest.mark.parametrize(("text", "per_second"), [("50/s", 50.0), ("1000/m", 1000 / 60), ("3600/h", 1.0),
                                                  ("0.5/s", 0.5), ("10 / s", 10.0)])
def test_rates_read_per_second_minute_hour(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["50", 50, "50/d", "50 per second", "/s", None])
def test_malformed_rates_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_zero_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_rate("0/s")


@pytest.mark.parametrize(("seconds", "text"), [(0.5, "500ms"), (300, "5m"), (90, "90s"), (86400, "1d"),
                                               (7200, "2h")])
def test_format_duration_gives_back_the_shortest_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_config_reads_units_into_base_units() -> None:
    config = with_value("destinations.d.timeout", "500ms")
    config = with_value("destinations.d.rate_limit", "1000/m", config)
    config = with_value("sources.demo.max_body", "256KiB", config)
    config = with_value("destinations.d.retry", {"schedule": ["5s", "2m"], "max_age": "3d"}, config)
    loaded = parse(config).config
    destination = loaded.destinations["d"]
    assert destination.timeout == 0.5
    assert destination.rate_limit == pytest.approx(1000 / 60)
    assert destination.retry.schedule == [5.0, 120.0]
    assert destination.retry.max_age == 3 * 86400
    assert loaded.sources["demo"].max_body == 262144


def test_bad_unit_names_its_path() -> None:
    assert problems(with_value("destinations.d.timeout", "15 seconds")) == [
        "destinations.d.timeout: expected a duration such as 500ms, 5s, 2m, 1h or 3d"
    ]


def test_tolerance_none_means_no_freshness_bound() -> None:
    config = with_value("sources.stripe", {"verify": {"scheme": "stripe", "secrets": [TOKEN], "tolerance": "none"}})
    assert parse(config).config.sources["stripe"].verify.tolerance == math.inf


# --- ${VAR} expansion ----------------------------------------------------------------------------------


def test_variable_is_expanded_inside_a_string() -> None:
    config = with_value("destinations.d.url", "https://${HOST}/hooks?team=${TEAM:-core}")
    loaded = parse(config, {"HOST": "billing.example.com"})
    assert loaded.config.destinations["d"].url == "https://billing.example.com/hooks?team=core"


def test_default_is_used_when_variable_is_unset() -> None:
    loaded = parse(with_value("broker.url", "${AMQP_URL:-amqp://guest:guest@10.0.0.5:5672/}"))
    assert loaded.config.broker.url == ("amqp://guest:guest@10.0.0.5:5672/",)


def test_set_variable_wins_over_default() -> None:
    loaded = parse(with_value("broker.url", "${AMQP_URL:-amqp://default/}"), {"AMQP_URL": "amqps://broker/"})
    assert loaded.config.broker.url == ("amqps://broker/",)


def test_default_applies_when_variable_is_set_but_empty() -> None:
    loaded = parse(with_value("broker.url", "${AMQP_URL:-amqp://default/}"), {"AMQP_URL": ""})
    assert loaded.config.broker.url == ("amqp://default/",)


# --- broker.url: one node or a list of them ------------------------------------------------------------

NODE_0 = "amqp://hookpipe:pw@rabbit-0:5672/"
NODE_1 = "amqps://hookpipe:pw@rabbit-1:5671/"


def test_one_broker_url_is_a_list_of_one_node() -> None:
    assert parse(with_value("broker.url", NODE_0)).config.broker.url == (NODE_0,)


def test_broker_url_list_keeps_the_order_the_nodes_are_tried_in() -> None:
    assert parse(with_value("broker.url", [NODE_1, NODE_0])).config.broker.url == (NODE_1, NODE_0)


def test_broker_url_list_items_expand_variables() -> None:
    config = with_value("broker.url", ["${AMQP_URL}", "${AMQP_URL_1:-amqp://rabbit-1/}"])
    assert parse(config, {"AMQP_URL": NODE_0}).config.broker.url == (NODE_0, "amqp://rabbit-1/")


def test_broker_url_list_from_a_yaml_file(tmp_path: Path) -> None:
    text = f'broker:\n  url: ["{NODE_0}", "{NODE_1}"]\n'
    assert load_config(write(tmp_path, text), environ={}).config.broker.url == (NODE_0, NODE_1)


def test_default_broker_url_is_one_local_node() -> None:
    assert parse({}).config.broker.url == ("amqp://guest:guest@127.0.0.1:5672/",)


def test_empty_broker_url_list_is_refused() -> None:
    assert problems(with_value("broker.url", [])) == [
        "broker.url: expected an AMQP URL or a list of them, not an empty list"
    ]


def test_broker_url_list_names_the_item_that_is_not_amqp() -> None:
    assert problems(with_value("broker.url", [NODE_0, "http://rabbit-1:5672/"])) == [
        "broker.url: expected an amqp:// or amqps:// URL (item 2 of the list)"
    ]


def test_value_containing_yaml_syntax_stays_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  demo:\n    verify: {scheme: none}\n    unverified: true\n"
                           "    response: {body: '${TEAM}'}\n")
    injected = "{a: 1}\nrouter: {unrouted: true}\n- [x]"
    loaded = load_config(path, environ={"TEAM": injected})
    assert loaded.config.sources["demo"].response.body == injected
    assert loaded.config.router.unrouted is False


def test_expanded_value_is_not_expanded_again() -> None:
    loaded = parse(with_value("destinations.d.headers", {"X-A": "${A}"}), {"A": "${B}", "B": "nope"})
    assert loaded.config.destinations["d"].headers == {"X-A": "${B}"}


def test_expansion_touches_string_values_only() -> None:
    config = with_value("destinations.d.headers", {"${KEY}": "v"})
    config = with_value("destinations.d.concurrency", 7, config)
    # the key stays `${KEY}`, which is no header name (X-Other would be one)
    assert problems(config, {"KEY": "X-Other"}) == [
        "destinations.d.headers: a header name is letters, digits and !#$%&'*+-.^_`|~ only"
    ]
    config = with_value("destinations.d.headers", {"X-Key": "${KEY}"}, config)
    assert parse(config, {"KEY": "v"}).config.destinations["d"].concurrency == 7


def test_unset_variable_without_default_names_the_variable_and_the_path() -> None:
    config = with_value("sources.partner.verify.secrets", [TOKEN, "${PARTNER_TOKEN_NEXT}"])
    assert problems(config) == [
        "sources.partner.verify.secrets[1]: environment variable PARTNER_TOKEN_NEXT is not set"
    ]


def test_unset_variable_in_a_route_names_its_index() -> None:
    assert problems(with_value("routes.0.name", "${ROUTE_NAME}")) == [
        "routes[0].name: environment variable ROUTE_NAME is not set"
    ]


def test_load_config_reads_the_process_environment_by_default(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKPIPE_UNIT_PREFIX", "unit-prefix")
    loaded = load_config(write(tmp_path, "broker: {prefix: '${HOOKPIPE_UNIT_PREFIX}'}\n"))
    assert loaded.config.broker.prefix == "unit-prefix"
    assert loaded.path == tmp_path / "pipeline.yaml"


# --- secrets -------------------------------------------------------------------------------------------


def test_empty_secrets_are_dropped_after_expansion() -> None:
    config = with_value("sources.partner.verify.secrets", ["${PARTNER_TOKEN_PREVIOUS:-}", TOKEN, ""])
    assert parse(config).config.sources["partner"].verify.secrets == [TOKEN]


def test_secret_list_left_empty_is_an_error() -> None:
    config = with_value("sources.partner.verify.secrets", ["${PARTNER_TOKEN:-}", "${PARTNER_TOKEN_PREVIOUS:-}"])
    assert problems(config) == [
        "sources.partner.verify.secrets: no secret left after dropping empty ones: set at least one"
    ]


def test_signing_secret_list_left_empty_is_an_error() -> None:
    config = with_value("destinations.d.signing.secrets", ["${RECEIVER_SECRET:-}"])
    assert problems(config) == [
        "destinations.d.signing.secrets: no secret left after dropping empty ones: set at least one"
    ]


def test_whsec_secret_with_an_empty_key_is_refused() -> None:
    problems(with_value("destinations.d.signing.secrets", ["whsec_${RECEIVER_SECRET:-}"]))


def test_whsec_secret_must_be_base64() -> None:
    assert problems(with_value("destinations.d.signing.secrets", ["whsec_not base64!"])) == [
        "destinations.d.signing: a whsec_ secret must be base64 after the prefix"
    ]


def test_short_secret_is_a_warning_naming_the_path_not_the_secret() -> None:
    loaded = parse(with_value("sources.partner.verify.secrets", [TOKEN, "short-tok"]))
    assert loaded.warnings == ["sources.partner.verify.secrets[1]: secret is shorter than 16 bytes"]


def test_short_signing_secret_is_a_warning() -> None:
    loaded = parse(with_value("destinations.d.signing", {"scheme": "hmac", "header": "X-Sig", "secrets": ["abc"]}))
    assert loaded.warnings == ["destinations.d.signing.secrets[0]: secret is shorter than 16 bytes"]


def test_sixteen_byte_secret_raises_no_warning() -> None:
    assert parse(with_value("sources.partner.verify.secrets", ["0123456789abcdef"])).warnings == []
    # bytes, not characters: 8 two-byte characters are 16 bytes
    assert parse(with_value("sources.partner.verify.secrets", ["éééééééé"])).warnings == []


def test_short_whsec_key_is_a_warning() -> None:
    loaded = parse(with_value("destinations.d.signing.secrets", ["whsec_YWJj"]))
    assert loaded.warnings == ["destinations.d.signing.secrets[0]: secret is shorter than 16 bytes"]


# --- validation ----------------------------------------------------------------------------------------


def test_valid_config_parses_with_defaults() -> None:
    loaded = parse(valid_config())
    config = loaded.config
    assert loaded.warnings == []
    assert config.broker.prefix == "hookpipe"
    assert config.broker.heartbeat == 10.0
    assert config.ingest.max_body == 1024**2
    assert config.destinations["d"].dead_letter_on == [410]
    assert config.destinations["d"].allow_private_network is False
    assert config.sources["partner"].methods == ["POST"]
    assert config.sources["partner"].dedup is not None
    assert config.archive is not None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("sources.partner.verify.bogus", "sources.partner.verify.bogus: unknown key"),
        ("bogus", "bogus: unknown key"),
        ("destinations.d.retry.bogus", "destinations.d.retry.bogus: unknown key"),
        ("sources.partner.dedup.bogus", "sources.partner.dedup.bogus: unknown key"),
        ("routes.0.bogus", "routes[0].bogus: unknown key"),
    ],
)
def test_unknown_key_is_refused_with_its_path(path: str, expected: str) -> None:
    config = valid_config()
    if path.startswith("sources.partner.dedup"):
        config = with_value("sources.partner.dedup", {"window": "1h"}, config)
    if path.startswith("destinations.d.retry"):
        config = with_value("destinations.d.retry", {"max_age": "1d"}, config)
    assert problems(with_value(path, 1, config)) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    config = with_value("destinations.d.url", "ftp://example.com/")
    config = with_value("broker.heartbeat", "1m", config)
    assert sorted(problems(config)) == [
        "broker.heartbeat: must be between 1s and 10s, so a cut link is noticed quickly",
        "destinations.d.url: expected an http:// or https:// URL with a host",
    ]


def test_root_must_be_a_mapping() -> None:
    assert problems(["broker"]) == [
        "<root>: expected a mapping of sections (broker, sources, destinations, routes...)"
    ]


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, "# nothing yet\n"))
    assert loaded.config.sources == {} and loaded.config.routes == []


MINIMAL_VERIFY_VALUES: dict[str, Any] = {
    "secrets": [TOKEN], "public_url": "https://hooks.example.com/ingest/twilio",
    "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", "username": "partner", "header": "X-Signature",
    "topics": ["arn:aws:sns:us-east-1:123456789012:orders"],
}


@pytest.mark.parametrize("scheme", sorted(VERIFY_KEYS))
def test_each_scheme_accepts_exactly_its_required_keys(scheme: str) -> None:
    required, _ = VERIFY_KEYS[scheme]
    verify = {"scheme": scheme, **{key: MINIMAL_VERIFY_VALUES[key] for key in required}}
    source = {"verify": verify, "unverified": scheme == "none"}
    assert parse(with_value("sources.s", source)).config.sources["s"].verify.scheme == scheme


@pytest.mark.parametrize(
    ("verify", "expected"),
    [
        ({"scheme": "twilio", "secrets": [TOKEN]}, "scheme twilio needs 'public_url'"),
        ({"scheme": "hmac", "secrets": [TOKEN]}, "scheme hmac needs 'header'"),
        ({"scheme": "basic-auth", "secrets": [TOKEN]}, "scheme basic-auth needs 'username'"),
        ({"scheme": "sendgrid"}, "scheme sendgrid needs 'public_key'"),
        ({"scheme": "stripe"}, "scheme stripe needs 'secrets'"),
        ({"scheme": "bearer", "secrets": [TOKEN], "tolerance": "5m"}, "'tolerance' is not used by scheme bearer"),
        ({"scheme": "github", "secrets": [TOKEN], "header": "X-Sig"}, "'header' is not used by scheme github"),
        ({"scheme": "sendgrid", "public_key": "MFkw", "secrets": [TOKEN]}, "'secrets' is not used by scheme sendgrid"),
        ({"scheme": "hmac", "secrets": [TOKEN], "header": "X-Sig", "signed": "{timestamp}"},
         "'signed' must contain {body}"),
    ],
)
def test_scheme_keys_are_checked(verify: dict[str, Any], expected: str) -> None:
    assert problems(with_value("sources.s", {"verify": verify})) == [f"sources.s.verify: {expected}"]


def test_unknown_scheme_is_refused() -> None:
    (problem,) = problems(with_value("sources.partner.verify.scheme", "hmac-sha256"))
    assert problem.startswith("sources.partner.verify.scheme: Input should be 'stripe'")


def test_scheme_none_requires_unverified_true() -> None:
    assert problems(with_value("sources.demo.unverified", False)) == [
        "sources.demo: scheme none accepts anyone's requests: say 'unverified: true'"
    ]


def test_unverified_true_is_only_for_scheme_none() -> None:
    assert problems(with_value("sources.partner.unverified", True)) == [
        "sources.partner: 'unverified: true' is only for scheme none"
    ]


def test_field_source_takes_one_header_or_one_json_path() -> None:
    config = with_value("sources.partner.type", {"json": "$.data.type"})
    assert parse(config).config.sources["partner"].type.json_path == "$.data.type"  # type: ignore[union-attr]
    assert problems(with_value("sources.partner.id", {"header": "x-id", "json": "$.id"})) == [
        "sources.partner.id: give exactly one of 'header' or 'json'"
    ]
    assert problems(with_value("sources.partner.id", {"json": "data.id"})) == [
        "sources.partner.id: 'json' must be a path such as $.type or $.data.id"
    ]


@pytest.mark.parametrize("name", ["has space", "-leading-dash", "dots.in.name", "x" * 101, "ünicode"])
def test_source_and_destination_names_are_restricted(name: str) -> None:
    config = valid_config()
    config["sources"][name] = config["sources"]["partner"]
    (problem,) = problems(config)
    assert problem.startswith("sources: ") and "names are letters, digits" in problem


def test_route_to_unknown_destination_is_refused() -> None:
    assert problems(with_value("routes.0.to", ["d", "nowhere"])) == ["routes[0].to: no destination named 'nowhere'"]


def test_route_from_unknown_source_is_refused() -> None:
    assert problems(with_value("routes.0.sources", ["stripe"])) == ["routes[0].sources: no source named 'stripe'"]


def test_route_needs_a_destination() -> None:
    (problem,) = problems(with_value("routes.0.to", []))
    assert problem.startswith("routes[0].to: ")


def test_duplicate_route_names_are_refused() -> None:
    config = valid_config()
    config["routes"].append({"name": "r", "to": ["d"]})
    assert problems(config) == ["routes[1].name: 'r' is used twice"]


def test_destination_without_signing_is_refused() -> None:
    config = valid_config()
    del config["destinations"]["d"]["signing"]
    (problem,) = problems(config)
    assert problem.startswith("destinations.d: 'signing' is required")


@pytest.mark.parametrize(
    ("signing", "expected"),
    [
        ({"scheme": "standard-webhooks"}, "scheme standard-webhooks needs 'secrets' (or say scheme: none)"),
        ({"scheme": "hmac", "secrets": [TOKEN]}, "scheme hmac needs 'header'"),
        ({"scheme": "standard-webhooks", "secrets": [WHSEC], "prefix": "sha256="}, "'prefix' is only for scheme hmac"),
        ({"scheme": "none", "encoding": "base64"}, "'encoding' is only for scheme hmac"),
    ],
)
def test_signing_keys_are_checked(signing: dict[str, Any], expected: str) -> None:
    assert problems(with_value("destinations.d.signing", signing)) == [f"destinations.d.signing: {expected}"]


@pytest.mark.parametrize("header", ["Authorization", "cookie", "Proxy-Authorization"])
def test_forward_headers_refuse_credential_headers(header: str) -> None:
    assert problems(with_value("destinations.d.forward_headers", ["x-github-event", header])) == [
        f"destinations.d.forward_headers: '{header.lower()}' carries credentials and is never forwarded"
    ]


def test_forward_headers_are_lower_cased() -> None:
    loaded = parse(with_value("destinations.d.forward_headers", ["X-GitHub-Event"]))
    assert loaded.config.destinations["d"].forward_headers == ["x-github-event"]


@pytest.mark.parametrize("header", ["X-Hookpipe-Source", "webhook-signature"])
def test_static_headers_cannot_override_hookpipe_headers(header: str) -> None:
    assert problems(with_value("destinations.d.headers", {header: "x"})) == [
        f"destinations.d.headers: '{header}' is set by hookpipe itself"
    ]


# --- values that go into an HTTP header ----------------------------------------------------------------

CONTROL_VALUES = ["token\r\nX-Injected: 1", "token\nX-Injected: 1", "token\r", "tok\x00en", "tok\x7fen"]


@pytest.mark.parametrize("value", CONTROL_VALUES)
def test_a_static_header_value_with_a_control_character_is_refused(value: str) -> None:
    assert problems(with_value("destinations.d.headers", {"X-Api-Key": value})) == [
        "destinations.d.headers: 'X-Api-Key': a header value cannot contain CR, LF or other control characters"
    ]


def test_a_static_header_value_may_hold_tabs_spaces_and_utf8() -> None:
    headers = {"X-Api-Key": "a b\tc", "X-Name": "caf\u00e9"}
    assert parse(with_value("destinations.d.headers", headers)).config.destinations["d"].headers == headers


@pytest.mark.parametrize("name", ["X Api", "X-Api:", "X-Api\r\nX-Injected", "", "X-\u00c4pi", "(x)"])
def test_a_static_header_name_that_is_not_a_token_is_refused(name: str) -> None:
    assert problems(with_value("destinations.d.headers", {name: "v"})) == [
        "destinations.d.headers: a header name is letters, digits and !#$%&'*+-.^_`|~ only"
    ]


@pytest.mark.parametrize("name", ["x github event", "x-github-event\r\nx-injected", ""])
def test_a_forwarded_header_name_that_is_not_a_token_is_refused(name: str) -> None:
    assert problems(with_value("destinations.d.forward_headers", [name])) == [
        "destinations.d.forward_headers: a header name is letters, digits and !#$%&'*+-.^_`|~ only"
    ]


@pytest.mark.parametrize(("signing", "expected"), [
    ({"scheme": "hmac", "secrets": [TOKEN], "header": "X-Sig\r\nX-Injected: 1"},
     "a header name is letters, digits and !#$%&'*+-.^_`|~ only"),
    ({"scheme": "hmac", "secrets": [TOKEN], "header": "X-Sig", "prefix": "sha256=\r\n"},
     "'prefix': a header value cannot contain CR, LF or other control characters"),
])
def test_signing_header_name_and_prefix_are_checked(signing: dict[str, Any], expected: str) -> None:
    assert problems(with_value("destinations.d.signing", signing)) == [f"destinations.d.signing: {expected}"]


def test_a_response_content_type_with_a_control_character_is_refused() -> None:
    config = with_value("sources.partner.response", {"content_type": "text/plain\r\nSet-Cookie: a=b"})
    assert problems(config) == [
        "sources.partner.response.content_type: a header value cannot contain CR, LF or other control characters"
    ]


@pytest.mark.parametrize("url", ["https://example.com/\r\nX-Injected: 1", "https://example.com/a b",
                                 "https://exa\tmple.com/", "https://example.com/\x00"])
def test_a_destination_url_with_whitespace_or_control_characters_is_refused(url: str) -> None:
    assert problems(with_value("destinations.d.url", url)) == [
        "destinations.d.url: a URL cannot contain spaces or control characters (percent-encode them)"
    ]


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "127.0.0.1:3128", "http://", "http://proxy\r\n:3128"])
def test_a_proxy_must_be_an_http_url_with_a_host(proxy: str) -> None:
    [problem] = problems(with_value("destinations.d.proxy", proxy))
    assert problem.startswith("destinations.d.proxy: ")


@pytest.mark.parametrize("url", ["https://b\u00fccher..example/", "https://a..b\u3002\u3002/", "https://exa\u200bmple.com/"])
def test_a_destination_host_the_client_cannot_encode_is_refused(url: str) -> None:
    assert problems(with_value("destinations.d.url", url)) == [
        "destinations.d.url: the host is not a valid host name (IDNA)"
    ]


# --- hosts in normal form ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [
    "\uff11\uff12\uff17.0.0.1", "127\u30020\u30020\u30021", "Example.COM", "\uff25xample.com", "b\u00fccher.example",
    "[::FFFF:7F00:1]", "[0:0:0:0:0:0:0:1]", "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "%31%32%37.0.0.1",
    "example.com.",
])
def test_a_destination_host_not_in_normal_form_is_a_warning(host: str) -> None:
    loaded = parse(with_value("destinations.d.url", f"https://{host}:8443/hooks"))
    assert loaded.warnings == [
        "destinations.d.url: the host is not in normal form (lower-case ASCII, IDNA-encoded, a plain IP address); "
        "write it as hookpipe connects to it"
    ]


@pytest.mark.parametrize("host", ["example.com", "xn--bcher-kva.example", "127.0.0.1", "[::1]", "[fe80::1%25eth0]",
                                  "hooks-1.eu.example.com"])
def test_a_destination_host_in_normal_form_raises_no_warning(host: str) -> None:
    assert parse(with_value("destinations.d.url", f"https://user:pw@{host}:8443/hooks")).warnings == []


def test_a_proxy_host_not_in_normal_form_is_a_warning() -> None:
    loaded = parse(with_value("destinations.d.proxy", "http://\uff11\uff10.0.0.1:3128"))
    assert loaded.warnings == [
        "destinations.d.proxy: the host is not in normal form (lower-case ASCII, IDNA-encoded, a plain IP address); "
        "write it as hookpipe connects to it"
    ]


# --- standard-webhooks signing secrets -----------------------------------------------------------------


@pytest.mark.parametrize("secret", ["a-plain-shared-secret-long-enough", "c2VjcmV0LWluLWJhc2U2NC1idXQtbm8tcHJlZml4"])
def test_a_standard_webhooks_signing_secret_must_be_whsec(secret: str) -> None:
    [problem] = problems(with_value("destinations.d.signing.secrets", [WHSEC, secret]))
    assert problem == (
        "destinations.d.signing: a standard-webhooks secret is whsec_ followed by base64 (Standard Webhooks "
        "receivers decode it so); make one with: python -c \"import base64,os;print('whsec_'+"
        "base64.b64encode(os.urandom(32)).decode())\""
    )
    assert secret not in problem


def test_an_hmac_signing_secret_is_used_as_written() -> None:
    signing = {"scheme": "hmac", "header": "X-Sig", "secrets": ["a-plain-shared-secret-long-enough"]}
    assert parse(with_value("destinations.d.signing", signing)).warnings == []


@pytest.mark.parametrize("path", ["examples/pipeline.yaml", "deploy/pipeline.yaml"])
def test_the_shipped_configs_validate_without_host_or_secret_problems(path: str) -> None:
    loaded = load_config(REPO / path, environ={})
    assert not [warning for warning in loaded.warnings if "normal form" in warning]


@pytest.mark.parametrize("url", ["ftp://example.com/", "example.com/hooks", "https:///path", "javascript:alert(1)"])
def test_destination_url_must_be_http_with_a_host(url: str) -> None:
    assert problems(with_value("destinations.d.url", url)) == [
        "destinations.d.url: expected an http:// or https:// URL with a host"
    ]


def test_allow_private_network_takes_a_list_of_networks() -> None:
    loaded = parse(with_value("destinations.d.allow_private_network", ["127.0.0.0/8", "::1/128", "10.1.2.3/8"]))
    assert loaded.config.destinations["d"].allow_private_network == [
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"), ipaddress.ip_network("10.0.0.0/8"),
    ]


def test_allow_private_network_takes_true() -> None:
    assert parse(with_value("destinations.d.allow_private_network", True)).config.destinations[
        "d"].allow_private_network is True


@pytest.mark.parametrize("networks", [["localhost"], ["127.0.0.0/33"], ["10.0.0.0/8/8"], [None]])
def test_allow_private_network_refuses_what_is_not_a_network(networks: list[object]) -> None:
    assert problems(with_value("destinations.d.allow_private_network", networks)) == [
        "destinations.d.allow_private_network: expected true, false, or a list of networks such as 127.0.0.0/8"
    ]


@pytest.mark.parametrize("off", [False, "off"])
def test_dedup_off_and_archive_off(off: object) -> None:
    config = with_value("sources.partner.dedup", off)
    config = with_value("archive", off, config)
    loaded = parse(config).config
    assert loaded.sources["partner"].dedup is None
    assert loaded.archive is None


def test_yaml_off_turns_dedup_and_archive_off(tmp_path: Path) -> None:
    path = write(tmp_path, "archive: off\nsources:\n  demo:\n    verify: {scheme: none}\n    unverified: true\n"
                           "    dedup: off\n")
    loaded = load_config(path, environ={}).config
    assert loaded.archive is None
    assert loaded.sources["demo"].dedup is None


def test_dedup_and_archive_settings_are_read() -> None:
    config = with_value("sources.partner.dedup", {"window": "10m", "max_ids": 50})
    config = with_value("archive", {"max_age": "1d", "max_bytes": "1GiB"}, config)
    loaded = parse(config).config
    assert (loaded.sources["partner"].dedup.window, loaded.sources["partner"].dedup.max_ids) == (600.0, 50)  # type: ignore[union-attr]
    assert (loaded.archive.max_age, loaded.archive.max_bytes) == (86400.0, 1024**3)  # type: ignore[union-attr]


@pytest.mark.parametrize("heartbeat", ["0s", "500ms", "11s", "1m"])
def test_heartbeat_stays_within_ten_seconds(heartbeat: str) -> None:
    (problem,) = problems(with_value("broker.heartbeat", heartbeat))
    assert problem.startswith("broker.heartbeat: must be between 1s and 10s")


@pytest.mark.parametrize("budget", ["0s", 0, "61s", "2m"])
def test_router_match_budget_is_more_than_zero_and_at_most_a_minute(budget: object) -> None:
    (problem,) = problems(with_value("router.match_budget", budget))
    assert problem.startswith("router.match_budget: must be more than 0 and at most 1m")


def test_router_match_budget_reads_a_duration_and_defaults_to_two_seconds() -> None:
    assert parse(valid_config()).config.router.match_budget == 2.0
    assert parse(with_value("router.match_budget", "10ms")).config.router.match_budget == 0.01


@pytest.mark.parametrize(("listen", "message"), [("8080", "expected host:port"), ("127.0.0.1:0", "port must be"),
                                                 ("127.0.0.1:65536", "port must be"), ("[::1]:http", "expected")])
def test_listen_address_is_host_and_port(listen: str, message: str) -> None:
    (problem,) = problems(with_value("ingest.listen", listen))
    assert problem.startswith(f"ingest.listen: {message}")


def test_config_is_frozen() -> None:
    config = parse(valid_config()).config
    with pytest.raises(Exception, match="frozen"):
        config.destinations["d"].url = "https://elsewhere.example.com/"


def test_yaml_error_names_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, "broker:\n  url: [unclosed\n")
    (problem,) = problems_of_file(path)
    assert problem.startswith(f"{path}: invalid YAML at line 3")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    (problem,) = problems_of_file(tmp_path / "absent.yaml")
    assert problem == f"{tmp_path / 'absent.yaml'}: cannot read (No such file or directory)"


@pytest.mark.parametrize("value", ["2023-02-30", "0x_"])
def test_yaml_scalar_that_cannot_be_constructed_is_a_config_error(tmp_path: Path, value: str) -> None:
    problems_of_file(write(tmp_path, f"broker: {{prefix: {value}}}\n"))


def problems_of_file(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={} if environ is None else environ)
    return caught.value.problems


# --- reference files -----------------------------------------------------------------------------------


def test_design_example_parses() -> None:
    environ = {
        "STRIPE_WEBHOOK_SECRET": "whsec_stripe-unit-test-secret",
        "GITHUB_WEBHOOK_SECRET": "github-unit-test-secret",
        "TWILIO_AUTH_TOKEN": "twilio-unit-test-token",
        "META_APP_SECRET": "meta-unit-test-app-secret",
        "META_VERIFY_TOKEN": "meta-unit-test-verify-token",
    }
    loaded = load_config(FIXTURES / "design_example.yaml", environ=environ)
    config = loaded.config
    assert loaded.warnings == []
    assert set(config.sources) == {"stripe", "github", "twilio", "sendgrid", "whatsapp", "partner", "demo"}
    assert config.sources["github"].verify.secrets == ["github-unit-test-secret"]  # the empty PREVIOUS dropped
    assert config.sources["demo"].rate_limit == 100.0
    assert config.sources["demo"].max_body == 256 * 1024
    assert config.archive is not None and config.archive.max_bytes == 10 * 1024**3
    assert config.ingest.max_in_flight.bytes == 64 * 1024**2
    billing = config.destinations["billing"]
    assert billing.retry.schedule == [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    assert billing.breaker.max_cooldown == 600.0
    assert [route.name for route in config.routes] == ["paid-invoices", "demo-to-billing"]


def test_design_example_without_its_variables_names_the_first_missing_one() -> None:
    (problem,) = problems_of_file(FIXTURES / "design_example.yaml")
    assert problem == "sources.stripe.verify.secrets[0]: environment variable STRIPE_WEBHOOK_SECRET is not set"


def test_annotated_example_parses_with_its_defaults() -> None:
    loaded = load_config(REPO / "examples" / "pipeline.yaml", environ={})
    config = loaded.config
    assert loaded.warnings == []
    assert config.destinations["receiver"].allow_private_network == [ipaddress.ip_network("127.0.0.0/8")]
    assert config.sources["github"].verify.secrets == ["github-demo-secret-change-me"]


# --- no secret in any message --------------------------------------------------------------------------


def _secret_free(messages: list[str]) -> None:
    assert messages, "expected at least one problem"
    for message in messages:
        assert SECRET not in message


SECRET_IN_WRONG_PLACES: list[tuple[str, Any]] = [
    ("destinations.d.url", SECRET),
    ("destinations.d.url", f"ftp://user:{SECRET}@example.com/"),
    ("broker.url", f"http://guest:{SECRET}@127.0.0.1:5672/"),
    ("broker.url", ["amqp://guest:guest@127.0.0.1:5672/", f"http://guest:{SECRET}@127.0.0.1:5672/"]),
    ("broker.url", [f"amqp://guest:{SECRET}@127.0.0.1:5672/", 5672]),
    ("broker.url", {"primary": f"amqp://guest:{SECRET}@127.0.0.1:5672/"}),
    ("broker.prefix", f"{SECRET}!"),
    ("broker.heartbeat", SECRET),
    ("sources.partner.verify.secret", SECRET),
    ("sources.partner.verify.secrets", SECRET),
    ("sources.partner.verify.secrets", {"token": SECRET}),
    ("sources.partner.verify.secrets", [[SECRET]]),
    ("sources.partner.verify.tolerance", SECRET),
    ("sources.partner.verify.scheme", SECRET),
    ("sources.partner.verify.username", SECRET),
    ("sources.partner.verify", SECRET),
    ("sources.partner.rate_limit", SECRET),
    ("sources.partner.max_body", SECRET),
    ("sources.partner.methods", [SECRET]),
    ("sources.partner.dedup", SECRET),
    ("sources.partner.unverified", SECRET),
    ("sources.partner.id", {"json": SECRET}),
    ("sources.partner.id", {"header": SECRET, "json": "$.id"}),
    ("sources.partner.response", {"status": SECRET}),
    ("sources.partner.handshake", {"meta_verify_token": [SECRET]}),
    ("sources.demo.verify", {"scheme": "none", "secrets": [SECRET]}),
    ("destinations.d.signing", {"scheme": "standard-webhooks", "secrets": [f"whsec_{SECRET}!"]}),
    ("destinations.d.signing", {"scheme": "hmac", "secrets": [SECRET]}),
    ("destinations.d.signing", {"scheme": SECRET, "secrets": [SECRET]}),
    ("destinations.d.signing", SECRET),
    ("destinations.d.signing.secrets", SECRET),
    ("destinations.d.headers", [f"Authorization: Bearer {SECRET}"]),
    ("destinations.d.headers", {"Authorization": [SECRET]}),
    ("destinations.d.forward_headers", SECRET),
    ("destinations.d.allow_private_network", [SECRET]),
    ("destinations.d.allow_private_network", SECRET),
    ("destinations.d.concurrency", SECRET),
    ("destinations.d.dead_letter_on", [SECRET]),
    ("destinations.d.paused", SECRET),
    ("destinations.d.ordering", SECRET),
    ("destinations.d.retry", {"schedule": [SECRET]}),
    ("destinations.d.proxy", [SECRET]),
    ("destinations.d.proxy", f"socks5://{SECRET}@127.0.0.1:1080"),
    ("destinations.d.headers", {"X-Api-Key": f"{SECRET}\r\nX-Injected: 1"}),
    ("destinations.d.headers", {f"{SECRET}\r\nX-Injected": "v"}),
    ("destinations.d.forward_headers", [f"{SECRET} x"]),
    ("destinations.d.signing", {"scheme": "standard-webhooks", "secrets": [SECRET]}),
    ("destinations.d.signing", {"scheme": "hmac", "secrets": [TOKEN], "header": "X-Sig", "prefix": f"{SECRET}\n"}),
    ("destinations.d.url", f"https://example.com/{SECRET}\r\n"),
    ("ingest.listen", SECRET),
    ("ingest.listen", f"{SECRET}:99999"),
    ("log.level", SECRET),
    ("archive", SECRET),
    ("routes.0.filter", SECRET),
    ("routes.0.transform", {"body": [SECRET]}),
    ("routes.0.to", SECRET),
]


@pytest.mark.parametrize(("path", "value"), SECRET_IN_WRONG_PLACES)
def test_secret_in_a_wrong_place_never_appears_in_a_problem(path: str, value: Any) -> None:
    _secret_free(problems(with_value(path, value)))


@pytest.mark.parametrize(("path", "value"), SECRET_IN_WRONG_PLACES)
def test_secret_from_the_environment_in_a_wrong_place_never_appears_in_a_problem(path: str, value: Any) -> None:
    hidden = _replace_secret(value, "${LEAKY_TOKEN}")
    _secret_free(problems(with_value(path, hidden), {"LEAKY_TOKEN": SECRET}))


def _replace_secret(value: Any, replacement: str) -> Any:
    if isinstance(value, str):
        return value.replace(SECRET, replacement)
    if isinstance(value, list):
        return [_replace_secret(item, replacement) for item in value]
    if isinstance(value, dict):
        return {key: _replace_secret(item, replacement) for key, item in value.items()}
    return value


def test_secret_as_default_of_an_expansion_never_appears_in_a_problem() -> None:
    _secret_free(problems(with_value("destinations.d.url", "${RECEIVER_URL:-" + SECRET + "}")))


GOOD_YAML = (
    "sources:\n"
    "  partner:\n"
    "    verify:\n"
    "      scheme: bearer\n"
    "      secrets:\n"
    "        - {secret}\n"
    "destinations:\n"
    "  d: {{url: 'https://example.com/', signing: {{scheme: none}}}}\n"
)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(GOOD_YAML.format(secret=f"[{SECRET}"), id="unclosed-flow"),
        pytest.param(GOOD_YAML.format(secret=f'"{SECRET}'), id="unclosed-quote"),
        pytest.param(GOOD_YAML.format(secret=f'"{SECRET}\\q"'), id="bad-escape"),
        pytest.param(GOOD_YAML.format(secret=f"{SECRET}: {SECRET}: x"), id="nested-colon"),
        pytest.param(GOOD_YAML.format(secret=f"{SECRET}\n\t- x"), id="tab"),
        pytest.param(GOOD_YAML.format(secret=f"@{SECRET}"), id="reserved-indicator"),
        pytest.param(GOOD_YAML.format(secret=f"|{SECRET}"), id="block-indicator"),
        pytest.param(GOOD_YAML.format(secret=f"{SECRET}\n  - {SECRET}"), id="bad-indent"),
        pytest.param(GOOD_YAML.format(secret=f"&{SECRET} x\n        - &{SECRET} y"), id="duplicate-anchor"),
        pytest.param(GOOD_YAML.format(secret=f"!!binary {SECRET}"), id="bad-binary"),
        pytest.param(GOOD_YAML.format(secret=f"? [{SECRET}]\n          : x"), id="unhashable-key"),
        pytest.param(
            GOOD_YAML.format(secret=f"*{SECRET}"), id="undefined-alias",
        ),
        pytest.param(
            GOOD_YAML.format(secret=f"!{SECRET}"), id="unknown-tag",
        ),
        pytest.param(
            GOOD_YAML.format(secret=f"!!int {SECRET}"), id="bad-int",
        ),
        pytest.param(f"- {SECRET}\n", id="root-list"),
        pytest.param(GOOD_YAML.format(secret=f"[{SECRET}]"), id="nested-list"),
        pytest.param(GOOD_YAML.replace("scheme: bearer", f"scheme: {SECRET}").format(secret="x"), id="bad-scheme"),
        pytest.param(GOOD_YAML.replace("'https://example.com/'", SECRET).format(secret=TOKEN), id="bad-url"),
        pytest.param(GOOD_YAML.replace("secrets:", f"secret: {SECRET}\n      secrets:").format(secret=TOKEN),
                     id="wrong-key"),
    ],
)
def test_secret_in_a_broken_file_never_appears_in_a_problem(tmp_path: Path, text: str) -> None:
    _secret_free(problems_of_file(write(tmp_path, text)))


def test_warnings_never_carry_a_secret() -> None:
    loaded = parse(with_value("sources.partner.verify.secrets", ["S3CRET-short"]))
    assert loaded.warnings and all("S3CRET" not in warning for warning in loaded.warnings)


# --- the CLI -------------------------------------------------------------------------------------------


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    return subprocess.run([str(HOOKPIPE), "config", "check", str(path)], capture_output=True, text=True,
                          env=environ, timeout=60, check=False)


def test_cli_config_check_accepts_the_annotated_example() -> None:
    result = run_check(REPO / "examples" / "pipeline.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok (6 sources, 2 destinations, 2 routes)")
    assert result.stderr == ""


def test_cli_config_check_exits_2_with_one_line_naming_the_path(tmp_path: Path) -> None:
    text = f"destinations:\n  d: {{url: 'ftp://user:{SECRET}@example.com/', signing: {{scheme: none}}}}\n"
    path = write(tmp_path, text)
    result = run_check(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "hookpipe: config error: destinations.d.url: expected an http:// or https:// URL with a host"
    ]
    assert "Traceback" not in result.stderr and SECRET not in result.stderr


def test_cli_config_check_refuses_a_pattern_the_router_cannot_compile(tmp_path: Path) -> None:
    path = write(tmp_path, "destinations:\n  d: {url: 'https://example.com/', signing: {scheme: none}}\n"
                           "routes:\n  - {name: r, filter: {type: invoice.paid}, to: [d]}\n")
    result = run_check(path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "hookpipe: config error: routes[0].filter.type: a leaf must be a list of values, such as "
        "[\"invoice.paid\"] (route 'r')"
    ]


def test_cli_config_check_never_prints_a_traceback(tmp_path: Path) -> None:
    result = run_check(write(tmp_path, "broker: {prefix: 2023-02-30}\n"))
    assert (result.returncode, "Traceback" in result.stderr) == (2, False)
