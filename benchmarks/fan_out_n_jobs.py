"""GridSearchCV over fastnn's MLPClassifier with n_jobs=1 against n_jobs=2 (joblib's loky),
taking turns, 3 rounds; prints each time and the median speedup. The first n_jobs=2 round
includes starting loky's workers. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/fan_out_n_jobs.py
"""

import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from fastnn.sklearn import MLPClassifier


def main() -> None:
    x, y = make_classification(4000, 40, n_informative=20, random_state=0)
    x = x.astype(np.float32)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(64,), (128, 64)]}
    warnings.simplefilter("ignore")      # ConvergenceWarning after 30 iterations
    times = {1: [], 2: []}
    for _ in range(3):
        for n_jobs in (1, 2):
            started = time.perf_counter()
            GridSearchCV(MLPClassifier(max_iter=30, random_state=0), grid, cv=3,
                         n_jobs=n_jobs).fit(x, y)
            times[n_jobs].append(time.perf_counter() - started)
    medians = {n: statistics.median(t) for n, t in times.items()}
    print({n: [round(t, 2) for t in v] for n, v in times.items()},
          f"n_jobs=2 speedup {medians[1] / medians[2]:.2f}x")


if __name__ == "__main__":
    main()
