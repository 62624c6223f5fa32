"""Complementary suppression: a hidden group's counts can never be recovered as the total minus the shown groups."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from validation.runs.service import _suppressed_groups


def _rows(kinds: dict[str, list[int]], total: int) -> list[SimpleNamespace]:
    rows = [SimpleNamespace(group_kind="overall", group="all", n=total, n_pos=total // 2, n_neg=total - total // 2)]
    for kind, sizes in kinds.items():
        for i, n in enumerate(sizes):
            for metric_n in (n, n // 3):  # an auroc-like row (every case) and a sensitivity-like row (positives)
                rows.append(SimpleNamespace(group_kind=kind, group=f"g{i}", n=metric_n, n_pos=n // 3,
                                            n_neg=n - n // 3))
    return rows


def _recoverable(sizes: list[int], hidden: set[int]) -> bool:
    """Brute force: a hidden group is recoverable by subtraction iff it is the only hidden one of its breakdown."""
    return len(hidden) == 1


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["site", "subgroup:sex", "subgroup:age_band"]),
                       st.lists(st.integers(0, 60), min_size=1, max_size=8), min_size=1),
       st.integers(1, 30))
def test_no_breakdown_hides_exactly_one_group(kinds, limit):
    hidden = _suppressed_groups(_rows(kinds, sum(max(v) for v in kinds.values())), limit)
    for kind, sizes in kinds.items():
        mine = {int(g[1:]) for k, g in hidden if k == kind}
        small = {i for i, n in enumerate(sizes) if n < limit}
        assert small <= mine, "every group under the limit is hidden"
        if len(sizes) > 1:
            assert not _recoverable(sizes, mine)
        # nothing beyond what is needed: at most one extra group, and only when exactly one was small
        assert len(mine - small) == (1 if len(small) == 1 and len(sizes) > 1 else 0)


def test_the_next_smallest_group_is_the_complement():
    hidden = _suppressed_groups(_rows({"site": [50, 8, 30, 12]}, 100), 10)
    assert hidden == {("site", "g1"), ("site", "g3")}


def test_nothing_hidden_without_a_limit():
    assert _suppressed_groups(_rows({"site": [1, 2, 3]}, 6), 0) == set()
    for sizes in product([5, 20], repeat=3):
        assert (_suppressed_groups(_rows({"site": list(sizes)}, 60), 10) == set()) == (min(sizes) >= 10)
