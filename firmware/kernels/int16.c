/* The int16x8 kernels (16-bit activations, 8-bit weights, TFLite's "16x8" quantisation):
 * CONV_2D (and FULLY_CONNECTED, a 1x1 convolution), DEPTHWISE_CONV_2D and ADD, with the arithmetic
 * of the reference interpreter's int16 paths: activations have zero point 0, the convolutions
 * accumulate in int64 (int64 bias) and requantise with one rounding (simmcu_nn.h), ADD rescales with 15 bits
 * of headroom. Portable C on every core: the int8 kernels and their cfu/DSP paths are untouched. */
#include "simmcu.h"
#include "simmcu_nn.h"

/* A product is at most 2^15 x 2^7, so 256 of them sum exactly in int32; longer rows are summed
 * in such blocks into the int64 accumulator. */
#define NN_DOT16_BLOCK 256

static inline int16_t nn_clamp16(int32_t v, int32_t lo, int32_t hi)
{
    return (int16_t)(v < lo ? lo : v > hi ? hi : v);
}

static int64_t dot16(const int16_t *x, const int8_t *w, int n)
{
    int64_t acc = 0;
    while (n > 0) {
        int m = n < NN_DOT16_BLOCK ? n : NN_DOT16_BLOCK;
        int32_t s = 0;
        for (int i = 0; i < m; i++)
            s += x[i] * w[i];
        acc += s;
        x += m, w += m, n -= m;
    }
    return acc;
}

void nn_conv2d_s16(const nn_conv16_params *params, const int16_t *in, int16_t *out)
{
    const nn_conv16_params local = *params, *p = &local;
    int row = p->kw * p->in_c;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            const int8_t *w = p->weights;
            for (int o = 0; o < p->out_c; o++) {
                int64_t acc = p->bias ? p->bias[o] : 0;
                for (int ky = 0; ky < p->kh; ky++, w += row) {
                    int iy = iy0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->in_h)
                        continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        int ix = ix0 + kx * p->dilation_w;
                        if (ix >= 0 && ix < p->in_w)
                            acc += dot16(in + (iy * p->in_w + ix) * p->in_c, w + kx * p->in_c, p->in_c);
                    }
                }
                int32_t v = p->single_rounding ? nn_requantize64_exact(acc, p->multiplier[o], p->shift[o])
                                               : nn_requantize64(acc, p->multiplier[o], p->shift[o]);
                *out++ = nn_clamp16(v, p->act_min, p->act_max);
            }
        }
}

void nn_depthwise_conv2d_s16(const nn_conv16_params *params, const int16_t *in, int16_t *out)
{
    const nn_conv16_params local = *params, *p = &local;
    int multiplier = p->out_c / p->in_c;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            for (int o = 0; o < p->out_c; o++) {
                int64_t acc = p->bias ? p->bias[o] : 0;
                const int16_t *px = in + o / multiplier;
                for (int ky = 0; ky < p->kh; ky++) {
                    int iy = iy0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->in_h)
                        continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        int ix = ix0 + kx * p->dilation_w;
                        if (ix >= 0 && ix < p->in_w)
                            acc += (int32_t)px[(iy * p->in_w + ix) * p->in_c] * p->weights[(ky * p->kw + kx) * p->out_c + o];
                    }
                }
                *out++ = nn_clamp16(nn_requantize64(acc, p->multiplier[o], p->shift[o]), p->act_min, p->act_max);
            }
        }
}

void nn_add_s16(const nn_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    for (int i = 0; i < p->size; i++) {
        int32_t a = nn_requantize_gemmlowp((in1[i] + p->in1_offset) * (1 << 15), p->in1_multiplier, p->in1_shift);
        int32_t b = nn_requantize_gemmlowp((in2[i] + p->in2_offset) * (1 << 15), p->in2_multiplier, p->in2_shift);
        out[i] = nn_clamp16(nn_requantize_gemmlowp(a + b, p->out_multiplier, p->out_shift) + p->out_zp, p->act_min,
                            p->act_max);
    }
}
