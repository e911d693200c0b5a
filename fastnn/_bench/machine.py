"""What a benchmark run ran on: CPU, cores, load, and which BLAS/OpenMP libraries ran."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(threadpools: dict[str, list[dict]]) -> list[str]:
    """Markdown bullet lines; `threadpools` maps a peer to threadpoolctl's info from its run."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    lines = [f"- CPU: {cpu_model()}; {os.cpu_count()} logical CPUs, {available} available",
             f"- load average at the end: {load_average()}",
             f"- Python {platform.python_version()}, {platform.system()} {platform.release()}"]
    for peer, pools in threadpools.items():
        for lib in pools:
            lines.append(f"- {peer}: {lib['user_api']} {lib['internal_api']} {lib['version']}"
                         f" ({lib.get('architecture') or '-'} kernel, {lib['num_threads']}"
                         f" threads) {os.path.basename(lib['filepath'])}")
    return lines
