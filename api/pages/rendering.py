"""Templates: one Jinja environment with autoescaping on, the filters the pages
use, and `render`, which gives every page the signed-in user and the form
token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from api.pages.session import current_user, form_token, leave_notice, take_notice
from domain.quantities import decimal_text

HERE: Final = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"


def segment(value: object) -> str:
    """A value as one URL path segment: `/`, `?`, `#` and `%` escaped."""
    return quote(str(value), safe="")


def quantity(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    return decimal_text(value if isinstance(value, Decimal) else Decimal(value))


def signed(value: Decimal | None) -> str:
    """A variance with its sign: +2, -1.5, 0."""
    if value is None:
        return ""
    text = decimal_text(value)
    return f"+{text}" if value > 0 else text


def moment(value: datetime | None) -> str:
    """UTC date and time to the second, as people read it: 2026-11-20 09:31:07."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def number(value: int | Decimal) -> str:
    return f"{value:,}"


def as_json(value: Any) -> str:
    """A value as compact JSON text (escaped by the template like any text)."""
    return msgspec.json.encode(value).decode()


def with_query(params: Mapping[str, str], **changes: str | None) -> str:
    """`?a=1&b=2` from the current parameters with some changed or removed
    (None); empty values are left out."""
    merged = {**params, **changes}
    kept = {key: value for key, value in merged.items() if value not in (None, "")}
    return "?" + urlencode(kept) if kept else "?"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        segment=segment, quantity=quantity, signed=signed, moment=moment, number=number
    )
    env.filters["json"] = as_json
    env.globals["with_query"] = with_query
    env.globals["now"] = lambda: datetime.now(UTC)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment()))


def notify(request: Request[Any, Any, Any], text: str) -> None:
    """A message for the next page this session sees (after a redirect)."""
    leave_notice(request, text)


def render(
    request: Request[Any, Any, Any], name: str, *, status_code: int = 200, **context: Any
) -> Template:
    """A page, with the signed-in user, the form token and a pending notice."""
    return Template(
        template_name=name,
        context={
            "user": current_user(request),
            "csrf": form_token(request),
            "notice": take_notice(request),
            "params": dict(request.query_params),
            **context,
        },
        status_code=status_code,
    )
