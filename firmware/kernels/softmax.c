/* SOFTMAX int8 -> int8, TFLite's reference kernel: gemmlowp fixed-point arithmetic (the scaled
 * input difference in Q5.26, exp in Q0.31, the sum of exps in Q12.19, one Newton-Raphson
 * reciprocal per row), so the result is bit-exact with the reference interpreter. */
#include "simmcu_nn.h"

/* gemmlowp SaturatingRoundingMultiplyByPOT for e > 0. */
static int32_t mul_pot(int32_t x, int e)
{
    int32_t threshold = (int32_t)((1u << (31 - e)) - 1);
    return x > threshold ? INT32_MAX : x < -threshold ? INT32_MIN : (int32_t)((uint32_t)x << e);
}

/* exp(a) for a in [-1/4, 0), Q0.31: Taylor series around -1/8. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668, one_third = 715827883;
    int32_t x = a + (1 << 28);
    int32_t x2 = nn_mul_high(x, x), x3 = nn_mul_high(x2, x), x4 = nn_mul_high(x2, x2);
    int32_t tail = nn_div_pot(nn_mul_high(nn_div_pot(x4, 2) + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + nn_mul_high(exp_minus_one_eighth, x + tail);
}

/* exp(a) for a <= 0 in Q5.26, result Q0.31: the remainder modulo 1/4 by series, the rest by a
 * product of exp(-2^k) constants. */
static int32_t exp_negative(int32_t a)
{
    static const int32_t exp_minus_pow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    int32_t quarter = 1 << 24;
    int32_t a_mod = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(mul_pot(a_mod, 5));
    int32_t remainder = a_mod - a;
    for (int k = 0; k < 7; k++)
        if (remainder & (1 << (24 + k)))
            result = nn_mul_high(result, exp_minus_pow2[k]);
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in, Q0.31 out (as 1/2 .. 1): three Newton-Raphson steps in Q2.29. */
static int32_t one_over_one_plus(int32_t a)
{
    int32_t half_denominator = (int32_t)(((int64_t)a + INT32_MAX + 1) >> 1);
    int32_t x = 1515870810 + nn_mul_high(half_denominator, -1010580540); /* 48/17 - 32/17 d */
    for (int i = 0; i < 3; i++)
        x += mul_pot(nn_mul_high(x, (1 << 29) - nn_mul_high(half_denominator, x)), 2);
    return mul_pot(x, 1);
}

void nn_softmax(const nn_softmax_params *p, const int8_t *in, int8_t *out)
{
    for (int r = 0; r < p->rows; r++, in += p->depth, out += p->depth) {
        int32_t max = -128;
        for (int c = 0; c < p->depth; c++)
            max = in[c] > max ? in[c] : max;
        int32_t sum = 0; /* Q12.19 */
        for (int c = 0; c < p->depth; c++) {
            int32_t diff = in[c] - max;
            if (diff >= p->diff_min)
                sum += nn_div_pot(exp_negative(nn_requantize_gemmlowp(diff, p->input_multiplier, p->input_left_shift)), 12);
        }
        int headroom = __builtin_clz((uint32_t)sum);
        int bits_over_unit = 12 - headroom;
        int32_t scale = one_over_one_plus((int32_t)(((uint32_t)sum << headroom) - (1u << 31)));
        for (int c = 0; c < p->depth; c++) {
            int32_t diff = in[c] - max;
            int32_t v = -128;
            if (diff >= p->diff_min) {
                int32_t e = exp_negative(nn_requantize_gemmlowp(diff, p->input_multiplier, p->input_left_shift));
                v = nn_div_pot(nn_mul_high(scale, e), bits_over_unit + 31 - 8) - 128;
            }
            out[c] = nn_clamp(v, -128, 127);
        }
    }
}
