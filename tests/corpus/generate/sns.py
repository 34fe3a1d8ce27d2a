"""Writes tests/corpus/webhooks/providers/sns.json: Amazon SNS HTTP(S) messages signed with cryptography (RSA
PKCS#1 v1.5 over AWS's canonical string, SHA1withRSA for SignatureVersion 1 and SHA256withRSA for 2: AWS publishes
no signer) and judged by AWS's own sns-validator (`new MessageValidator().validate(body, cb)`, sns_judge.mjs),
whose certificate download is answered with the test certificate named in the message.

The keys are test keys, made once by this script and kept beside the corpus (tests/corpus/webhooks/providers/sns/:
`signing-key.pem` / `signing-cert.pem`, the certificate SNS would publish, CN sns.us-east-1.amazonaws.com, issued
by the test CA `ca.pem`; `other-key.pem` / `other-cert.pem`, a second signer the receiver does not trust). RSA
keys cannot be derived from the seed, so a rerun reuses those files; every other value derives from the seed, and
RSA PKCS#1 v1.5 signatures are deterministic, so a rerun writes the same bytes. The private keys sign nothing but
this corpus.

Needs, in a scratch directory (not the repository):
    mkdir -p /tmp/snsjudge && cd /tmp/snsjudge && npm install sns-validator@0.3.5
Run from the repository root, with the repository's venv (cryptography is a dependency):
    .venv/bin/python tests/corpus/generate/sns.py --node-modules /tmp/snsjudge/node_modules
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography import __version__ as CRYPTOGRAPHY_VERSION
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from provider_cases import NOW, PROVIDERS, accept, case, derived, handshake, reject, request, write

PROVIDER = "sns"
VALIDATOR_VERSION = "0.3.5"
NODE_VERSION = "v20.20.2"
JUDGE = Path(__file__).with_name("sns_judge.mjs")
KEYS = PROVIDERS / "sns"
KEYS_RELATIVE = "tests/corpus/webhooks/providers/sns"

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:hookpipe-orders"
FOREIGN_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic"
SNS_HOST = f"sns.{REGION}.amazonaws.com"
CERT_URL = f"https://{SNS_HOST}/SimpleNotificationService-{derived(PROVIDER, 'cert-name', 32)}.pem"
#: Sent 30 s before the receiver's clock.
SENT = datetime.datetime.fromtimestamp(NOW - 30, datetime.UTC)
ANSWER = b'{"ok":true}'


def _load_or_make_keys() -> dict[str, Any]:
    """The test CA, the signing certificate and its key, and another signer: from KEYS, made there when absent."""
    KEYS.mkdir(parents=True, exist_ok=True)
    if not (KEYS / "signing-key.pem").exists():
        _make_keys()
    load_key = serialization.load_pem_private_key
    return {
        "signing": load_key((KEYS / "signing-key.pem").read_bytes(), None),
        "other": load_key((KEYS / "other-key.pem").read_bytes(), None),
        "signing_pem": (KEYS / "signing-cert.pem").read_text(),
        "other_pem": (KEYS / "other-cert.pem").read_text(),
    }


def _make_keys() -> None:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hookpipe test CA (SNS corpus)")])
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, is_ca=True)
    (KEYS / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for label, common_name in (("signing", SNS_HOST), ("other", "sns.other.example.test")):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = _certificate(name, ca_name, key.public_key(), ca_key, is_ca=False)
        (KEYS / f"{label}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (KEYS / f"{label}-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _certificate(subject: x509.Name, issuer: x509.Name, public_key: Any, signer: Any, *, is_ca: bool) -> Any:
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA256()))


SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def canonical(message: dict[str, Any]) -> bytes:
    """AWS's string to sign: `key\\nvalue\\n` for each signed key of the type, in order, when present."""
    return "".join(f"{key}\n{message[key]}\n" for key in SIGNED_KEYS[message["Type"]]
                   if message.get(key) is not None).encode()


def sign(message: dict[str, Any], key: Any) -> str:
    algorithm = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    return base64.b64encode(key.sign(canonical(message), padding.PKCS1v15(), algorithm)).decode()


def timestamp(when: datetime.datetime = SENT) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def message_id(label: str) -> str:
    text = derived(PROVIDER, f"message-{label}", 32)
    hexed = text.encode().hex()[:32]
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"


