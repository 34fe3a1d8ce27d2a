"""`hookpipe routes test --config FILE [--json] EVENT...`: which routes match each sample event, and what each
destination would receive, in input order; exit 2 for a bad config, 1 for an event that cannot be read."""

from __future__ import annotations

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


def run(tmp_path: Path, *events: str, json: bool = False, stdin: bytes = b"",
        config: dict[str, Any] | None = None) -> subprocess.CompletedProcess[bytes]:
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG if config is None else config))
    arguments = [str(HOOKPIPE), "routes", "test", "--config", str(config_path), *(["--json"] if json else []),
                 *events]
    environ = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    return subprocess.run(arguments, input=stdin, capture_output=True, env=environ, timeout=60, check=False)


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
         "unknown key 'header' (expected id, source, type, headers, body, verified)"),
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
