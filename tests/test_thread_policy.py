"""fastnn._thread_policy: training runs on the resolved thread count or on one thread,
whichever is faster now. The references: a fake engine whose timing is known (which count
wins, how the pieces cover the epoch), and the same model trained on one thread (the same
bits, whatever pieces and counts the policy chose)."""

import time

import numpy as np
import pytest

import fastnn
from fastnn import _thread_policy as policy


@pytest.fixture(autouse=True)
def fresh_policy(monkeypatch):
    from fastnn._kernels import _openmp_helpers

    # The fake engines' timings decide, not this machine's load: barriers look fast unless
    # a test says otherwise.
    monkeypatch.setattr(_openmp_helpers, "parallel_region_cost", lambda n, repeats: 1e-6)
    policy.reset()
    yield
    policy.reset()


class FakeEngine:
    """engine.train_epoch's contract, with a chosen cost per batch for each thread count."""

    def __init__(self, cost, stop_after=None):
        self.cost, self.stop_after = cost, stop_after
        self.calls, self.penalty_sum, self.batches_run = [], 0.0, 0

    def train_epoch(self, x, y, w, order, batch_size, lrs, first_step, preds, n_threads,
                    head_sums=None):
        n_batches = -(-len(order) // batch_size)
        done = n_batches
        interrupt = None
        if self.stop_after is not None and self.batches_run + n_batches > self.stop_after:
            done = self.stop_after - self.batches_run
            interrupt = KeyboardInterrupt()
        self.calls.append((n_threads, first_step, float(lrs[0]), len(order), done))
        time.sleep(self.cost[n_threads] * done)
        self.batches_run += done
        rows = min(len(order), done * batch_size)
        self.penalty_sum = 0.5 * done
        if preds is not None:
            preds[:rows] = order[:rows, None]
        return float(rows), rows, done, interrupt


def run(engine, n_rows=1000, batch_size=10, n_threads=2):
    order = np.arange(n_rows, dtype=np.int64)[::-1].copy()
    lrs = np.arange(n_rows // batch_size + 1, dtype=np.float64)
    preds = np.zeros((n_rows, 1))
    result = policy.train_epoch(engine, None, None, None, order, batch_size, lrs, 7, preds,
                                n_threads)
    return result, order, preds


def test_pieces_cover_the_epoch_in_order_with_the_right_steps_and_rates():
    engine = FakeEngine({1: 1e-5, 2: 1e-5})
    (loss, rows, batches, interrupt, penalty), order, preds = run(engine)
    assert (loss, rows, batches, interrupt) == (1000.0, 1000, 100, None)
    assert penalty == pytest.approx(0.5 * 100)
    done = 0
    for threads, first_step, lr, n_order, piece in engine.calls:
        assert first_step == 7 + done and lr == done      # each piece starts where it should
        done += piece
    assert done == 100
    np.testing.assert_array_equal(preds[:, 0], order)    # every row's prediction in place


def test_one_thread_wins_when_n_threads_are_slower():
    engine = FakeEngine({1: 5e-3, 2: 20e-3})     # sleeps far above the clock's jitter
    run(engine, n_rows=400)
    used = [c[0] for c in engine.calls]
    assert used[:2] == [2, 1]                      # the probe: n threads, then one
    assert set(used[2:]) == {1}                    # then one thread for the rest
    assert sum(c[4] for c in engine.calls if c[0] == 2) == 1   # the loser ran one batch


def test_n_threads_keep_winning_when_faster():
    engine = FakeEngine({1: 20e-3, 2: 5e-3})
    run(engine, n_rows=400)
    used = [c[0] for c in engine.calls]
    assert used[:2] == [2, 1] and set(used[2:]) == {2}


def test_a_slow_barrier_skips_the_n_thread_probe(monkeypatch):
    from fastnn._kernels import _openmp_helpers

    monkeypatch.setattr(_openmp_helpers, "parallel_region_cost", lambda n, repeats: 5e-3)
    engine = FakeEngine({1: 1e-4, 2: 1e-4})
    run(engine, n_rows=500)
    assert {c[0] for c in engine.calls} == {1}
    # ... and streams that start while the decision holds begin on one thread
    other = FakeEngine({1: 1e-4, 2: 1e-4})
    run(other, n_rows=500)
    assert {c[0] for c in other.calls} == {1}


def test_an_engine_that_stops_early_stops_the_pieces():
    engine = FakeEngine({1: 1e-5, 2: 1e-5}, stop_after=37)
    (_, rows, batches, interrupt, _), _, _ = run(engine)
    assert batches == 37 and rows == 370 and isinstance(interrupt, KeyboardInterrupt)
    assert engine.batches_run == 37


def test_one_thread_calls_the_engine_once():
    engine = FakeEngine({1: 1e-5})
    run(engine, n_threads=1)
    assert len(engine.calls) == 1


def _fit(threads, monkeypatch=None):
    fastnn.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 40)).astype(np.float32)
    y = rng.integers(0, 5, 600)
    model = fastnn.Sequential([fastnn.Input((40,)), fastnn.layers.Dense(256, "relu"),
                               fastnn.layers.Dropout(0.3), fastnn.layers.Dense(5, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    fastnn.config.set_num_threads(threads)
    try:
        history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    finally:
        fastnn.config.set_num_threads(None)
    return model.get_weights(), history.history


def test_switching_counts_between_pieces_gives_the_bits_of_one_thread(monkeypatch):
    one = _fit(1)
    # Probe every piece: the epoch runs in many pieces, alternating 2 threads and 1.
    monkeypatch.setattr(policy, "FIRST_INTERVAL", 0.0)
    monkeypatch.setattr(policy, "MAX_INTERVAL", 0.0)
    monkeypatch.setattr(policy, "PROBE_SHARE", 0)
    calls = []
    real = policy._Stream.observe
    monkeypatch.setattr(policy._Stream, "observe",
                        lambda self, t, s, b: (calls.append(t), real(self, t, s, b)))
    switched = _fit(2)
    assert len(calls) > 6 and {1, 2} <= set(calls)
    for a, b in zip(one[0], switched[0]):
        np.testing.assert_array_equal(a, b)
    assert one[1] == switched[1]
