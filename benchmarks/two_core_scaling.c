/* What a second thread gives on this machine, without Python, OpenMP regions of the engine or
 * any other part of fastnn in the way (issue #18's "2 threads >= 1.8x one").
 *
 *   gcc -O3 -fno-math-errno -fno-trapping-math -fopenmp -Icsrc \
 *       benchmarks/two_core_scaling.c csrc/gemm.c -o /tmp/two_core_scaling
 *   /tmp/two_core_scaling fma 4            # register-only multiply-adds, 4 s per count
 *   /tmp/two_core_scaling gemm 128 512 784 # one product of the MNIST-scale step, 40 rounds
 *
 * `fma`: 12 independent chains of 8-float fused multiply-adds per thread (enough to keep two
 * FMA ports busy), on 1 and then 2 threads. No memory is touched, so 2.0x means the two vCPUs
 * are two cores' worth of arithmetic (hyperthreads of one core would give about 1.0x).
 *
 * `gemm M N K`: fastnn's single-thread kernel (csrc/gemm.c, C = A B, row-major) on 1 thread,
 * then four ways of cutting the same product between 2 threads, taking turns round by round:
 * C's columns split with C shared (what the engine does), each half written to its own
 * buffer, each half also reading its own copy of B's columns, and C's rows split. If the
 * layouts differ, cache lines shared between the halves cost something; if the speed-up moves
 * from run to run while the layouts agree, the machine is what moves.
 */
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastnn.h"

typedef float vec8 __attribute__((vector_size(32)));

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Multiply-adds of 8 floats done in `duration` seconds by one thread. */
__attribute__((target("avx2,fma"))) static double fma_chains(double duration)
{
    vec8 acc[12];
    const vec8 scale = {1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f,
                        1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f};
    const vec8 shift = {1e-8f, 1e-8f, 1e-8f, 1e-8f, 1e-8f, 1e-8f, 1e-8f, 1e-8f};
    for (int i = 0; i < 12; i++)
        acc[i] = (vec8){0} + (float)i;
    double done = 0, start = seconds();
    while (seconds() - start < duration) {
        for (int rep = 0; rep < 100000; rep++)
            for (int i = 0; i < 12; i++)
                acc[i] = acc[i] * scale + shift;
        /* An empty asm that "reads" the chains: GCC can not drop or shorten the loop. */
        __asm__ volatile("" : : "x"(acc[0]), "x"(acc[5]), "x"(acc[11]) : "memory");
        done += 100000.0 * 12;
    }
    return done;
}

static void run_fma(double duration)
{
    double rate[2];
    for (int threads = 1; threads <= 2; threads++) {
        double total = 0, start = seconds();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        total += fma_chains(duration);
        rate[threads - 1] = total / (seconds() - start);
        printf("fma, %d thread(s): %.2f G multiply-adds of 8 floats per second\n", threads,
               rate[threads - 1] * 1e-9);
    }
    printf("fma, 2 threads vs 1: %.2fx\n", rate[1] / rate[0]);
}

static int by_value(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

enum { ROUNDS = 40, CALLS = 40, WAYS = 5 };

static void run_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    const ptrdiff_t h = n / 2, mh = m / 2;
    float *a = aligned_alloc(64, sizeof(float) * m * k);
    float *b = aligned_alloc(64, sizeof(float) * k * n);
    float *c = aligned_alloc(64, sizeof(float) * m * n);
    float *b_half[2], *c_half[2];
    for (ptrdiff_t i = 0; i < m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (ptrdiff_t i = 0; i < k * n; i++)
        b[i] = (float)(i % 5) * 0.1f;
    for (int t = 0; t < 2; t++) {
        b_half[t] = aligned_alloc(64, sizeof(float) * k * h);
        c_half[t] = aligned_alloc(64, sizeof(float) * m * h);
        for (ptrdiff_t p = 0; p < k; p++)
            memcpy(b_half[t] + p * h, b + p * n + t * h, sizeof(float) * h);
    }
    static double took[WAYS][ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int way = 0; way < WAYS; way++) {
            usleep(20000);
            const double start = seconds();
            for (int call = 0; call < CALLS; call++) {
                if (way == 0) {
                    fnn_gemm_f32(0, 0, m, n, k, 1, a, k, b, n, 0, c, n);
                    continue;
                }
#pragma omp parallel for num_threads(2) schedule(static)
                for (int t = 0; t < 2; t++) {
                    if (way == 1)
                        fnn_gemm_f32(0, 0, m, h, k, 1, a, k, b + t * h, n, 0, c + t * h, n);
                    else if (way == 2)
                        fnn_gemm_f32(0, 0, m, h, k, 1, a, k, b + t * h, n, 0, c_half[t], h);
                    else if (way == 3)
                        fnn_gemm_f32(0, 0, m, h, k, 1, a, k, b_half[t], h, 0, c_half[t], h);
                    else
                        fnn_gemm_f32(0, 0, mh, n, k, 1, a + t * mh * k, k, b, n, 0,
                                     c + t * mh * n, n);
                }
            }
            took[way][round] = (seconds() - start) / CALLS;
        }
    }
    static const char *names[WAYS] = {
        "1 thread", "2, columns, C shared", "2, columns, own C", "2, columns, own B and C",
        "2, rows"};
    for (int way = 0; way < WAYS; way++)
        qsort(took[way], ROUNDS, sizeof(double), by_value);
    for (int way = 0; way < WAYS; way++)
        printf("%tdx%tdx%td %-24s median %6.0f us, min %6.0f us; vs 1 thread: %.2fx (medians),"
               " %.2fx (minimums)\n", m, n, k, names[way], took[way][ROUNDS / 2] * 1e6,
               took[way][0] * 1e6, took[0][ROUNDS / 2] / took[way][ROUNDS / 2],
               took[0][0] / took[way][0]);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "fma") == 0) {
        run_fma(atof(argv[2]));
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "gemm") == 0) {
        const ptrdiff_t m = atol(argv[2]), n = atol(argv[3]), k = atol(argv[4]);
        if (m >= 2 && n >= 2 && k >= 1 && m % 2 == 0 && n % 2 == 0) {
            run_gemm(m, n, k);
            return 0;
        }
    }
    fprintf(stderr, "usage: %s fma SECONDS | gemm M N K (M and N even)\n", argv[0]);
    return 2;
}
