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

/* Output channels c..c+3 read input channels (c + k) / M for depth multiplier M: with M = 1 four
 * consecutive ones (a word), M = 2 two (a halfword, each feeding two lanes), M a multiple of 4 a
 * single one (a byte feeding all four); other multipliers read lane by lane. */
enum nn_lanes { LANES_WORD, LANES_HALF, LANES_BYTE, LANES_EACH };

/* Depthwise outputs round as TFLite's convolutions do (gemmlowp's two roundings), in the cfu or on the CPU. */
static inline int8_t depthwise_output(const nn_conv_params *p, int32_t acc, int o)
{
#if defined(NN_CFU)
    return nn_output(p, acc, o);
#else
    return nn_output_gemmlowp(p, acc, o);
#endif
}

/* Four output channels at a time, kept in registers over the pixel's taps (channels a multiple of
 * 4). On the DSP path one load of input and one of weights feed four 16x16 MACs (SXTAB16/SXTB16,
 * SMLABB/SMLATT); the cfu's lane-wise MAC (macl) takes the same words, its lane mapping saying
 * which input byte feeds which lane. */
static inline __attribute__((always_inline))
void depthwise_by_four(const nn_conv_params *p, const int8_t *in, int8_t *out, int n, const int32_t *tap_in,
                       const int32_t *tap_w, enum nn_lanes lanes)
{
    int multiplier = lanes == LANES_EACH || lanes == LANES_BYTE ? p->out_c / p->in_c : 1;
#if defined(NN_DSP)
    uint32_t offset2 = (uint16_t)p->in_offset * 0x00010001u;
#endif
    for (int c = 0, ic = 0; c < p->out_c; c += 4) {
        int32_t a0 = p->bias ? p->bias[c] : 0, a1 = p->bias ? p->bias[c + 1] : 0;
        int32_t a2 = p->bias ? p->bias[c + 2] : 0, a3 = p->bias ? p->bias[c + 3] : 0;
        const int8_t *w = p->weights + c;
        if (lanes == LANES_EACH) { /* input channel of each lane */
            int i0 = c / multiplier, i1 = (c + 1) / multiplier, i2 = (c + 2) / multiplier, i3 = (c + 3) / multiplier;
            for (int t = 0; t < n; t++) {
                const int8_t *x = in + tap_in[t], *wt = w + tap_w[t];
                a0 += (x[i0] + p->in_offset) * wt[0];
                a1 += (x[i1] + p->in_offset) * wt[1];
                a2 += (x[i2] + p->in_offset) * wt[2];
                a3 += (x[i3] + p->in_offset) * wt[3];
            }
        } else {
            const int8_t *x0 = in + ic;
#if defined(NN_CFU)
            cfu_reset_lanes(a0, a1, a2, a3);
            for (int t = 0; t < n; t++) {
                const int8_t *x = x0 + tap_in[t];
                uint32_t wv = *(const uint32_t *)(const void *)(w + tap_w[t]);
                if (lanes == LANES_WORD)
                    cfu_macl(0, *(const uint32_t *)(const void *)x, wv);
                else if (lanes == LANES_HALF)
                    cfu_macl(1, *(const uint16_t *)(const void *)x, wv);
                else
                    cfu_macl(2, *(const uint8_t *)x, wv);
            }
            a0 = cfu_read_lane(0), a1 = cfu_read_lane(1), a2 = cfu_read_lane(2), a3 = cfu_read_lane(3);
#elif defined(NN_DSP)
            for (int t = 0; t < n; t++) {
                const int8_t *x = x0 + tap_in[t];
                uint32_t wv, x02, x13;
                __builtin_memcpy(&wv, w + tap_w[t], 4);
                if (lanes == LANES_WORD) {
                    uint32_t xv;
                    __builtin_memcpy(&xv, x, 4);
                    x02 = __sxtab16(offset2, xv), x13 = __sxtab16(offset2, __ror(xv, 8));
                } else { /* lanes 0 and 1 share input byte 0, 2 and 3 byte 1 (or all byte 0) */
                    uint32_t xv = lanes == LANES_HALF ? *(const uint16_t *)(const void *)x : *(const uint8_t *)x;
                    x02 = x13 = __sxtab16(offset2, lanes == LANES_HALF ? xv | xv << 8 : xv * 0x00010001u);
                }
                uint32_t w02 = __sxtb16(wv), w13 = __sxtb16(__ror(wv, 8));
                a0 = __smlabb(x02, w02, a0);
                a2 = __smlatt(x02, w02, a2);
                a1 = __smlabb(x13, w13, a1);
                a3 = __smlatt(x13, w13, a3);
            }
#else
            int d1 = lanes == LANES_WORD, d2 = lanes == LANES_WORD ? 2 : lanes == LANES_HALF, d3 = d1 + d2;
            for (int t = 0; t < n; t++) {
                const int8_t *x = x0 + tap_in[t], *wt = w + tap_w[t];
                a0 += (x[0] + p->in_offset) * wt[0];
                a1 += (x[d1] + p->in_offset) * wt[1];
                a2 += (x[d2] + p->in_offset) * wt[2];
                a3 += (x[d3] + p->in_offset) * wt[3];
            }
#endif
        }
        ic += lanes == LANES_WORD ? 4 : lanes == LANES_HALF ? 2 : lanes == LANES_BYTE && (c + 4) % multiplier == 0;
        int32_t acc[4] = {a0, a1, a2, a3};
        for (int k = 0; k < 4; k++)
            *out++ = depthwise_output(p, acc[k], c + k);
    }
}

