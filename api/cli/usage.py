"""What `invtrack COMMAND --help` says beyond the options: the environment
variables a command reads, with their defaults."""

from __future__ import annotations

from projections.catalog import PROJECTIONS

DATABASE = (
    "  INVTRACK_DATABASE_URL  the store (default sqlite+aiosqlite:///./var/invtrack.db;\n"
    "                         postgresql+asyncpg://user:pass@host/db for PostgreSQL)\n"
)
LOGS = (
    "  INVTRACK_LOG_FORMAT    text or json (default text)\n  INVTRACK_LOG_LEVEL     default INFO\n"
)
KEYS = (
    "  INVTRACK_JWT_SECRET    HS256 key (default: none; serve then creates one in the\n"
    "                         data directory)\n"
    "  INVTRACK_JWT_PUBLIC_KEY, INVTRACK_JWT_JWKS_URL  verify RS256/ES256 tokens instead\n"
    "  INVTRACK_JWT_ALGORITHMS  default HS256 (RS256 with only a public key or JWKS URL)\n"
    "  INVTRACK_JWT_AUDIENCE, INVTRACK_JWT_ISSUER  checked when set (default: not set)\n"
    "  INVTRACK_JWT_LEEWAY    seconds of clock skew allowed (default 30)\n"
    "  INVTRACK_DATA_DIR      where the development secret lives (default ./var)\n"
)


def environment(*blocks: str) -> str:
    return "environment:\n" + "".join(blocks)


SERVE = environment(
    DATABASE,
    KEYS,
    "  INVTRACK_MAX_BODY_BYTES  larger bodies get 413 (default 1048576)\n",
    "  INVTRACK_COMMIT_BATCH  most deliveries in one transaction (default 128)\n",
    "  INVTRACK_POOL_SIZE     PostgreSQL connections per process (default 10)\n",
    "  INVTRACK_AUTO_REBUILD  rebuild stale projections on start (default false)\n",
    "  INVTRACK_HEADER_TIMEOUT  seconds to send request headers (default 10)\n",
    "  INVTRACK_BODY_TIMEOUT  seconds for a request body, then 408 (default 30)\n",
    "  INVTRACK_KEEP_ALIVE    seconds an idle connection stays open (default 5)\n",
    "  INVTRACK_MAX_CONNECTIONS  connections each worker holds at once; more wait to be\n"
    "                         accepted (default 1000, lowered to fit ulimit -n)\n",
    "  INVTRACK_STORE_BUSY_SECONDS  wait for the store's write lock, then 503\n"
    "                         (default 5)\n",
    "  INVTRACK_OFS_POLL_IN_SERVE  also poll OFS in one worker (default false)\n",
    "  INVTRACK_SM_POLL_IN_SERVE  also pull the Export API in one worker (default false)\n",
    "  INVTRACK_SESSION_SECRET  dashboard cookie key (default: created in the data\n"
    "                         directory)\n",
    "  INVTRACK_SESSION_HOURS  how long a dashboard session lasts, whatever the\n"
    "                         token's lifetime (default 12)\n",
    "  INVTRACK_SECURE_COOKIES  session cookie over HTTPS only (default false)\n",
    "  INVTRACK_OIDC_ISSUER   single sign-on: the OpenID provider's issuer URL\n"
    "                         (default: not set, token sign-in only)\n",
    "  INVTRACK_OIDC_CLIENT_ID, INVTRACK_OIDC_CLIENT_SECRET  invtrack's client at the\n"
    "                         provider (the secret: none for a public client)\n",
    "  INVTRACK_OIDC_ROLE_MAP  provider roles to scopes, e.g.\n"
    "                         stock-controller=read,integrator=write,ops=admin\n",
    "  INVTRACK_OIDC_ROLES_CLAIM  the ID token claim with the roles (default roles)\n",
    "  INVTRACK_OIDC_REDIRECT_URI  callback URL (default: this site's\n"
    "                         /ui/oidc/callback as the browser reached it)\n",
    LOGS,
)
MIGRATE = environment(DATABASE, LOGS)
TOKEN = environment(
    "  INVTRACK_JWT_SECRET    the HS256 key to sign with (default: the secret `invtrack\n"
    "                         serve` created in the data directory)\n"
    "  INVTRACK_DATA_DIR      where that secret is looked for (default ./var)\n"
)
REBUILD = (
    "projections: " + ", ".join(p.name for p in PROJECTIONS) + " (default: all of them)\n\n"
) + environment(DATABASE, LOGS)
REPLAY = environment(DATABASE, LOGS)
STATUS = environment(DATABASE, LOGS)
