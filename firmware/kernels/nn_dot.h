/* The inner product every MAC-bound kernel reduces to, acc + sum (x[i] + offset) * w[i], and the
 * requantisation of its result, in one implementation per target chosen at compile time:
 *   NN_CFU            the cfu's 4-lane int8 MAC and fused requantise-and-clamp (x, w 4-byte aligned,
 *                     n a multiple of 4: the code generator pads weight rows and patches);
 *   __ARM_FEATURE_DSP Cortex-M DSP extension: SXTAB16/SXTB16 widen two lanes at a time and SMLAD
 *                     multiplies and accumulates both, as CMSIS-NN does (NN_PORTABLE turns it off);
 *   otherwise         portable C. */
#ifndef NN_DOT_H
#define NN_DOT_H
#include "simmcu.h"
#include "simmcu_nn.h"
#if defined(NN_CFU)
#include "simmcu_cfu.h"
#elif defined(__ARM_FEATURE_DSP) && !defined(NN_PORTABLE)
#include <arm_acle.h>
#define NN_DSP 1
#endif

/* Per layer, before its first nn_dot: the unit keeps the input offset and output parameters. */
static inline void nn_layer_begin(const nn_conv_params *p)
{
#if defined(NN_CFU)
    cfu_set_offset(p->in_offset);
    cfu_set_param(2, p->out_zp);
    cfu_set_param(3, p->act_min);
    cfu_set_param(4, p->act_max);
    cfu_set_param(5, p->single_rounding);
#else
    (void)p;
#endif
}

static inline int32_t nn_dot(const int8_t *x, const int8_t *w, int n, int32_t offset, int32_t acc)
{
#if defined(NN_CFU)
    const uint32_t *xv = (const uint32_t *)(const void *)x, *wv = (const uint32_t *)(const void *)w;
    (void)offset;
    cfu_reset(acc);
    for (int i = 0; i < n / 4; i++)
        cfu_mac4(xv[i], wv[i]);
    return cfu_read();
#else
    int i = 0;
#if defined(NN_DSP)
    uint32_t offset2 = (uint16_t)offset * 0x00010001u;
    for (; i + 4 <= n; i += 4) {
        uint32_t xv, wv;
        __builtin_memcpy(&xv, x + i, 4); /* one unaligned LDR each */
        __builtin_memcpy(&wv, w + i, 4);
        acc = __smlad(__sxtab16(offset2, xv), __sxtb16(wv), acc);
        acc = __smlad(__sxtab16(offset2, __ror(xv, 8)), __sxtb16(__ror(wv, 8)), acc);
    }
#endif
    for (; i < n; i++)
        acc += (x[i] + offset) * w[i];
    return acc;
#endif
}

static inline int8_t nn_output(const nn_conv_params *p, int32_t acc, int o)
{
#if defined(NN_CFU)
    cfu_set_param(0, p->multiplier[o]);
    cfu_set_param(1, p->shift[o]);
    return (int8_t)cfu_requant(acc);
#else
    int32_t v = p->single_rounding ? nn_requantize(acc, p->multiplier[o], p->shift[o])
                                   : nn_requantize_gemmlowp(acc, p->multiplier[o], p->shift[o]);
    return nn_clamp(v + p->out_zp, p->act_min, p->act_max);
#endif
}
#endif