/* One copy of the kernel per lane mapping, each a function of its own: inlined into the pixel
 * loop the four would share its registers (ARMv6-M's eight low ones spill). */
#define NN_DEPTHWISE_LANES(name, lanes)                                                                      \
    static __attribute__((noinline)) void name(const nn_conv_params *p, const int8_t *in, int8_t *out, int n, \
                                               const int32_t *tap_in, const int32_t *tap_w)                    \
    {                                                                                                         \
        depthwise_by_four(p, in, out, n, tap_in, tap_w, lanes);                                               \
    }
NN_DEPTHWISE_LANES(depthwise_word, LANES_WORD)
NN_DEPTHWISE_LANES(depthwise_half, LANES_HALF)
NN_DEPTHWISE_LANES(depthwise_byte, LANES_BYTE)
NN_DEPTHWISE_LANES(depthwise_each, LANES_EACH)

/* Otherwise, per output pixel: accumulators for all channels (in scratch) are swept once per
 * kernel tap, each input channel's value feeding its multiplier's consecutive outputs. */
static void depthwise_any(const nn_conv_params *p, const int8_t *in, int8_t *out, int n,
                                 const int32_t *tap_in, const int32_t *tap_w)
{
    int32_t *acc = (int32_t *)(void *)p->scratch;
    int multiplier = p->out_c / p->in_c;
    for (int o = 0; o < p->out_c; o++)
        acc[o] = p->bias ? p->bias[o] : 0;
    for (int t = 0; t < n; t++) {
        const int8_t *px = in + tap_in[t], *w = p->weights + tap_w[t];
        int32_t *a = acc;
        for (int i = 0; i < p->in_c; i++) {
            int32_t xi = px[i] + p->in_offset;
            for (int m = 0; m < multiplier; m++)
                *a++ += xi * *w++;
        }
    }
    for (int o = 0; o < p->out_c; o++)
        *out++ = depthwise_output(p, acc[o], o);
}

void nn_depthwise_conv2d(const nn_conv_params *params, const int8_t *in, int8_t *out)
{
    const nn_conv_params local = *params, *p = &local;
    int multiplier = p->out_c / p->in_c;
    void (*kernel)(const nn_conv_params *, const int8_t *, int8_t *, int, const int32_t *, const int32_t *) =
        p->out_c % 4 ? depthwise_any : multiplier == 1 ? depthwise_word : multiplier == 2 ? depthwise_half
        : multiplier % 4 == 0 ? depthwise_byte : depthwise_each;
    nn_layer_begin(p);
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
            kernel(p, in, out, n, tap_in, tap_w);
        }
}
