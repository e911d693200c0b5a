"""Run the whole suite, one process per (peer, workload), and print one table of ratios.

    fastnn bench [--quick] [--out PATH]      (or python -m fastnn._bench.report)

Ratios are peer time / fastnn time from medians of the same run (above 1: fastnn is faster).
The full run writes the table, the targets and the machine to benchmarks/RESULTS.md (--out).
Timing processes run with OpenBLAS's machine overrides (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE)
unset, so that BLAS picks its kernel for this CPU; RESULTS.md records the kernel it picked.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fastnn._bench import machine, peers, workloads

TIMING_ENV_DROPPED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def run_one(peer: str, names: list[str], quick: bool) -> dict:
    """{workload: result} of `names` run by `peer` in one fresh process."""
    command = [sys.executable, "-m", "fastnn._bench.run_one", peer, *names]
    command += ["--quick"] if quick else []
    env = {k: v for k, v in os.environ.items() if k not in TIMING_ENV_DROPPED}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            results[result["workload"]] = result
    crash = f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    return {name: results.get(name, {"status": crash}) for name in names}


def _run_one_variants(quick: bool, workload: str, flag: str, value: str, key: str,
                      wanted) -> dict:
    """fastnn's `workload` run by run_one with `flag value`, one JSON line per variant:
    {"<key>_<n>": result} for each n in `wanted` (a failed run's status where one is
    missing)."""
    command = [sys.executable, "-m", "fastnn._bench.run_one", "fastnn", workload, flag, value]
    command += ["--quick"] if quick else []
    env = {k: v for k, v in os.environ.items() if k not in TIMING_ENV_DROPPED}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    field = key.rsplit("_", 1)[-1]          # "threads" or "callers": the line's own count
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            # Lines of other workloads timed in the same rounds (the products beside the
            # epoch) are kept under their workload and peer.
            prefix = "" if result["workload"] == workload else \
                f"{result['workload']}_{result['peer']}_"
            results[f"{prefix}{key}_{result[field]}"] = result
    crash = {"status": f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return {**results, **{f"{key}_{n}": results.get(f"{key}_{n}", crash) for n in wanted}}


def thread_counts(quick: bool, counts=(1, 2)) -> dict:
    """{"threads_N": result} of fastnn's MNIST-scale epoch, the counts taking turns round by
    round in one process (run_one --alternate-threads), with the epoch's 8 products timed in
    the same rounds: {"matmul_<peer>_threads_N": result} for fastnn and numpy."""
    return _run_one_variants(quick, "mnist_epoch", "--alternate-threads",
                             ",".join(map(str, counts)), "threads", counts)


def concurrent_predict(quick: bool, callers: int = 2) -> dict:
    """{"predict_callers_N": result} of fastnn's predict_10k called by `callers` threads at
    once and by one thread in turn, taking turns in one process (run_one
    --concurrent-callers)."""
    return _run_one_variants(quick, "predict_10k", "--concurrent-callers", str(callers),
                             "predict_callers", (1, callers))


def import_seconds(rounds: int = 5) -> float:
    """Fastest of `rounds` fresh interpreters timing `import fastnn`."""
    code = "import time; t = time.perf_counter(); import fastnn; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout) for _ in range(rounds))


def memmap_memory(quick: bool) -> dict:
    """fit and predict on a float64 memmap in a fresh process (fastnn._bench.memmap_memory):
    the growth of its anonymous memory, with the file's size."""
    size = "0.25" if quick else "4"
    out = subprocess.run([sys.executable, "-m", "fastnn._bench.memmap_memory", "--gigabytes",
                          size], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def median(result: dict | None, of=statistics.median) -> float | None:
    if result and result.get("status") == "ok":
        return of(result["times"])
    return None


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def cell(result: dict | None, ours: float | None) -> str:
    if result is None:
        return ""
    theirs = median(result)
    if theirs is None:
        return result["status"].split(":")[0] if "failed" in result["status"] \
            else result["status"]
    ratio = f" (**{theirs / ours:.1f}x**)" if ours else ""
    return fmt_time(theirs) + ratio


def table(results: dict) -> list[str]:
    others = [p for p in peers.PEERS if p != "fastnn"]
    rows = ["| workload | fastnn | " + " | ".join(others) + " |",
            "|---|---|" + "---|" * len(others)]
    for workload, label in workloads.WORKLOADS.items():
        row = results.get(workload, {})
        ours = median(row.get("fastnn"))
        rows.append(f"| {label} | {cell(row.get('fastnn'), None)} | "
                    + " | ".join(cell(row.get(p), ours) for p in others) + " |")
    return rows


def ratio(results, workload, peer, of=statistics.median) -> float | None:
    ours = median(results[workload].get("fastnn"), of)
    theirs = median(results[workload].get(peer), of)
    return theirs / ours if ours and theirs else None


def _over(results, workload, peer, our_workload, of) -> float | None:
    """`peer`'s time on `workload` over fastnn's on `our_workload` (its int8 or bfloat16
    form)."""
    theirs = median(results[workload].get(peer), of)
    ours = median(results.get(our_workload, {}).get("fastnn"), of)
    return theirs / ours if ours and theirs else None


def targets(results: dict, extra: dict, sizes: workloads.Sizes) -> list[tuple[str, str, bool]]:
    """(target, measured from medians (and from minimums), met by the medians; None for the
    reference rows, which have no goal)."""
    out = []

    def add(name, measure, goal, fmt, lower_is_better=False):
        by_median, by_min = measure(statistics.median), measure(min)
        if by_median is None:
            out.append((name, "not measured", False))
            return
        met = None if goal is None else by_median < goal if lower_is_better \
            else by_median >= goal
        out.append((name, f"{fmt(by_median)} ({fmt(by_min)})", met))

    def versus(workload, peer):
        return lambda of: ratio(results, workload, peer, of)

    def of_run(result, f):
        def measure(of):
            seconds = median(result, of)
            return f(seconds) if seconds else None
        return measure

    times = "{:.1f}x".format
    add("tutorial fit vs TensorFlow's Keras >= 100x", versus("tutorial_fit", "tensorflow"), 100,
        times)
    add("tutorial fit vs NumPy MLP >= 10x", versus("tutorial_fit", "numpy"), 10, times)
    add("MNIST-scale epoch vs TensorFlow's Keras >= 3x", versus("mnist_epoch", "tensorflow"), 3,
        times)

    def custom_over_builtin(of):
        custom = median(results["custom_loss_fit"].get("fastnn"), of)
        builtin = median(results["tutorial_fit"].get("fastnn"), of)
        return custom / builtin if custom and builtin else None
    add("tutorial fit, custom loss: fastnn time <= 3x its built-in loss's", custom_over_builtin,
        3, times, lower_is_better=True)
    add("tutorial fit, custom loss vs TensorFlow's Keras (same loss) >= 30x",
        versus("custom_loss_fit", "tensorflow"), 30, times)
    add("MNIST-scale epoch vs scikit-learn >= 3x", versus("mnist_epoch", "sklearn"), 3, times)

    def generator_over_arrays(of):
        streamed = median(results.get("mnist_epoch_generator", {}).get("fastnn"), of)
        arrays = median(results["mnist_epoch"].get("fastnn"), of)
        return streamed / arrays if streamed and arrays else None
    add("MNIST-scale epoch from a generator of batches <= 1.3x from arrays",
        generator_over_arrays, 1.3, times, lower_is_better=True)
    matmul_step, epoch = results["matmul"].get("numpy"), results["mnist_epoch"].get("fastnn")

    def bound_share(of):
        step, ours = median(matmul_step, of), median(epoch, of)
        return step * sizes.mnist_samples / 128 / ours if step and ours else None
    add("MNIST-scale epoch >= 85% of the NumPy-sgemm bound", bound_share, 0.85, "{:.0%}".format)
    add("predict, 1 sample < 10 µs", lambda of: median(results["predict_one"].get("fastnn"), of),
        10e-6, fmt_time, lower_is_better=True)
    add("predict, 10,000 samples vs TensorFlow's Keras >= 3x",
        versus("predict_10k", "tensorflow"), 3, times)

    add("predict, 10,000 samples, int8 vs fastnn float32 >= 1.8x",
        lambda of: _over(results, "predict_10k", "fastnn", "predict_10k_int8", of), 1.8, times)
    add("predict, 10,000 samples, int8 vs ONNX Runtime float32 >= 1.8x",
        lambda of: _over(results, "predict_10k", "onnxruntime", "predict_10k_int8", of), 1.8,
        times)

    add("MNIST-scale epoch, mixed_bfloat16 vs fastnn float32 >= 1.6x",
        lambda of: _over(results, "mnist_epoch", "fastnn", "mnist_epoch_bf16", of), 1.6, times)
    add("(reference) MNIST-scale epoch in bfloat16: PyTorch autocast over fastnn",
        lambda of: _over(results, "mnist_epoch_bf16", "torch", "mnist_epoch_bf16", of), None,
        times)
    add("(reference) MNIST-scale epoch in bfloat16: TensorFlow's Keras over fastnn",
        lambda of: _over(results, "mnist_epoch_bf16", "tensorflow", "mnist_epoch_bf16", of),
        None, times)

    add("(reference) predict, 10,000 samples, mixed_bfloat16 vs fastnn float32",
        lambda of: _over(results, "predict_10k", "fastnn", "predict_10k_bf16", of), None, times)
    add("(reference) predict, 10,000 samples in bfloat16: PyTorch autocast over fastnn",
        lambda of: _over(results, "predict_10k_bf16", "torch", "predict_10k_bf16", of), None,
        times)

    def thread_speedup(of):
        one, two = median(extra.get("threads_1"), of), median(extra.get("threads_2"), of)
        return one / two if one and two else None
    add("MNIST-scale epoch, 2 threads vs 1 >= 1.8x", thread_speedup, 1.8, "{:.2f}x".format)

    def products_speedup(peer):
        def speedup(of):
            one = median(extra.get(f"matmul_{peer}_threads_1"), of)
            two = median(extra.get(f"matmul_{peer}_threads_2"), of)
            return one / two if one and two else None
        return speedup
    # What this machine gives a GEMM from a second thread, in the same rounds as the epoch's
    # speed-up: the epoch is mostly these products, so it can hardly scale better.
    add("(reference) the epoch's 8 products, 2 threads vs 1: NumPy's BLAS",
        products_speedup("numpy"), None, "{:.2f}x".format)
    add("(reference) the epoch's 8 products, 2 threads vs 1: fastnn",
        products_speedup("fastnn"), None, "{:.2f}x".format)

    def memory_over_data(of):
        if not epoch or epoch.get("status") != "ok":
            return None
        return (epoch["rss_peak_bytes"] - epoch["rss_before_bytes"] - epoch["data_bytes"]) / 2**20
    def callers_speedup(of):
        one, two = median(extra.get("predict_callers_1"), of), \
            median(extra.get("predict_callers_2"), of)
        return one / two if one and two else None
    add("predict 10,000 rows in each of 2 threads at once vs in turn in 1, one model >= 1.6x",
        callers_speedup, 1.6, "{:.2f}x".format)

    add("MNIST-scale fit peak memory < data + 100 MB", memory_over_data, 100,
        "data + {:.0f} MB".format, lower_is_better=True)
    memmap = extra.get("memmap_memory")
    add(f"fit + predict on a {memmap['file_bytes'] / 2**30:.2g} GiB float64 memmap: "
        "anonymous memory growth < 200 MB" if memmap else
        "fit + predict on a float64 memmap: anonymous memory growth < 200 MB",
        lambda of: memmap["rss_anon_growth_bytes"] / 2**20 if memmap else None, 200,
        "{:.0f} MB".format, lower_is_better=True)
    add("import fastnn < 0.3 s", lambda of: extra.get("import_seconds"), 0.3, "{:.3f} s".format,
        lower_is_better=True)
    flops = workloads.mnist_epoch_flops(sizes.mnist_samples)
    add("(reference) fastnn epoch GFLOP/s", of_run(epoch, lambda t: flops / t / 1e9), None,
        "{:.1f}".format)
    sklearn_epoch = results["mnist_epoch"].get("sklearn")

    def sklearn_over_bound(of):
        step, theirs = median(matmul_step, of), median(sklearn_epoch, of)
        return theirs / (step * sizes.mnist_samples / 128) if step and theirs else None
    # The most any implementation can beat scikit-learn by while its matmuls run at NumPy's
    # sgemm speed: scikit-learn's epoch over the time of those same matmuls.
    add("(reference) scikit-learn epoch / NumPy-sgemm bound: the ratio at 100% of the bound",
        sklearn_over_bound, None, times)
    add("(reference) NumPy sgemm GFLOP/s on the epoch's shapes",
        of_run(matmul_step, lambda t: flops / (t * sizes.mnist_samples / 128) / 1e9), None,
        "{:.1f}".format)
    return out


def run_all(quick: bool, log=print) -> tuple[dict, dict]:
    """Every peer's workloads. The full run goes workload by workload (workloads.RUN_ORDER),
    every peer in its own process one after the other, so that the times a ratio compares are
    taken minutes apart at most (on a shared machine the background load drifts); --quick
    runs one process per peer."""
    results: dict = {workload: {} for workload in workloads.WORKLOADS}
    runnable = {}
    for peer in peers.PEERS:
        module = peers.load(peer)
        names = [name for name in workloads.WORKLOADS if name in module.CASES]
        reason = module.missing()
        if reason is None:
            runnable[peer] = names
            continue
        for name in names:
            results[name][peer] = {"status": reason}
        log(f"  {peer:11} {reason}")
    if quick:
        groups = [(peer, names) for peer, names in runnable.items()]
    else:
        groups = [(peer, [name]) for name in workloads.RUN_ORDER
                  for peer, names in runnable.items() if name in names]
    for peer, names in groups:
        started = time.perf_counter()
        for name, result in run_one(peer, names, quick).items():
            results[name][peer] = result
            log(f"  {peer:11} {name:13} {result['status'][:70]}")
        log(f"  {peer:11} ({time.perf_counter() - started:.0f} s)")
    extra = thread_counts(quick)
    extra.update(concurrent_predict(quick))
    extra["import_seconds"] = import_seconds()
    extra["memmap_memory"] = memmap_memory(quick)
    return results, extra


def render(results, extra, sizes, quick: bool, seconds: float, load_start: str) -> str:
    pools = {}
    for peer, workload in (("fastnn", "mnist_epoch"), ("numpy", "matmul")):
        if results[workload].get(peer, {}).get("status") == "ok":
            pools[peer] = results[workload][peer]["threadpools"]
    lines = ["# fastnn benchmark results", "",
             (f"`fastnn bench{' --quick' if quick else ''}` ({seconds:.0f} s). Times are medians of"
             f" {sizes.repeats} rounds per workload; each (peer, workload) ran in its own process;"
             " in parentheses: the peer's time / fastnn's (above 1: fastnn is faster). Every"
             " workload's result was checked (loss falls; outputs match a float64 NumPy"
             " reference) before it was timed."), "", *table(results), "",
             "## Targets", "",
             "Measured from the medians (in parentheses: from the minimums); met by the medians.",
             "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'-' if met is None else 'yes' if met else '**no**'} |"
              for name, value, met in targets(results, extra, sizes)]
    lines += ["", "## Machine", "", f"- load average at the start: {load_start}",
              *machine.describe(pools),
              "- environment: " + ", ".join(f"{k} unset" for k in TIMING_ENV_DROPPED)
              + "; default thread counts (all available cores)"]
    return "\n".join(lines) + "\n"


NOTES_HEADING = "## Notes (written by hand; `fastnn bench` keeps this section)"


def kept_notes(path: Path) -> str:
    """The hand-written section at the end of an earlier results file (analysis of the
    numbers, other suites' tables), so that a new run replaces only the measured part."""
    old = path.read_text() if path.exists() else ""
    at = old.find(NOTES_HEADING)
    return "" if at < 0 else "\n" + old[at:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="reduced sizes, a smoke run in well under a minute")
    parser.add_argument("--out", default=None,
                        help="where to write the results (default benchmarks/RESULTS.md; "
                             "--quick writes only when given)")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    args = parser.parse_args(argv)
    sizes = workloads.QUICK if args.quick else workloads.FULL
    started, load_start = time.perf_counter(), machine.load_average()
    results, extra = run_all(args.quick, log=lambda line: print(line, file=sys.stderr))
    text = render(results, extra, sizes, args.quick, time.perf_counter() - started, load_start)
    print(text)
    out = args.out or (None if args.quick else "benchmarks/RESULTS.md")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + kept_notes(Path(out)))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "extra": extra}, indent=1))
    failed = [r["status"] for row in results.values() for r in row.values()
              if r["status"].startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
