"""Scheme `sns` (ingest/verify/sns.py): sns-validator's verdict on every corpus case, AWS's canonical strings,
the certificate and SubscribeURL allow-lists, the bounds on what a body may make it do, topics and freshness.

Certificates are preloaded (or pinned, as the case says): nothing here does I/O."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Rejected, Scheme, sns
from tests.support.corpus import SEPARABLE_REASONS, cases_for, expected_answer, inbound, verify_config

ROOT = Path(__file__).resolve().parents[3]
KEYS = ROOT / "tests" / "corpus" / "webhooks" / "providers" / "sns"
SIGNING_KEY: Any = serialization.load_pem_private_key((KEYS / "signing-key.pem").read_bytes(), None)
PUBLIC_KEY: Any = x509.load_pem_x509_certificate((KEYS / "signing-cert.pem").read_bytes()).public_key()
TOPIC = "arn:aws:sns:us-east-1:123456789012:hookpipe-orders"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem"
NOW = 1_767_225_600


class Preloaded:
    """Certificates by URL, as if fetched; `loaded` and `confirmed` record the calls."""

    def __init__(self, keys: dict[str, Any] | None = None) -> None:
        self.by_url = keys or {}
        self.loaded: list[str] = []
        self.confirmed: list[str] = []

    def keys(self, url: str) -> Sequence[rsa.RSAPublicKey]:
        return [self.by_url[url]] if url in self.by_url else []

    async def load(self, url: str) -> None:
        self.loaded.append(url)

    async def confirm(self, url: str) -> None:
        self.confirmed.append(url)


def corpus_scheme(case: dict[str, Any], network: Preloaded, monkeypatch: pytest.MonkeyPatch) -> Scheme:
    monkeypatch.chdir(ROOT)  # receiver.certificates are relative to the repository
    config = verify_config(case)
    if config.certificates:
        return sns.build(config, confirmer=network)
    return sns.build(config, certificates=network, confirmer=network)


def refusal(scheme: Scheme, request: InboundRequest) -> Rejected:
    with pytest.raises(Rejected) as refused:
        if scheme.prepare is not None:
            asyncio.run(scheme.prepare(request))
        scheme.verify(request)
    return refused.value


@pytest.mark.parametrize("case", cases_for("sns"))
def test_every_corpus_case_gets_its_verdict(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    url = json.loads(base64.b64decode(case["request"]["body_b64"]) or b"{}").get("SigningCertURL") \
        if case["id"] != "sns-018" else None
    network = Preloaded({url: PUBLIC_KEY} if url else {})
    scheme = corpus_scheme(case, network, monkeypatch)
    expected, request = case["expected"], inbound(case)
    library = case["provenance"]["library_result"]["verdict"]
    if case["basis"] == "library":
        assert (library == "valid") == (expected["verdict"] in ("accept", "handshake"))
    if expected["verdict"] == "reject":
        reason = refusal(scheme, request).reason
        separable = SEPARABLE_REASONS | {"unknown_topic"}
        assert reason == (expected["reason"] if expected["reason"] in separable else "bad_signature")
        assert network.confirmed == []
        return
    assert scheme.prepare is not None and scheme.answer is not None
    asyncio.run(scheme.prepare(request))
    scheme.verify(request)
    answer = asyncio.run(scheme.answer(request))
    if expected["verdict"] == "accept":
        assert answer is None
        assert scheme.identify(request) == (expected["event_id"], expected["event_type"])
    else:
        assert answer is not None
        assert (answer.status, answer.content_type, answer.body) == expected_answer(case)
        body = json.loads(request.body)
        assert network.confirmed == ([body["SubscribeURL"]] if body["Type"] == "SubscriptionConfirmation" else [])


# --- messages made here, signed with the corpus's test key ---


def signed(fields: dict[str, Any], *, version: str = "2", key: Any = SIGNING_KEY) -> dict[str, Any]:
    message = {**fields, "SignatureVersion": version, "SigningCertURL": fields.get("SigningCertURL", CERT_URL)}
    text = sns.canonical_string({k: v for k, v in message.items() if isinstance(v, str)})
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    message["Signature"] = base64.b64encode(key.sign(text, padding.PKCS1v15(), algorithm)).decode()
    return message


def notification(**overrides: Any) -> dict[str, Any]:
    fields = {"Type": "Notification", "MessageId": "b6f7e4a2-0000-4000-8000-000000000001", "TopicArn": TOPIC,
              "Subject": "hello", "Message": "world", "Timestamp": "2025-12-31T23:59:30.000Z", **overrides}
    return signed(fields)


def confirmation(kind: str = "SubscriptionConfirmation", topic: str = TOPIC) -> dict[str, Any]:
    url = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token=abc123"
    return signed({"Type": kind, "MessageId": "m-1", "Token": "abc123", "TopicArn": topic, "Message": "confirm",
                   "SubscribeURL": url, "Timestamp": "2025-12-31T23:59:30.000Z"})


def request(message: dict[str, Any] | bytes, *, kind: str | None = None, now: float = NOW) -> InboundRequest:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    header = kind if kind is not None else (message["Type"] if isinstance(message, dict) else "Notification")
    return InboundRequest(method="POST", query_string="", headers={"x-amz-sns-message-type": header}, body=body,
                          now=now)


def scheme(network: Preloaded | None = None, **config: Any) -> Scheme:
    network = network or Preloaded({CERT_URL: PUBLIC_KEY})
    return sns.build(VerifyConfig(scheme="sns", topics=[TOPIC], **config), certificates=network, confirmer=network)


def test_the_canonical_strings_are_awss() -> None:
    fields = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Subject": "s", "Message": "m",
              "Timestamp": "t", "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "u",
              "UnsubscribeURL": "v"}
    assert sns.canonical_string(fields) == (
        b"Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n")
    del fields["Subject"]
    assert sns.canonical_string(fields) == (
        b"Message\nm\nMessageId\nid\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n")
    for kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        confirm = {"Type": kind, "MessageId": "id", "Token": "tok", "TopicArn": "arn", "Message": "m",
                   "SubscribeURL": "url", "Timestamp": "t", "Subject": "never signed here"}
        assert sns.canonical_string(confirm) == (
            f"Message\nm\nMessageId\nid\nSubscribeURL\nurl\nTimestamp\nt\nToken\ntok\nTopicArn\narn\nType\n{kind}\n"
        ).encode()


def test_both_signature_versions_verify_and_the_hash_must_match_the_version() -> None:
    for version in ("1", "2"):
        scheme().verify(request(signed({**notification(), "Signature": ""}, version=version)))
    swapped = {**signed({**notification()}, version="1"), "SignatureVersion": "2"}
    assert refusal(scheme(), request(swapped)).reason == "bad_signature"


@pytest.mark.parametrize("url", [
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    "https://sns.us-gov-west-1.amazonaws.com/a/b/c.pem",
    "https://sns.ap-southeast-3.amazonaws.com/x_y-z.1.pem",
])
def test_certificate_urls_of_sns_are_allowed(url: str) -> None:
    assert sns.allowed_certificate_url(url)


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/c.pem", "https://sns.us-east-1.amazonaws.com:443/c.pem",
    "https://sns.us-east-1.amazonaws.com:8443/c.pem", "https://user@sns.us-east-1.amazonaws.com/c.pem",
    "https://user:pw@sns.us-east-1.amazonaws.com/c.pem", "https://54.239.28.85/c.pem", "https://[::1]/c.pem",
    "https://sns.us-east-1.amazonaws.com.evil.com/c.pem", "https://sns.us-east-1.amazonaws.com.cn.evil.com/c.pem",
    "https://evil.com/sns.us-east-1.amazonaws.com/c.pem", "https://sns.us-east-1.amazonaws.com/c.pem?x=1",
    "https://sns.us-east-1.amazonaws.com/c.pem#f", "https://sns.us-east-1.amazonaws.com/c.pem/",
    "https://sns.us-east-1.amazonaws.com/c.txt", "https://sns.us-east-1.amazonaws.com/.pem",
    "https://sns.us-east-1.amazonaws.com/../c.pem", "https://sns.us-east-1.amazonaws.com/a/./c.pem",
    "https://sns.us-east-1.amazonaws.com//c.pem", "https://sns.us-east-1.amazonaws.com/%2e%2e/c.pem",
    "https://sns.us-east-1.amazonaws.com\\@evil.com/c.pem", "https://SNS.US-EAST-1.AMAZONAWS.COM/c.pem",
    "https://sns.s3-external-1.amazonaws.com/c.pem", "https://sns.us-east-1.amazonaws.com./c.pem",
    "https://sns.us-east-1.amazonaws.com/c.pem\n", " https://sns.us-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-\u0661.amazonaws.com/c.pem", "https://snsXus-east-1.amazonaws.com/c.pem",
    "https://sns.us-east-1.amazonaws.com/" + "a" * 2048 + ".pem", "",
])
def test_any_other_certificate_url_is_refused(url: str) -> None:
    assert not sns.allowed_certificate_url(url)
    message = notification(SigningCertURL=url)
    network = Preloaded({url: PUBLIC_KEY})
    assert refusal(scheme(network), request(message)).reason == "bad_signature"
    assert network.loaded == []  # refused before any fetch


def test_a_subscribe_url_must_be_snss_confirmation_of_the_messages_own_topic_and_token() -> None:
    base = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t"
    assert sns.allowed_subscribe_url(base, TOPIC, "t")
    assert not sns.allowed_subscribe_url(base, TOPIC + "-other", "t")
    assert not sns.allowed_subscribe_url(base, TOPIC, "u")
    for url in (base.replace("ConfirmSubscription", "Unsubscribe"), base + "&Action=ConfirmSubscription",
                base.replace("https://sns.us-east-1.amazonaws.com/", "https://evil.com/"),
                base.replace(".com/", ".com:8443/"), base.replace("/?", "/x?"), base + "#f", base + "&Token=t"):
        assert not sns.allowed_subscribe_url(url, TOPIC, "t"), url


def test_a_confirmation_naming_another_subscribe_url_is_refused_before_anything_is_fetched() -> None:
    message = confirmation()
    message["SubscribeURL"] = message["SubscribeURL"].replace("sns.us-east-1.amazonaws.com", "evil.example")
    network = Preloaded({CERT_URL: PUBLIC_KEY})
    assert refusal(scheme(network), request(message)).reason == "malformed_header"
    assert network.loaded == [] and network.confirmed == []


def test_a_topic_not_listed_is_refused_before_the_certificate_is_fetched() -> None:
    network = Preloaded({CERT_URL: PUBLIC_KEY})
    refused = refusal(scheme(network), request(confirmation(topic=TOPIC + "-other")))
    assert (refused.reason, refused.status) == ("unknown_topic", 403)
    assert network.loaded == [] and network.confirmed == []


def test_a_subscription_is_confirmed_and_answered_an_unsubscribe_is_answered_only() -> None:
    network = Preloaded({CERT_URL: PUBLIC_KEY})
    built = scheme(network)
    assert built.answer is not None
    answer = asyncio.run(built.answer(request(confirmation())))
    assert answer is not None and (answer.status, answer.reason) == (200, "sns_subscription_confirmed")
    assert network.confirmed == [confirmation()["SubscribeURL"]]
    answer = asyncio.run(built.answer(request(confirmation("UnsubscribeConfirmation"))))
    assert answer is not None and (answer.status, answer.reason) == (200, "sns_unsubscribe_acknowledged")
    assert len(network.confirmed) == 1
    assert asyncio.run(built.answer(request(notification()))) is None


def test_verify_without_the_certificate_loaded_refuses() -> None:
    assert refusal(scheme(Preloaded()), request(notification())).reason == "bad_signature"


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b'"Notification"', b"{", b'{"Type": "Notification"}',
    json.dumps({**notification(), "Message": 42}).encode(), json.dumps({**notification(), "Subject": 1}).encode(),
    json.dumps({**notification(), "Type": "Other"}).encode(),
    json.dumps({**notification(), "Signature": None}).encode(),
    json.dumps({**notification(), "SignatureVersion": 2}).encode(),
    json.dumps({**notification(), "SignatureVersion": "2 "}).encode(),
    json.dumps({**notification(), "Signature": "A" * (sns.MAX_SIGNATURE_CHARS + 1)}).encode(),
])
def test_a_body_that_is_no_sns_message_is_malformed(body: bytes) -> None:
    network = Preloaded({CERT_URL: PUBLIC_KEY})
    assert refusal(scheme(network), request(body)).reason == "malformed_header"
    assert network.loaded == []


@pytest.mark.parametrize("timestamp", [
    "2025-12-31 23:59:30Z", "2025-13-31T23:59:30.000Z", "1767225570", "2025-12-31T23:59:30.000+00:00",
    "2025-12-31T23:59:30.0000000000Z", "\uff12\uff10\uff12\uff15-12-31T23:59:30Z", "",
])
def test_a_signed_timestamp_that_is_not_snss_format_is_malformed(timestamp: str) -> None:
    assert refusal(scheme(), request(notification(Timestamp=timestamp))).reason == "malformed_header"


def test_the_message_type_header_is_required_and_must_agree() -> None:
    bare = InboundRequest(method="POST", query_string="", headers={}, body=json.dumps(notification()).encode(),
                          now=NOW)
    assert refusal(scheme(), bare).reason == "missing_header"
    assert refusal(scheme(), request(notification(), kind="SubscriptionConfirmation")).reason == "malformed_header"


def test_freshness_defaults_to_65_minutes_either_way_and_is_configurable() -> None:
    message = notification()  # signed 30 s before NOW
    scheme().verify(request(message, now=NOW + 3900 - 31))
    assert refusal(scheme(), request(message, now=NOW + 3900)).reason == "stale_timestamp"
    assert refusal(scheme(), request(message, now=NOW - 3900 - 60)).reason == "future_timestamp"
    assert refusal(scheme(tolerance="5m"), request(message, now=NOW + 301)).reason == "stale_timestamp"
    scheme(tolerance="none").verify(request(message, now=NOW + 10**8))


def test_identity_is_the_message_id_and_type() -> None:
    assert scheme().identify(request(notification())) == ("b6f7e4a2-0000-4000-8000-000000000001", "Notification")


def test_pinned_certificates_are_read_at_build_and_checked_each(tmp_path: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pinned = sns.build(VerifyConfig(scheme="sns", topics=[TOPIC], certificates=[str(KEYS / "other-cert.pem"),
                                                                                    str(KEYS / "signing-cert.pem")]))
    pinned.verify(request(notification()))
    assert refusal(pinned, request(signed({**notification()}, key=other))).reason == "bad_signature"
    (tmp_path / "junk.pem").write_text("not a certificate")
    refused = [([str(tmp_path / "missing.pem")], "cannot read"), ([str(tmp_path / "junk.pem")], "not a PEM"),
               ([str(KEYS / "signing-cert.pem")] * 17, "1 to 16"), ([], "1 to 16")]
    for paths, problem in refused:
        with pytest.raises(ValueError, match=problem):
            sns.build(VerifyConfig(scheme="sns", topics=[TOPIC], certificates=paths))


def test_without_pinned_certificates_the_scheme_needs_ingests_https_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sns, "network", None)
    with pytest.raises(ValueError, match="pin 'certificates'"):
        sns.build(VerifyConfig(scheme="sns", topics=[TOPIC]))


def test_reads_no_header_to_strip() -> None:
    assert scheme().reads_headers == frozenset()
