"""`hookpipe routes test --config FILE [--json] EVENT...`: which routes match each sample event, and what each
destination would receive, in input order; exit 2 for a bad config, 1 for an event that cannot be read."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

HOOKPIPE = Path(sys.executable).parent / "hookpipe"

CONFIG: dict[str, Any] = {
    "sources": {
        "stripe": {"verify": {"scheme": "stripe", "secrets": ["whsec_routes-cli-unit-test-secret"]}},
        "github": {"verify": {"scheme": "github", "secrets": ["github-routes-cli-secret"]}},
        "demo": {"verify": {"scheme": "none"}, "unverified": True},
    },
    "destinations": {
        name: {"url": f"https://{name}.example.com/hooks", "signing": {"scheme": "none"}}
        for name in ("billing", "audit", "chat")
    },
    "routes": [
        {"name": "paid-invoices", "sources": ["stripe"], "filter": {"type": ["invoice.paid"]},
         "transform": {"body": "$.body.data.object"}, "to": ["billing"]},
        {"name": "everything", "to": ["audit", "billing"]},
        {"name": "pushes", "filter": {"headers": {"x-github-event": ["push"]}},
         "transform": {"paths": {"repo": "$.body.repository.full_name", "who": "$.body.pusher.name",
                                 "id": "$.id"},
                       "template": {"text": "<who> pushed to <repo>", "event": "<id>", "repo": "<repo>"}},
         "to": ["chat"]},
        {"name": "demo", "sources": ["demo"], "to": ["chat"]},
    ],
}

INVOICE = {"id": "evt_1", "source": "stripe", "type": "invoice.paid", "headers": {},
           "body": {"type": "invoice.paid", "data": {"object": {"id": "in_1", "amount_paid": 2000}}}}
PUSH = {"id": "d-1", "source": "github", "type": "push", "headers": {"X-GitHub-Event": "push"},
        "body": {"repository": {"full_name": "acme/api"}, "pusher": {"name": "ada"}}}
UNMATCHED_DEMO = {"id": "demo-1", "source": "demo", "type": None, "headers": {}, "body": {"a": 1}, "verified": False}


#: The environment the command runs with in these tests.
ENVIRON = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}


def write_config(tmp_path: Path, config: dict[str, Any] | None = None) -> str:
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG if config is None else config))
    return str(config_path)


def run(tmp_path: Path, *events: str, json: bool = False, stdin: bytes = b"",
        config: dict[str, Any] | None = None) -> subprocess.CompletedProcess[bytes]:
    arguments = [str(HOOKPIPE), "routes", "test", "--config", write_config(tmp_path, config),
                 *(["--json"] if json else []), *events]
    return subprocess.run(arguments, input=stdin, capture_output=True, env=ENVIRON, timeout=60, check=False)


def event_file(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_bytes(document if isinstance(document, bytes) else orjson.dumps(document))
    return str(path)


def json_lines(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_text_report_lists_matching_routes_and_each_destination_payload(tmp_path: Path) -> None:
    result = run(tmp_path, event_file(tmp_path, "invoice.json", INVOICE))
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    path = tmp_path / "invoice.json"
    assert result.stdout.decode().splitlines() == [
        f"{path}: event evt_1 (source stripe, type invoice.paid)",
        "  routes: paid-invoices, everything",
        '  billing <- paid-invoices (application/json): {"id":"in_1","amount_paid":2000}',
        '  audit <- everything (application/json): '
        '{"type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":2000}}}',
    ]


def test_json_report_is_one_object_per_event_in_input_order(tmp_path: Path) -> None:
    files = [event_file(tmp_path, "push.json", PUSH), event_file(tmp_path, "invoice.json", INVOICE),
             event_file(tmp_path, "demo.json", UNMATCHED_DEMO)]
    result = run(tmp_path, *files, json=True)
    assert result.returncode == 0, result.stderr
    push, invoice, demo = json_lines(result)
    assert [report["input"] for report in (push, invoice, demo)] == files
    assert push == {
        "input": files[0], "id": "d-1", "source": "github", "type": "push",
        "routes": ["everything", "pushes"],
        "deliveries": [
            {"destination": "audit", "route": "everything", "content_type": "application/json",
             "payload": PUSH["body"]},
            {"destination": "billing", "route": "everything", "content_type": "application/json",
             "payload": PUSH["body"]},
            {"destination": "chat", "route": "pushes", "content_type": "application/json",
             "payload": {"text": "ada pushed to acme/api", "event": "d-1", "repo": "acme/api"}},
        ],
    }
    assert invoice["routes"] == ["paid-invoices", "everything"]
    assert [(d["destination"], d["payload"]) for d in invoice["deliveries"]] == [
        ("billing", {"id": "in_1", "amount_paid": 2000}), ("audit", INVOICE["body"]),
    ]
    # An unverified event reaches only routes naming its source; `verified` defaults to true.
    assert demo["routes"] == ["demo"]
    assert [d["destination"] for d in demo["deliveries"]] == ["chat"]


def test_unverified_sample_reaches_only_routes_naming_its_source(tmp_path: Path) -> None:
    result = run(tmp_path, event_file(tmp_path, "e.json", {**INVOICE, "verified": False}), json=True)
    assert json_lines(result)[0]["routes"] == ["paid-invoices"]  # not the catch-all `everything`


def test_stdin_takes_json_lines_and_mixes_with_files_in_order(tmp_path: Path) -> None:
    invoice = event_file(tmp_path, "invoice.json", INVOICE)
    stdin = orjson.dumps(PUSH) + b"\n\n" + orjson.dumps(UNMATCHED_DEMO | {"source": "nowhere"}) + b"\n"
    result = run(tmp_path, invoice, "-", json=True, stdin=stdin)
    assert result.returncode == 0, result.stderr
    reports = json_lines(result)
    assert [(r["input"], r["id"], r["routes"]) for r in reports] == [
        (invoice, "evt_1", ["paid-invoices", "everything"]),
        ("<stdin>:1", "d-1", ["everything", "pushes"]),
        ("<stdin>:3", "demo-1", []),
    ]
    assert reports[2]["deliveries"] == []


def test_text_report_says_when_no_route_matched(tmp_path: Path) -> None:
    result = run(tmp_path, "-", stdin=orjson.dumps({**UNMATCHED_DEMO, "source": "nowhere"}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "<stdin>:1: event demo-1 (source nowhere, type null)", "  no route matched",
    ]


def test_unreadable_events_exit_1_and_the_others_are_still_reported(tmp_path: Path) -> None:
    good = event_file(tmp_path, "good.json", INVOICE)
    broken = event_file(tmp_path, "broken.json", b'{"id": "x", ')
    missing = str(tmp_path / "missing.json")
    stdin = b'{"id": "s1", "source": "stripe", "type": "x", "body": {}}\n["not", "an", "object"]\n'
    result = run(tmp_path, broken, good, missing, "-", json=True, stdin=stdin)
    assert result.returncode == 1
    assert [(r["input"], r["id"]) for r in json_lines(result)] == [(good, "evt_1"), ("<stdin>:1", "s1")]
    errors = result.stderr.decode().splitlines()
    assert len(errors) == 3
    assert errors[0].startswith(f"hookpipe: cannot read event {broken}: not JSON (")
    assert errors[1] == f"hookpipe: cannot read event {missing}: No such file or directory"
    assert errors[2] == ("hookpipe: cannot read event <stdin>:2: expected a JSON object with id, source, type, "
                         "headers and body")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"source": "stripe", "body": {}}, "'id' is required"),
        ({"id": "x", "body": {}}, "'source' is required"),
        ({"id": "x", "source": "stripe"}, "'body' is required"),
        ({"id": "", "source": "stripe", "body": {}}, "'id' must be a non-empty string"),
        ({"id": "x", "source": "stripe", "type": 5, "body": {}}, "'type' must be a string or null"),
        ({"id": "x", "source": "stripe", "headers": {"a": 1}, "body": {}}, "'headers' must be an object of strings"),
        ({"id": "x", "source": "stripe", "verified": "yes", "body": {}}, "'verified' must be true or false"),
        ({"id": "x", "source": "stripe", "body": {}, "header": {}},
         "unknown key 'header': an EVENT is a match document, "
         '{"id", "source", "type", "headers", "body", "verified"} with the provider\'s payload under "body"; '
         "to test a raw payload as the provider posts it, give --source NAME --body FILE"),
    ],
)
def test_a_match_document_is_checked(tmp_path: Path, document: dict[str, Any], problem: str) -> None:
    result = run(tmp_path, "-", stdin=orjson.dumps(document))
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [f"hookpipe: cannot read event <stdin>:1: {problem}"]


def test_bad_config_exits_2_with_the_same_lines_as_config_check(tmp_path: Path) -> None:
    config = {**CONFIG, "routes": [
        {"name": "bad-filter", "filter": {"type": "invoice.paid"}, "to": ["billing"]},
        {"name": "bad-transform", "transform": {"body": "$.data.object"}, "to": ["billing"]},
    ]}
    result = run(tmp_path, event_file(tmp_path, "invoice.json", INVOICE), config=config)
    assert result.returncode == 2
    assert result.stdout == b""
    check = subprocess.run([str(HOOKPIPE), "config", "check", str(tmp_path / "pipeline.yaml")],
                           capture_output=True, timeout=60, check=False)
    assert check.returncode == 2
    assert result.stderr == check.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("hookpipe: config error: routes[0].filter.type: ")
    assert lines[1].startswith("hookpipe: config error: routes[1].transform.body: ")


def test_config_that_cannot_be_read_exits_2(tmp_path: Path) -> None:
    result = subprocess.run([str(HOOKPIPE), "routes", "test", "--config", str(tmp_path / "absent.yaml"), "-"],
                            input=b"", capture_output=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("hookpipe: config error: ")
    assert "cannot read" in result.stderr.decode()


def test_a_raw_body_names_a_match_document_and_the_way_to_test_a_raw_body(tmp_path: Path) -> None:
    result = run(tmp_path, event_file(tmp_path, "event.json", {"hello": "world"}))
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"hookpipe: cannot read event {tmp_path / 'event.json'}: unknown key 'hello': an EVENT is a match document, "
        '{"id", "source", "type", "headers", "body", "verified"} with the provider\'s payload under "body"; to test '
        f"a raw payload as the provider posts it, give --source NAME --body {tmp_path / 'event.json'}"
    ]


def run_raw(tmp_path: Path, *options: str, stdin: bytes = b"",
            config: dict[str, Any] | None = None) -> subprocess.CompletedProcess[bytes]:
    arguments = [str(HOOKPIPE), "routes", "test", "--config", write_config(tmp_path, config), "--json", *options]
    return subprocess.run(arguments, input=stdin, capture_output=True, env=ENVIRON, timeout=60, check=False)


def test_a_raw_body_takes_its_id_and_type_where_ingest_finds_them(tmp_path: Path) -> None:
    stripe_event = {"id": "evt_9", "object": "event", "type": "invoice.paid",
                    "data": {"object": {"id": "in_9", "amount_paid": 500}}}
    body = event_file(tmp_path, "stripe.json", stripe_event)
    result = run_raw(tmp_path, "--source", "stripe", "--body", body)
    assert result.returncode == 0, result.stderr
    [report] = json_lines(result)
    assert (report["input"], report["id"], report["source"], report["type"]) == (body, "evt_9", "stripe",
                                                                                  "invoice.paid")
    assert report["routes"] == ["paid-invoices", "everything"]
    assert [(d["destination"], d["payload"]) for d in report["deliveries"]] == [
        ("billing", {"id": "in_9", "amount_paid": 500}), ("audit", stripe_event)]

    push = event_file(tmp_path, "push.json", PUSH["body"])
    result = run_raw(tmp_path, "--source", "github", "--header", "X-GitHub-Event=push",
                     "--header", "X-GitHub-Delivery: d-9", "--body", push)
    [report] = json_lines(result)
    assert (report["id"], report["type"], report["routes"]) == ("d-9", "push", ["everything", "pushes"])
    assert report["deliveries"][2]["payload"] == {"text": "ada pushed to acme/api", "event": "d-9",
                                                  "repo": "acme/api"}


def test_a_raw_body_without_an_id_gets_a_generated_one_and_options_override_both(tmp_path: Path) -> None:
    body = event_file(tmp_path, "body.json", {"hello": "world"})
    [generated] = json_lines(run_raw(tmp_path, "--source", "demo", "--body", body))
    assert len(generated["id"]) == 36 and generated["id"][14] == "7"  # a UUIDv7, as ingest generates
    # demo is an unverified source, as in ingest: only the routes naming it, not the catch-all `everything`
    assert (generated["type"], generated["routes"]) == (None, ["demo"])
    [given] = json_lines(run_raw(tmp_path, "--source", "stripe", "--id", "evt_x", "--type", "invoice.paid",
                                 "--body", body))
    assert (given["id"], given["type"]) == ("evt_x", "invoice.paid")
    assert given["routes"] == ["paid-invoices", "everything"]


def test_a_raw_body_is_delivered_byte_for_byte_with_its_content_type_from_stdin(tmp_path: Path) -> None:
    config = {**CONFIG, "routes": [{"name": "demo", "sources": ["demo"], "to": ["chat"]}]}
    result = run_raw(tmp_path, "--source", "demo", "--header", "Content-Type=text/plain", "--body", "-",
                     stdin=b"not {json} at all\n", config=config)
    assert result.returncode == 0, result.stderr
    [report] = json_lines(result)
    assert report["input"] == "<stdin>"
    assert report["deliveries"] == [{"destination": "chat", "route": "demo", "content_type": "text/plain",
                                     "payload": "not {json} at all\n"}]


def test_a_raw_body_is_routed_on_the_headers_ingest_keeps(tmp_path: Path) -> None:
    """The provider's signature header is dropped by ingest: a route cannot match on it, here neither."""
    config = {**CONFIG, "routes": [
        {"name": "signed", "filter": {"headers": {"x-hub-signature-256": [{"exists": True}]}}, "to": ["audit"]},
        {"name": "traced", "filter": {"headers": {"x-trace": ["t1"]}}, "to": ["chat"]},
    ]}
    body = event_file(tmp_path, "push.json", PUSH["body"])
    result = run_raw(tmp_path, "--source", "github", "--header", "x-hub-signature-256=sha256=00",
                     "--header", "X-Trace=t1", "--body", body, config=config)
    assert json_lines(result)[0]["routes"] == ["traced"]


