"""fastnn's threads as threadpoolctl sees them: a controller registered with threadpoolctl.

threadpoolctl finds thread pools by the shared libraries loaded in the process. It lists
fastnn's kernels as user_api "openmp", internal_api "fastnn" (the extension that exports
``fnn_threadpool_limit_get``/``_set``), and ``threadpool_limits(n)`` or
``threadpool_limits(n, user_api="openmp")`` then caps fastnn's threads in every thread of the
process, not only in the one that set it (OpenMP's own limit is per thread, so threads started
inside the limit, such as joblib's threading backend and Dask's worker threads, would not see
it). The cap is process-wide, as BLAS libraries' limits are: two threads setting different
limits at once share the last one set.
"""

from __future__ import annotations

import threadpoolctl

from fastnn._kernels import _openmp_helpers


class FastnnController(threadpoolctl.LibController):
    """threadpoolctl's handle on fastnn's kernels (see the module's note)."""

    user_api = "openmp"
    internal_api = "fastnn"
    filename_prefixes = ("_openmp_helpers",)
    check_symbols = ("fnn_threadpool_limit_get", "fnn_threadpool_limit_set")

    def get_num_threads(self):
        # The cap in force, else the default: the value threadpoolctl restores on exit.
        return _openmp_helpers.threadpool_limit() or _openmp_helpers.uncapped_n_threads()

    def set_num_threads(self, num_threads):
        _openmp_helpers.set_threadpool_limit(num_threads)

    def get_version(self):
        from fastnn import __version__

        return __version__


_registered = False


def register() -> None:
    """Make threadpoolctl list and limit fastnn's kernels (once per process)."""
    global _registered
    if not _registered:
        threadpoolctl.register(FastnnController)
        _registered = True
