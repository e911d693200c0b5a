"""Which thread count fastnn resolves, from every source a user or a library can set it with:
threadpoolctl's limits (in the calling thread and in the threads it starts), joblib's threading
and loky backends, Dask's workers, OMP_NUM_THREADS, fastnn.config and the estimators'
n_threads. The reference is the count each source documents; it is read back through
fastnn.show_config() and threadpoolctl.threadpool_info(), as a user would read it."""

import io
import os
import subprocess
import sys
import threading

import joblib
import numpy as np
import pytest
from fastnn._kernels._openmp_helpers import cpu_count, effective_n_threads
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_info, threadpool_limits

import fastnn
from fastnn.sklearn import KerasClassifier, MLPClassifier

needs_two_cpus = pytest.mark.skipif(cpu_count() < 2, reason="needs 2 CPUs to see a limit")


def _fastnn_pool() -> dict:
    pools = [p for p in threadpool_info() if p["internal_api"] == "fastnn"]
    assert len(pools) == 1, pools
    return pools[0]


def _shown_threads() -> int:
    out = io.StringIO()
    fastnn.show_config(file=out)
    line = next(ln for ln in out.getvalue().splitlines() if ln.strip().startswith("threads:"))
    return int(line.split()[1])


def test_threadpool_info_lists_fastnn_as_an_openmp_pool():
    pool = _fastnn_pool()
    assert pool["user_api"] == "openmp"
    assert pool["version"] == fastnn.__version__
    assert "_openmp_helpers" in os.path.basename(pool["filepath"])
    assert pool["num_threads"] == effective_n_threads() == _shown_threads()


@needs_two_cpus
@pytest.mark.parametrize("user_api", [None, "openmp"])
def test_a_limit_reaches_the_threads_started_inside_it_and_ends_with_the_block(user_api):
    before = effective_n_threads()
    seen = {}

    def record(key):
        seen[key] = (effective_n_threads(), _shown_threads())

    with threadpool_limits(1, user_api=user_api):
        worker = threading.Thread(target=record, args=("thread",))
        worker.start()
        worker.join()
        record("caller")
        assert _fastnn_pool()["num_threads"] == 1
    assert seen == {"thread": (1, 1), "caller": (1, 1)}
    assert effective_n_threads() == before == _fastnn_pool()["num_threads"]


@needs_two_cpus
def test_a_limit_reaches_joblibs_threading_backend():
    with threadpool_limits(1):
        inside = joblib.Parallel(n_jobs=2, backend="threading")(
            joblib.delayed(effective_n_threads)() for _ in range(4))
    outside = joblib.Parallel(n_jobs=2, backend="threading")(
        joblib.delayed(effective_n_threads)() for _ in range(2))
    assert inside == [1] * 4
    assert outside == [min(2, cpu_count())] * 2


@needs_two_cpus
def test_a_limit_caps_fastnn_config_but_not_an_explicit_count():
    fastnn.config.set_num_threads(2)
    try:
        with threadpool_limits(1):
            assert effective_n_threads() == 1
            assert effective_n_threads(2) == 2          # the caller's own count wins
            with fastnn.config.num_threads(2):
                assert effective_n_threads() == 2
        assert effective_n_threads() == 2
    finally:
        fastnn.config.set_num_threads(None)


@needs_two_cpus
def test_config_num_threads_belongs_to_the_thread_that_set_it():
    other = {}
    entered, release = threading.Event(), threading.Event()

    def hold():
        with fastnn.config.num_threads(1):
            other["inside"] = effective_n_threads()
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    entered.wait(10)
    here = effective_n_threads()
    release.set()
    worker.join()
    assert other == {"inside": 1}
    assert here == min(2, cpu_count())


def test_config_num_threads_refuses_what_is_not_a_count():
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_threads must be a non-zero integer"), \
                fastnn.config.num_threads(bad):
            pass
    assert fastnn.config.thread_num_threads() is None


def _worker_threads():
    from fastnn._kernels._openmp_helpers import effective_n_threads as resolve

    import fastnn as f

    return resolve(), os.environ.get("OMP_NUM_THREADS"), f.__file__


@needs_two_cpus
def test_loky_workers_get_their_share_of_the_cores():
    # joblib gives each of n_jobs loky workers cpu_count // n_jobs threads (OMP_NUM_THREADS).
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_worker_threads)() for _ in range(2))
    share = max(1, cpu_count() // 2)
    assert [r[0] for r in results] == [share, share]
    assert all(r[2] == fastnn.__file__ for r in results)


@pytest.mark.parametrize("omp", ["1", "2"])
def test_omp_num_threads_sets_the_default(omp):
    code = ("import fastnn, io; from fastnn._kernels._openmp_helpers import "
            "effective_n_threads as r; from threadpoolctl import threadpool_info as i; "
            "print(r(), [p['num_threads'] for p in i() if p['internal_api'] == 'fastnn'][0])")
    env = {**os.environ, "OMP_NUM_THREADS": omp}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(fastnn.__file__)))
    expected = min(int(omp), cpu_count())
    assert out.stdout.split() == [str(expected), str(expected)]


@needs_two_cpus
def test_estimators_take_n_threads_and_give_the_same_bits():
    X, y = make_classification(300, 8, random_state=0)
    X = X.astype(np.float32)
    fits = {}
    for n in (1, 2):
        est = MLPClassifier((16,), max_iter=5, random_state=0, n_threads=n)
        assert est.get_params()["n_threads"] == n
        with pytest.warns(Warning):    # ConvergenceWarning after 5 iterations
            fits[n] = est.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(fits[1], fits[2])
    with pytest.raises(ValueError, match="'n_threads' parameter .* non-zero int"):
        MLPClassifier(n_threads=0).fit(X, y)
    with pytest.raises(ValueError, match="'n_threads' parameter"):
        MLPClassifier(n_threads="all").fit(X, y)


def test_keras_wrapper_fits_and_predicts_on_its_n_threads(monkeypatch):
    X, y = make_classification(120, 6, random_state=0)
    seen = []
    real_fit = fastnn.Sequential.fit

    def spy_fit(model, *args, **kwargs):
        seen.append(effective_n_threads())
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(fastnn.Sequential, "fit", spy_fit)

    def build():
        model = fastnn.Sequential([fastnn.Input((6,)), fastnn.layers.Dense(2, "softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    clf = KerasClassifier(build, epochs=1, verbose=0, n_threads=1, random_state=0)
    assert clf.get_params()["n_threads"] == 1
    clf.fit(X, y)
    assert seen == [1]
    assert clf.predict(X).shape == (120,)
