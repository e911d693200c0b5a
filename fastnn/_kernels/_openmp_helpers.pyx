"""The thread-count resolver: the only Python-visible code that asks OpenMP anything.

effective_n_threads() answers, in order: an explicit argument, the user's
fastnn.config.set_num_threads(), else OpenMP's own maximum (which already reflects
OMP_NUM_THREADS and a threadpoolctl limit set in the calling thread), capped by the CPUs this
process may run on; the last two are then capped by the process-wide limit that threadpoolctl
sets through fastnn's own controller (fastnn/_threadpool.py), which reaches every thread. It
never calls omp_set_num_threads: kernels pass num_threads to each parallel region instead, so
nothing global changes under other libraries' feet.

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


cdef extern from "fastnn.h":
    int fnn_threadpool_limit_get() noexcept nogil
    void fnn_threadpool_limit_set(int n_threads) noexcept nogil


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


# OpenMP's default maximum as the process started (OMP_NUM_THREADS, else the cores), read
# at import: a thread inside threadpoolctl's block sees its own lowered value instead.
cdef int _initial_max_threads = omp_get_max_threads()


def threadpool_limit():
    """The process-wide thread cap threadpoolctl set through fastnn's controller, or None."""
    cdef int limit = fnn_threadpool_limit_get()
    return limit if limit > 0 else None


def uncapped_n_threads():
    """The threads fastnn uses by default with no threadpoolctl limit in force anywhere."""
    n_threads = config.get_num_threads()
    if n_threads is None:
        return max(1, min(_initial_max_threads, cpu_count()))
    if n_threads < 0:
        return max(1, cpu_count() + n_threads + 1)
    return n_threads


def set_threadpool_limit(n_threads):
    """Cap the threads of every later call, from any thread; None lifts the cap, and so does
    a value at or above uncapped_n_threads() (what threadpoolctl restores when its block
    exits, having read it from fastnn's controller when the block began)."""
    if n_threads is None or n_threads >= uncapped_n_threads():
        fnn_threadpool_limit_set(0)
    else:
        fnn_threadpool_limit_set(max(1, int(n_threads)))


def effective_n_threads(n_threads=None):
    """Resolve a thread count for the kernels.

    Parameters
    ----------
    n_threads : int or None
        None uses this thread's fastnn.config.num_threads() count if inside such a block
        (used as given), else fastnn.config.get_num_threads() if the user set one, else
        OpenMP's default; either of the last two is capped by a threadpoolctl limit (see
        threadpool_limit). A negative value counts back from the CPUs available (-1 = all of
        them), also capped; a positive value is used as given.

    Returns
    -------
    int
        At least 1; always 1 when fastnn was built without OpenMP, and in a child forked
        after this process's threads started (see serial_after_fork).
    """
    if n_threads is None:
        n_threads = config.thread_num_threads()    # fastnn.config.num_threads(n) blocks
    cdef bint given = n_threads is not None
    if n_threads is None:
        n_threads = config.get_num_threads()
    if n_threads is not None and (not isinstance(n_threads, int) or n_threads == 0):
        raise ValueError(
            f"n_threads must be a non-zero integer or None, got {n_threads!r}"
        )
    # The caller's own positive count is used as given; every other source is capped.
    cdef bint explicit = given and n_threads > 0
    global _threads_started
    if not FNN_OPENMP_ENABLED or _forked_after_threads:
        return 1
    if n_threads is None:
        n_threads = max(1, min(omp_get_max_threads(), cpu_count()))
    elif n_threads < 0:
        n_threads = max(1, cpu_count() + n_threads + 1)
    cdef int limit = fnn_threadpool_limit_get()
    if not explicit and 0 < limit < n_threads:
        n_threads = limit
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
