"""How tokens are verified (INVTRACK_JWT_* variables), and the checks that
refuse a configuration which would accept what it cannot verify."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

import jwt
import msgspec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import HMACAlgorithm

HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
SUPPORTED: Final = HMAC_ALGORITHMS | RSA_ALGORITHMS | set(EC_CURVES) | {"EdDSA"}

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
PUBLIC_KEY_TYPES: Final = (RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey, Ed448PublicKey)


class AuthConfig(msgspec.Struct, frozen=True):
    """How tokens are verified (INVTRACK_JWT_* variables).

    `algorithms` is the complete list of accepted algorithms. HS* algorithms
    need `secret`; RS*, PS*, ES* and EdDSA need `public_key` or `jwks_url`
    (one of them, not both). `audience` and `issuer` are checked when set.
    """

    secret: str | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:
        # Configuration gets logged; the secret must not be.
        secret = None if self.secret is None else "<redacted>"
        return (
            f"AuthConfig(secret={secret!r}, public_key={self.public_key is not None!r}, "
            f"jwks_url={self.jwks_url!r}, algorithms={self.algorithms!r}, "
            f"audience={self.audience!r}, issuer={self.issuer!r}, "
            f"leeway_seconds={self.leeway_seconds!r})"
        )

    @property
    def asymmetric(self) -> list[str]:
        return [a for a in self.algorithms if a not in HMAC_ALGORITHMS]


def check(config: AuthConfig) -> None:
    """Raises ValueError for a configuration that would accept what it cannot verify."""
    _check_algorithms(config)
    if config.leeway_seconds < 0:
        raise ValueError("the JWT leeway must not be negative")
    if config.public_key is not None and config.jwks_url is not None:
        raise ValueError("set INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL, not both")
    _check_secret(config)
    _check_public_keys(config)


def _check_algorithms(config: AuthConfig) -> None:
    if not config.algorithms:
        raise ValueError("INVTRACK_JWT_ALGORITHMS names no algorithm")
    for algorithm in config.algorithms:
        if algorithm.lower() == "none":
            raise ValueError("INVTRACK_JWT_ALGORITHMS may not allow 'none'")
        if algorithm not in SUPPORTED:
            raise ValueError(
                f"INVTRACK_JWT_ALGORITHMS: unsupported algorithm {algorithm!r}; "
                f"supported: {', '.join(sorted(SUPPORTED))}"
            )


def _check_secret(config: AuthConfig) -> None:
    hmac = [a for a in config.algorithms if a in HMAC_ALGORITHMS]
    if hmac and not config.secret:
        hint = ""
        if config.public_key is not None or config.jwks_url is not None:
            hint = "; to verify with a public key, set INVTRACK_JWT_ALGORITHMS to e.g. RS256"
        raise ValueError(
            f"INVTRACK_JWT_ALGORITHMS allows {', '.join(hmac)}, "
            f"which needs INVTRACK_JWT_SECRET{hint}"
        )
    if config.secret is not None:
        try:
            # PyJWT refuses secrets that look like PEM or SSH keys: such a
            # "secret" is the classic way to let a public key act as an HMAC key.
            HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(config.secret)
        except jwt.InvalidKeyError:
            raise ValueError(
                "INVTRACK_JWT_SECRET must be a shared secret, not a public or private key"
            ) from None


def _check_public_keys(config: AuthConfig) -> None:
    asymmetric = config.asymmetric
    if asymmetric and config.public_key is None and config.jwks_url is None:
        raise ValueError(
            f"INVTRACK_JWT_ALGORITHMS allows {', '.join(asymmetric)}, "
            "which needs INVTRACK_JWT_PUBLIC_KEY or INVTRACK_JWT_JWKS_URL"
        )
    if config.public_key is not None:
        key = pem_key(config.public_key)
        for algorithm in asymmetric:
            if not fits(algorithm, key):
                raise ValueError(
                    f"INVTRACK_JWT_ALGORITHMS allows {algorithm}, "
                    f"but INVTRACK_JWT_PUBLIC_KEY is {describe(key)}"
                )
    if config.jwks_url is not None and urlsplit(config.jwks_url).scheme not in ("http", "https"):
        raise ValueError("INVTRACK_JWT_JWKS_URL must be an http or https URL")


def pem_key(text: str) -> PublicKey:
    """A PEM public key or certificate's key. Environment files often hold a
    PEM on one line with escaped newlines; that is accepted too."""
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    data = text.strip().encode("utf-8")
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("INVTRACK_JWT_PUBLIC_KEY is not a PEM public key or certificate") from None
    if not isinstance(key, PUBLIC_KEY_TYPES):
        raise ValueError(f"INVTRACK_JWT_PUBLIC_KEY is {describe(key)}, which cannot verify JWTs")
    return key


def fits(algorithm: str, key: object) -> bool:
    """Whether `key` is of the type `algorithm` signs with."""
    if algorithm in RSA_ALGORITHMS:
        return isinstance(key, RSAPublicKey)
    if algorithm in EC_CURVES:
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == EC_CURVES[algorithm]
    if algorithm == "EdDSA":
        return isinstance(key, Ed25519PublicKey | Ed448PublicKey)
    return False


def describe(key: object) -> str:
    if isinstance(key, RSAPublicKey):
        return "an RSA key"
    if isinstance(key, EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    if isinstance(key, Ed25519PublicKey | Ed448PublicKey):
        return "an EdDSA key"
    return f"a {type(key).__name__}"
