"""Run one workload of one peer in this process and print its timings as one JSON line.

    python -m fastnn._bench.run_one PEER WORKLOAD [WORKLOAD ...] [--quick] [--threads N]
    python -m fastnn._bench.run_one fastnn mnist_epoch --alternate-threads 1,2 [--quick]
    python -m fastnn._bench.run_one fastnn predict_10k --concurrent-callers 2 [--quick]

Each workload is checked before it is timed; a failed check prints status "failed" and exits 1.
The report runs every peer this way, in fresh processes, so that no two frameworks share a
process (or their thread pools); the full report gives each (peer, workload) its own process,
so that the memory peak belongs to one workload. One JSON line per workload.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import traceback


def rss_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(peer: str, workload: str, quick: bool, threads: int | None) -> dict:
    from fastnn._bench import peers, timing, workloads

    result = {"peer": peer, "workload": workload, "quick": quick, "threads": threads}
    module = peers.load(peer)
    reason = module.missing()
    if reason is not None:
        return result | {"status": reason}
    if workload not in module.CASES:
        return result | {"status": "unsupported"}
    if peer == "fastnn" and threads is not None:
        import fastnn

        fastnn.config.set_num_threads(threads)
    sizes = workloads.QUICK if quick else workloads.FULL
    rss_before = rss_peak_bytes()
    case = module.CASES[workload](sizes)
    rounds, number = timing.time_per_call(case.run, sizes.repeats)
    from threadpoolctl import threadpool_info

    return result | {
        "status": "ok",
        "times": rounds,
        "calls_per_round": number,
        "data_bytes": case.data_bytes,
        "rss_before_bytes": rss_before,
        "rss_peak_bytes": rss_peak_bytes(),
        "threadpools": [{k: lib.get(k) for k in ("user_api", "internal_api", "version",
                                                 "architecture", "num_threads", "filepath")}
                        for lib in threadpool_info()],
    }


def _products_per_call(run, seconds: float = 0.25) -> float:
    """Seconds per call of `run` (the 8 products of one training step), called for about
    `seconds` after one warm-up call."""
    import time

    run()
    start = time.perf_counter()
    run()
    number = max(1, int(seconds / max(time.perf_counter() - start, 1e-7)))
    start = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - start) / number


def measure_thread_counts(quick: bool, counts: list[int]) -> list[dict]:
    """fastnn's MNIST-scale epoch at each thread count, the counts taking turns round by
    round in this one process (same data, same model), so that a drift in the machine's
    background load falls on every count alike. Each round also times the epoch's 8
    products (the `matmul` workload) on fastnn's kernel and on NumPy's BLAS at each count:
    what the machine gives a GEMM from more threads in the same minutes, the ceiling the
    epoch's own speed-up is read against. OpenBLAS's threads spin for a while after a call,
    so its products run last in a round, after a pause, and a pause follows them."""
    import time

    from threadpoolctl import threadpool_limits

    import fastnn
    from fastnn._bench import peers, workloads

    sizes = workloads.QUICK if quick else workloads.FULL
    case = peers.load("fastnn").CASES["mnist_epoch"](sizes)
    numpy_products = peers.load("numpy").CASES["matmul"](sizes)
    fastnn_products = {}    # fastnn's case takes the thread count in force when it is built
    for n in counts:
        with fastnn.config.num_threads(n):
            fastnn_products[n] = peers.load("fastnn").CASES["matmul"](sizes)
    times: dict[int, list[float]] = {n: [] for n in counts}
    step: dict[tuple[str, int], list[float]] = {(p, n): [] for p in ("fastnn", "numpy")
                                                for n in counts}
    try:
        for _ in range(max(2, sizes.repeats)):
            for n in counts:
                fastnn.config.set_num_threads(n)
                start = time.perf_counter()
                case.run()
                times[n].append(time.perf_counter() - start)
            for n in counts:
                step["fastnn", n].append(_products_per_call(fastnn_products[n].run))
            time.sleep(0.2)
            for n in counts:
                with threadpool_limits(n, user_api="blas"):
                    step["numpy", n].append(_products_per_call(numpy_products.run))
            time.sleep(0.2)
    finally:
        fastnn.config.set_num_threads(None)
    epochs = [{"peer": "fastnn", "workload": "mnist_epoch", "quick": quick, "threads": n,
               "status": "ok", "times": times[n]} for n in counts]
    return epochs + [{"peer": peer, "workload": "matmul", "quick": quick, "threads": n,
                      "status": "ok", "times": step[peer, n]} for peer, n in step]


def concurrent_predict_runs(sizes, callers: int):
    """(in_turn, at_once): the predict_10k workload (predict_rows rows of the 784-512-256-10
    model) called `callers` times by one thread, and once by each of `callers` threads at
    the same moment, on one model; checked (against NumPy, and the threads' outputs against
    the serial one) before it is returned."""
    import threading

    from fastnn._bench import peers

    case = peers.load("fastnn").CASES["predict_10k"](sizes)
    expected = case.run()
    outputs: list = []

    def at_once():
        threads = [threading.Thread(target=lambda: outputs.append(case.run()))
                   for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def in_turn():
        for _ in range(callers):
            case.run()

    at_once()
    if len(outputs) != callers or not all((o == expected).all() for o in outputs):
        raise AssertionError("fastnn predicts in threads at once differ from a serial one")
    outputs.clear()
    return in_turn, at_once


def measure_concurrent_predict(quick: bool, callers: int) -> list[dict]:
    """concurrent_predict_runs' two ways taking turns round by round in this process, so that
    a drift in the background load falls on both alike. The kernels run on one thread each,
    so that the parallelism measured is the callers': inference calls on one model share no
    workspace and no lock, and release the GIL."""
    import time

    import fastnn
    from fastnn._bench import workloads

    sizes = workloads.QUICK if quick else workloads.FULL
    fastnn.config.set_num_threads(1)
    try:
        in_turn, at_once = concurrent_predict_runs(sizes, callers)
        times: dict[int, list[float]] = {1: [], callers: []}
        for _ in range(max(2, sizes.repeats)):
            for n, run in ((1, in_turn), (callers, at_once)):
                start = time.perf_counter()
                run()
                times[n].append(time.perf_counter() - start)
    finally:
        fastnn.config.set_num_threads(None)
    return [{"peer": "fastnn", "workload": "predict_10k", "quick": quick, "callers": n,
             "calls": callers, "status": "ok", "times": times[n]} for n in (1, callers)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastnn._bench.run_one")
    parser.add_argument("peer")
    parser.add_argument("workloads", nargs="+")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--alternate-threads", default=None, metavar="N,M,...",
                        help="time fastnn's mnist_epoch at these thread counts, taking turns")
    parser.add_argument("--concurrent-callers", type=int, default=None, metavar="N",
                        help="time fastnn's predict_10k called by N threads at once against "
                             "one thread making the N calls in turn")
    args = parser.parse_args(argv)
    if args.concurrent_callers:
        for result in measure_concurrent_predict(args.quick, args.concurrent_callers):
            print(json.dumps(result), flush=True)
        return 0
    if args.alternate_threads:
        counts = [int(n) for n in args.alternate_threads.split(",")]
        for result in measure_thread_counts(args.quick, counts):
            print(json.dumps(result), flush=True)
        return 0
    failed = False
    for workload in args.workloads:
        try:
            result = measure(args.peer, workload, args.quick, args.threads)
        except Exception as error:  # noqa: BLE001 - reported to the report as a failed run
            traceback.print_exc()
            result = {"peer": args.peer, "workload": workload,
                      "status": f"failed: {type(error).__name__}: {error}"}
        failed |= result["status"].startswith("failed")
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