@pytest.mark.parametrize(("options", "problem"), [
    (["--body", "b.json"], "--body needs --source NAME: the source the provider posts to"),
    (["--source", "stripe", "e.json"], "--source describes a raw body: give --body FILE with it"),
    (["--source", "stripe", "--body", "b.json", "e.json"],
     "give EVENT files (match documents) or --body FILE (a raw body), not both"),
    (["--source", "nope", "--body", "b.json"], "unknown source 'nope'; sources: demo, github, stripe"),
    (["--source", "demo", "--header", "novalue", "--body", "b.json"],
     "argument --header: expected NAME=VALUE, got 'novalue'"),
    ([], "give EVENT files (match documents), or --source NAME --body FILE for a raw body"),
])
def test_raw_body_options_that_do_not_fit_exit_2_saying_why(tmp_path: Path, options: list[str], problem: str) -> None:
    event_file(tmp_path, "b.json", {"hello": "world"})
    result = subprocess.run([str(HOOKPIPE), "routes", "test", "--config", write_config(tmp_path), *options],
                            capture_output=True, env=ENVIRON, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines()[-1] == f"hookpipe routes test: error: {problem}"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """`hookpipe routes test ... | head -1`: no traceback, and 141 (128 + SIGPIPE) as for a tool SIGPIPE ended."""
    events = tmp_path / "events.jsonl"
    # Far more output than a pipe holds: the command is still writing when the reader goes.
    events.write_bytes(b"\n".join(orjson.dumps(INVOICE | {"id": f"evt_{n}"}) for n in range(2000)))
    with events.open("rb") as stdin:
        process = subprocess.Popen([str(HOOKPIPE), "routes", "test", "--config", write_config(tmp_path), "-"],
                                   stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENVIRON)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert first == b"<stdin>:1: event evt_0 (source stripe, type invoice.paid)\n"
    assert b"Traceback" not in stderr
    assert stderr == b""


def test_a_reader_gone_before_the_first_line_ends_config_check_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # as `hookpipe config check FILE | true` can find it
    try:
        result = subprocess.run([str(HOOKPIPE), "config", "check", write_config(tmp_path)], stdout=write,
                                stderr=subprocess.PIPE, env=ENVIRON, timeout=60, check=False)
    finally:
        os.close(write)
    assert b"Traceback" not in result.stderr
    assert (result.returncode, result.stderr) == (141, b"")


def test_a_broken_pipe_that_is_not_stdouts_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection's BrokenPipeError (a socket the peer closed) is a failure to report, not a reader gone."""
    from control import cli

    def lose_a_connection(_: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    parser = argparse.ArgumentParser()
    parser.set_defaults(run=lose_a_connection)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    read, write = os.pipe()
    with os.fdopen(read, "rb"), os.fdopen(write, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(BrokenPipeError):
            cli.main([])