def notification(label: str, *, text: str = '{"order": 42, "status": "paid"}', subject: str | None = "Order paid",
                 topic: str = TOPIC, version: str = "1", when: datetime.datetime = SENT) -> dict[str, Any]:
    message: dict[str, Any] = {"Type": "Notification", "MessageId": message_id(label), "TopicArn": topic}
    if subject is not None:
        message["Subject"] = subject
    message.update({"Message": text, "Timestamp": timestamp(when), "SignatureVersion": version})
    return message


def confirmation(label: str, kind: str = "SubscriptionConfirmation", *, topic: str = TOPIC) -> dict[str, Any]:
    token = derived(PROVIDER, f"token-{label}", 32) * 8
    verb = ("You have chosen to subscribe to the topic " + topic if kind == "SubscriptionConfirmation"
            else f"You have chosen to deactivate subscription {topic}:{message_id(label + '-sub')}")
    return {
        "Type": kind, "MessageId": message_id(label), "Token": token, "TopicArn": topic,
        "Message": verb + ".\nTo confirm, visit the SubscribeURL included in this message.",
        "SubscribeURL": f"https://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}",
        "Timestamp": timestamp(), "SignatureVersion": "1",
    }


def finish(message: dict[str, Any], key: Any, *, cert_url: str = CERT_URL) -> dict[str, Any]:
    """The message with its Signature and SigningCertURL (and a Notification's UnsubscribeURL), in SNS's order."""
    signed = {**message, "Signature": sign(message, key), "SigningCertURL": cert_url}
    if message["Type"] == "Notification":
        sub = f"{message['TopicArn']}:{message_id('subscription')}"
        signed["UnsubscribeURL"] = f"https://{SNS_HOST}/?Action=Unsubscribe&SubscriptionArn={sub}"
    return signed


def body_of(message: dict[str, Any]) -> bytes:
    """As SNS lays out its bodies: two-space indent, ` : ` between key and value; text as UTF-8."""
    return json.dumps(message, indent=2, separators=(",", " : "), ensure_ascii=False).encode()


def headers_for(message: dict[str, Any], *, kind: str | None = "") -> list[list[str]]:
    headers = []
    if kind is not None:
        headers.append(["x-amz-sns-message-type", kind or message["Type"]])
    headers += [["x-amz-sns-message-id", message["MessageId"]], ["x-amz-sns-topic-arn", message["TopicArn"]]]
    if message["Type"] == "Notification":
        headers.append(["x-amz-sns-subscription-arn", f"{message['TopicArn']}:{message_id('subscription')}"])
    headers += [["Content-Type", "text/plain; charset=UTF-8"],
                ["User-Agent", "Amazon Simple Notification Service Agent"]]
    return headers


