/* The elementwise operators: table lookups for the int8 -> int8 unary operators (LOGISTIC, TANH,
 * HARD_SWISH, LEAKY_RELU, requantising QUANTIZE) and DEQUANTIZE, whose tables the generator computes
 * with the reference kernels' arithmetic; QUANTIZE from float32 by thresholds (no float arithmetic,
 * so no soft-float routines on cores without an FPU); and the broadcasting binary operators, int8
 * and int16. */
#include "simmcu_nn.h"

enum { NN_OP_ADD, NN_OP_MUL, NN_OP_MAXIMUM, NN_OP_MINIMUM };

void nn_lut(const nn_lut_params *p, const int8_t *in, int8_t *out)
{
    const int8_t *table = p->table + 128;
    for (int32_t i = 0; i < p->size; i++)
        out[i] = table[in[i]];
}

void nn_lut32(const nn_lut32_params *p, const int8_t *in, uint32_t *out)
{
    const uint32_t *table = p->table + 128;
    for (int32_t i = 0; i < p->size; i++)
        out[i] = table[in[i]];
}

void nn_quantize(const nn_quantize_params *p, const uint32_t *in, int8_t *out)
{
    const int32_t *t = p->thresholds;
    for (int32_t i = 0; i < p->size; i++) {
        int32_t bits = (int32_t)in[i], key = bits ^ ((bits >> 31) & 0x7fffffff);
        int n = 0; /* thresholds at or below key: the steps sum to 255, so t[n + step - 1] stays inside */
        for (int step = 128; step; step >>= 1)
            if (key >= t[n + step - 1])
                n += step;
        out[i] = (int8_t)(n - 128);
    }
}

/* One output: a value in act_min .. act_max (the output type's range for MAXIMUM and MINIMUM, whose
 * results are input values), stored by the caller in the output's type. ADD shifts its offset inputs
 * left by ``left_shift`` before rescaling them (the reference's headroom: 20 for int8, 15 for int16). */
static inline __attribute__((always_inline)) int32_t binary_one(const nn_binary_params *p, int op, int left_shift,
                                                                int32_t a, int32_t b)
{
    if (op == NN_OP_MAXIMUM)
        return a > b ? a : b;
    if (op == NN_OP_MINIMUM)
        return a < b ? a : b;
    int32_t v;
    if (op == NN_OP_MUL) {
        v = nn_requantize_gemmlowp((a + p->in1_offset) * (b + p->in2_offset), p->out_multiplier, p->out_shift);
    } else {
        a = nn_requantize_gemmlowp((a + p->in1_offset) * (1 << left_shift), p->in1_multiplier, p->in1_shift);
        b = nn_requantize_gemmlowp((b + p->in2_offset) * (1 << left_shift), p->in2_multiplier, p->in2_shift);
        v = nn_requantize_gemmlowp(a + b, p->out_multiplier, p->out_shift);
    }
    v += p->out_zp;
    return v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
}

/* The outer five dimensions as nested loops, the innermost as one strided run (``op`` is a constant
 * once inlined, so each operator has its own loop), over elements of type T (int8_t; int16_t for
 * the int16x8 operators, whose zero points are 0) with ADD's ``left_shift``. */
#define NN_BINARY_LOOP(name, T, left_shift)                                                                       \
    static inline __attribute__((always_inline)) void name(const nn_binary_params *p, const T *in1, const T *in2, \
                                                           T *out, int op)                                        \
    {                                                                                                             \
        const int32_t *d = p->dims, *s1 = p->stride1, *s2 = p->stride2;                                          \
        int32_t n = d[5], step1 = s1[5], step2 = s2[5];                                                           \
        for (int i0 = 0; i0 < d[0]; i0++)                                                                         \
            for (int i1 = 0; i1 < d[1]; i1++)                                                                     \
                for (int i2 = 0; i2 < d[2]; i2++)                                                                 \
                    for (int i3 = 0; i3 < d[3]; i3++)                                                             \
                        for (int i4 = 0; i4 < d[4]; i4++, out += n) {                                             \
                            const T *a = in1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];    \
                            const T *b = in2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];    \
                            for (int32_t k = 0; k < n; k++)                                                       \
                                out[k] = (T)binary_one(p, op, left_shift, a[k * step1], b[k * step2]);            \
                        }                                                                                         \
    }
NN_BINARY_LOOP(binary, int8_t, 20)
NN_BINARY_LOOP(binary16, int16_t, 15)

/* One kernel per operator and type (the generator calls the one it needs): one function holding all
 * four loops would outgrow Thumb-1's branch range, and its far branches (BL) read as calls. The
 * parameters are copied so that they are not reloaded after each output store (see conv.c). */
#define NN_BINARY(name, T, loop, op)                                                   \
    void name(const nn_binary_params *params, const T *in1, const T *in2, T *out)      \
    {                                                                                  \
        const nn_binary_params local = *params;                                        \
        loop(&local, in1, in2, out, op);                                               \
    }
NN_BINARY(nn_add_broadcast, int8_t, binary, NN_OP_ADD)
NN_BINARY(nn_mul, int8_t, binary, NN_OP_MUL)
NN_BINARY(nn_maximum, int8_t, binary, NN_OP_MAXIMUM)
NN_BINARY(nn_minimum, int8_t, binary, NN_OP_MINIMUM)
NN_BINARY(nn_add_broadcast_s16, int16_t, binary16, NN_OP_ADD)
NN_BINARY(nn_mul_s16, int16_t, binary16, NN_OP_MUL)
NN_BINARY(nn_maximum_s16, int16_t, binary16, NN_OP_MAXIMUM)
NN_BINARY(nn_minimum_s16, int16_t, binary16, NN_OP_MINIMUM)
