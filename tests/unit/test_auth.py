"""Token verification, minting and the generated secret (adapters/auth). The
clock stands still at NOW unless a test moves it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import stat
import string
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import hypothesis
import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

from adapters.auth import (
    MAX_TOKEN_LENGTH,
    AuthConfig,
    Claims,
    InvalidToken,
    KeysUnavailable,
    TokenVerifier,
    allows,
    load_or_create_secret,
    mint,
)
from tests.harness.profiles import examples

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "other-secret-" + "fedcba9876543210" * 4

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_OTHER = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()

HS = TokenVerifier(AuthConfig(secret=SECRET))

PublicKeyed = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


# Helpers -----------------------------------------------------------------------


def pem(private: PublicKeyed) -> str:
    return (
        private.public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_made(header: dict[str, Any], payload: bytes, key: bytes) -> str:
    """A compact JWS assembled with the standard library only."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "tech7", "iat": T, "exp": T + 3600, **extra}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def rejected(verifier: TokenVerifier, token: str) -> str:
    """The reason `verifier` gives for refusing `token`; it never leaks the token or key."""
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    reason = info.value.reason
    assert reason == str(info.value)
    assert token not in reason or not token
    assert SECRET not in reason
    assert len(reason) < 80
    return reason


# HS256 -------------------------------------------------------------------------


def test_hs256_token_verifies() -> None:
    result = HS.verify(hs256(claims(scope="read")))

    assert result.subject == "tech7"
    assert result.scopes == frozenset({"read"})
    assert result.expires_at == NOW + timedelta(hours=1)
    assert result.raw["iat"] == T


async def test_verify_async_serves_a_secret_too() -> None:
    result = await HS.verify_async(hs256(claims()))

    assert result.subject == "tech7"


def test_a_hand_assembled_token_with_extra_header_fields_verifies() -> None:
    header = {"typ": "JWT", "kid": "sm-1", "alg": "HS256", "x-vendor": [1, 2]}
    payload = json.dumps({"exp": T + 60, "iat": T, "name": "sm"}).encode()

    result = HS.verify(hand_made(header, payload, SECRET.encode()))

    assert result.subject == "sm"


def test_a_padded_token_verifies() -> None:
    # Some issuers keep the base64 padding; "ab" needs "==" of it.
    header = {"alg": "HS256"}
    payload = json.dumps({"exp": T + 60, "sub": "ab"}).encode()
    signing_input = (
        base64.urlsafe_b64encode(json.dumps(header).encode()).decode()
        + "."
        + base64.urlsafe_b64encode(payload).decode()
    )
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(signature).decode()}"
    assert "=" in token

    assert HS.verify(token).subject == "ab"


def test_a_service_mobility_token_verifies_without_scopes() -> None:
    token = hs256(
        {
            "exp": T + 300,
            "iat": T,
            "name": "ServiceMobility",
            "email": "integration@example.com",
            "expdb": "PROD",
        },
        typ="JWT",
    )

    result = HS.verify(token)

    assert result.subject == "ServiceMobility"
    assert result.scopes == frozenset()
    assert result.raw["expdb"] == "PROD"
    assert not allows(result, "read")


def test_subject_falls_back_to_email() -> None:
    token = hs256({"exp": T + 300, "iat": T, "email": "sm@example.com"})

    assert HS.verify(token).subject == "sm@example.com"


def test_subject_is_none_without_sub_name_or_email() -> None:
    assert HS.verify(hs256({"exp": T + 300})).subject is None


# Public keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "private"),
    [("RS256", RSA_KEY), ("PS256", RSA_KEY), ("ES256", EC_KEY), ("EdDSA", ED_KEY)],
)
def test_tokens_verify_with_a_pem_public_key(algorithm: str, private: PublicKeyed) -> None:
    verifier = TokenVerifier(AuthConfig(public_key=pem(private), algorithms=(algorithm,)))
    token = jwt.encode(claims(scope="write"), private, algorithm=algorithm)

    result = verifier.verify(token)

    assert result.subject == "tech7"
    assert result.scopes == frozenset({"write"})


def test_a_pem_with_escaped_newlines_is_accepted() -> None:
    one_line = pem(RSA_KEY).strip().replace("\n", "\\n")
    verifier = TokenVerifier(AuthConfig(public_key=one_line, algorithms=("RS256",)))

    assert verifier.verify(jwt.encode(claims(), RSA_KEY, algorithm="RS256"))


