# cdef entry point of the int8 Dense kernel for the engine (see _quant.pyx).
cdef int qdense(int path, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t n, const float *x,
                const signed char *packed, const int *colsum128, const float *kscale,
                float *out, int n_threads) noexcept nogil
