/* CONV_2D (and FULLY_CONNECTED, a 1x1 convolution) and DEPTHWISE_CONV_2D, int8, TFLite
 * reference_integer_ops semantics.
 *
 * nn_conv2d gathers one output pixel's input patch (im2col; taps outside the image hold the
 * input zero point, so they add nothing) and takes its inner product with each output channel's
 * weight row: the same contiguous dot product CMSIS-NN reduces convolution to, so the DSP and
 * cfu paths of nn_dot speed up every layer shape. A 1x1 unpadded patch is the input pixel itself. */
#include "nn_dot.h"

static inline const int8_t *patch(const nn_conv_params *p, const int8_t *in, int y, int x)
{
    int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
    if (p->kh == 1 && p->kw == 1 && p->taps == p->in_c && iy0 >= 0 && ix0 >= 0)
        return in + (iy0 * p->in_w + ix0) * p->in_c;
    int8_t *dst = p->scratch;
    int8_t zp = (int8_t)-p->in_offset;
    for (int ky = 0; ky < p->kh; ky++) {
        int iy = iy0 + ky * p->dilation_h;
        for (int kx = 0; kx < p->kw; kx++, dst += p->in_c) {
            int ix = ix0 + kx * p->dilation_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                memset(dst, zp, p->in_c);
            else
                memcpy(dst, in + (iy * p->in_w + ix) * p->in_c, p->in_c);
        }
    }
    memset(dst, zp, p->scratch + p->taps - dst);
    return p->scratch;
}

/* The kernels work on a local copy of the parameters: the int8 output stores could alias the
 * caller's block, which would make the compiler reload every field in the inner loops. */
void nn_conv2d(const nn_conv_params *params, const int8_t *in, int8_t *out)
{
    const nn_conv_params local = *params, *p = &local;
    nn_layer_begin(p);
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            const int8_t *px = patch(p, in, y, x);
            const int8_t *w = p->weights;
            int o = 0;
            for (; o + 2 <= p->out_c; o += 2, w += 2 * p->taps) {
                int32_t acc0 = p->bias ? p->bias[o] : 0, acc1 = p->bias ? p->bias[o + 1] : 0;
                nn_dot2(px, w, w + p->taps, p->taps, p->in_offset, &acc0, &acc1);
                *out++ = nn_output(p, acc0, o);
                *out++ = nn_output(p, acc1, o + 1);
            }
            if (o < p->out_c)
                *out++ = nn_output(p, nn_dot(px, w, p->taps, p->in_offset, p->bias ? p->bias[o] : 0), o);
        }
}

/* Four channels at a time, kept in registers over the pixel's taps (depth multiplier 1, channels a
 * multiple of 4): on the DSP path one word of input and of weights feeds four 16x16 MACs
 * (SXTAB16/SXTB16, SMLABB/SMLATT). */
static inline void depthwise_by_four(const nn_conv_params *p, const int8_t *in, int8_t *out, int n,
                                     const int32_t *tap_in, const int32_t *tap_w)
{
#if defined(NN_DSP)
    uint32_t offset2 = (uint16_t)p->in_offset * 0x00010001u;
#endif
    for (int c = 0; c < p->out_c; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (p->bias) {
            a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
        }
        for (int t = 0; t < n; t++) {
            const int8_t *x = in + tap_in[t] + c, *w = p->weights + tap_w[t] + c;
#if defined(NN_DSP)
            uint32_t xv, wv;
            __builtin_memcpy(&xv, x, 4);
            __builtin_memcpy(&wv, w, 4);
            uint32_t x02 = __sxtab16(offset2, xv), x13 = __sxtab16(offset2, __ror(xv, 8));
            uint32_t w02 = __sxtb16(wv), w13 = __sxtb16(__ror(wv, 8));
            a0 = __smlabb(x02, w02, a0);
            a2 = __smlatt(x02, w02, a2);
            a1 = __smlabb(x13, w13, a1);
            a3 = __smlatt(x13, w13, a3);
#else
            a0 += (x[0] + p->in_offset) * w[0];
            a1 += (x[1] + p->in_offset) * w[1];
            a2 += (x[2] + p->in_offset) * w[2];
            a3 += (x[3] + p->in_offset) * w[3];
#endif
        }
        int32_t acc[4] = {a0, a1, a2, a3};
        for (int k = 0; k < 4; k++)
            *out++ = nn_output_gemmlowp(p, acc[k], c + k);
    }
}

/* Otherwise, per output pixel: accumulators for all channels (in scratch) are swept once per
 * kernel tap, so the inner loop runs over contiguous channels of the input pixel and weight row. */
static inline void depthwise_any(const nn_conv_params *p, const int8_t *in, int8_t *out, int n,
                                 const int32_t *tap_in, const int32_t *tap_w)
{
    int32_t *acc = (int32_t *)(void *)p->scratch;
    int multiplier = p->out_c / p->in_c;
    for (int o = 0; o < p->out_c; o++)
        acc[o] = p->bias ? p->bias[o] : 0;
    for (int t = 0; t < n; t++) {
        const int8_t *px = in + tap_in[t], *w = p->weights + tap_w[t];
        for (int o = 0; o < p->out_c; o++)
            acc[o] += (px[o / multiplier] + p->in_offset) * w[o];
    }
    for (int o = 0; o < p->out_c; o++)
        *out++ = nn_output_gemmlowp(p, acc[o], o);
}

void nn_depthwise_conv2d(const nn_conv_params *params, const int8_t *in, int8_t *out)
{
    const nn_conv_params local = *params, *p = &local;
    int by_four = p->out_c == p->in_c && p->out_c % 4 == 0;
    int32_t tap_in[p->kh * p->kw], tap_w[p->kh * p->kw]; /* the pixel's taps inside the image */
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++, out += p->out_c) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left, n = 0;
            for (int ky = 0; ky < p->kh; ky++) {
                int iy = iy0 + ky * p->dilation_h;
                for (int kx = 0; kx < p->kw; kx++) {
                    int ix = ix0 + kx * p->dilation_w;
                    if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                        continue;
                    tap_in[n] = (iy * p->in_w + ix) * p->in_c;
                    tap_w[n++] = (ky * p->kw + kx) * p->out_c;
                }
            }
            (by_four ? depthwise_by_four : depthwise_any)(p, in, out, n, tap_in, tap_w);
        }
}