@pytest.mark.parametrize(
    ("algorithm", "private", "other"),
    [("RS256", RSA_KEY, RSA_OTHER), ("ES256", EC_KEY, EC_OTHER)],
)
def test_a_token_signed_with_another_key_is_rejected(
    algorithm: str, private: PublicKeyed, other: PublicKeyed
) -> None:
    verifier = TokenVerifier(AuthConfig(public_key=pem(private), algorithms=(algorithm,)))

    reason = rejected(verifier, jwt.encode(claims(), other, algorithm=algorithm))

    assert reason == "token signature is invalid"


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    assert rejected(HS, hs256(claims(), OTHER_SECRET)) == "token signature is invalid"


def test_a_tampered_payload_is_rejected() -> None:
    header, _, signature = hs256(claims(scope="read")).split(".")
    forged = b64(json.dumps(claims(scope="admin")).encode())

    assert rejected(HS, f"{header}.{forged}.{signature}") == "token signature is invalid"


# Algorithms and keys -----------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_rejected(alg: str) -> None:
    payload = b64(json.dumps(claims()).encode())
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())

    assert rejected(HS, f"{header}.{payload}.") == "token is malformed"
    assert rejected(HS, f"{header}.{payload}.AAAA") == "token algorithm is not allowed"


def test_none_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="none"):
        TokenVerifier(AuthConfig(secret=SECRET, algorithms=("HS256", "none")))


def test_an_algorithm_outside_the_configured_list_is_rejected() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")

    assert rejected(HS, token) == "token algorithm is not allowed"


def test_a_header_without_alg_is_rejected() -> None:
    token = hand_made({"typ": "JWT"}, json.dumps(claims()).encode(), SECRET.encode())

    assert rejected(HS, token) == "token algorithm is not allowed"


def test_an_hs256_token_signed_with_the_public_key_fails_when_rs256_is_configured() -> None:
    public_pem = pem(RSA_KEY)
    verifier = TokenVerifier(AuthConfig(public_key=public_pem, algorithms=("RS256",)))
    token = hand_made({"alg": "HS256"}, json.dumps(claims()).encode(), public_pem.encode())

    assert rejected(verifier, token) == "token algorithm is not allowed"


def test_with_hs_and_rs_configured_an_hs256_token_is_checked_with_the_secret_only() -> None:
    public_pem = pem(RSA_KEY)
    verifier = TokenVerifier(
        AuthConfig(secret=SECRET, public_key=public_pem, algorithms=("HS256", "RS256"))
    )
    forged = hand_made({"alg": "HS256"}, json.dumps(claims()).encode(), public_pem.encode())

    assert rejected(verifier, forged) == "token signature is invalid"
    assert verifier.verify(hs256(claims())).subject == "tech7"
    assert verifier.verify(jwt.encode(claims(), RSA_KEY, algorithm="RS256"))


def test_a_key_embedded_in_the_token_is_never_used() -> None:
    verifier = TokenVerifier(AuthConfig(public_key=pem(RSA_KEY), algorithms=("RS256",)))
    attacker_jwk = RSAAlgorithm.to_jwk(RSA_OTHER.public_key(), as_dict=True)
    token = jwt.encode(claims(), RSA_OTHER, algorithm="RS256", headers={"jwk": attacker_jwk})

    assert rejected(verifier, token) == "token signature is invalid"


