"""Per-call cost of predict, predict on a list, predict_on_batch and model(x) on one row of the
benchmark's tutorial model (the `predict_one` workload's model and weights):

    PYTHONPATH=. python benchmarks/predict_per_call.py [ROUNDS]

prints each call's minimum over ROUNDS rounds of 1,000 calls, taken from this thread's CPU
time (time.thread_time) with the calls taking turns round by round: on a shared machine the
time the process waits for a core is not the call's, and the minimum is the call's own cost.
To compare two builds, run it in each checkout in turn, several times.
"""

import sys
import time

import fastnn
from fastnn._bench import workloads as w


def main(rounds: int = 40) -> None:
    x, n_in, layers, weights = w.predict_setup(1, "tutorial")
    model = fastnn.Sequential([fastnn.Input((n_in,))]
                              + [fastnn.layers.Dense(u, activation=a) for u, a in layers])
    model.set_weights([a for pair in weights for a in pair])
    rows = x.tolist()
    calls = {"predict": lambda: model.predict(x, verbose=0),
             "predict_list": lambda: model.predict(rows, verbose=0),
             "predict_on_batch": lambda: model.predict_on_batch(x),
             "call": lambda: model(x)}
    w.check_close(model.predict(x, verbose=0), w.reference_forward(x, weights, layers),
                  "fastnn predict")
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.thread_time()
            for _ in range(1000):
                call()
            best[name] = min(best[name], (time.thread_time() - start) * 1e3)
    print(fastnn.__file__, " ".join(f"{name} {us:.2f} µs" for name, us in best.items()))


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
