"""Stock-line keys (domain/items.py): one key per identity, and the keys
stores already hold stay as they are."""

from __future__ import annotations

import hashlib
import itertools

from hypothesis import given
from hypothesis import strategies as st

from domain.items import POOLS, is_item_key, stock_line_key

# Text rich in the separator the first key encoding used, and in JSON's own characters.
parts = st.text(alphabet=st.sampled_from(["a", "\x1f", '"', "\\", "[", ",", "é"]), max_size=5)
optional = st.none() | parts
identities = st.tuples(st.sampled_from(POOLS), parts, parts, optional, optional)


def test_the_separator_inside_an_identity_part_no_longer_merges_two_lines() -> None:
    first = stock_line_key("resource", "A\x1fB", "C", None, None)
    second = stock_line_key("resource", "A", "B\x1fC", None, None)

    assert first != second


def test_keys_of_identities_without_the_separator_are_unchanged() -> None:
    material = "\x1f".join(("install", "WO-5521", "CBL-CAT6", "SN-1", ""))
    before = "sm-install-" + hashlib.sha256(material.encode()).hexdigest()[:24]

    assert stock_line_key("install", "WO-5521", "CBL-CAT6", "SN-1", None) == before


@given(identities, identities)
def test_different_identities_have_different_keys(
    one: tuple[str, str, str, str | None, str | None],
    other: tuple[str, str, str, str | None, str | None],
) -> None:
    def normal(identity: tuple[str, str, str, str | None, str | None]) -> tuple[str, ...]:
        # No serial and an empty serial are the same stock line; so for batches.
        return tuple(part or "" for part in identity)

    same_key = stock_line_key(*one) == stock_line_key(*other)  # type: ignore[arg-type]

    assert same_key == (normal(one) == normal(other))


@given(identities, st.data())
def test_identities_joined_alike_but_split_apart_have_different_keys(
    identity: tuple[str, str, str, str | None, str | None], data: st.DataObject
) -> None:
    """The owner, product, serial and batch regrouped at other separators: the
    joined text is the same, the stock line is not."""
    pool, *rest = (part or "" for part in identity)
    pieces = "\x1f".join(rest).split("\x1f")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(pieces) - 1), min_size=3, max_size=3)))
    bounds = [0, *cuts, len(pieces)]
    regrouped = ["\x1f".join(pieces[a:b]) for a, b in itertools.pairwise(bounds)]

    same_key = stock_line_key(pool, *regrouped) == stock_line_key(pool, *rest)  # type: ignore[arg-type]

    assert same_key == (regrouped == rest)


@given(identities)
def test_every_stock_line_key_has_the_shape_of_a_key(
    identity: tuple[str, str, str, str | None, str | None],
) -> None:
    assert is_item_key(stock_line_key(*identity))  # type: ignore[arg-type]