def test_an_es256_token_is_rejected_when_only_rs256_is_configured() -> None:
    verifier = TokenVerifier(AuthConfig(public_key=pem(RSA_KEY), algorithms=("RS256",)))

    reason = rejected(verifier, jwt.encode(claims(), EC_KEY, algorithm="ES256"))

    assert reason == "token algorithm is not allowed"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (AuthConfig(), "INVTRACK_JWT_SECRET"),
        (AuthConfig(secret=SECRET, algorithms=()), "no algorithm"),
        (AuthConfig(secret=SECRET, algorithms=("HS257",)), "unsupported"),
        (AuthConfig(public_key=pem(RSA_KEY)), "RS256"),
        (AuthConfig(secret=SECRET, algorithms=("RS256",)), "PUBLIC_KEY"),
        (AuthConfig(secret=pem(RSA_KEY)), "shared secret"),
        (AuthConfig(public_key="not a key", algorithms=("RS256",)), "PEM"),
        (AuthConfig(public_key=pem(RSA_KEY), algorithms=("ES256",)), "RSA key"),
        (AuthConfig(public_key=pem(EC_KEY), algorithms=("ES384",)), "secp256r1"),
        (
            AuthConfig(public_key=pem(RSA_KEY), jwks_url="https://x/jwks", algorithms=("RS256",)),
            "not both",
        ),
        (AuthConfig(jwks_url="file:///etc/jwks", algorithms=("RS256",)), "http"),
        (AuthConfig(secret=SECRET, leeway_seconds=-1), "leeway"),
    ],
)
def test_an_unusable_configuration_is_refused(config: AuthConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(config)


def test_the_configuration_repr_hides_the_secret() -> None:
    text = repr(AuthConfig(secret=SECRET))

    assert SECRET not in text
    assert "redacted" in text


# Times -------------------------------------------------------------------------


def test_an_expired_token_is_rejected() -> None:
    assert rejected(HS, hs256(claims(exp=T - 31))) == "token has expired"


def test_expiry_allows_the_leeway() -> None:
    assert HS.verify(hs256(claims(exp=T - 29)))


def test_a_token_expiring_now_is_rejected_without_leeway() -> None:
    verifier = TokenVerifier(AuthConfig(secret=SECRET, leeway_seconds=0))

    assert rejected(verifier, hs256(claims(exp=T))) == "token has expired"


def test_a_token_not_valid_yet_is_rejected() -> None:
    assert rejected(HS, hs256(claims(nbf=T + 31))) == "token is not valid yet"
    assert HS.verify(hs256(claims(nbf=T + 29)))


def test_a_token_issued_in_the_future_is_rejected() -> None:
    assert rejected(HS, hs256(claims(iat=T + 31))) == "token is issued in the future"
    assert HS.verify(hs256(claims(iat=T + 29)))


def test_a_token_without_exp_is_rejected() -> None:
    assert rejected(HS, hs256({"sub": "tech7", "iat": T})) == "token has no exp claim"


@pytest.mark.parametrize("value", ["2026-11-20T10:00:00Z", str(T + 60), True, None, [T]])
def test_a_malformed_exp_is_rejected(value: object) -> None:
    assert rejected(HS, hs256(claims(exp=value))) == "token has a malformed exp claim"


def test_fractional_and_far_future_times_are_accepted() -> None:
    assert HS.verify(hs256(claims(exp=T + 0.5, iat=T - 0.5)))
    far = HS.verify(hs256(claims(exp=10**30)))
    assert far.expires_at.year == 9999


# Audience and issuer -----------------------------------------------------------

AUD_ISS = TokenVerifier(AuthConfig(secret=SECRET, audience="invtrack", issuer="https://idp"))


@pytest.mark.parametrize("audience", ["invtrack", ["other", "invtrack"]])
def test_the_configured_audience_and_issuer_are_accepted(audience: object) -> None:
    token = hs256(claims(aud=audience, iss="https://idp"))

    assert AUD_ISS.verify(token).subject == "tech7"


@pytest.mark.parametrize("audience", ["other", ["other"], [], 42, None])
def test_a_wrong_audience_is_rejected(audience: object) -> None:
    token = hs256(claims(aud=audience, iss="https://idp"))

    assert rejected(AUD_ISS, token) == "token audience is not accepted"


def test_a_missing_audience_is_rejected_when_one_is_configured() -> None:
    assert rejected(AUD_ISS, hs256(claims(iss="https://idp"))) == "token audience is not accepted"


@pytest.mark.parametrize("issuer", ["https://evil", "", None, ["https://idp"]])
def test_a_wrong_issuer_is_rejected(issuer: object) -> None:
    payload = json.dumps(claims(aud="invtrack", iss=issuer)).encode()
    token = hand_made({"alg": "HS256"}, payload, SECRET.encode())

    assert rejected(AUD_ISS, token) == "token issuer is not accepted"


def test_a_missing_issuer_is_rejected_when_one_is_configured() -> None:
    assert rejected(AUD_ISS, hs256(claims(aud="invtrack"))) == "token issuer is not accepted"


def test_audience_and_issuer_are_ignored_when_not_configured() -> None:
    assert HS.verify(hs256(claims(aud="anyone", iss="anywhere")))


# Garbage -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "..",
        "Bearer abc.def.ghi",
        " " + hs256(claims()),
        hs256(claims()) + "\n",
        "ü.ü.ü",
        "e30.e30.e30",
        b64(b"[]") + ".e30.AAAA",
        b64(b"not json") + ".e30.AAAA",
        b64(json.dumps({"alg": "HS256", "kid": 7}).encode()) + ".e30.AAAA",
        b64(json.dumps({"alg": "HS256", "crit": ["exp"]}).encode()) + ".e30.AAAA",
    ],
)
def test_garbage_is_an_invalid_token(token: str) -> None:
    rejected(HS, token)


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"not json",
        b'{"exp": NaN}',
        b'{"exp": Infinity}',
        b'{"exp": 1e999}',
        b'{"exp": 1, "exp": 99999999999}',
        b"\xff\xfe",
        b"[" * 3000 + b"]" * 3000,
    ],
)
def test_a_signed_but_unreadable_payload_is_an_invalid_token(payload: bytes) -> None:
    token = hand_made({"alg": "HS256"}, payload, SECRET.encode())
    if len(token) <= MAX_TOKEN_LENGTH:
        assert rejected(HS, token) in {"token is malformed", "token has a malformed exp claim"}
    else:
        assert rejected(HS, token) == "token is too large"


