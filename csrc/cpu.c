/* Which SIMD variant the FNN_CLONES resolver picks on this CPU (see simd.h). */
#include "fastnn.h"
#include "simd.h"

const char *fnn_simd_path(void)
{
#if FNN_HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "avx512 (x86-64-v4)";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "avx2+fma (x86-64-v3)";
    return "baseline (x86-64)";
#else
    return "baseline (no run-time dispatch on this compiler/architecture)";
#endif
}
