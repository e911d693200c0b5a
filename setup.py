"""Build the compiled kernels: the extension list and the OpenMP probe, nothing else.

Environment variables read here:
  FASTNN_OPENMP=0          build without OpenMP (serial kernels).
  FASTNN_REQUIRE_OPENMP=1  fail the build when OpenMP does not work (CI sets it).
  FASTNN_DEBUG=1           turn Cython's bounds and wraparound checks back on.
  FASTNN_EXTENSIONS=_a,_b  build only these kernel modules (for working on one kernel).

Metadata lives in pyproject.toml.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools._distutils.ccompiler import new_compiler
from setuptools._distutils.sysconfig import customize_compiler

ROOT = Path(__file__).parent
OPENMP_FLAGS = ["-fopenmp"]

PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n);
    return n > 0 ? 0 : 1;
}
"""


def openmp_works() -> bool:
    """Compile, link and run a tiny OpenMP program with the compiler setuptools will use."""
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text(PROBE)
        try:
            objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=OPENMP_FLAGS)
            exe = str(Path(tmp, "probe"))
            compiler.link_executable(objs, exe, extra_postargs=OPENMP_FLAGS)
            out = subprocess.run([exe], capture_output=True, text=True, timeout=60, check=True)
        except Exception as exc:  # noqa: BLE001 - any failure means "no OpenMP"
            print(f"fastnn build: OpenMP probe failed: {exc}", file=sys.stderr)
            return False
    print(f"fastnn build: OpenMP probe ran with {out.stdout.strip()} threads")
    return True


def decide_openmp() -> bool:
    required = os.environ.get("FASTNN_REQUIRE_OPENMP", "0") == "1"
    if os.environ.get("FASTNN_OPENMP", "1") == "0":
        if required:
            sys.exit("fastnn build: FASTNN_OPENMP=0 contradicts FASTNN_REQUIRE_OPENMP=1")
        print("fastnn build: OpenMP turned off by FASTNN_OPENMP=0; kernels run serially")
        return False
    if openmp_works():
        print("fastnn build: building with OpenMP")
        return True
    if required:
        sys.exit("fastnn build: OpenMP is required (FASTNN_REQUIRE_OPENMP=1) but does not work")
    print("fastnn build: WARNING: no working OpenMP; kernels run serially", file=sys.stderr)
    return False


def extensions(use_openmp: bool) -> list[Extension]:
    """One extension per fastnn/_kernels/_NAME.pyx, linked with csrc/NAME.c when that exists."""
    omp = OPENMP_FLAGS if use_openmp else []
    # No -march: SIMD variants are chosen at run time (target_clones in csrc/simd.h).
    cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function", *omp]
    only = {n for n in os.environ.get("FASTNN_EXTENSIONS", "").split(",") if n}
    exts = []
    for pyx in sorted((ROOT / "fastnn" / "_kernels").glob("_*.pyx")):
        name = pyx.stem
        if only and name not in only:
            continue
        sources = [str(pyx.relative_to(ROOT))]
        csrc = ROOT / "csrc" / f"{name[1:]}.c"
        if csrc.exists():
            sources.append(str(csrc.relative_to(ROOT)))
        exts.append(
            Extension(
                f"fastnn._kernels.{name}",
                sources=sources,
                include_dirs=["csrc", numpy.get_include()],
                extra_compile_args=cflags,
                extra_link_args=omp + ["-lm"],
                # Header edits must rebuild every module (point functions are inline there).
                # (and an included .pxi must rebuild the module that includes it).
                depends=[str(h.relative_to(ROOT)) for h in sorted((ROOT / "csrc").glob("*.h"))]
                + [str(p.relative_to(ROOT)) for p in sorted(pyx.parent.glob(f"{name}_*.pxi"))],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return exts


use_openmp = decide_openmp()
debug = os.environ.get("FASTNN_DEBUG", "0") == "1"
setup(
    ext_modules=cythonize(
        extensions(use_openmp),
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": debug,
            "initializedcheck": debug,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
)
