"""Models and estimators that travel to workers: scikit-learn searches fanned out over joblib's
loky and threading backends, Dask's joblib backend on a distributed.LocalCluster, dask-ml's
Incremental over partial_fit, and Ray's joblib backend. The reference for each is the same
search or the same partial_fit sequence run serially in this process: the scores and weights
must be equal, and each worker must use the threads its scheduler gives it."""

import os
import warnings

import joblib
import numpy as np
import pytest
from fastnn._kernels._openmp_helpers import effective_n_threads
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import fastnn
from fastnn.sklearn import KerasClassifier, MLPClassifier

X, Y = make_classification(400, 10, n_informative=6, random_state=0)
X = X.astype(np.float32)
GRID = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(8,), (16,)]}


def _mlp_search(n_jobs):
    est = MLPClassifier(max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs).fit(X, Y)


def _build(hidden=8):
    model = fastnn.Sequential([fastnn.Input((10,)), fastnn.layers.Dense(hidden, "relu"),
                               fastnn.layers.Dense(2, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _keras_search(n_jobs):
    est = KerasClassifier(_build, epochs=3, verbose=0, random_state=0)
    return GridSearchCV(est, {"model__hidden": [4, 8], "batch_size": [16, 32]}, cv=2,
                        n_jobs=n_jobs).fit(X, Y)


@pytest.fixture(scope="module")
def serial():
    return {"mlp": _mlp_search(1), "keras": _keras_search(1)}


def _same_search(a, b):
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert a.best_params_ == b.best_params_


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_grid_search_over_joblib_backends(serial, backend):
    with joblib.parallel_backend(backend, n_jobs=2):
        _same_search(_mlp_search(2), serial["mlp"])
        _same_search(_keras_search(2), serial["keras"])


def _threads_in_worker():
    return effective_n_threads()


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # Dask's nanny sets OMP_NUM_THREADS=1 (and BLAS's) in this process's environment to start
    # its workers, and leaves it: later tests' subprocesses would inherit one thread.
    environ = dict(os.environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the cluster's port and resource notices
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


def test_grid_search_on_dask_workers(serial, dask_client):
    # Dask starts its worker processes with OMP_NUM_THREADS=1: one thread each, no
    # oversubscription of the cores by workers x threads.
    assert set(dask_client.run(_threads_in_worker).values()) == {1}
    with joblib.parallel_backend("dask"):
        _same_search(_mlp_search(-1), serial["mlp"])
        _same_search(_keras_search(-1), serial["keras"])


def test_dask_ml_incremental_streams_blocks_through_partial_fit(dask_client):
    da = pytest.importorskip("dask.array")
    incremental = pytest.importorskip("dask_ml.wrappers").Incremental
    blocks = 4
    dx = da.from_array(X, chunks=(100, 10))
    dy = da.from_array(Y, chunks=100)
    inc = incremental(MLPClassifier((8,), random_state=0), scoring="accuracy",
                      shuffle_blocks=False)
    inc.fit(dx, dy, classes=[0, 1])
    local = MLPClassifier((8,), random_state=0)
    for b in range(blocks):
        local.partial_fit(X[b * 100:(b + 1) * 100], Y[b * 100:(b + 1) * 100], classes=[0, 1])
    for a, b in zip(inc.estimator_.coefs_, local.coefs_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(inc.predict(dx).compute(), local.predict(X))


def test_grid_search_on_ray_workers(serial):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        with joblib.parallel_backend("ray"):
            _same_search(_mlp_search(2), serial["mlp"])
    finally:
        ray.shutdown()