def test_an_oversized_token_is_rejected_before_parsing() -> None:
    assert rejected(HS, "a" * (MAX_TOKEN_LENGTH + 1)) == "token is too large"


def test_a_signed_token_just_over_the_limit_is_rejected() -> None:
    padding = "x" * MAX_TOKEN_LENGTH
    assert rejected(HS, hs256(claims(padding=padding))) == "token is too large"


def test_a_signed_token_just_under_the_limit_verifies() -> None:
    short = hs256(claims(padding=""))
    room = (MAX_TOKEN_LENGTH - len(short)) * 3 // 4
    token = hs256(claims(padding="x" * room))
    assert len(token) <= MAX_TOKEN_LENGTH

    assert HS.verify(token).raw["padding"] == "x" * room


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
claim_names = st.sampled_from(
    ["exp", "nbf", "iat", "aud", "iss", "sub", "name", "email", "scope", "scp"]
)
base64url_text = st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=40)


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text_is_at_most_an_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        HS.verify(token)


@settings(deadline=None)
@given(st.lists(base64url_text, min_size=1, max_size=5).map(".".join))
def test_token_shaped_text_is_at_most_an_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        HS.verify(token)


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("a claim is given twice")
    return dict(pairs)


def payload_problems(payload: bytes) -> set[str]:
    """Why a signed payload must be refused, written from RFC 7519 and the
    README (the claims, a JSON object in UTF-8: no claim twice, no NaN or
    Infinity; exp required; exp, nbf and iat finite numbers, not booleans or
    text, compared in whole seconds with 30 s of leeway); empty when the
    token must verify."""
    try:
        raw = json.loads(
            payload.decode("utf-8"),
            object_pairs_hook=_no_repeats,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        return {"token is malformed"}
    if not isinstance(raw, dict):
        return {"token is malformed"}
    times = {name: raw[name] for name in ("exp", "nbf", "iat") if name in raw}
    malformed = {
        f"token has a malformed {name} claim"
        for name, value in times.items()
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isinf(value)
    }
    if malformed:
        return malformed
    problems = set()
    if "exp" not in raw:
        problems.add("token has no exp claim")
    elif int(raw["exp"]) <= T - 30:
        problems.add("token has expired")
    if "nbf" in raw and int(raw["nbf"]) > T + 30:
        problems.add("token is not valid yet")
    if "iat" in raw and int(raw["iat"]) > T + 30:
        problems.add("token is issued in the future")
    return problems


near_times = st.one_of(
    st.integers(T - 90, T + 90),
    st.floats(T - 90, T + 90),
    st.sampled_from([True, False, "1", None, 10**30, 1e300]),
)
claims_as_json = st.dictionaries(claim_names, near_times | json_values, max_size=6).map(
    lambda raw: json.dumps(raw).encode()
)
payloads = st.one_of(
    claims_as_json,
    st.fixed_dictionaries(
        {"exp": st.integers(T - 60, T + 3600)},
        optional={"nbf": near_times, "iat": near_times, "sub": json_values, "scope": json_values},
    ).map(lambda raw: json.dumps(raw).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
)


def test_any_signed_payload_verifies_exactly_when_its_claims_are_right() -> None:
    outcomes: Counter[str] = Counter()

    @settings(deadline=None, max_examples=examples(300))
    @given(payload=payloads)
    def check(payload: bytes) -> None:
        token = hand_made({"alg": "HS256"}, payload, SECRET.encode())
        problems = payload_problems(payload)
        if problems:
            outcome = rejected(HS, token)
            assert outcome in problems, (outcome, problems)
        else:
            outcome = "verified"
            assert HS.verify(token).raw == json.loads(payload)
        hypothesis.event(outcome)
        outcomes[outcome] += 1

    check()
    # Both sides of the rule were reached, and often.
    total = sum(outcomes.values())
    assert outcomes["verified"] >= total // 20, outcomes
    assert total - outcomes["verified"] >= total // 20, outcomes


@settings(deadline=None)
@given(st.dictionaries(claim_names, json_values))
def test_any_signed_claims_verify_only_when_their_times_are_right(raw: dict[str, Any]) -> None:
    token = hand_made({"alg": "HS256"}, json.dumps(raw).encode(), SECRET.encode())
    try:
        result = HS.verify(token)
    except InvalidToken:
        return
    exp = raw["exp"]
    assert isinstance(exp, int | float)
    assert not isinstance(exp, bool)
    assert exp + 30 > T
    assert isinstance(result.scopes, frozenset)


ALGORITHMS = sorted(get_default_algorithms())
"""Every algorithm PyJWT knows, `none` included."""
NEAR_MISSES = (
    "hs256",
    "Hs256",
    "HS256 ",
    " HS256",
    "HS 256",
    "HS-256",
    "HS256\x00",
    "HS2560",
    "HS25",
    "None",
    "NONE",
    "",
)
ABSENT = object()
alg_values = st.one_of(
    st.just("HS256"), st.sampled_from([*ALGORITHMS, *NEAR_MISSES]), json_values, st.just(ABSENT)
)
headers = st.builds(
    lambda others, alg: others if alg is ABSENT else {**others, "alg": alg},
    st.just({})
    | st.fixed_dictionaries(
        {},
        optional={
            "kid": st.text(max_size=8) | json_values,
            "typ": st.just("JWT") | json_values,
            "crit": json_values,
            "b64": json_values,
            "jwk": json_values,
        },
    ),
    alg_values,
)


def header_problem(header: dict[str, Any]) -> str | None:
    """Why a token with this header and good claims is refused (RFC 7515), in
    the order the header is read: a `crit` (we implement no extension) or a
    `kid` that is not text, or `b64: false` (RFC 7797: a payload that is not
    base64url, which the token does not follow), all read with the header;
    then an algorithm other than exactly the configured HS256. None: it
    verifies."""
    if "crit" in header or ("kid" in header and not isinstance(header["kid"], str)):
        return "token is malformed"
    if header.get("b64") is False:
        return "token is malformed"
    if header.get("alg", ABSENT) != "HS256":
        return "token algorithm is not allowed"
    return None


def test_any_header_verifies_only_with_the_configured_algorithm() -> None:
    outcomes: Counter[str] = Counter()

    @settings(deadline=None)
    @given(header=headers)
    def check(header: dict[str, Any]) -> None:
        token = hand_made(header, json.dumps(claims()).encode(), SECRET.encode())
        problem = header_problem(header)
        if problem is None:
            outcome = "verified"
            assert HS.verify(token).subject == "tech7"
        else:
            outcome = rejected(HS, token)
            assert outcome == problem, header
        hypothesis.event(outcome)
        outcomes[outcome] += 1

    check()
    # HS256 verified often, near misses refused often.
    total = sum(outcomes.values())
    assert outcomes["verified"] >= total // 20, outcomes
    assert outcomes["token algorithm is not allowed"] >= total // 20, outcomes


# Scopes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "scopes"),
    [
        ({"scope": "read"}, {"read"}),
        ({"scope": "  read   write "}, {"read", "write"}),
        ({"scope": ""}, set()),
        ({"scp": ["admin", "read"]}, {"admin", "read"}),
        ({"scp": "write"}, {"write"}),
        ({"scope": "read", "scp": ["write"]}, {"read", "write"}),
        ({"scope": ["read"]}, set()),
        ({"scope": 7, "scp": [1, None, "", "admin"]}, {"admin"}),
        ({}, set()),
        ({"scope": "x\u00a0read"}, {"x\u00a0read"}),
        ({"scope": "read\twrite"}, {"read\twrite"}),
        ({"scp": "admin\nread"}, {"admin\nread"}),
    ],
)
def test_scopes_are_parsed(extra: dict[str, Any], scopes: set[str]) -> None:
    assert HS.verify(hs256(claims(**extra))).scopes == frozenset(scopes)


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        ({"read"}, "read", True),
        ({"write"}, "read", True),
        ({"admin"}, "read", True),
        ({"read"}, "write", False),
        ({"write"}, "write", True),
        ({"admin"}, "write", True),
        ({"read", "write"}, "admin", False),
        ({"admin"}, "admin", True),
        (set(), "read", False),
        ({"READ", "inventory:read"}, "read", False),
    ],
)
def test_allows(held: set[str], needed: str, allowed: bool) -> None:
    granted = Claims(subject=None, scopes=frozenset(held), expires_at=NOW, raw={})

    assert allows(granted, needed) is allowed


