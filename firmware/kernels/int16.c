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

/* Per output pixel and channel, the taps inside the image, each a row of in_c products. */
void nn_conv2d_s16(const nn_conv16_params *params, const int16_t *in, int16_t *out)
{
    const nn_conv16_params local = *params, *p = &local;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            for (int o = 0; o < p->out_c; o++) {
                int64_t acc = p->bias ? p->bias[o] : 0;
                for (int ky = 0; ky < p->kh; ky++) {
                    int iy = iy0 + ky * p->dilation_h;
                    for (int kx = 0; iy >= 0 && iy < p->in_h && kx < p->kw; kx++) {
                        int ix = ix0 + kx * p->dilation_w;
                        if (ix >= 0 && ix < p->in_w)
                            acc += dot16(in + (iy * p->in_w + ix) * p->in_c,
                                         p->weights + ((o * p->kh + ky) * p->kw + kx) * p->in_c, p->in_c);
                    }
                }
                int32_t v = p->single_rounding ? nn_requantize64_exact(acc, p->multiplier[o], p->shift[o])
                                               : nn_requantize64(acc, p->multiplier[o], p->shift[o]);
                *out++ = nn_clamp16(v, p->act_min, p->act_max);
            }
        }
}

/* Per output pixel, int32 sums of all channels (p->scratch) swept once per tap inside the image,
 * each input channel feeding its multiplier's consecutive outputs: at most 511 taps of products
 * below 2^22 (the generator checks), so the sums are exact before the int64 bias is added. */
void nn_depthwise_conv2d_s16(const nn_conv16_params *params, const int16_t *in, int16_t *out)
{
    const nn_conv16_params local = *params, *p = &local;
    int multiplier = p->out_c / p->in_c;
    int32_t *acc = p->scratch;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            for (int o = 0; o < p->out_c; o++)
                acc[o] = 0;
            for (int ky = 0; ky < p->kh; ky++) {
                int iy = iy0 + ky * p->dilation_h;
                for (int kx = 0; iy >= 0 && iy < p->in_h && kx < p->kw; kx++) {
                    int ix = ix0 + kx * p->dilation_w;
                    if (ix < 0 || ix >= p->in_w)
                        continue;
                    const int16_t *px = in + (iy * p->in_w + ix) * p->in_c;
                    const int8_t *w = p->weights + (ky * p->kw + kx) * p->out_c;
                    if (multiplier == 1) {
                        for (int i = 0; i < p->in_c; i++)
                            acc[i] += px[i] * w[i];
                    } else {
                        int32_t *a = acc;
                        for (int i = 0; i < p->in_c; i++) {
                            int32_t xi = px[i];
                            for (int m = 0; m < multiplier; m++)
                                *a++ += xi * *w++;
                        }
                    }
                }
            }
            for (int o = 0; o < p->out_c; o++) {
                int64_t sum = (int64_t)acc[o] + (p->bias ? p->bias[o] : 0);
                *out++ = nn_clamp16(nn_requantize64(sum, p->multiplier[o], p->shift[o]), p->act_min, p->act_max);
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

/* AVERAGE_POOL_2D and MAX_POOL_2D as the int8 kernels (pooling.c) compute them: the window clipped
 * to the image, the mean rounded half away from zero. */
static void pool16(const nn_pool_params *params, const int16_t *in, int16_t *out, int average)
{
    const nn_pool_params local = *params, *p = &local;
    int ch = p->channels;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++, out += ch) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = p->in_h - iy0 < p->kh ? p->in_h - iy0 : p->kh;
            int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = p->in_w - ix0 < p->kw ? p->in_w - ix0 : p->kw;
            int count = (ky1 - ky0) * (kx1 - kx0);
            for (int c = 0; c < ch; c++) {
                int32_t acc = average ? 0 : INT16_MIN;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        int32_t v = in[((iy0 + ky) * p->in_w + ix0 + kx) * ch + c];
                        acc = average ? acc + v : v > acc ? v : acc;
                    }
                if (average && count > 0)
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                out[c] = nn_clamp16(acc, p->act_min, p->act_max);
            }
        }
}

