/* simmcu's int8 kernel library (firmware/kernels/): TFLite int8 semantics, the reference kernels'
 * rounding. Shapes are NHWC; weights as TFLite stores them. */
#ifndef SIMMCU_NN_H
#define SIMMCU_NN_H
#include <stdint.h>

/* TFLite MultiplyByQuantizedMultiplier as the reference interpreter builds it (TFLITE_SINGLE_ROUNDING):
 * x * multiplier * 2^(shift - 31), rounded once, half up. multiplier >= 0, -31 <= shift <= 30. */
static inline int32_t nn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - shift;
    return (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << (total - 1))) >> total);
}

static inline int8_t nn_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* FULLY_CONNECTED: out[b][o] = clamp(requant(sum_d (in[b][d] + in_offset) * w[o][d] + bias[o]) + out_zp).
 * multiplier/shift per output channel. */
void nn_fully_connected(const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out, int batches,
                        int depth, int channels, int32_t in_offset, const int32_t *multiplier,
                        const int32_t *shift, int32_t out_zp, int32_t act_min, int32_t act_max);
#endif
