"""fastnn._thread_policy: training and inference run on the resolved thread count or on
one thread, whichever is faster now. The references: fake engines whose timing is known
(which count wins, how the pieces cover the epoch or the rows), and the same model trained or
predicting on one thread (the same bits, whatever pieces and counts the policy chose)."""

import sys
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


def alternate(monkeypatch, one_chunk_pieces=True):
    """Probe every piece, so a call runs in many pieces alternating 2 threads and 1; the
    thread counts of the pieces run (a list that fills as they run)."""
    if one_chunk_pieces:
        monkeypatch.setattr(policy, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(policy, "FIRST_INTERVAL", 0.0)
    monkeypatch.setattr(policy, "MAX_INTERVAL", 0.0)
    monkeypatch.setattr(policy, "PROBE_SHARE", 0)
    calls = []
    real = policy._Stream.observe
    monkeypatch.setattr(policy._Stream, "observe",
                        lambda self, t, s, b: (calls.append(t), real(self, t, s, b)))
    return calls


def test_switching_counts_between_pieces_gives_the_bits_of_one_thread(monkeypatch):
    one = _fit(1)
    # Probe every piece: the epoch runs in many pieces, alternating 2 threads and 1.
    calls = alternate(monkeypatch, one_chunk_pieces=False)
    switched = _fit(2)
    assert len(calls) > 6 and {1, 2} <= set(calls)
    for a, b in zip(one[0], switched[0]):
        np.testing.assert_array_equal(a, b)
    assert one[1] == switched[1]


# ---- inference: predict and evaluate in pieces of chunks ----------------------------------

class FakeInferenceEngine:
    """engine.predict/evaluate's contract over rows first..last, with a chosen cost per
    chunk for each thread count. Each row's 'output' is its index, and its 'loss' is
    1/(index+1), added row by row to the loss_sum passed in (an order-sensitive sum)."""

    def __init__(self, cost):
        self.cost, self.calls = cost, []

    def _run(self, n, batch_rows, n_threads, first, last):
        last = n if last == -1 else last
        assert first % batch_rows == 0 or first == last
        self.calls.append((n_threads, first, last))
        time.sleep(self.cost[n_threads] * -(-(last - first) // batch_rows))
        return last

    def predict(self, x, out, batch_rows, n_threads, training=False, step=0, first=0,
                last=-1):
        last = self._run(x.shape[0], batch_rows, n_threads, first, last)
        out[first:last, 0] = x[first:last, 0]

    def evaluate(self, x, y, w, batch_rows, preds, n_threads, head_sums=None, step=0,
                 loss_sum=0.0, first=0, last=-1):
        last = self._run(x.shape[0], batch_rows, n_threads, first, last)
        for i in range(first, last):
            loss_sum += 1.0 / (i + 1)
        return loss_sum


def test_predict_pieces_cover_the_rows_in_chunk_multiples():
    engine = FakeInferenceEngine({1: 1e-4, 2: 1e-4})
    x = np.arange(10_000, dtype=np.float64)[:, None]
    out = np.full((10_000, 1), -1.0)
    policy.predict(engine, x, out, 64, 2)
    np.testing.assert_array_equal(out, x)
    assert len(engine.calls) > 2 and engine.calls[0][1] == 0
    for (_, _, last), (_, first, _) in zip(engine.calls, engine.calls[1:]):
        assert first == last and first % 64 == 0       # contiguous, at chunk boundaries
    assert engine.calls[-1][2] == 10_000


def test_predict_runs_on_one_thread_when_n_threads_are_slower():
    engine = FakeInferenceEngine({1: 2e-3, 2: 8e-3})
    x = np.zeros((64 * 40, 1))
    policy.predict(engine, x, np.zeros_like(x), 64, 2)
    used = [c[0] for c in engine.calls]
    assert used[:2] == [2, 1] and set(used[2:]) == {1}
    assert engine.calls[0][2] - engine.calls[0][1] == 64       # the loser ran one chunk


def test_small_predicts_and_one_thread_call_the_engine_once_as_before():
    engine = FakeInferenceEngine({1: 0.0, 2: 0.0})
    x = np.zeros((1024, 1))
    policy.predict(engine, x, np.zeros_like(x), 1024, 2)        # one chunk: nothing to split
    policy.predict(engine, np.zeros((5000, 1)), np.zeros((5000, 1)), 1024, 1)
    assert engine.calls == [(2, 0, 1024), (1, 0, 5000)]
    assert policy._streams == {}                               # no probe, no stream


def test_evaluate_passes_the_running_loss_sum_on():
    engine = FakeInferenceEngine({1: 1e-4, 2: 1e-4})
    x = np.zeros((3000, 1))
    total = policy.evaluate(engine, x, None, None, 16, None, 2, loss_sum=0.25)
    expected = 0.25
    for i in range(3000):
        expected += 1.0 / (i + 1)
    assert len(engine.calls) > 2
    assert total == expected                 # the order of one call: the same bits


@pytest.fixture(name="alternate")
def alternate_fixture(monkeypatch):
    return alternate(monkeypatch)


def _on(threads, fn):
    fastnn.config.set_num_threads(threads)
    try:
        return fn()
    finally:
        fastnn.config.set_num_threads(None)


def _two_output_model(dtype):
    inp = fastnn.Input((30,), dtype=dtype)
    h = fastnn.layers.Dense(64, "relu", dtype=dtype)(inp)
    a = fastnn.layers.Dense(4, "softmax", name="a", dtype=dtype)(h)
    b = fastnn.layers.Dense(2, name="b", dtype=dtype)(h)
    model = fastnn.Model(inp, [a, b])
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]])
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_and_evaluate_in_alternating_pieces_give_one_threads_bits(alternate, dtype):
    fastnn.utils.set_random_seed(5)
    rng = np.random.default_rng(1)
    n = 6000                                              # six chunks of 1024 rows
    x = rng.standard_normal((n, 30)).astype(dtype)
    ya, yb = rng.integers(0, 4, n), rng.standard_normal((n, 2)).astype(dtype)
    w = rng.uniform(0.5, 2.0, n)
    model = _two_output_model(dtype)
    single = fastnn.Sequential([fastnn.Input((30,), dtype=dtype),
                                fastnn.layers.Dense(64, "relu", dtype=dtype),
                                fastnn.layers.Dense(3, dtype=dtype)])

    def calls():
        return (model.predict(x, verbose=0),
                model.evaluate(x, [ya, yb], sample_weight=w, verbose=0, return_dict=True),
                single.predict(x, verbose=0),
                single.layers[0](x))                       # a layer called on arrays
    one = _on(1, calls)
    assert alternate == []                               # one thread: no pieces
    two = _on(2, calls)
    assert len(alternate) >= 4 * 2 and {1, 2} <= set(alternate)   # each call in pieces
    for a, b in zip(one[0], two[0]):
        np.testing.assert_array_equal(a, b)
    assert one[1] == two[1]          # loss, each output's loss and metrics: exactly equal
    np.testing.assert_array_equal(one[2], two[2])
    np.testing.assert_array_equal(one[3], two[3])


