"""The thread-count resolver: the only Python-visible code that asks OpenMP anything.

effective_n_threads() answers, in order: an explicit argument, the user's
fastnn.config.set_num_threads(), else OpenMP's own maximum (which already reflects
OMP_NUM_THREADS and any threadpoolctl limit on our OpenMP runtime), capped by the CPUs this
process may run on. It never calls omp_set_num_threads: kernels pass num_threads to each
parallel region instead, so nothing global changes under other libraries' feet.

Fork: libgomp keeps its worker threads in a pool that a forked child inherits as bookkeeping
only (fork copies just the calling thread), so the child's first parallel region waits
forever for threads that do not exist. Once this process has resolved more than one thread,
a child forked from it (os.fork, multiprocessing's "fork" start method) runs every kernel
serially; a process forked before any threads started, and fresh interpreters (spawn,
forkserver, joblib's loky), keep their threads.
"""
import os

from cython.parallel cimport prange

from fastnn._kernels._openmp cimport FNN_OPENMP_ENABLED, FNN_PARALLEL_MIN_WORK, omp_get_max_threads

from fastnn import config


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(FNN_OPENMP_ENABLED)


def parallel_min_work():
    """Element-operations below which a kernel runs on one thread."""
    return FNN_PARALLEL_MIN_WORK


cdef int _cpu_count = 0
# True once this process has resolved more than one thread (its OpenMP pool may exist).
cdef bint _threads_started = False
# True in a child forked after that: its inherited pool has no threads behind it.
cdef bint _forked_after_threads = False


def _after_fork_in_child():
    global _forked_after_threads
    _forked_after_threads = _threads_started


os.register_at_fork(after_in_child=_after_fork_in_child)


def serial_after_fork():
    """True when this process is a fork of one whose OpenMP threads had started: every
    kernel then runs on one thread (see the module's note)."""
    return bool(_forked_after_threads)


def cpu_count():
    """CPUs this process may run on (affinity-aware), read once per process: the system call
    costs ~0.5 µs, a twentieth of a one-row `predict`. A process that narrows its own affinity
    later can say how many threads to use with fastnn.config.set_num_threads."""
    global _cpu_count
    if _cpu_count == 0:
        try:
            _cpu_count = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            _cpu_count = os.cpu_count() or 1
    return _cpu_count


def effective_n_threads(n_threads=None):
    """Resolve a thread count for the kernels.

    Parameters
    ----------
    n_threads : int or None
        None uses fastnn.config.get_num_threads() if the user set one, else OpenMP's
        default. A negative value counts back from the CPUs available (-1 = all of them).

    Returns
    -------
    int
        At least 1; always 1 when fastnn was built without OpenMP, and in a child forked
        after this process's threads started (see serial_after_fork).
    """
    if n_threads is None:
        n_threads = config.get_num_threads()
    if n_threads is not None and (not isinstance(n_threads, int) or n_threads == 0):
        raise ValueError(
            f"n_threads must be a non-zero integer or None, got {n_threads!r}"
        )
    global _threads_started
    if not FNN_OPENMP_ENABLED or _forked_after_threads:
        return 1
    if n_threads is None:
        n_threads = max(1, min(omp_get_max_threads(), cpu_count()))
    elif n_threads < 0:
        n_threads = max(1, cpu_count() + n_threads + 1)
    if n_threads > 1:
        _threads_started = True
    return n_threads


def parallel_region_cost(int n_threads, int repeats):
    """Seconds one empty parallel region of n_threads costs (the measured half of the serial
    cut-off; benchmarks/test_bench_threads.py derives FNN_PARALLEL_MIN_WORK from it)."""
    import time

    global _threads_started
    cdef int _repeat, i
    cdef double sink = 0
    if _forked_after_threads:
        n_threads = 1
    _threads_started = _threads_started or n_threads > 1
    start = time.perf_counter()
    for _repeat in range(repeats):
        for i in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
            sink += i
    return (time.perf_counter() - start) / repeats
