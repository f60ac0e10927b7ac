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

/* Two output channels at once: each input value is loaded (and, on the DSP path, each input word
 * widened) once for both weight rows, as CMSIS-NN blocks channels. The cfu keeps one accumulator,
 * and ARMv6-M's eight low registers cannot hold both rows' state (the blocked loop spills and is
 * slower there): two nn_dot calls. */
static inline void nn_dot2(const int8_t *x, const int8_t *w0, const int8_t *w1, int n, int32_t offset,
                           int32_t *acc0, int32_t *acc1)
{
#if defined(NN_CFU) || defined(__ARM_ARCH_6M__)
    *acc0 = nn_dot(x, w0, n, offset, *acc0);
    *acc1 = nn_dot(x, w1, n, offset, *acc1);
#else
    int32_t s0 = *acc0, s1 = *acc1;
    int i = 0;
#if defined(NN_DSP)
    uint32_t offset2 = (uint16_t)offset * 0x00010001u;
    for (; i + 4 <= n; i += 4) {
        uint32_t xv, v0, v1;
        __builtin_memcpy(&xv, x + i, 4);
        __builtin_memcpy(&v0, w0 + i, 4);
        __builtin_memcpy(&v1, w1 + i, 4);
        uint32_t lo = __sxtab16(offset2, xv), hi = __sxtab16(offset2, __ror(xv, 8));
        s0 = __smlad(lo, __sxtb16(v0), s0);
        s0 = __smlad(hi, __sxtb16(__ror(v0, 8)), s0);
        s1 = __smlad(lo, __sxtb16(v1), s1);
        s1 = __smlad(hi, __sxtb16(__ror(v1, 8)), s1);
    }
#endif
    for (; i < n; i++) {
        int32_t xi = x[i] + offset;
        s0 += xi * w0[i];
        s1 += xi * w1[i];
    }
    *acc0 = s0;
    *acc1 = s1;
#endif
}

/* Output channel o of a convolution on the CPU, rounded as TFLite's convolutions round. */
static inline int8_t nn_output_gemmlowp(const nn_conv_params *p, int32_t acc, int o)
{
    return nn_clamp(nn_requantize_gemmlowp(acc, p->multiplier[o], p->shift[o]) + p->out_zp, p->act_min, p->act_max);
}

/* Output channel o of nn_conv2d: in the cfu (parameters from nn_layer_begin), else on the CPU with
 * the layer's rounding. */
static inline int8_t nn_output(const nn_conv_params *p, int32_t acc, int o)
{
#if defined(NN_CFU)
    cfu_set_param(0, p->multiplier[o]);
    cfu_set_param(1, p->shift[o]);
    return (int8_t)cfu_requant(acc);
#else
    if (p->single_rounding)
        return nn_clamp(nn_requantize(acc, p->multiplier[o], p->shift[o]) + p->out_zp, p->act_min, p->act_max);
    return nn_output_gemmlowp(p, acc, o);
#endif
}
#endif