def specs(keys: dict[str, Any]) -> list[dict[str, Any]]:
    """Every case before judging: title, message or body, headers, receiver extras, expectation, basis, notes."""
    signing, other = keys["signing"], keys["other"]
    pinned = [f"{KEYS_RELATIVE}/signing-cert.pem"]
    valid_v1 = finish(notification("v1"), signing)
    tampered = {**finish(notification("tampered"), signing), "Message": '{"order": 42, "status": "refunded"}'}
    subscribe = finish(confirmation("subscribe"), signing)
    forged_subscribe = {**subscribe, "SubscribeURL": subscribe["SubscribeURL"].replace("Token=", "Token=0")}
    forged_subscribe["Token"] = "0" + subscribe["Token"]
    unicode_text = "Commande payée · 注文が支払われました · تم الدفع · 🎉🧾 · e\u0301"
    bad_version = {**finish(notification("v3"), signing), "SignatureVersion": "3"}
    unsigned = {key: value for key, value in finish(notification("unsigned"), signing).items() if key != "Signature"}
    return [
        _spec("Notification, SignatureVersion 1 (SHA1withRSA), with a Subject", valid_v1, accept_of(valid_v1)),
        _spec("Notification, SignatureVersion 2 (SHA256withRSA), with a Subject",
              v2 := finish(notification("v2", version="2"), signing), accept_of(v2)),
        _spec("Notification without a Subject, SignatureVersion 2",
              bare := finish(notification("no-subject", subject=None, version="2"), signing), accept_of(bare)),
        _spec("Notification with \"Subject\": null (read as no Subject)",
              null := {**finish(notification("null-subject", subject=None), signing), "Subject": None},
              accept_of(null)),
        _spec("Notification with a non-ASCII Message (Latin, CJK, RTL, emoji, combining mark), version 2",
              wide := finish(notification("unicode", text=unicode_text, subject="Commande payée ✓", version="2"),
                             signing), accept_of(wide)),
        _spec("Notification whose Message was changed after signing", tampered, reject("tampered_body"),
              signed_with=["current"]),
        _spec("Notification signed by another key than the certificate's (the certificate URL is SNS's)",
              finish(notification("other-key"), other), reject("wrong_secret"), signed_with=["other"]),
        _spec("SigningCertURL on a foreign host that starts with SNS's name",
              finish(notification("foreign-host"), signing,
                     cert_url=CERT_URL.replace(SNS_HOST, SNS_HOST + ".evil.example")), reject("bad_signature")),
        _spec("SigningCertURL with a port", finish(notification("port"), signing,
                                                   cert_url=CERT_URL.replace(SNS_HOST, SNS_HOST + ":8443")),
              reject("bad_signature")),
        _spec("SigningCertURL over http://", finish(notification("http"), signing,
                                                    cert_url=CERT_URL.replace("https://", "http://")),
              reject("bad_signature")),
        _spec("SubscriptionConfirmation for a listed topic: confirmed by a GET of SubscribeURL, answered 200",
              subscribe, handshake(200, "application/json", ANSWER),
              notes="ingest GETs SubscribeURL (on the test server in tests/integration/test_sns.py) before answering; "
                    "the confirmation is never published."),
        _spec("SubscriptionConfirmation whose Token and SubscribeURL were changed after signing", forged_subscribe,
              reject("bad_signature"), notes="A forged handshake: nothing is fetched from its SubscribeURL."),
        _spec("SubscriptionConfirmation for a topic the source does not list",
              finish(confirmation("foreign-subscribe", topic=FOREIGN_TOPIC), signing), reject("unknown_topic"),
              basis="library+policy",
              notes="Signed correctly (sns-validator: valid); refused because AWS says to refuse unexpected "
                    "TopicArns. No confirmation GET is made."),
        _spec("Notification for a topic the source does not list",
              finish(notification("foreign-topic", topic=FOREIGN_TOPIC), signing), reject("unknown_topic"),
              basis="library+policy",
              notes="Signed correctly (sns-validator: valid); refused because AWS says to refuse unexpected "
                    "TopicArns."),
        _spec("UnsubscribeConfirmation: answered 200, not published, SubscribeURL not visited",
              finish(confirmation("unsubscribe", "UnsubscribeConfirmation"), signing),
              handshake(200, "application/json", ANSWER), basis="documented",
              notes="Signed over AWS's documented string for confirmations (with Token, as AWS's page 'Verifying "
                    "the signatures of Amazon SNS messages' lists). sns-validator 0.3.5 builds an "
                    "UnsubscribeConfirmation's string with the Notification keys (no Token), so it refuses it: "
                    "see provenance.library_result."),
        _spec("Notification without the x-amz-sns-message-type header", valid_v1, reject("missing_header"),
              headers=headers_for(valid_v1, kind=None), basis="library+policy",
              notes="sns-validator reads only the body; ingest requires SNS's message-type header."),
        _spec("x-amz-sns-message-type names another type than the body", valid_v1, reject("malformed_header"),
              headers=headers_for(valid_v1, kind="SubscriptionConfirmation"), basis="library+policy",
              notes="sns-validator reads only the body; ingest requires the header to agree with Type."),
        _spec("Body that is not JSON", b'{"Type" : "Notification", "Message" : ', reject("malformed_header"),
              headers=headers_for(valid_v1)),
        _spec("SignatureVersion 3 (no such version)", bad_version, reject("malformed_header")),
        _spec("Notification without its Signature", unsigned, reject("malformed_header")),
        _spec("Timestamp 2 hours before the receiver's clock", finish(
            notification("stale", when=SENT - datetime.timedelta(hours=2)), signing), reject("stale_timestamp"),
              basis="library+policy", timestamp=NOW - 30 - 7200,
              notes="sns-validator checks no time (valid); ingest bounds Timestamp to 3,900 s either way (SNS "
                    "stops retrying an HTTP/S endpoint within 3,600 s)."),
        _spec("Timestamp 2 hours after the receiver's clock", finish(
            notification("future", when=SENT + datetime.timedelta(hours=2)), signing), reject("future_timestamp"),
              basis="library+policy", timestamp=NOW - 30 + 7200,
              notes="sns-validator checks no time (valid); ingest bounds Timestamp to 3,900 s either way."),
        _spec("Pinned certificate: Notification verified against receiver.certificates, nothing fetched",
              pin := finish(notification("pinned", version="2"), signing), accept_of(pin), certificates=pinned,
              notes="receiver.certificates is the signing certificate's PEM, relative to the repository root."),
        _spec("Pinned certificate: Notification signed by a key that is not pinned",
              finish(notification("pinned-other", version="2"), other), reject("wrong_secret"),
              certificates=pinned, signed_with=["other"]),
    ]