def test_allows_refuses_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        allows(Claims(subject=None, scopes=frozenset(), expires_at=NOW, raw={}), "delete")


# Minting -----------------------------------------------------------------------


def test_a_minted_token_verifies(frozen: time_machine.Traveller) -> None:
    token = mint(SECRET, scope="write", ttl_seconds=3600)

    frozen.shift(timedelta(minutes=59))
    result = HS.verify(token)

    assert result.subject == "invtrack-cli"
    assert result.scopes == frozenset({"write"})
    assert result.expires_at == NOW + timedelta(hours=1)
    assert result.raw["iat"] == T
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_minted_token_without_scope_has_no_scope_claim() -> None:
    token = mint(SECRET, scope=None, ttl_seconds=60, subject="relay")

    result = HS.verify(token)

    assert "scope" not in result.raw
    assert result.scopes == frozenset()
    assert result.subject == "relay"


def test_a_minted_token_expires(frozen: time_machine.Traveller) -> None:
    token = mint(SECRET, scope="read", ttl_seconds=60)

    frozen.shift(timedelta(minutes=2))
    assert rejected(HS, token) == "token has expired"


def test_a_minted_token_with_the_current_time_verifies() -> None:
    assert HS.verify(mint(SECRET, scope="read", ttl_seconds=3600)).scopes == {"read"}


