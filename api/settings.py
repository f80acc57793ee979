"""Configuration from the environment (README.md, "Configuration")."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
from authlib.common.security import is_secure_transport

from adapters.auth import AuthConfig
from adapters.oidc import OidcConfig, parse_role_map
from api.signal_settings import SignalSettings, signal_settings
from api.subscription_settings import SettingError, SubscriptionSettings, subscription_settings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/invtrack.db"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class OfsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The OFS Events API poller and the reconciler: off unless a URL is set.

    `auth` is `basic`, `bearer`, `client_credentials` or `jwt`; unset, it is
    `bearer` with a token and `basic` otherwise. `jwt` signs assertions with
    the PEM RSA key in `private_key_file`, naming `user` (or the application).
    """

    url: str | None = None
    client_id: str | None = None
    instance: str | None = None
    client_secret: str | None = None
    token: str | None = None
    auth: str | None = None
    private_key_file: str | None = None
    user: str | None = None
    poll_in_serve: bool = False
    idle_seconds: float = 10.0
    rate: int = 10
    """Requests a second to the instance, at most."""
    gap_days: float = 3.0
    """After a subscription gap, reconcile the resources and activities whose
    items changed in this many days before it."""


class VendorLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What bounds every exchange with a vendor, and every run."""

    max_bytes: int = 32 * 1024 * 1024
    """Largest answer read (pages, token answers, inventory listings)."""
    deadline: float = 120.0
    """Longest one exchange may take, start to last byte."""
    max_pages: int = 10_000
    """Most pages one `--once` run of a poller, or one reconciliation, reads."""


class DashboardSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The web dashboard's sessions (signed-in browsers)."""

    session_secret: str | None = None
    """Key material for the session cookies; None: a random key kept in the
    data directory (`session-secret`), created on first start."""
    session_hours: int = 12
    """Longest a session lasts; it never outlives the token it was opened with."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only (set it behind a TLS proxy)."""

    def __repr__(self) -> str:
        # Configuration gets logged; the secret must not be.
        secret = None if self.session_secret is None else "<redacted>"
        return (
            f"DashboardSettings(session_secret={secret!r}, session_hours={self.session_hours!r}, "
            f"secure_cookies={self.secure_cookies!r})"
        )


class SmSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The ServiceMobility Export API pollers: off unless a URL is set.

    Credentials: `token` (a JWT), or `username` and `password` (exchanged at
    `login_path`), or the legacy `customer_id` and `customer_code`. Each of
    `sources` (`mob`, `sch`, `api`) is pulled with its own cursor, from
    `start_rowver` on the first run.
    """

    url: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    customer_id: str | None = None
    customer_code: str | None = None
    login_path: str = "/createjwt"
    sources: tuple[str, ...] = ("mob",)
    start_rowver: str = "0"
    limit: int = 100
    poll_in_serve: bool = False
    idle_seconds: float = 60.0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = DEFAULT_DATABASE_URL
    read_database_url: str | None = None
    """A streaming replica of the PostgreSQL store that answers the reads."""
    replica_max_lag_seconds: float = 10.0
    data_dir: Path = Path("./var")
    auth: AuthConfig = AuthConfig()
    max_body_bytes: int = 1_048_576
    log_format: str = "text"
    log_level: str = "INFO"
    auto_rebuild: bool = False
    commit_batch: int = 128
    pool_size: int = 10
    busy_seconds: float = 5.0
    keep_alive_seconds: int = 5
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 30
    max_connections: int = 1000
    ofs: OfsSettings = OfsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    sm: SmSettings = SmSettings()
    vendor: VendorLimits = VendorLimits()
    oidc: OidcConfig | None = None
    """Single sign-on for the dashboard; None: signing in by token only."""
    subscriptions: SubscriptionSettings = SubscriptionSettings()
    signals: SignalSettings = SignalSettings()

    @property
    def has_key(self) -> bool:
        return bool(self.auth.secret or self.auth.public_key or self.auth.jwks_url)


class SettingsError(ValueError):
    """A variable holds a value that cannot be used."""


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from INVTRACK_* variables; unset ones keep their defaults."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(f"INVTRACK_{name}")
        return value if value not in (None, "") else None

    # Without an explicit list: HS256, or RS256 when only a public key is given.
    asymmetric_only = not get("JWT_SECRET") and bool(get("JWT_PUBLIC_KEY") or get("JWT_JWKS_URL"))
    default_algorithms = "RS256" if asymmetric_only else "HS256"
    algorithms = tuple(
        part.strip()
        for part in (get("JWT_ALGORITHMS") or default_algorithms).split(",")
        if part.strip()
    )
    auth = AuthConfig(
        secret=get("JWT_SECRET"),
        public_key=get("JWT_PUBLIC_KEY"),
        jwks_url=get("JWT_JWKS_URL"),
        algorithms=algorithms,
        audience=get("JWT_AUDIENCE"),
        issuer=get("JWT_ISSUER"),
        leeway_seconds=_int(get("JWT_LEEWAY"), "JWT_LEEWAY", 30, minimum=0),
    )
    ofs = OfsSettings(
        url=get("OFS_URL"),
        client_id=get("OFS_CLIENT_ID"),
        instance=get("OFS_INSTANCE"),
        client_secret=get("OFS_CLIENT_SECRET"),
        token=get("OFS_TOKEN"),
        auth=get("OFS_AUTH"),
        private_key_file=get("OFS_PRIVATE_KEY_FILE"),
        user=get("OFS_USER"),
        poll_in_serve=_bool(get("OFS_POLL_IN_SERVE")),
        idle_seconds=float(get("OFS_IDLE_SECONDS") or 10.0),
        rate=_int(get("OFS_RATE"), "OFS_RATE", 10),
        gap_days=_seconds(get("OFS_GAP_DAYS"), "OFS_GAP_DAYS", 3.0),
    )
    vendor = VendorLimits(
        max_bytes=_int(get("VENDOR_MAX_BYTES"), "VENDOR_MAX_BYTES", 32 * 1024 * 1024),
        deadline=_positive(get("VENDOR_DEADLINE"), "VENDOR_DEADLINE", 120.0),
        max_pages=_int(get("VENDOR_MAX_PAGES"), "VENDOR_MAX_PAGES", 10_000),
    )
    sm = SmSettings(
        url=get("SM_URL"),
        token=get("SM_TOKEN"),
        username=get("SM_USERNAME"),
        password=get("SM_PASSWORD"),
        customer_id=get("SM_CUSTOMER_ID"),
        customer_code=get("SM_CUSTOMER_CODE"),
        login_path=get("SM_LOGIN_PATH") or "/createjwt",
        sources=tuple(
            part.strip() for part in (get("SM_SOURCES") or "mob").split(",") if part.strip()
        ),
        start_rowver=get("SM_START_ROWVER") or "0",
        limit=_int(get("SM_LIMIT"), "SM_LIMIT", 100),
        poll_in_serve=_bool(get("SM_POLL_IN_SERVE")),
        idle_seconds=_seconds(get("SM_IDLE_SECONDS"), "SM_IDLE_SECONDS", 60.0),
    )
    return Settings(
        database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        read_database_url=get("READ_DATABASE_URL") or None,
        replica_max_lag_seconds=_seconds(
            get("REPLICA_MAX_LAG_SECONDS"), "REPLICA_MAX_LAG_SECONDS", 10.0
        ),
        data_dir=Path(get("DATA_DIR") or "./var"),
        auth=auth,
        max_body_bytes=_int(get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", 1_048_576),
        log_format=_choice(get("LOG_FORMAT"), "LOG_FORMAT", LOG_FORMATS, "text").lower(),
        log_level=_choice(get("LOG_LEVEL"), "LOG_LEVEL", LOG_LEVELS, "INFO").upper(),
        auto_rebuild=_bool(get("AUTO_REBUILD")),
        commit_batch=_int(get("COMMIT_BATCH"), "COMMIT_BATCH", 128),
        pool_size=_int(get("POOL_SIZE"), "POOL_SIZE", 10),
        busy_seconds=_seconds(get("STORE_BUSY_SECONDS"), "STORE_BUSY_SECONDS", 5.0),
        keep_alive_seconds=_int(get("KEEP_ALIVE"), "KEEP_ALIVE", 5),
        header_timeout_seconds=_int(get("HEADER_TIMEOUT"), "HEADER_TIMEOUT", 10),
        body_timeout_seconds=_int(get("BODY_TIMEOUT"), "BODY_TIMEOUT", 30),
        max_connections=_int(get("MAX_CONNECTIONS"), "MAX_CONNECTIONS", 1000),
        ofs=ofs,
        dashboard=DashboardSettings(
            session_secret=get("SESSION_SECRET"),
            session_hours=_int(get("SESSION_HOURS"), "SESSION_HOURS", 12),
            secure_cookies=_bool(get("SECURE_COOKIES")),
        ),
        sm=sm,
        vendor=vendor,
        oidc=_oidc(get, auth.leeway_seconds),
        subscriptions=_subscriptions(get),
        signals=_signals(get),
    )


def _signals(get: Callable[[str], str | None]) -> SignalSettings:
    try:
        return signal_settings(get)
    except SettingError as error:
        raise SettingsError(str(error)) from None


def _subscriptions(get: Callable[[str], str | None]) -> SubscriptionSettings:
    try:
        return subscription_settings(get)
    except SettingError as error:
        raise SettingsError(str(error)) from None


OIDC_NAMES = (
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_ROLES_CLAIM",
    "OIDC_ROLE_MAP",
    "OIDC_REDIRECT_URI",
)


def _oidc(get: Callable[[str], str | None], leeway: int) -> OidcConfig | None:
    """Single sign-on, when INVTRACK_OIDC_ISSUER is set; every other
    INVTRACK_OIDC_* variable needs it, and the client id and role map are
    required with it."""
    issuer = get("OIDC_ISSUER")
    if issuer is None:
        stray = next((name for name in OIDC_NAMES if get(name) is not None), None)
        if stray is not None:
            raise SettingsError(
                f"INVTRACK_{stray} is set but INVTRACK_OIDC_ISSUER is not: set the provider's "
                "issuer URL, or unset the INVTRACK_OIDC_* variables"
            )
        return None
    _check_url(issuer, "OIDC_ISSUER", "the provider's issuer URL, e.g. https://login.example.com")
    client_id = get("OIDC_CLIENT_ID")
    if client_id is None:
        raise SettingsError("INVTRACK_OIDC_CLIENT_ID is required with INVTRACK_OIDC_ISSUER")
    try:
        role_map = parse_role_map(get("OIDC_ROLE_MAP") or "")
    except ValueError as error:
        raise SettingsError(
            f"INVTRACK_OIDC_ROLE_MAP must map the provider's roles to read, write or admin "
            f"(e.g. stock-controller=read,ops=admin): {error}"
        ) from None
    roles_claim = get("OIDC_ROLES_CLAIM") or "roles"
    if any(not part for part in roles_claim.split(".")):
        raise SettingsError(f"INVTRACK_OIDC_ROLES_CLAIM is not a claim name: {roles_claim!r}")
    redirect_uri = get("OIDC_REDIRECT_URI")
    if redirect_uri is not None:
        _check_url(
            redirect_uri, "OIDC_REDIRECT_URI", "https://invtrack.example.com/ui/oidc/callback"
        )
        if urlsplit(redirect_uri).path != "/ui/oidc/callback":
            raise SettingsError("INVTRACK_OIDC_REDIRECT_URI must end in /ui/oidc/callback")
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=get("OIDC_CLIENT_SECRET"),
        roles_claim=roles_claim,
        role_map=role_map,
        redirect_uri=redirect_uri,
        leeway_seconds=leeway,
    )


def _check_url(value: str, name: str, example: str) -> None:
    """An https URL (http only on a loopback address), without query or fragment."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or not parts.hostname
        or parts.query
        or parts.fragment
        or not is_secure_transport(value)
    ):
        raise SettingsError(
            f"INVTRACK_{name} must be an https URL (http only on a loopback address) without "
            f"query or fragment, e.g. {example}; not {value!r}"
        )


def _int(value: str | None, name: str, default: int, *, minimum: int = 1) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"INVTRACK_{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SettingsError(f"INVTRACK_{name} must be at least {minimum}")
    return number


def _choice(value: str | None, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices`, whatever its case; `default` when unset."""
    if value is None:
        return default
    if value.casefold() not in {choice.casefold() for choice in choices}:
        raise SettingsError(
            f"INVTRACK_{name} must be one of {', '.join(choices)}, not {value[:40]!r}"
        )
    return value


def _seconds(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"INVTRACK_{name} must be a number of seconds, not {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise SettingsError(f"INVTRACK_{name} must be a number of seconds, not {value!r}")
    return seconds


def _positive(value: str | None, name: str, default: float) -> float:
    seconds = _seconds(value, name, default)
    if seconds <= 0:
        raise SettingsError(f"INVTRACK_{name} must be a positive number of seconds")
    return seconds


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")
