/* Chunk kernels of the optimizers (see fastnn.h for the contract and optimizers_point.h for
 * the rules). One source, optimizers_impl.h, is compiled for float and double; every clone
 * (simd.h) is picked at load time.
 */
#include "fastnn.h"
#include "optimizers.h"
#include "simd.h"

/* Subnormal moments would make the step many times slower. A slot whose gradient stays 0 (a
 * dead ReLU unit's weights) decays into the subnormal range and sticks there: m + (0 - m) *
 * 0.1 rounds back to m once m is a few subnormal units, so every later step reads and writes
 * subnormals, and each vector operation touching one takes a microcode assist (~150 cycles
 * on Intel). Measured on the MNIST-scale epoch (Sapphire Rapids): after two epochs 64% of
 * Adam's m were subnormal and the update took 40-45% of the epoch; an update of 535,818
 * weights with subnormal moments took 5.7 ms against 0.4 ms with normal ones. So the step
 * kernels run with MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) set for the
 * call and restored after, as TensorFlow runs its CPU kernels: only values below the smallest normal number (1.2e-38 in float32) change, to 0,
 * and a weight's update from such a moment is far below its rounding unit anyway. Each
 * thread has its own MXCSR, and every chunk sets it, so any thread split gives the same
 * bits. Elsewhere than x86-64 the step runs with the default IEEE behaviour. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <xmmintrin.h>
#define FNN_FLUSH_BITS 0x8040u
static inline unsigned fnn_flush_subnormals(void)
{
    const unsigned old = _mm_getcsr();
    _mm_setcsr(old | FNN_FLUSH_BITS);
    return old;
}
static inline void fnn_restore_fp_mode(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned fnn_flush_subnormals(void) { return 0; }
static inline void fnn_restore_fp_mode(unsigned old) { (void)old; }
#endif

/* The loop every kernel runs: clip the gradient, decay the weight, apply one rule (an
 * expression of wi, gi and i) and store the new weight. */
#define FNN_OPT_LOOP(rule)                                                                   \
    for (size_t i = 0; i < n; i++) {                                                         \
        const T gi = SUF(fnn_opt_grad)(g[i], grad_scale, clip_value);                        \
        const T wi = SUF(fnn_opt_decay)(w[i], wd_lr);                                        \
        w[i] = rule;                                                                         \
    }

#define T float
#define SUF(name) name##_f32
#include "optimizers_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "optimizers_impl.h"
#undef T
#undef SUF
