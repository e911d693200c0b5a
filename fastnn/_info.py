"""fastnn.show_config(): what this build of fastnn runs on."""

from __future__ import annotations

import sys
from typing import Any


def _blas_info() -> dict[str, Any]:
    """The BLAS our matmul dispatch calls: SciPy's, through scipy.linalg.cython_blas."""
    import scipy.linalg.cython_blas  # noqa: F401 - loads SciPy's BLAS so it can be found
    from threadpoolctl import threadpool_info

    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # NumPy's bundled OpenBLAS is also named "libscipy_openblas*"; SciPy's sits in scipy.libs.
    scipy_libs = [i for i in libs if "scipy.libs" in i.get("filepath", "")]
    chosen = (scipy_libs or libs or [{}])[0]
    return {
        "name": chosen.get("internal_api", "unknown"),
        "version": chosen.get("version"),
        "kernel": chosen.get("architecture"),
        "threads": chosen.get("num_threads"),
        "path": chosen.get("filepath"),
    }


def config_info() -> dict[str, Any]:
    """Everything show_config prints, as a dictionary."""
    from fastnn import __version__
    from fastnn._kernels import _bf16, _cpu, _gemm, _openmp_helpers, _quant

    return {
        "fastnn": __version__,
        "python": sys.version.split()[0],
        "openmp": _openmp_helpers.openmp_enabled(),
        "threads": _openmp_helpers.effective_n_threads(),
        "threadpool_limit": _openmp_helpers.threadpool_limit(),
        "serial_after_fork": _openmp_helpers.serial_after_fork(),
        "cpus_available": _openmp_helpers.cpu_count(),
        "parallel_min_work": _openmp_helpers.parallel_min_work(),
        "simd": _cpu.simd_path(),
        "gemm": _gemm.path(),
        "int8": _quant.path_name(),
        "bfloat16": _bf16.path_name(),
        "blas": _blas_info(),
    }


def show_config(file=None) -> None:
    """Print fastnn's version, OpenMP state, thread count, BLAS and its kernel, and the SIMD,
    GEMM, int8 and bfloat16 paths."""
    info = config_info()
    blas = info["blas"]
    lines = [
        f"fastnn {info['fastnn']} (Python {info['python']})",
        f"  OpenMP:  {'on' if info['openmp'] else 'off (serial build)'}",
        (f"  threads: {info['threads']} (of {info['cpus_available']} CPUs available; "
         f"work below {info['parallel_min_work']} element-ops runs serially)"),
        *(["           serial: forked after the parent's OpenMP threads had started"]
          if info["serial_after_fork"] else []),
        *([f"           capped at {info['threadpool_limit']} by a threadpoolctl limit"]
          if info["threadpool_limit"] else []),
        f"  SIMD:    {info['simd']}",
        f"  GEMM:    {info['gemm']} (float32 and float64 matmuls)",
        f"  int8:    {info['int8']}",
        f"  bf16:    {info['bfloat16']} (mixed_bfloat16 matmuls)",
        (f"  BLAS:    {blas['name']} {blas['version'] or ''}, kernel {blas['kernel']}, "
         f"{blas['threads']} threads"),
        f"           {blas['path']}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
