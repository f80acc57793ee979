"""Tokens that must not get in: each is a 401 on the webhooks, on the OFS
relay route and on the queries, and nothing is stored. Query routes: no
token 401, a token whose scope does not allow reading 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapters.auth import AuthConfig
from api.settings import Settings
from tests.harness.deliveries import envelope_for, ofs_event
from tests.harness.live import Live, live_app
from tests.harness.tokens import SECRET

AUDIENCE = "invtrack"
ISSUER = "https://issuer.example"
ENVELOPE = json.dumps(envelope_for("InventoryUsage", "token-test")).encode()
EVENT = json.dumps(ofs_event(1, "resourceInventoryCreated", "2026-11-20 09:00:00")).encode()
QUERIES = (
    "/resources/VAN-1/inventories",
    "/customers/C-1/inventories",
    "/activities/A-1/inventories",
    "/inventories/sm-resource-000",
    "/inventories/sm-resource-000/history",
)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "tester",
        "iat": now,
        "exp": now + 600,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "scope": "admin",
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def hs256(payload: dict[str, Any], key: str = SECRET, **header: Any) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=header or None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: bytes,
    digest: Any = hashlib.sha256,
) -> str:
    """A token put together by hand, HMAC signed with `key`, whatever it claims."""
    parts = [
        b64(part if isinstance(part, bytes) else json.dumps(part).encode())
        for part in (header, payload)
    ]
    signing_input = ".".join(parts).encode()
    return f"{parts[0]}.{parts[1]}.{b64(hmac.new(key, signing_input, digest).digest())}"


def unsigned(payload: dict[str, Any]) -> str:
    """An `alg: none` token, as RFC 7519 writes one: no signature at all."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def refused_by_an_hs256_service() -> dict[str, str]:
    good = hs256(claims())
    header, payload, signature = good.split(".")
    attacker = rsa_key()
    tampered = b64(json.dumps(claims(sub="root", scope="admin write")).encode())
    return {
        "alg none": unsigned(claims()),
        "alg none with a signature": handmade({"alg": "none"}, claims(), SECRET.encode()),
        "alg None": handmade({"alg": "None", "typ": "JWT"}, claims(), SECRET.encode()),
        "alg missing": handmade({"typ": "JWT"}, claims(), SECRET.encode()),
        "alg a list": handmade({"alg": ["HS256"]}, claims(), SECRET.encode()),
        "HS512 not allowed": handmade({"alg": "HS512"}, claims(), SECRET.encode(), hashlib.sha512),
        "RS256 not allowed": jwt.encode(claims(), attacker, algorithm="RS256"),
        "wrong key": hs256(claims(), "another-secret-0123456789abcdef0123456789"),
        "empty key": handmade({"alg": "HS256"}, claims(), b""),
        "attacker's jwk in the header": handmade(
            {"alg": "HS256", "jwk": {"kty": "oct", "k": b64(b"attacker")}},
            claims(),
            b"attacker",
        ),
        "attacker's jku in the header": hs256(
            claims(), "attacker-secret-0123456789abcdef01234567", jku="http://evil.example/jwks"
        ),
        "kid pointing at a file": hs256(
            claims(), "attacker-secret-0123456789abcdef01234567", kid="../../dev/null"
        ),
        "tampered payload": f"{header}.{tampered}.{signature}",
        "signature cut off": f"{header}.{payload}.",
        "signature of another token": f"{header}.{payload}.{hs256(claims(sub='x')).split('.')[2]}",
        "expired": hs256(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "not yet valid": hs256(claims(nbf=int(time.time()) + 3600)),
        "issued in the future": hs256(claims(iat=int(time.time()) + 3600)),
        "no exp": hs256(claims(exp=None)),
        "exp as text": hs256(claims(exp=str(int(time.time()) + 600))),
        "exp true": hs256(claims(exp=True)),
        "exp NaN": handmade(
            {"alg": "HS256"},
            json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": NaN').encode(),
            SECRET.encode(),
        ),
        "duplicate exp": handmade(
            {"alg": "HS256"},
            json.dumps(claims(exp=int(time.time()) - 3600))[:-1].encode()
            + f', "exp": {int(time.time()) + 600}}}'.encode(),
            SECRET.encode(),
        ),
        "no audience": hs256(claims(aud=None)),
        "wrong audience": hs256(claims(aud="someone-else")),
        "audience list without ours": hs256(claims(aud=["a", "b"])),
        "no issuer": hs256(claims(iss=None)),
        "wrong issuer": hs256(claims(iss="https://evil.example")),
        "payload an array": handmade({"alg": "HS256"}, b"[1, 2]", SECRET.encode()),
        "payload not JSON": handmade({"alg": "HS256"}, b"not json", SECRET.encode()),
        "header not JSON": handmade(b"{alg:HS256}", claims(), SECRET.encode()),
        "garbage": "garbage",
        "three dots": "...",
        "two segments": f"{header}.{payload}",
        "four segments": f"{good}.{signature}",
        "spaces inside": good[:20] + " " + good[20:],
        "non-ASCII": good[:-1] + "é",
        "very long": "a" * 10_000 + "." + "b" * 10_000 + "." + "c" * 10_000,
        "a JWE": "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
    }


def settings(tmp_path: Path, database_url: str, auth: AuthConfig) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, auth=auth)


