/* simmcu's int8 kernel library (firmware/kernels/): TFLite int8 semantics, the reference kernels'
 * rounding. Tensors are NHWC with batch 1 for the spatial operators; weights as TFLite stores them.
 * Each operator takes a constant parameter block the code generator writes into flash. */
#ifndef SIMMCU_NN_H
#define SIMMCU_NN_H
#include <stdint.h>

/* The reference interpreter (ai-edge-litert's BUILTIN_REF kernels) requantises with two roundings:
 * FULLY_CONNECTED rounds x * multiplier * 2^(shift - 31) once, half up (TFLITE_SINGLE_ROUNDING);
 * the convolutions, ADD and SOFTMAX round twice, as gemmlowp: the doubling high multiply, then the
 * shift, each half away from zero. multiplier >= 0, -31 <= shift <= 30. */
static inline int32_t nn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - shift;
    return (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << (total - 1))) >> total);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded, saturating the one overflow.
 * gemmlowp nudges by +-2^30 and divides towards zero; for integers that is the same as adding
 * 2^30 and shifting (rounding half up), without the branches. */
static inline int32_t nn_mul_high(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    return (int32_t)(((int64_t)a * b + (1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded half away from zero. */
static inline int32_t nn_div_pot(int32_t x, int e)
{
    int32_t mask = (int32_t)((1u << e) - 1), remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> e) + (remainder > threshold);
}

static inline int32_t nn_requantize_gemmlowp(int32_t x, int32_t multiplier, int32_t shift)
{
    return shift > 0 ? nn_mul_high((int32_t)((uint32_t)x << shift), multiplier)
                     : nn_div_pot(nn_mul_high(x, multiplier), -shift);
}

static inline int8_t nn_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (a 1x1 convolution over in_w = batches pixels).
 * out = clamp(requant(bias + sum (in + in_offset) * w, multiplier[o], shift[o]) + out_zp). */
typedef struct {
    const int8_t *weights;     /* conv: [out_c][taps] (OHWI, zero-padded to taps); depthwise: [kh][kw][out_c] */
    const int32_t *bias;       /* [out_c] or 0 */
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift;      /* [out_c] */
    const int32_t *quant;      /* conv coprocessor: [out_c][2] multiplier, shift; 0 when not offloaded */
    int8_t *scratch;           /* 4-byte aligned; conv: one output pixel's input patch (taps bytes);
                                * depthwise: out_c int32 accumulators, unless the multiplier is 1 and out_c % 4 == 0 */
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, pad_bottom, pad_right;
    int32_t taps;              /* conv: a weight row's length, kh * kw * in_c rounded up for aligned word access */
    int32_t single_rounding;   /* requantise with nn_requantize (FULLY_CONNECTED), else nn_requantize_gemmlowp */
    int32_t in_offset, out_zp, act_min, act_max;
} nn_conv_params;

void nn_conv2d(const nn_conv_params *p, const int8_t *in, int8_t *out);
void nn_depthwise_conv2d(const nn_conv_params *p, const int8_t *in, int8_t *out);
/* Either on the conv coprocessor (simmcu_conv.h), polling; 0 on success, else its ERROR register. */
uint32_t nn_conv2d_offload(const nn_conv_params *p, const int8_t *in, int8_t *out, int depthwise);

/* The int16x8 convolutions (kernels/int16.c): int16 activations (zero point 0), int8 weights, int64
 * bias, the sum in int64 requantised with one rounding half up, as the reference interpreter does:
 * CONV_2D and DEPTHWISE_CONV_2D (MultiplyByQuantizedMultiplier on int64) with the multiplier reduced
 * to 16 bits by the generator ((m + 2^15) >> 16, at most 2^15 - 1); FULLY_CONNECTED with the whole
 * 32-bit multiplier and the exact product (nn_requantize64_exact). -31 <= shift <= 14. */
static inline int32_t nn_requantize64(int64_t x, int32_t reduced_multiplier, int32_t shift)
{
    int total = 15 - shift;
    return (int32_t)((x * reduced_multiplier + ((int64_t)1 << (total - 1))) >> total);
}

/* (x * multiplier + 2^(total - 1)) >> total, total = 31 - shift, without the 79-bit product: x is
 * split at bit 16 (|x| < 2^47, the reference's own bound, keeps the high part's product in range). */
static inline int32_t nn_requantize64_exact(int64_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - shift;
    int64_t high = (x >> 16) * multiplier;
    int64_t low = (int64_t)(x & 0xFFFF) * multiplier + ((int64_t)1 << (total - 1));
    return (int32_t)((high + (low >> 16)) >> (total - 16));
}

typedef struct {
    const int8_t *weights;     /* conv: [out_c][kh][kw][in_c] (FULLY_CONNECTED [out_c][in_c]); depthwise: [kh][kw][out_c] */
    const int64_t *bias;       /* [out_c] or 0 */
    const int32_t *multiplier; /* [out_c]: 32-bit (single_rounding) or reduced to 16 bits */
    const int32_t *shift;      /* [out_c] */
    int32_t *scratch;          /* depthwise: out_c int32 sums; else 0 */
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t single_rounding;   /* FULLY_CONNECTED: nn_requantize64_exact, else nn_requantize64 */
    int32_t act_min, act_max;
} nn_conv16_params;

void nn_conv2d_s16(const nn_conv16_params *p, const int16_t *in, int16_t *out);
void nn_depthwise_conv2d_s16(const nn_conv16_params *p, const int16_t *in, int16_t *out);

/* AVERAGE_POOL_2D and MAX_POOL_2D: windows clipped at the border, TFLite's rounding of the mean. */
typedef struct {
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t kh, kw, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} nn_pool_params;

void nn_average_pool(const nn_pool_params *p, const int8_t *in, int8_t *out);
void nn_max_pool(const nn_pool_params *p, const int8_t *in, int8_t *out);

/* ADD of two same-shape tensors: both rescaled to twice the larger input scale with 20 bits of
 * headroom (TFLite's left_shift), summed, requantised to the output. */
typedef struct {
    int32_t size;
    int32_t in1_offset, in1_multiplier, in1_shift;
    int32_t in2_offset, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift, out_zp, act_min, act_max;
} nn_add_params;

void nn_add(const nn_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* int16 (zero points 0): 15 bits of headroom, as the reference's int16 left_shift. */
void nn_add_s16(const nn_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128) over the last dimension, in
 * gemmlowp fixed point: exp of the scaled difference to the row maximum, one reciprocal per row. */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} nn_softmax_params;

void nn_softmax(const nn_softmax_params *p, const int8_t *in, int8_t *out);

/* The int16 pools (kernels/int16.c), with the int8 pools' parameter block. */
void nn_average_pool_s16(const nn_pool_params *p, const int16_t *in, int16_t *out);
void nn_max_pool_s16(const nn_pool_params *p, const int16_t *in, int16_t *out);

/* QUANTIZE int8 <-> int16 and int16 -> int16: (x - in_zp) requantised (gemmlowp), + out_zp, clamped. */
typedef struct {
    int32_t size, multiplier, shift, in_zp, out_zp, out_min, out_max;
} nn_requantize_params;

void nn_requantize_s8_s16(const nn_requantize_params *p, const int8_t *in, int16_t *out);
void nn_requantize_s16_s8(const nn_requantize_params *p, const int16_t *in, int8_t *out);
void nn_requantize_s16_s16(const nn_requantize_params *p, const int16_t *in, int16_t *out);

/* QUANTIZE float32 -> int16 and DEQUANTIZE int16 -> float32, in float arithmetic (no table: 65536 entries). */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} nn_quantize16_params;

void nn_quantize_s16(const nn_quantize16_params *p, const float *in, int16_t *out);
void nn_dequantize_s16(const nn_quantize16_params *p, const int16_t *in, float *out);

/* SOFTMAX int16 -> int16 over the last dimension (output scale 1/32768), as the reference's
 * SoftmaxInt16: two 513-entry tables the generator computes (exp on [-10, 0], 1/(1 + x) on [0, 1]). */
typedef struct {
    const int16_t *exp_lut, *reciprocal_lut;
    int16_t *exps;             /* scratch: one row's exps */
    int32_t rows, depth, input_multiplier, input_shift;
} nn_softmax16_params;

void nn_softmax_s16(const nn_softmax16_params *p, const int16_t *in, int16_t *out);

/* LOGISTIC and TANH int16 -> int16 (output scale 1/32768): the reference's interpolated table of
 * sigmoid(i / 24), i = 0..255, in 0.16 fixed point (table, the generator's), the input rescaled by
 * multiplier and left_shift. */
typedef struct {
    const uint16_t *table;
    int32_t size, multiplier, left_shift;
} nn_sigmoid16_params;

void nn_logistic_s16(const nn_sigmoid16_params *p, const int16_t *in, int16_t *out);
void nn_tanh_s16(const nn_sigmoid16_params *p, const int16_t *in, int16_t *out);

/* LEAKY_RELU int16 -> int16: (multiplier, shift) for x >= 0 (input / output scale) and x < 0
 * (|alpha| x input / output scale, the result negated when alpha_negative). */
typedef struct {
    int32_t size, identity_multiplier, identity_shift, alpha_multiplier, alpha_shift, alpha_negative;
} nn_leaky_relu16_params;

void nn_leaky_relu_s16(const nn_leaky_relu16_params *p, const int16_t *in, int16_t *out);

/* Shapes of the elementwise, data-movement and reduction kernels: at most NN_MAX_DIMS dimensions,
 * padded with leading 1s (the generator collapses dimensions that are contiguous in every operand). */
#define NN_MAX_DIMS 6

/* LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU and QUANTIZE int8 -> int8: the output depends on the input
 * byte alone, so the generator computes the reference kernel's result for all 256 inputs (table[v + 128]). */
typedef struct {
    const int8_t *table;
    int32_t size;
} nn_lut_params;

void nn_lut(const nn_lut_params *p, const int8_t *in, int8_t *out);

/* DEQUANTIZE int8 -> float32: the reference's float32 result per input byte, as bit patterns. */
typedef struct {
    const uint32_t *table;
    int32_t size;
} nn_lut32_params;

void nn_lut32(const nn_lut32_params *p, const int8_t *in, uint32_t *out);

/* QUANTIZE float32 -> int8 without float arithmetic: the reference's round(x / scale) + zero point
 * is monotonic in x, so the output is -128 + the number of thresholds at or below x, compared as
 * order-preserving integers (sign-magnitude bits folded to two's complement); 255 thresholds. */
typedef struct {
    const int32_t *thresholds;
    int32_t size;
} nn_quantize_params;

void nn_quantize(const nn_quantize_params *p, const uint32_t *in, int8_t *out);

/* ADD (nn_add_broadcast), MUL, MAXIMUM and MINIMUM with broadcasting: ``dims`` is the output's
 * shape, stride1/stride2 each input's element strides (0 along a broadcast dimension). ADD
 * rescales as nn_add (nn_add_broadcast_s16 as nn_add_s16); MUL requantises the product of the offset inputs; MAXIMUM and MINIMUM
 * compare the raw values. The _s16 kernels take int16 tensors (the int16x8 operators: zero
 * points 0, act_min/act_max in the int16 range). */

typedef struct {
    int32_t dims[NN_MAX_DIMS], stride1[NN_MAX_DIMS], stride2[NN_MAX_DIMS];
    int32_t in1_offset, in1_multiplier, in1_shift;
    int32_t in2_offset, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift, out_zp, act_min, act_max;
} nn_binary_params;

void nn_add_broadcast(const nn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void nn_add_broadcast_s16(const nn_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void nn_mul(const nn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void nn_maximum(const nn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void nn_minimum(const nn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void nn_mul_s16(const nn_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void nn_maximum_s16(const nn_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void nn_minimum_s16(const nn_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* PAD, PADV2, CONCATENATION (one call per input) and STRIDED_SLICE: a block of ``dims`` elements
 * (int8; int16 for nn_copy_s16) is copied from in + in_start (element strides, negative for a
 * reversed slice) to out + out_start; when fill_size > 0 the first fill_size output bytes are set to
 * elements of value ``fill`` first (the padding: the zero point, or PADV2's constant as it is). */
typedef struct {
    int32_t dims[NN_MAX_DIMS], in_stride[NN_MAX_DIMS], out_stride[NN_MAX_DIMS];
    int32_t in_start, out_start, fill_size, fill;
} nn_copy_params;

void nn_copy(const nn_copy_params *p, const int8_t *in, int8_t *out);
void nn_copy_s16(const nn_copy_params *p, const int16_t *in, int16_t *out);

/* MEAN over any axes (TFLite QuantizedMeanOrSum): the input (shape ``dims``) is summed into
 * out_size int32 accumulators (``acc``, in scratch; acc_stride is 0 along reduced axes), then each
 * sum less zp_sum (input zero point x count) is requantised with the multiplier folded with 1/count,
 * clamped to the output type (nn_mean_s16: int16, zero points 0; sums of at most 2^16 values). */
typedef struct {
    int32_t *acc;
    int32_t dims[NN_MAX_DIMS], acc_stride[NN_MAX_DIMS];
    int32_t out_size, zp_sum, multiplier, shift, out_zp;
} nn_mean_params;

void nn_mean(const nn_mean_params *p, const int8_t *in, int8_t *out);
void nn_mean_s16(const nn_mean_params *p, const int16_t *in, int16_t *out);

/* UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer (kernels/lstm.c): per gate (input, forget, cell,
 * output) the input and recurrent int8 weights [n_cell][n_input or n_output], their effective
 * biases (gate bias + row sums x -zero point) and requantisation to the Q3.12 gate; the input
 * gate's pointers are 0 for CIFG (input gate = 1 - forget gate). The output state (int8, quantised as
 * the output) and the int16 cell state (scale 2^cell_exponent) start from reset on every call;
 * scratch holds 4 x n_cell int16. One sequence (batch 1) of ``steps`` steps. */
typedef struct {
    const int8_t *in_weights[4], *rec_weights[4];
    const int32_t *in_bias[4], *rec_bias[4];
    int32_t in_multiplier[4], in_shift[4], rec_multiplier[4], rec_shift[4];
    int8_t *output_state;
    int16_t *cell_state, *scratch;
    int32_t batches, steps, in_step, in_batch, out_step, out_batch, n_input, n_cell, n_output, cell_exponent;
    int32_t hidden_multiplier, hidden_shift, hidden_zp, cell_clip, state_zp;
    const int8_t *proj_weights;
    const int32_t *proj_bias;
    int32_t proj_multiplier, proj_shift, proj_clip;
    const int16_t *ln_weights[4]; /* layer normalisation per gate (0: none): int16 coefficients, */
    const int32_t *ln_bias[4];    /* the gate bias (not in the effective biases then), the coefficient */
    int32_t ln_multiplier[4], ln_shift[4], ln_guard[4]; /* scale's multiplier and shift, variance guard */
    const int16_t *peephole[4];   /* cell-to-gate weights [n_cell] (0: none; never for the cell gate) */
    int32_t peephole_multiplier[4], peephole_shift[4];
} nn_lstm_params;

void nn_lstm(const nn_lstm_params *p, const int8_t *in, int8_t *out);
#endif