def test_streamed_predict_and_evaluate_in_pieces_give_one_threads_bits(alternate):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2500, 20)).astype(np.float32)
    y = rng.integers(0, 3, 2500)
    model = fastnn.Sequential([fastnn.Input((20,)), fastnn.layers.Dense(32, "tanh"),
                               fastnn.layers.Dense(3, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])

    def batches(with_y):
        for lo in range(0, 2500, 1250):                   # two batches of two chunks each
            yield (x[lo:lo + 1250], y[lo:lo + 1250]) if with_y else (x[lo:lo + 1250],)

    def calls():
        return (model.predict(batches(False), steps=2, verbose=0),
                model.evaluate(batches(True), steps=2, verbose=0, return_dict=True))
    # (A first streamed evaluate of a model never evaluated leaves its metrics out, on
    # main as before this change: warm up.)
    _on(1, calls)
    one = _on(1, calls)
    two = _on(2, calls)
    assert {1, 2} <= set(alternate)
    np.testing.assert_array_equal(one[0], two[0])
    assert one[1] == two[1]


class _MonteCarlo(fastnn.Model):
    """Dropout forced into training mode in every call (Monte Carlo dropout)."""

    def __init__(self):
        super().__init__()
        self.dense = fastnn.layers.Dense(48, "relu")
        self.drop = fastnn.layers.Dropout(0.5)
        self.out = fastnn.layers.Dense(3)

    def call(self, inputs, training=None):
        return self.out(self.drop(self.dense(inputs), training=True))


def test_monte_carlo_dropout_keeps_its_chunking_and_noise(alternate):
    """Dropout forced into training mode draws one noise stream per batch of batch_size
    rows: pieces must cut at those batches and draw the same streams as one engine call
    over all rows (the path before pieces)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((640, 16)).astype(np.float32)
    model = _MonteCarlo()
    model.build((None, 16))
    plan = model._ensure_plan()
    assert plan.forces_training

    fastnn.utils.set_random_seed(11)
    reference = np.empty((640, 3), np.float32)
    plan.inference_engine.predict(x, reference, 32, 1, step=plan.inference_step())
    fastnn.utils.set_random_seed(11)
    two = _on(2, lambda: model.predict(x, batch_size=32, verbose=0))
    assert len(alternate) > 4 and {1, 2} <= set(alternate)
    np.testing.assert_array_equal(reference, two)
    # The reference does draw per batch of 32: other chunking draws other masks.
    fastnn.utils.set_random_seed(11)
    other = np.empty((640, 3), np.float32)
    plan.inference_engine.predict(x, other, 64, 1, step=plan.inference_step())
    assert not np.array_equal(reference, other)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_estimator_predicts_in_pieces_with_one_threads_bits(alternate):
    from fastnn.sklearn import MLPRegressor

    rng = np.random.default_rng(4)
    x = rng.standard_normal((5000, 12))
    y = x @ rng.standard_normal(12)
    est = MLPRegressor(hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    est.fit(x[:300], y[:300])
    one = _on(1, lambda: est.predict(x))
    alternate.clear()
    two = _on(2, lambda: est.predict(x))
    assert {1, 2} <= set(alternate)
    np.testing.assert_array_equal(one, two)


def test_the_engine_refuses_pieces_that_do_not_start_a_batch():
    model = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(2)])
    model.predict(np.zeros((1, 4), np.float32), verbose=0)
    engine = model._plan.inference_engine
    x = np.ones((10, 4), np.float32)
    out = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="multiple of batch_rows"):
        engine.predict(x, out, 4, 1, first=2, last=6)
    with pytest.raises(ValueError, match="not within"):
        engine.predict(x, out, 4, 1, first=8, last=12)
    assert not out.any()                                  # a refused call wrote nothing
    engine.predict(x, out, 4, 1, first=4, last=8)
    full = model.predict(x, verbose=0)
    np.testing.assert_array_equal(out[4:8], full[4:8])
    assert not out[:4].any() and not out[8:].any()


def test_concurrent_predicts_share_a_stream_safely(alternate):
    """Predicts in several threads at once on one model share its stream (its state changes
    under a lock): every call gets one thread's bits and none fails, while the calls' pieces
    and probes interleave."""
    import threading

    rng = np.random.default_rng(6)
    x = rng.standard_normal((4096 + 100, 24)).astype(np.float32)
    model = fastnn.Sequential([fastnn.Input((24,)), fastnn.layers.Dense(64, "relu"),
                               fastnn.layers.Dense(5)])
    expected = _on(1, lambda: model.predict(x, verbose=0))
    errors, wrong = [], []

    def work():
        try:
            for _ in range(15):
                if not np.array_equal(model.predict(x, verbose=0), expected):
                    wrong.append(1)
        except Exception as exc:       # noqa: BLE001 - reported below
            errors.append(exc)

    def run():
        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # threads take turns inside the policy's code too
    try:
        _on(2, run)
    finally:
        sys.setswitchinterval(switch)
    assert errors == [] and wrong == []
    assert len(alternate) > 6 * 15 and {1, 2} <= set(alternate)


def test_a_python_loss_reads_its_rows_in_pieces(alternate):
    """A loss written in Python reads each chunk's targets by row number: pieces must name
    the rows of the whole call."""
    def squares(y_true, y_pred):
        return fastnn.ops.mean(fastnn.ops.square(y_true - y_pred), axis=-1)

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4000, 8)).astype(np.float32)
    y = rng.standard_normal((4000, 2)).astype(np.float32)
    model = fastnn.Sequential([fastnn.Input((8,)), fastnn.layers.Dense(2)])
    model.compile("sgd", squares)
    one = _on(1, lambda: model.evaluate(x, y, verbose=0))
    two = _on(2, lambda: model.evaluate(x, y, verbose=0))
    assert {1, 2} <= set(alternate)
    assert one == two
    reference = np.mean((model.predict(x, verbose=0).astype(np.float64) - y) ** 2)
    assert two == pytest.approx(reference, rel=1e-5)
