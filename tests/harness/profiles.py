"""Hypothesis profiles: `dev` on a workstation, `ci` when `CI` is set (or the
one INVTRACK_HYPOTHESIS_PROFILE names), loaded by tests/conftest.py before
any test module is imported.

`ci` draws new examples on every run (nothing derandomized) and prints the
`@reproduce_failure` blob of a failure, so a failure seen once in CI can be
replayed on a workstation. The costly properties (a store per example) run
few examples on a workstation and at least `ci`'s `max_examples` in CI:
they take their count from `examples()`.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import settings

CI_EXAMPLES: Final = 100
"""Examples of every property in CI, the costly ones included."""

settings.register_profile("dev")
settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True, derandomize=False
)

PROFILE: Final = os.environ.get("INVTRACK_HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") else "dev"
)


def load() -> None:
    """Make PROFILE the default of every `settings` built from now on."""
    settings.load_profile(PROFILE)


def examples(local: int) -> int:
    """How many examples a costly property runs: `local` on a workstation, at
    least the profile's `max_examples` under `ci`."""
    if PROFILE == "ci":
        return max(local, settings.get_profile("ci").max_examples)
    return local
