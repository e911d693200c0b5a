"""Threads that hold up on shared cores: training runs on the resolved thread count or on one
thread, whichever the clock says is faster now.

Each training batch opens about 17 OpenMP parallel regions, and each region ends at a barrier
that waits for every thread of the team. When other processes keep the cores busy, one of our
threads is often descheduled, and every barrier waits for the scheduler to run it again: a
`MLPClassifier((128, 64))` fit that takes 0.6 s on one thread took 27-60 s on two at a load
average of 12 (`python /tmp/scratch/collapse.py 1 2 1 2`; see docs/DESIGN.md). The kernels give
the same bits for any thread count, so the count may change between batches without changing
the result: this module times a few batches on each count and runs on the faster one, and
times them again every so often, since load comes and goes.

It decides between the two counts for one stream of calls (one engine and batch size): a
probe runs a piece of about a millisecond on n threads and one on one thread, compares their
time per batch, and keeps the winner for an interval that doubles, up to a few seconds, while
probes agree and starts again from half a second when they do not. On an idle machine a probe
costs one piece on one thread per interval.
"""

from __future__ import annotations

import math
import threading
import time

FIRST_INTERVAL = 0.5     # seconds a decision holds after a probe that changed it
MAX_INTERVAL = 4.0       # ... and at most, after probes that agreed
PROBE_SECONDS = 1e-3     # a probe piece runs about this long, so the clock can tell them apart
PROBE_SHARE = 10         # probes may cost at most a tenth of the time between them
DECISIVE = 2.0           # n threads this much slower than one: the cores are taken
# An empty parallel region costs ~1-2 µs when every thread has a core (FNN_PARALLEL_MIN_WORK's
# measurement); one that takes longer than this waited for a thread the scheduler had put off.
SLOW_BARRIER = 200e-6
_MAX_STREAMS = 64        # decisions kept (engines come and go); the oldest are dropped


class _Stream:
    """What is known about one (engine, batch size, thread count) stream of batches."""

    __slots__ = (
        "_probe_batches",
        "interval",
        "n",
        "pending",
        "per_batch",
        "probe",
        "threads",
        "until",
    )

    def __init__(self, n_threads: int):
        self.n = n_threads            # the resolved count; the other candidate is 1
        self.threads = n_threads
        self.until = 0.0              # the decision expires at this time.monotonic()
        self.interval = FIRST_INTERVAL
        self.pending = [n_threads, 1]  # thread counts still to time in the current probe
        self.probe = {}               # thread count -> seconds per batch, this probe
        self.per_batch = {}           # thread count -> last seconds per batch seen
        self._probe_batches = {}      # thread count -> batches its probe piece ran
        if time.monotonic() < _prefer_one_until:
            self.threads, self.pending, self.until = 1, [], _prefer_one_until

    def next_piece(self, remaining: int) -> tuple[int, int]:
        """(threads, batches) for the next engine call."""
        if not self.pending and time.monotonic() >= self.until:
            self.pending = [self.threads, 1 if self.threads == self.n else self.n]
            self.probe = {}
        if self.pending and self.pending[0] == self.n and self._barrier_is_slow():
            # One empty parallel region already waited for a descheduled thread: a piece of
            # ~17 regions a batch would wait as often. One thread wins without running it.
            self.pending.remove(self.n)
            self.probe[self.n], self._probe_batches[self.n] = math.inf, 0
            if not self.pending:
                self._decide()
        if self.pending:
            threads = self.pending[0]
            per = self.per_batch.get(threads)
            batches = 1 if not per else math.ceil(PROBE_SECONDS / max(per, 1e-9))
            return threads, max(1, min(remaining, batches))
        per = self.per_batch.get(self.threads)
        if not per:
            return self.threads, remaining
        left = max(self.until - time.monotonic(), 0.0)
        return self.threads, max(1, min(remaining, math.ceil(left / max(per, 1e-9))))

    def _barrier_is_slow(self) -> bool:
        from fastnn._kernels._openmp_helpers import parallel_region_cost

        seconds = parallel_region_cost(self.n, 1)
        return seconds > max(SLOW_BARRIER, self.per_batch.get(1, 0.0))

    def observe(self, threads: int, seconds: float, batches: int) -> None:
        if batches <= 0:
            return
        per = seconds / batches
        self.per_batch[threads] = per
        if self.pending and self.pending[0] == threads:
            self.pending.pop(0)
            self.probe[threads] = per
            self._probe_batches[threads] = batches
            if not self.pending:
                self._decide()

    def _decide(self) -> None:
        global _prefer_one_until
        winner = min(self.probe, key=lambda t: (self.probe[t], -t))
        self.interval = min(2 * self.interval, MAX_INTERVAL) if winner == self.threads \
            else FIRST_INTERVAL
        self.threads = winner
        # Probing the loser cost (its time - the winner's) per batch it ran; the next probe
        # waits long enough for probes to cost at most 1/PROBE_SHARE of the time.
        loser = self.n if winner == 1 else 1
        extra = 0.0 if math.isinf(self.probe[loser]) else \
            (self.probe[loser] - self.probe[winner]) * self._probe_batches[loser]
        now = time.monotonic()
        self.until = now + max(self.interval, PROBE_SHARE * extra)
        if winner == 1 and self.probe[self.n] > DECISIVE * self.probe[1]:
            # The cores are taken: streams that start now begin on one thread (the machine's
            # load is the same for them) and probe when this decision expires.
            _prefer_one_until = max(_prefer_one_until, self.until)


