"""Turn a pytest-benchmark JSON file into the ratio table of benchmarks/RESULTS.md.

Usage:
    python benchmarks/ratios.py RUN.json

Every benchmark group holds one entry per contender (the test function's name without its
``test_`` prefix, e.g. ``fastnn`` and ``numpy``); the table gives each group's minimum and
median times and the ratio ``peer time / fastnn time`` (above 1: fastnn is faster), computed
from the medians and the minimums of the same run.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def contender(bench: dict) -> str:
    return bench["name"].split("[")[0].removeprefix("test_")


def fmt_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def machine_lines(info: dict) -> list[str]:
    fastnn = info.get("fastnn", {})
    cpu = info.get("cpu", {}).get("brand_raw", info.get("processor", "?"))
    openmp = "on" if fastnn.get("openmp") else "off"
    lines = [f"- CPU: {cpu}, {fastnn.get('cpus_available', '?')} CPUs available",
             (f"- fastnn {fastnn.get('fastnn')}: OpenMP {openmp}, "
              f"{fastnn.get('threads')} threads, SIMD {fastnn.get('simd')}")]
    for lib in info.get("threadpools", []):
        lines.append(f"- {lib['user_api']}: {lib['internal_api']} {lib['version']} "
                     f"({lib.get('architecture') or '-'} kernel, {lib['num_threads']} threads) "
                     f"{lib['filepath'].rsplit('/', 1)[-1]}")
    env = info.get("openblas_env", {})
    lines.append("- environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    return lines


def table(benchmarks: list[dict]) -> list[str]:
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for bench in benchmarks:
        groups[bench["group"] or bench["name"]][contender(bench)] = bench["stats"]
    peers = sorted({c for g in groups.values() for c in g} - {"fastnn"})
    head = "| case | fastnn min / median | " + " | ".join(
        f"{p} min / median | {p} ÷ fastnn (median, min)" for p in peers) + " |"
    rows = [head, "|" + "---|" * (2 + 2 * len(peers))]
    for name, entries in groups.items():
        ours = entries.get("fastnn")
        if ours is None:
            continue
        cells = [name, f"{fmt_time(ours['min'])} / {fmt_time(ours['median'])}"]
        for p in peers:
            theirs = entries.get(p)
            if theirs is None:
                cells += ["-", "-"]
                continue
            ratios = (f"**{theirs['median'] / ours['median']:.2f}x**, "
                      f"{theirs['min'] / ours['min']:.2f}x")
            cells += [f"{fmt_time(theirs['min'])} / {fmt_time(theirs['median'])}", ratios]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main(path: str) -> None:
    with open(path) as f:
        run = json.load(f)
    print("\n".join(machine_lines(run.get("machine_info", {}))))
    print()
    print("\n".join(table(run["benchmarks"])))


if __name__ == "__main__":
    main(sys.argv[1])
