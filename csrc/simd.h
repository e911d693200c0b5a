/* Run-time SIMD dispatch for the hot loops of csrc/.
 *
 * FNN_CLONES marks a function that GCC compiles three times (AVX-512, AVX2+FMA, baseline
 * x86-64) and picks from at load time through an ifunc resolver, so one portable build is fast
 * on the CPU it runs on. Elsewhere (other compilers or architectures) it expands to nothing and
 * the baseline build is used. fnn_simd_path() in cpu.c reports the variant the resolver picks.
 */
#ifndef FASTNN_SIMD_H
#define FASTNN_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FNN_HAVE_CLONES 1
#define FNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FNN_HAVE_CLONES 0
#define FNN_CLONES
#endif

#endif
