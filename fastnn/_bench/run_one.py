"""Run one workload of one peer in this process and print its timings as one JSON line.

    python -m fastnn._bench.run_one PEER WORKLOAD [WORKLOAD ...] [--quick] [--threads N]
    python -m fastnn._bench.run_one fastnn mnist_epoch --alternate-threads 1,2 [--quick]

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


def measure_thread_counts(quick: bool, counts: list[int]) -> list[dict]:
    """fastnn's MNIST-scale epoch at each thread count, the counts taking turns round by
    round in this one process (same data, same model), so that a drift in the machine's
    background load falls on every count alike."""
    import time

    import fastnn
    from fastnn._bench import peers, workloads

    sizes = workloads.QUICK if quick else workloads.FULL
    case = peers.load("fastnn").CASES["mnist_epoch"](sizes)
    times: dict[int, list[float]] = {n: [] for n in counts}
    try:
        for _ in range(max(2, sizes.repeats)):
            for n in counts:
                fastnn.config.set_num_threads(n)
                start = time.perf_counter()
                case.run()
                times[n].append(time.perf_counter() - start)
    finally:
        fastnn.config.set_num_threads(None)
    return [{"peer": "fastnn", "workload": "mnist_epoch", "quick": quick, "threads": n,
             "status": "ok", "times": times[n]} for n in counts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastnn._bench.run_one")
    parser.add_argument("peer")
    parser.add_argument("workloads", nargs="+")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--alternate-threads", default=None, metavar="N,M,...",
                        help="time fastnn's mnist_epoch at these thread counts, taking turns")
    args = parser.parse_args(argv)
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