def accept_of(message: dict[str, Any]) -> dict[str, Any]:
    return accept(message["MessageId"], message["Type"])


def _spec(title: str, message: dict[str, Any] | bytes, expected: dict[str, Any], *, basis: str = "library",
          headers: list[list[str]] | None = None, certificates: list[str] | None = None,
          signed_with: list[str] | None = None, timestamp: int | None = None, notes: str = "") -> dict[str, Any]:
    body = message if isinstance(message, bytes) else body_of(message)
    if headers is None:
        assert isinstance(message, dict)
        headers = headers_for(message)
    return {"title": title, "body": body, "headers": headers, "expected": expected, "basis": basis,
            "certificates": certificates, "signed_with": signed_with or ["current"],
            "timestamp": NOW - 30 if timestamp is None else timestamp, "notes": notes}


def judge(node_modules: Path, bodies: list[bytes], certificates: dict[str, str]) -> list[dict[str, str]]:
    payload = {"certificates": certificates,
               "cases": [{"body_b64": base64.b64encode(body).decode()} for body in bodies]}
    env = {**os.environ, "SNS_VALIDATOR_DIR": str(node_modules)}
    done = subprocess.run(["node", str(JUDGE)], input=json.dumps(payload), capture_output=True, text=True,
                          env=env, check=True)
    results: list[dict[str, str]] = json.loads(done.stdout)
    return results


def consistent(spec: dict[str, Any], library: dict[str, str]) -> bool:
    """Whether the library's verdict is the one the case's basis promises."""
    passes = spec["expected"]["verdict"] in ("accept", "handshake")
    if spec["basis"] == "library":
        return passes == (library["verdict"] == "valid")
    if spec["basis"] == "library+policy":
        return not passes and library["verdict"] == "valid"
    return True  # documented: recorded, not compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node-modules", type=Path, required=True, help="where sns-validator is installed")
    arguments = parser.parse_args()
    keys = _load_or_make_keys()
    all_specs = specs(keys)
    verdicts = judge(arguments.node_modules, [spec["body"] for spec in all_specs], {CERT_URL: keys["signing_pem"]})
    cases = []
    for spec, library in zip(all_specs, verdicts, strict=True):
        if not consistent(spec, library):
            sys.exit(f"{spec['title']}: sns-validator says {library}, the case expects {spec['expected']}")
        receiver: dict[str, Any] = {"secrets": [], "topics": [TOPIC], "certificates": spec["certificates"]}
        cases.append(case(
            PROVIDER, 0, spec["title"],
            request=request(PROVIDER, headers=spec["headers"], body=spec["body"]), receiver=receiver,
            signed_with=spec["signed_with"], expected=spec["expected"], basis=spec["basis"],
            timestamp=spec["timestamp"], notes=spec["notes"],
            provenance={
                "signed_by": f"cryptography {CRYPTOGRAPHY_VERSION} RSA PKCS#1 v1.5 (SHA1withRSA / SHA256withRSA) "
                             f"over AWS's canonical string, test key {KEYS_RELATIVE}/"
                             f"{'other' if spec['signed_with'] == ['other'] else 'signing'}-key.pem",
                "verified_by": f"sns-validator {VALIDATOR_VERSION} MessageValidator().validate "
                               "(certificate download answered with the test certificate)",
                "library_result": library,
                "source": "https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html",
            },
        ))
    path = write(PROVIDER, cases, generator="tests/corpus/generate/sns.py",
                 generated_with={"cryptography": CRYPTOGRAPHY_VERSION, "sns-validator": VALIDATOR_VERSION,
                                 "node": NODE_VERSION})
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
