/* The process-wide thread cap behind fastnn's threadpoolctl controller (fastnn/_threadpool.py).
 *
 * OpenMP's own limit (omp_set_num_threads, which threadpoolctl calls for libgomp) belongs to
 * the calling thread: threads started inside `threadpool_limits(1)` (joblib's threading
 * backend, Dask's worker threads) still see the default. This cap is one value for the whole
 * process, as BLAS libraries' limits are. Its two symbols also identify fastnn's extension to
 * threadpoolctl, which lists a library only when it exports the symbols its controller names.
 */
#include "fastnn.h"

static int fnn_limit = 0;

int fnn_threadpool_limit_get(void)
{
    return __atomic_load_n(&fnn_limit, __ATOMIC_RELAXED);
}

void fnn_threadpool_limit_set(int n_threads)
{
    __atomic_store_n(&fnn_limit, n_threads > 0 ? n_threads : 0, __ATOMIC_RELAXED);
}
