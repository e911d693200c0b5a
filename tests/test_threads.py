"""The thread-count resolver and fastnn.show_config."""

import io
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import config
from fastnn._kernels import _openmp_helpers as omp


@pytest.fixture(autouse=True)
def _reset_threads():
    yield
    config.set_num_threads(None)


def test_openmp_is_compiled_in_when_ci_requires_it():
    if os.environ.get("FASTNN_REQUIRE_OPENMP") == "1":
        assert omp.openmp_enabled()


def test_default_is_bounded_by_available_cpus():
    n = omp.effective_n_threads()
    assert 1 <= n <= omp.cpu_count()


def test_explicit_and_configured_counts_win():
    if not omp.openmp_enabled():
        pytest.skip("serial build answers 1 whatever is asked")
    assert omp.effective_n_threads(3) == 3
    config.set_num_threads(5)
    assert omp.effective_n_threads() == 5
    assert omp.effective_n_threads(2) == 2  # an explicit argument beats the setting


def test_negative_counts_back_from_available_cpus():
    if not omp.openmp_enabled():
        pytest.skip("serial build answers 1 whatever is asked")
    assert omp.effective_n_threads(-1) == omp.cpu_count()
    assert omp.effective_n_threads(-omp.cpu_count() - 5) == 1


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_bad_thread_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="n_threads must be a non-zero integer"):
        config.set_num_threads(bad)
    assert config.get_num_threads() is None  # a failed call changes nothing


def test_threadpoolctl_limit_is_honoured():
    if not omp.openmp_enabled() or omp.cpu_count() < 2:
        pytest.skip("needs OpenMP and 2 CPUs")
    with threadpool_limits(limits=1, user_api="openmp"):
        assert omp.effective_n_threads() == 1
    assert omp.effective_n_threads() == min(omp.cpu_count(), _omp_default())


def _omp_default():
    return int(os.environ.get("OMP_NUM_THREADS", omp.cpu_count()))


def test_omp_num_threads_is_honoured():
    code = "from fastnn._kernels import _openmp_helpers as o; print(o.effective_n_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_show_config_names_every_part():
    buf = io.StringIO()
    fastnn.show_config(file=buf)
    text = buf.getvalue()
    for word in ("fastnn 0.1.0", "OpenMP:", "threads:", "SIMD:", "BLAS:", "kernel"):
        assert word in text
    info = fastnn._info.config_info()
    assert info["simd"] in text and str(info["blas"]["kernel"]) in text
    assert info["blas"]["name"] != "unknown"


def _cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"),
    reason="run-time dispatch is built for x86-64 Linux",
)
def test_simd_path_matches_the_cpu_flags():
    from fastnn._kernels import _cpu

    flags = _cpu_flags()
    if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= flags:
        expected = "avx512"
    elif {"avx2", "fma", "bmi2", "movbe"} <= flags:
        expected = "avx2+fma"
    else:
        expected = "baseline"
    assert _cpu.simd_path().startswith(expected)