_prefer_one_until = 0.0   # see _Stream._decide
_streams: dict[tuple, _Stream] = {}
_lock = threading.Lock()


def _stream(key: tuple, n_threads: int) -> _Stream:
    with _lock:
        stream = _streams.get(key)
        if stream is None:
            if len(_streams) >= _MAX_STREAMS:
                _streams.pop(next(iter(_streams)))
            stream = _streams[key] = _Stream(n_threads)
        return stream


def _rows(preds, lo: int, hi: int):
    if preds is None:
        return None
    if isinstance(preds, list):
        return [None if p is None else p[lo:hi] for p in preds]
    return preds[lo:hi]


def train_epoch(engine, x, y, sample_weight, order, batch_size: int, lrs, first_step: int,
                preds, n_threads: int, head_sums=None):
    """``engine.train_epoch`` with the same arguments, run in pieces on n_threads or on one
    thread (see the module's note). Returns (loss_sum, rows_done, batches_done, interrupt,
    penalty_sum) summed over the pieces: the engine's four results and its penalty_sum."""
    if n_threads <= 1:
        result = engine.train_epoch(x, y, sample_weight, order, batch_size, lrs, first_step,
                                    preds, n_threads, head_sums=head_sums)
        return (*result, engine.penalty_sum)
    stream = _stream((id(engine), batch_size, n_threads), n_threads)
    n_rows = order.shape[0]
    n_batches = -(-n_rows // batch_size)
    loss_sum, rows_done, batch, penalty = 0.0, 0, 0, 0.0
    interrupt = None
    while batch < n_batches and interrupt is None:
        threads, batches = stream.next_piece(n_batches - batch)
        lo, hi = batch * batch_size, min(n_rows, (batch + batches) * batch_size)
        started = time.perf_counter()
        part, rows, done, interrupt = engine.train_epoch(
            x, y, sample_weight, order[lo:hi], batch_size, lrs[batch:], first_step + batch,
            _rows(preds, lo, hi), threads, head_sums=head_sums)
        stream.observe(threads, time.perf_counter() - started, done)
        loss_sum += part
        rows_done += rows
        penalty += engine.penalty_sum
        batch += done
        if done < batches:
            break       # the engine stopped early (Ctrl-C, a Python piece that raised)
    return loss_sum, rows_done, batch, interrupt, penalty


def reset() -> None:
    """Forget every decision (tests; a process whose machine changed)."""
    global _prefer_one_until
    with _lock:
        _streams.clear()
        _prefer_one_until = 0.0
