"""Par levels per (resource, product): `target` is what a van is restocked up
to, `min` (default: `target`) the level below which it is low.

Two events set them, and per product the later one (in store order) wins:
a ServiceMobility recommendation (`min = target = RecQty` for its storage
location; stored now as `ParLevelsRecommended`, earlier as a
`StockLevelRecommendation` document) and a change by hand (`ParLevelsSet`,
each product named is replaced, the others stay). A recommendation replaces
a level set by hand for the products it names, and the other way round: the
history of every change is in the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

import msgspec

from domain.events import (
    DocumentRecorded,
    DomainEvent,
    ManualLevel,
    ParLevelsRecommended,
    ParLevelsSet,
)
from domain.quantities import quantity_problem
from domain.signals.products import StockKey
from domain.signals.recommendations import LONGEST_NAME, from_document

Origin = Literal["recommendation", "manual"]
ORIGINS: Final[tuple[Origin, ...]] = ("recommendation", "manual")


class ParLevel(msgspec.Struct, frozen=True, kw_only=True):
    """A (resource, product)'s par level, who set it, when (event time) and
    at which store position."""

    min: Decimal
    target: Decimal
    origin: Origin
    set_at: datetime
    position: int


class FieldProblem(msgspec.Struct, frozen=True, kw_only=True):
    """What is wrong with a field of a request, named by its path (`items[2].min`)."""

    field: str
    message: str


def recommendation_of(event: DomainEvent) -> ParLevelsRecommended | None:
    """The recommendation an event carries: a `ParLevelsRecommended`, or a
    recommendation stored as a document by an earlier build."""
    if isinstance(event, ParLevelsRecommended):
        return event
    if isinstance(event, DocumentRecorded):
        return from_document(event)
    return None


def levels_set_by(event: DomainEvent, position: int) -> list[tuple[StockKey, ParLevel]]:
    """The par levels an event sets, in the order they apply (none for most events)."""
    if isinstance(event, ParLevelsSet):
        return [
            (StockKey(event.resource_id, level.product), manual_level(level, event, position))
            for level in event.levels
        ]
    recommendation = recommendation_of(event)
    if recommendation is None:
        return []
    return [
        (
            StockKey(recommendation.location, level.product),
            ParLevel(
                min=level.target,
                target=level.target,
                origin="recommendation",
                set_at=recommendation.occurred_at,
                position=position,
            ),
        )
        for level in recommendation.levels
    ]


def manual_level(level: ManualLevel, event: ParLevelsSet, position: int) -> ParLevel:
    return ParLevel(
        min=level.target if level.min is None else level.min,
        target=level.target,
        origin="manual",
        set_at=event.occurred_at,
        position=position,
    )


def manual_level_problems(levels: Sequence[ManualLevel]) -> list[FieldProblem]:
    """Why par levels set by hand cannot be taken (empty when they can): a
    product blank, too long or named twice; a quantity negative, not finite
    or too precise; `min` above `target`."""
    problems: list[FieldProblem] = []
    if not levels:
        problems.append(FieldProblem(field="items", message="must hold at least one par level"))
    seen: set[str] = set()
    for index, level in enumerate(levels):
        where = f"items[{index}]"
        problems += _product_problems(level.product, seen, f"{where}.product")
        seen.add(level.product)
        problems += _quantity_problems(level.target, f"{where}.target")
        if level.min is not None:
            problems += _quantity_problems(level.min, f"{where}.min")
            if level.min.is_finite() and level.target.is_finite() and level.min > level.target:
                problems.append(
                    FieldProblem(
                        field=f"{where}.min",
                        message=f"min ({level.min}) must not be above target ({level.target})",
                    )
                )
    return problems


def _product_problems(product: str, seen: set[str], where: str) -> list[FieldProblem]:
    if not product.strip():
        return [FieldProblem(field=where, message="must not be blank")]
    if "\x00" in product or len(product) > LONGEST_NAME:
        message = f"must be at most {LONGEST_NAME} characters, without NUL"
        return [FieldProblem(field=where, message=message)]
    if product in seen:
        return [FieldProblem(field=where, message=f"{product!r} is named twice")]
    return []


def _quantity_problems(value: Decimal, where: str) -> list[FieldProblem]:
    problem = quantity_problem(value)
    if problem is not None:
        return [FieldProblem(field=where, message=problem)]
    if value < 0:
        return [FieldProblem(field=where, message=f"must not be negative, not {value}")]
    return []