@pytest.fixture
async def hs_service(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    auth = AuthConfig(secret=SECRET, audience=AUDIENCE, issuer=ISSUER)
    async with live_app(settings(tmp_path, database_url, auth)) as live:
        yield live


async def knocks(live: Live, token: str) -> list[tuple[str, int, str]]:
    """(route, status, title) for the token on a webhook, the relay route and a query."""
    raw = token.encode()
    answers = [
        (
            "webhook",
            await live.client.post(
                "/servicemobility/InventoryUsage/",
                content=ENVELOPE,
                headers={b"x-access-token": raw, b"content-type": b"application/json"},
            ),
        ),
        (
            "relay",
            await live.client.post(
                "/ofs/events",
                content=EVENT,
                headers={b"authorization": b"Bearer " + raw, b"content-type": b"application/json"},
            ),
        ),
        (
            "relay x-access-token",
            await live.client.post("/ofs/events", content=EVENT, headers={b"x-access-token": raw}),
        ),
        (
            "query",
            await live.client.get(QUERIES[0], headers={b"authorization": b"Bearer " + raw}),
        ),
    ]
    return [
        (route, response.status_code, response.json().get("title", ""))
        for route, response in answers
    ]


async def test_refused_tokens_get_401_and_nothing_is_stored(hs_service: Live) -> None:
    assert [status for _, status, _ in await knocks(hs_service, hs256(claims()))] == [
        200,
        200,
        200,
        200,
    ]
    before = (await hs_service.store.inbox_counts(), await hs_service.store.count())
    failures = []
    for name, token in refused_by_an_hs256_service().items():
        answers = await knocks(hs_service, token)
        expected = [
            ("webhook", 401, "Invalid Logon"),
            ("relay", 401, "Unauthorized"),
            ("relay x-access-token", 401, "Unauthorized"),
            ("query", 401, "Unauthorized"),
        ]
        if answers != expected:
            failures.append(f"{name}: {answers}")
    assert not failures, "\n".join(failures)
    assert (await hs_service.store.inbox_counts(), await hs_service.store.count()) == before


async def test_an_rs256_service_refuses_key_confusion(database_url: str, tmp_path: Path) -> None:
    key, stranger = rsa_key(), rsa_key()
    pem = public_pem(key)
    auth = AuthConfig(public_key=pem, algorithms=("RS256",))
    payload = claims(aud=None, iss=None)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    refused = {
        "HS256 with the public key as secret": handmade({"alg": "HS256"}, payload, pem.encode()),
        "HS256 with the DER key as secret": handmade(
            {"alg": "HS256"},
            payload,
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
        "RS256 by another key": jwt.encode(payload, stranger, algorithm="RS256"),
        "PS256 by the right key": jwt.encode(payload, key, algorithm="PS256"),
        "ES256": jwt.encode(payload, ec_key, algorithm="ES256"),
        "alg none": unsigned(payload),
        "embedded jwk of another key": jwt.encode(
            payload,
            stranger,
            algorithm="RS256",
            headers={"jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(stranger.public_key()))},
        ),
        "expired": jwt.encode(claims(aud=None, iss=None, exp=1), key, algorithm="RS256"),
    }
    async with live_app(settings(tmp_path, database_url, auth)) as live:
        good = jwt.encode(payload, key, algorithm="RS256")
        assert [status for _, status, _ in await knocks(live, good)] == [200, 200, 200, 200]
        before = (await live.store.inbox_counts(), await live.store.count())
        for name, token in refused.items():
            assert {status for _, status, _ in await knocks(live, token)} == {401}, name
        assert (await live.store.inbox_counts(), await live.store.count()) == before


async def test_queries_need_a_token_with_a_reading_scope(hs_service: Live) -> None:
    def bearer(**changes: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {hs256(claims(**changes))}"}

    unauthorized: dict[str, dict[str, str]] = {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic": {"Authorization": "Basic " + b64(b"admin:admin")},
        "token without a scheme": {"Authorization": hs256(claims())},
        "webhook header only": {"x-access-token": hs256(claims())},
        "query string only": {},
    }
    forbidden = {
        "no scope": bearer(scope=None),
        "empty scope": bearer(scope=""),
        "unrelated scopes": bearer(scope="openid profile email"),
        "scope in another case": bearer(scope="READ Admin"),
        "scope as a list": bearer(scope=["read"]),
        "scope a prefix": bearer(scope="readonly"),
    }
    allowed = {
        "read": bearer(scope="read"),
        "write": bearer(scope="write"),
        "admin": bearer(scope="admin"),
        "read among others": bearer(scope="openid read"),
        "scp list": bearer(scope=None, scp=["read"]),
        "lowercase scheme": {"Authorization": "bearer " + hs256(claims(scope="read"))},
    }
    for route in QUERIES:
        for name, headers in unauthorized.items():
            url = (
                f"{route}?access_token={hs256(claims())}" if name == "query string only" else route
            )
            response = await hs_service.client.get(url, headers=headers)
            assert response.status_code == 401, (route, name, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "www-authenticate" in response.headers
        for name, headers in forbidden.items():
            response = await hs_service.client.get(route, headers=headers)
            assert response.status_code == 403, (route, name, response.text)
            assert response.json()["title"] == "Forbidden"
        for name, headers in allowed.items():
            response = await hs_service.client.get(route, headers=headers)
            assert response.status_code in (200, 404), (route, name, response.text)


async def test_webhook_tokens_need_no_scope(hs_service: Live) -> None:
    """ServiceMobility tokens carry only exp, iat and optional name, email, expdb."""
    now = int(time.time())
    token = hs256(
        {
            "exp": now + 600,
            "iat": now,
            "name": "ServiceMobility",
            "email": "sm@example.com",
            "expdb": "x",
            "aud": AUDIENCE,
            "iss": ISSUER,
        }
    )
    response = await hs_service.client.post(
        "/servicemobility/InventoryUsage/", content=ENVELOPE, headers={"x-access-token": token}
    )
    assert response.status_code == 200, response.text
    kept = await hs_service.store.inbox_entries("accepted")
    assert [row.sender for row in kept] == ["ServiceMobility"]


async def test_a_webhook_token_whose_scope_only_reads_is_forbidden(hs_service: Live) -> None:
    """A dashboard's or a report's token may not book stock."""
    before = (await hs_service.store.inbox_counts(), await hs_service.store.count())
    for scope in ("read", "openid read", "", "openid"):
        response = await hs_service.client.post(
            "/servicemobility/InventoryUsage/",
            content=ENVELOPE,
            headers={
                "x-access-token": hs256(claims(scope=scope)),
                "content-type": "application/json",
            },
        )
        assert response.status_code == 403, (scope, response.text)
        assert response.json()["title"] == "Forbidden"
    assert (await hs_service.store.inbox_counts(), await hs_service.store.count()) == before

    for granted in (None, "write", "admin", "read write"):
        response = await hs_service.client.post(
            "/servicemobility/InventoryUsage/",
            content=ENVELOPE,
            headers={"x-access-token": hs256(claims(scope=granted))},
        )
        assert response.status_code == 200, (granted, response.text)


async def test_scopes_are_separated_by_spaces_only(hs_service: Live) -> None:
    for scope in ("x\u00a0read", "x\tread", "openid\nread", "x\u2003read"):
        headers = {"Authorization": f"Bearer {hs256(claims(scope=scope))}"}
        response = await hs_service.client.get(QUERIES[0], headers=headers)
        assert response.status_code == 403, (scope, response.text)
