"""Split labelled queries by query, reproducibly: nothing a query teaches leaks into its own test."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_by_query(keys: Sequence[str], share: float, seed: int) -> tuple[set[str], set[str]]:
    """(rest, held) where `held` is round(share * n) of `keys`, chosen by a seeded hash.

    The same keys, share and seed give the same split on every machine and in every run;
    adding a query never moves another one across the split.
    """
    unique = sorted(set(keys))
    ranked = sorted(unique, key=lambda key: hashlib.sha256(f"{seed}:{key}".encode()).hexdigest())
    count = round(share * len(unique))
    held = set(ranked[:count])
    return set(unique) - held, held
