/* What the AMX kernels (quant.c, bf16.c) share: the tile configuration and Linux's permission.
 * Include only where FNN_HAVE_CLONES (GCC on x86-64 Linux). */
#ifndef FASTNN_AMX_H
#define FASTNN_AMX_H

#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The 64-byte operand of ldtilecfg (palette 1). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} fnn_amx_config;

/* Palette 1 with all 8 tiles 16 rows x 64 bytes, the shape both kernels use. The empty asm
 * tells GCC that the bytes are read: GCC 12 does not count ldtilecfg as reading its operand and
 * dropped the stores when this was inlined into a function that only loads the config. */
static inline void fnn_amx_config_full(fnn_amx_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg->rows[t] = 16;
        cfg->colsb[t] = 64;
    }
    __asm__ volatile("" : : "r"(cfg) : "memory");
}

/* 1 when the CPU has AMX-TILE and the feature of CPUID.(7,0):EDX bit `feature_bit` (22:
 * AMX-BF16, 25: AMX-INT8) and Linux grants this process the tile state (asked once per
 * process and extension; every caller asks the same question, so the race is benign). */
static inline int fnn_amx_permitted(int feature_bit)
{
    static int granted = -1;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(edx >> 24 & 1)
        || !(edx >> feature_bit & 1))
        return 0;
    if (granted < 0)
        granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                          18 /* XFEATURE_XTILEDATA */) == 0;
    return granted;
}

#endif
