"""Timing a checked workload: enough calls per round to last `min_time`, several rounds."""

from __future__ import annotations

import time


def time_per_call(run, repeats: int, min_time: float = 0.2,
                  budget: float = 30.0) -> tuple[list[float], int]:
    """Per-call seconds of `repeats` rounds (at least 2; fewer than `repeats` once `budget`
    seconds are spent), and the calls per round.

    A first round of one call sizes the rounds; it counts as a round when it already lasts
    `min_time` (whole fits and epochs), else it is a warm-up and is discarded."""
    started = start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    if first >= min_time:
        rounds = [first]
        number = 1
    else:
        rounds = []
        number = max(1, int(min_time / max(first, 1e-7)))
    while len(rounds) < repeats and not (
            len(rounds) >= 2 and time.perf_counter() - started > budget):
        start = time.perf_counter()
        for _ in range(number):
            run()
        rounds.append((time.perf_counter() - start) / number)
    return rounds, number