void nn_average_pool_s16(const nn_pool_params *p, const int16_t *in, int16_t *out)
{
    pool16(p, in, out, 1);
}

void nn_max_pool_s16(const nn_pool_params *p, const int16_t *in, int16_t *out)
{
    pool16(p, in, out, 0);
}

/* QUANTIZE between int8 and int16 (either way, or int16 -> int16): the reference's Requantize,
 * (x - in_zp) rescaled with gemmlowp's two roundings, plus out_zp, clamped to the output type. */
#define NN_REQUANTIZE(name, in_t, out_t)                                                                  \
    void name(const nn_requantize_params *p, const in_t *in, out_t *out)                                  \
    {                                                                                                     \
        for (int i = 0; i < p->size; i++) {                                                               \
            int32_t v = nn_requantize_gemmlowp(in[i] - p->in_zp, p->multiplier, p->shift) + p->out_zp;    \
            out[i] = (out_t)(v < p->out_min ? p->out_min : v > p->out_max ? p->out_max : v);              \
        }                                                                                                 \
    }
NN_REQUANTIZE(nn_requantize_s8_s16, int8_t, int16_t)
NN_REQUANTIZE(nn_requantize_s16_s8, int16_t, int8_t)
NN_REQUANTIZE(nn_requantize_s16_s16, int16_t, int16_t)

/* QUANTIZE float32 -> int16: round(x / scale) in float32 (the reference divides in float32), half
 * away from zero, clamped. A quotient outside the int32 range (or NaN) converts to INT32_MIN, as
 * the reference's float-to-int conversion does on the x86 hosts it runs on: the lowest output.
 * In the firmware's float routines (soft-float where the core has no FPU: IEEE division is
 * correctly rounded either way); the ranges are tested on the quotient's exponent bits. */
void nn_quantize_s16(const nn_quantize16_params *p, const float *in, int16_t *out)
{
    for (int i = 0; i < p->size; i++) {
        float q = in[i] / p->scale;
        uint32_t bits;
        __builtin_memcpy(&bits, &q, 4);
        uint32_t exponent = bits >> 23 & 0xFF;
        int32_t v;
        if (exponent >= 127 + 31) { /* |q| >= 2^31, an infinity or NaN */
            v = INT16_MIN;
        } else if (exponent >= 127 + 16) { /* |q| >= 2^16 */
            v = bits >> 31 ? INT16_MIN : INT16_MAX;
        } else {
            int32_t t = (int32_t)q; /* towards zero; q - t is exact */
            float frac = q - (float)t;
            v = (frac >= 0.5f ? t + 1 : frac <= -0.5f ? t - 1 : t) + p->zero_point;
        }
        out[i] = nn_clamp16(v, INT16_MIN, INT16_MAX);
    }
}

/* DEQUANTIZE int16 -> float32: scale x (x - zero point) in double, rounded to float32, as the reference. */
void nn_dequantize_s16(const nn_quantize16_params *p, const int16_t *in, float *out)
{
    double scale = p->scale;
    for (int i = 0; i < p->size; i++)
        out[i] = (float)(scale * (in[i] - p->zero_point));
}

/* The reference's int16 table lookup: 512 intervals over the int16 range (a 513th entry for the
 * last slope), linear interpolation on the low 7 bits, rounded. */
static inline int16_t lut16(const int16_t *lut, int32_t v)
{
    int index = 256 + (v >> 7);
    int16_t base = lut[index], slope = (int16_t)(lut[index + 1] - base);
    return (int16_t)(base + ((slope * (v & 0x7f) + 64) >> 7));
}

/* SOFTMAX int16 -> int16 (output scale 1/32768) per row: exp of the rescaled difference to the row
 * maximum from a table (Q0.15), the sum's reciprocal from a table of 1/(1 + x) after normalising it,
 * each exp scaled by it; the exps of a row are kept in p->exps. */
