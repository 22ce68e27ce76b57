"""The bench's comparison of a small file after N rows with the same file on an empty warehouse."""

from __future__ import annotations

import pytest

from benchmarks.run import history_overhead


def test_history_overhead_is_the_median_paired_difference_over_the_median_empty_run() -> None:
    # Pairs +1, +2, -1 and +20 (one stalled run): the median difference is 1.5 s, the median
    # empty run 20 s.
    after = [21.0, 24.0, 19.0, 40.0]
    empty = [20.0, 22.0, 20.0, 20.0]
    assert history_overhead(after, empty) == pytest.approx(0.075)


def test_a_slowdown_that_hits_both_runs_of_a_pair_cancels() -> None:
    # The machine ran 7 s slower during the second pair, for both of its runs.
    assert history_overhead([23.0, 30.0], [23.0, 30.0]) == 0.0
    assert history_overhead([26.0, 33.0], [23.0, 30.0]) == pytest.approx(3.0 / 26.5)


def test_history_overhead_needs_one_empty_run_per_run_after() -> None:
    with pytest.raises(ValueError, match="as many runs"):
        history_overhead([20.0, 21.0], [20.0])