@pytest.mark.parametrize("ttl", [0, -1])
def test_mint_needs_a_positive_ttl(ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        mint(SECRET, scope="read", ttl_seconds=ttl)


# The generated secret ----------------------------------------------------------


def test_the_secret_is_created_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    secret, created = load_or_create_secret(data_dir)
    again, created_again = load_or_create_secret(data_dir)

    path = data_dir / "jwt-secret"
    assert created
    assert not created_again
    assert again == secret
    assert len(secret) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == secret
    assert [p.name for p in data_dir.iterdir()] == ["jwt-secret"]


def test_a_generated_secret_mints_verifiable_tokens(tmp_path: Path) -> None:
    secret, _ = load_or_create_secret(tmp_path)
    verifier = TokenVerifier(AuthConfig(secret=secret))

    token = mint(secret, scope="admin", ttl_seconds=60)

    assert allows(verifier.verify(token), "admin")


def test_an_existing_secret_file_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "jwt-secret").write_text("operator-chosen\n")

    assert load_or_create_secret(tmp_path) == ("operator-chosen", False)


def test_an_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "jwt-secret").write_text("")

    with pytest.raises(ValueError, match="empty"):
        load_or_create_secret(tmp_path)


def test_concurrent_creators_in_threads_share_one_secret(tmp_path: Path) -> None:
    workers = 8
    for attempt in range(20):
        data_dir = tmp_path / str(attempt)
        barrier = threading.Barrier(workers)

        def create(_: int, data_dir: Path = data_dir, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            return load_or_create_secret(data_dir)

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(create, range(workers)))

        assert len({secret for secret, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert [p.name for p in data_dir.iterdir()] == ["jwt-secret"]


CREATOR = """
import pathlib, sys, time
from adapters.auth import load_or_create_secret
data_dir, ready, go = (pathlib.Path(arg) for arg in sys.argv[1:4])
ready.touch()
while not go.exists():
    time.sleep(0.001)
secret, created = load_or_create_secret(data_dir)
print(created, secret)
"""


def test_two_processes_starting_at_once_share_one_secret(tmp_path: Path) -> None:
    data_dir, go = tmp_path / "var", tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(data_dir), str(flag), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        # Both import first and then wait, so the creations really coincide.
        deadline = time.monotonic() + 120
        while not all(flag.exists() for flag in ready):
            assert all(p.poll() is None for p in processes), "a creator exited early"
            assert time.monotonic() < deadline, "the creators did not start"
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=120)[0].split() for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()

    assert [p.returncode for p in processes] == [0, 0]
    assert sorted(created for created, _ in outputs) == ["False", "True"]
    assert len({secret for _, secret in outputs}) == 1
    assert (data_dir / "jwt-secret").read_text().strip() == outputs[0][1]


# JWKS --------------------------------------------------------------------------


def jwk(private: PublicKeyed, kid: str | None, alg: str | None = None) -> dict[str, Any]:
    if isinstance(private, rsa.RSAPrivateKey):
        document = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        document = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise TypeError(type(private))
    document["use"] = "sig"
    if kid is not None:
        document["kid"] = kid
    if alg is not None:
        document["alg"] = alg
    return document


def signed(private: PublicKeyed, alg: str, kid: str | None, **extra: Any) -> str:
    headers = None if kid is None else {"kid": kid}
    return jwt.encode(claims(**extra), private, algorithm=alg, headers=headers)


@dataclass
class JwksServer:
    """A JWKS document served on 127.0.0.1; change `keys` or `status` at will."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    hits: int = 0


@pytest.fixture
def jwks(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Clock:
    """The clock PyJWT's JWKS client ages its cache and cool-down by."""

    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", fake)
    return fake


def jwks_verifier(
    server: JwksServer,
    algorithms: tuple[str, ...] = ("RS256", "ES256"),
    secret: str | None = None,
) -> TokenVerifier:
    return TokenVerifier(
        AuthConfig(secret=secret, jwks_url=server.url, algorithms=algorithms),
        jwks_min_refresh_seconds=30,
        jwks_max_age_seconds=600,
    )


async def test_a_jwks_token_verifies_and_the_document_is_cached(jwks: JwksServer) -> None:
    jwks.keys = [jwk(RSA_KEY, "a", "RS256"), jwk(EC_KEY, "b")]
    verifier = jwks_verifier(jwks)

    first = await verifier.verify_async(signed(RSA_KEY, "RS256", "a"))
    second = await verifier.verify_async(signed(EC_KEY, "ES256", "b", scope="read"))

    assert first.subject == "tech7"
    assert second.scopes == frozenset({"read"})
    assert jwks.hits == 1


async def test_a_token_without_kid_is_checked_against_the_keys_of_its_type(
    jwks: JwksServer,
) -> None:
    jwks.keys = [jwk(RSA_OTHER, "old"), jwk(RSA_KEY, "new"), jwk(EC_KEY, "ec")]
    verifier = jwks_verifier(jwks)

    assert await verifier.verify_async(signed(RSA_KEY, "RS256", None))
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify_async(signed(EC_OTHER, "ES256", None))


async def test_key_rotation_an_unknown_kid_fetches_the_document_again(
    jwks: JwksServer, clock: Clock
) -> None:
    jwks.keys = [jwk(RSA_KEY, "2026-10")]
    verifier = jwks_verifier(jwks)
    assert await verifier.verify_async(signed(RSA_KEY, "RS256", "2026-10"))

    jwks.keys = [jwk(RSA_KEY, "2026-10"), jwk(RSA_OTHER, "2026-11")]
    clock.now += 31
    rotated = await verifier.verify_async(signed(RSA_OTHER, "RS256", "2026-11"))

    assert rotated.subject == "tech7"
    assert jwks.hits == 2


async def test_unknown_kids_do_not_fetch_more_than_once_per_interval(
    jwks: JwksServer, clock: Clock
) -> None:
    jwks.keys = [jwk(RSA_KEY, "a")]
    verifier = jwks_verifier(jwks)
    await verifier.verify_async(signed(RSA_KEY, "RS256", "a"))

    for n in range(5):
        with pytest.raises(InvalidToken, match="signing key is unknown"):
            await verifier.verify_async(signed(RSA_OTHER, "RS256", f"made-up-{n}"))
    assert jwks.hits == 1

    clock.now += 30
    with pytest.raises(InvalidToken, match="signing key is unknown"):
        await verifier.verify_async(signed(RSA_OTHER, "RS256", "made-up"))
    assert jwks.hits == 2


async def test_the_document_is_fetched_again_when_old(jwks: JwksServer, clock: Clock) -> None:
    jwks.keys = [jwk(RSA_KEY, "a")]
    verifier = jwks_verifier(jwks)
    token = signed(RSA_KEY, "RS256", "a")
    await verifier.verify_async(token)

    clock.now += 599
    await verifier.verify_async(token)
    assert jwks.hits == 1

    jwks.keys = [jwk(RSA_OTHER, "b")]
    clock.now += 2  # PyJWKClient keeps a document up to its age limit, inclusive
    with pytest.raises(InvalidToken, match="signing key is unknown"):
        await verifier.verify_async(token)
    assert jwks.hits == 2


async def test_concurrent_first_requests_share_one_fetch(jwks: JwksServer) -> None:
    jwks.keys = [jwk(RSA_KEY, "a")]
    verifier = jwks_verifier(jwks)
    token = signed(RSA_KEY, "RS256", "a")

    results = await asyncio.gather(*(verifier.verify_async(token) for _ in range(10)))

    assert all(result.subject == "tech7" for result in results)
    assert jwks.hits == 1


async def test_an_unreachable_document_is_keys_unavailable(jwks: JwksServer) -> None:
    jwks.status = 503
    verifier = jwks_verifier(jwks)

    with pytest.raises(KeysUnavailable):
        await verifier.verify_async(signed(RSA_KEY, "RS256", "a"))


async def test_known_keys_keep_working_while_the_document_is_unreachable(
    jwks: JwksServer,
    clock: Clock,
) -> None:
    jwks.keys = [jwk(RSA_KEY, "a")]
    verifier = jwks_verifier(jwks)
    token = signed(RSA_KEY, "RS256", "a")
    await verifier.verify_async(token)

    jwks.status = 500
    clock.now += 601

    assert await verifier.verify_async(token)
    assert jwks.hits == 2
    with pytest.raises(KeysUnavailable):
        await verifier.verify_async(signed(RSA_OTHER, "RS256", "new"))


async def test_a_document_that_is_not_a_key_set_is_keys_unavailable(jwks: JwksServer) -> None:
    jwks.keys = ["not a key"]  # type: ignore[list-item]
    verifier = jwks_verifier(jwks)

    with pytest.raises(KeysUnavailable):
        await verifier.verify_async(signed(RSA_KEY, "RS256", "a"))


async def test_a_kid_naming_a_key_of_another_type_is_not_used(jwks: JwksServer) -> None:
    jwks.keys = [jwk(EC_KEY, "shared"), jwk(RSA_KEY, "rsa", "RS256"), jwk(RSA_OTHER, "ps", "PS256")]
    verifier = jwks_verifier(jwks, algorithms=("RS256", "ES256", "PS256"))

    with pytest.raises(InvalidToken, match="signing key is unknown"):
        await verifier.verify_async(signed(RSA_KEY, "RS256", "shared"))
    with pytest.raises(InvalidToken, match="signing key is unknown"):
        await verifier.verify_async(signed(RSA_OTHER, "RS256", "ps"))
    assert await verifier.verify_async(signed(RSA_OTHER, "PS256", "ps"))


async def test_a_symmetric_key_in_the_document_is_never_used(jwks: JwksServer) -> None:
    shared = OTHER_SECRET.encode()
    jwks.keys = [{"kty": "oct", "kid": "shared", "k": b64(shared)}, jwk(RSA_KEY, "rsa")]
    verifier = jwks_verifier(jwks, algorithms=("HS256", "RS256"), secret=SECRET)
    token = hand_made({"alg": "HS256", "kid": "shared"}, json.dumps(claims()).encode(), shared)

    with pytest.raises(InvalidToken, match="signature is invalid"):
        await verifier.verify_async(token)
    assert await verifier.verify_async(hs256(claims(), kid="shared"))


async def test_jwks_tokens_are_still_checked_for_time_and_audience(jwks: JwksServer) -> None:
    jwks.keys = [jwk(RSA_KEY, "a")]
    verifier = TokenVerifier(
        AuthConfig(jwks_url=jwks.url, algorithms=("RS256",), audience="invtrack")
    )

    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify_async(signed(RSA_KEY, "RS256", "a", aud="invtrack", exp=T - 60))
    with pytest.raises(InvalidToken, match="audience"):
        await verifier.verify_async(signed(RSA_KEY, "RS256", "a", aud="other"))


def test_a_jwks_verifier_refuses_synchronous_use(jwks: JwksServer) -> None:
    verifier = jwks_verifier(jwks)

    with pytest.raises(RuntimeError, match="verify_async"):
        verifier.verify(signed(RSA_KEY, "RS256", "a"))
