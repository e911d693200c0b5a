"""Threads that hold up on shared cores: training and inference run on the resolved thread
count or on one thread, whichever the clock says is faster now.

Each training batch opens about 17 OpenMP parallel regions, and each region ends at a barrier
that waits for every thread of the team. When other processes keep the cores busy, one of our
threads is often descheduled, and every barrier waits for the scheduler to run it again: a
`MLPClassifier((128, 64))` fit that takes 0.6 s on one thread took 27-60 s on two at a load
average of 12 (`python /tmp/scratch/collapse.py 1 2 1 2`; see docs/DESIGN.md). The kernels give
the same bits for any thread count, so the count may change between batches without changing
the result: this module times a few batches on each count and runs on the faster one, and
times them again every so often, since load comes and goes.

It decides between the two counts for one stream of calls (one engine and batch size, for
training or for inference): a probe runs a piece of about a millisecond on n threads and one
on one thread, compares their time per batch, and keeps the winner for an interval that
doubles, up to a few seconds, while probes agree and starts again from half a second when they
do not. On an idle machine a probe costs one piece on one thread per interval. Inference had
the same collapse: `predict` of 10,000 rows (784-512-256-10) took 2.4 s on two threads against
0.66 s on one at a load of 10 (~60 ms idle).
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
        "lock",
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
        # Concurrent predicts on one model share its stream: its state changes under this.
        self.lock = threading.Lock()
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


def _in_pieces(key: tuple, n_threads: int, n_units: int, run_piece) -> int:
    """Run units 0..n_units-1 (batches, chunks) in pieces on n_threads or on one thread, as
    the stream `key` decides: run_piece(threads, first, count) runs units first..first+count-1
    and returns (units it ran, whether to go on). Returns the units run."""
    stream = _stream(key, n_threads)
    unit = 0
    while unit < n_units:
        with stream.lock:
            threads, count = stream.next_piece(n_units - unit)
        started = time.perf_counter()
        done, go_on = run_piece(threads, unit, count)
        seconds = time.perf_counter() - started
        with stream.lock:
            stream.observe(threads, seconds, done)
        unit += done
        if done < count or not go_on:
            break       # the engine stopped early (Ctrl-C, a Python piece that raised)
    return unit


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
    n_rows = order.shape[0]
    sums = [0.0, 0, 0.0, None]      # loss_sum, rows_done, penalty_sum, interrupt

    def run_piece(threads, batch, batches):
        lo, hi = batch * batch_size, min(n_rows, (batch + batches) * batch_size)
        part, rows, done, sums[3] = engine.train_epoch(
            x, y, sample_weight, order[lo:hi], batch_size, lrs[batch:], first_step + batch,
            _rows(preds, lo, hi), threads, head_sums=head_sums)
        sums[0] += part
        sums[1] += rows
        sums[2] += engine.penalty_sum
        return done, sums[3] is None

    batches = _in_pieces((id(engine), batch_size, n_threads), n_threads,
                         -(-n_rows // batch_size), run_piece)
    return sums[0], sums[1], batches, sums[3], sums[2]


# ---- inference ----------------------------------------------------------------------------
# predict and evaluate run their chunks of batch_rows rows in pieces through the engine's
# `first`/`last` rows, which computes each chunk (and its noise stream, for a layer forced
# into training mode) as one call over all rows does; evaluate passes its running sums on, so
# the pieces add the chunks' losses in one call's order: the same bits on any count. A call
# of one chunk (small predicts) goes straight to the engine: it has nothing to split.

def _inference_key(engine, key, batch_rows: int, n_threads: int) -> tuple:
    # Not a training stream's: a training batch costs its backward pass too.
    return ("inference", id(engine) if key is None else key, batch_rows, n_threads)


def predict(engine, x, out, batch_rows: int, n_threads: int, training: bool = False,
            step: int = 0, key=None) -> None:
    """``engine.predict`` with the same arguments, run in pieces on n_threads or on one
    thread. `key` names the stream when engines do not outlive a call (the same network on
    a fresh engine per call); the engine's identity otherwise."""
    n = x.shape[0]
    rows = max(1, min(batch_rows, n))
    if n_threads <= 1 or n <= rows:
        engine.predict(x, out, rows, n_threads, training=training, step=step)
        return

    def run_piece(threads, chunk, chunks):
        engine.predict(x, out, rows, threads, training=training, step=step,
                       first=chunk * rows, last=min(n, (chunk + chunks) * rows))
        return chunks, True

    _in_pieces(_inference_key(engine, key, rows, n_threads), n_threads, -(-n // rows),
               run_piece)


def evaluate(engine, x, y, sample_weight, batch_rows: int, preds, n_threads: int,
             head_sums=None, step: int = 0, loss_sum: float = 0.0) -> float:
    """``engine.evaluate`` with the same arguments, run in pieces on n_threads or on one
    thread: loss_sum + the call's Σ of batch loss × rows, head_sums updated in place."""
    n = x.shape[0]
    rows = max(1, min(batch_rows, n))
    if n_threads <= 1 or n <= rows:
        return engine.evaluate(x, y, sample_weight, rows, preds, n_threads,
                               head_sums=head_sums, step=step, loss_sum=loss_sum)
    total = [loss_sum]

    def run_piece(threads, chunk, chunks):
        total[0] = engine.evaluate(x, y, sample_weight, rows, preds, threads,
                                   head_sums=head_sums, step=step, loss_sum=total[0],
                                   first=chunk * rows, last=min(n, (chunk + chunks) * rows))
        return chunks, True

    _in_pieces(_inference_key(engine, None, rows, n_threads), n_threads, -(-n // rows),
               run_piece)
    return total[0]


def reset() -> None:
    """Forget every decision (tests; a process whose machine changed)."""
    global _prefer_one_until
    with _lock:
        _streams.clear()
        _prefer_one_until = 0.0
