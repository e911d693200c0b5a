"""Timing a checked workload: enough calls per round to last `min_time`, several rounds."""

from __future__ import annotations

import time


def time_per_call(run, repeats: int, min_time: float = 0.2) -> tuple[list[float], int]:
    """Per-call seconds of `repeats` rounds, and the calls per round.

    A first round of one call sizes the rounds; it counts as a round when it already lasts
    `min_time` (whole fits and epochs), else it is a warm-up and is discarded."""
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    if first >= min_time:
        rounds = [first]
        number = 1
    else:
        rounds = []
        number = max(1, int(min_time / max(first, 1e-7)))
    while len(rounds) < repeats:
        start = time.perf_counter()
        for _ in range(number):
            run()
        rounds.append((time.perf_counter() - start) / number)
    return rounds, number