void nn_softmax_s16(const nn_softmax16_params *p, const int16_t *in, int16_t *out)
{
    for (int r = 0; r < p->rows; r++, in += p->depth, out += p->depth) {
        int16_t max = INT16_MIN;
        for (int j = 0; j < p->depth; j++)
            max = in[j] > max ? in[j] : max;
        int32_t sum = 0;
        for (int j = 0; j < p->depth; j++) {
            int32_t scaled = nn_requantize_gemmlowp(in[j] - max, p->input_multiplier, p->input_shift) + 32767;
            p->exps[j] = lut16(p->exp_lut, nn_clamp16(scaled, INT16_MIN, INT16_MAX));
            sum += p->exps[j];
        }
        int headroom = __builtin_clz((uint32_t)sum); /* sum >= the maximum's exp, nearly 1.0 */
        int32_t normalised = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        int32_t reciprocal = lut16(p->reciprocal_lut, nn_clamp16(normalised - (1 << 15) - (1 << 16), INT16_MIN,
                                                                 INT16_MAX));
        int shift = 31 - headroom;
        for (int j = 0; j < p->depth; j++) {
            int32_t v = (int32_t)(((int64_t)p->exps[j] * reciprocal + ((int64_t)1 << (shift - 1))) >> shift);
            out[j] = nn_clamp16(v, 0, INT16_MAX);
        }
    }
}

/* LOGISTIC and TANH int16 -> int16 (output scale 1/32768) as the reference's LUT kernels: the input
 * rescaled (multiplier, left_shift: the generator's, after the reference's Prepare) so that 2^9
 * (LOGISTIC) or 2^8 (TANH, tanh(x) = 2 sigmoid(2x) - 1) steps are one interval of the table of
 * sigmoid(i / 24) in 0.16 fixed point, linear interpolation on |x|, the sign folded back. */
static inline int32_t sigmoid_input(const nn_sigmoid16_params *p, int16_t x, int32_t round)
{
    return (x * p->multiplier + round) >> p->left_shift;
}

void nn_logistic_s16(const nn_sigmoid16_params *p, const int16_t *in, int16_t *out)
{
    int32_t round = p->left_shift > 0 ? 1 << (p->left_shift - 1) : 0;
    for (int i = 0; i < p->size; i++) {
        int32_t v = sigmoid_input(p, in[i], round);
        uint32_t a = v < 0 ? -(uint32_t)v : (uint32_t)v, high = a >> 9, r;
        if (high >= 255) {
            r = 0x7FFFu << 10;
        } else {
            uint32_t lo = p->table[high], hi = p->table[high + 1];
            r = (lo << 9) + (a & 0x1FF) * (hi - lo);
        }
        r = v >= 0 ? r + (1 << 9) : (1u << 25) - r + (1 << 9) - 1;
        out[i] = (int16_t)(r >> 10);
    }
}

void nn_tanh_s16(const nn_sigmoid16_params *p, const int16_t *in, int16_t *out)
{
    int32_t round = p->left_shift > 0 ? 1 << (p->left_shift - 1) : 0;
    for (int i = 0; i < p->size; i++) {
        int32_t v = sigmoid_input(p, in[i], round);
        uint32_t a = v < 0 ? -(uint32_t)v : (uint32_t)v, high = a >> 8;
        int32_t r;
        if (high >= 255) {
            r = 0xFFFF << 8;
        } else {
            uint32_t lo = p->table[high], hi = p->table[high + 1];
            r = (int32_t)((lo << 8) + (a & 0xFF) * (hi - lo));
        }
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
    }
}

/* LEAKY_RELU int16 -> int16 as the reference's QuantizeLeakyRelu (zero points 0): x >= 0 rescaled by
 * input / output scale, x < 0 by |alpha| x input / output scale and negated for a negative alpha,
 * each with gemmlowp's two roundings, clamped to int16. */
void nn_leaky_relu_s16(const nn_leaky_relu16_params *p, const int16_t *in, int16_t *out)
{
    for (int i = 0; i < p->size; i++) {
        int32_t x = in[i], v;
        if (x >= 0) {
            v = nn_requantize_gemmlowp(x, p->identity_multiplier, p->identity_shift);
        } else {
            v = nn_requantize_gemmlowp(x, p->alpha_multiplier, p->alpha_shift);
            v = p->alpha_negative ? -v : v;
        }
        out[i] = nn_clamp16(v, INT16_MIN, INT16_MAX);
    }
}
