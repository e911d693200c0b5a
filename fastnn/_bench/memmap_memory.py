"""Anonymous memory of fit and predict on a float64 memmap larger than the model, measured by
the process itself (``RssAnon`` in /proc/self/status, sampled every 5 ms):

    python -m fastnn._bench.memmap_memory --gigabytes 4 [--dir /tmp]

writes a float64 file of that size (784 features), trains 784-16-10 on it for one shuffled
epoch (batch 256) and predicts it, and prints one JSON line: the file's size, the peak growth of
RssAnon over the built model's, and the seconds each part took. The file is deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time

import numpy as np

FEATURES = 784


def rss_anon() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def write_file(path: str, rows: int) -> np.memmap:
    out = np.memmap(path, dtype=np.float64, mode="w+", shape=(rows, FEATURES))
    rng = np.random.default_rng(0)
    tile = rng.random((8192, FEATURES))
    for lo in range(0, rows, 8192):
        hi = min(rows, lo + 8192)
        out[lo:hi] = tile[:hi - lo]
    out.flush()
    del out
    return np.memmap(path, dtype=np.float64, mode="r", shape=(rows, FEATURES))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args(argv)
    import fastnn

    rows = int(args.gigabytes * 2**30 // (FEATURES * 8))
    fd, path = tempfile.mkstemp(suffix=".f64", dir=args.dir)
    os.close(fd)
    try:
        started = time.perf_counter()
        x = write_file(path, rows)
        written = time.perf_counter() - started
        y = (np.arange(rows) % 10).astype(np.int64)
        model = fastnn.Sequential([fastnn.Input((FEATURES,)),
                                   fastnn.layers.Dense(16, activation="relu"),
                                   fastnn.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.predict(np.zeros((2, FEATURES), np.float32))
        base = rss_anon()
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_anon())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        model.fit(x, y, batch_size=256, epochs=1, shuffle=True, verbose=0)
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        pred = model.predict(x, batch_size=1024)
        predicted = time.perf_counter() - started
        done.set()
        sampler.join()
        print(json.dumps({"file_bytes": rows * FEATURES * 8, "rows": rows,
                          "rss_anon_growth_bytes": max(peak[0], rss_anon()) - base,
                          "targets_and_order_bytes": y.nbytes * 2, "predictions_bytes":
                          pred.nbytes, "write_seconds": round(written, 1),
                          "fit_seconds": round(fitted, 1),
                          "predict_seconds": round(predicted, 1)}))
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
