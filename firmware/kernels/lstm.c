/* UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer, with the reference interpreter's arithmetic
 * (lstm_eval's EvalInteger8x8_16): per time step each gate is the two int8 matrix products
 * (input, previous output state), each requantised to Q3.12 and summed saturating in int16, then
 * (with layer normalisation: normalised, scaled and biased per gate), then sigmoid or tanh in
 * gemmlowp's int16 fixed point (Q0.15 out); the int16 cell state is
 * forget * cell + input * cell gate (rounding shifts), clipped; the output is the output gate times
 * tanh of the cell, requantised to int8, the output state (or projected to it). The generator computes all multipliers and the effective
 * biases (zero-point row sums) as the interpreter's Prepare does. */
#include "simmcu_nn.h"

enum { GATE_INPUT, GATE_FORGET, GATE_CELL, GATE_OUTPUT };

/* gemmlowp's int16 primitives: raw values of FixedPoint<int16_t, integer bits>. Sums of raw
 * values wrap as gemmlowp's int16 Add does; AddSaturatingIf16Bit saturates. */
static inline int16_t sat16(int32_t v)
{
    return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

/* SaturatingRoundingDoublingHighMul for int16 (nudge, then division towards zero). */
static inline int16_t mul16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN)
        return INT16_MAX;
    int32_t ab = (int32_t)a * b;
    return (int16_t)((ab + (ab >= 0 ? (1 << 14) : 1 - (1 << 14))) / (1 << 15));
}

/* SaturatingRoundingMultiplyByPOT<e> for e > 0. */
static inline int16_t shl16(int16_t x, int e)
{
    int32_t threshold = (1 << (15 - e)) - 1;
    return x > threshold ? INT16_MAX : x < -threshold ? INT16_MIN : (int16_t)(x * (1 << e));
}

/* exp(a) for a in [-1/4, 0) (Q0.15): Taylor series around -1/8. The constants are gemmlowp's int32
 * ones rescaled to int16 (rounding division by 2^16): exp(-1/8) and 1/3. */
static int16_t exp_quarter(int16_t a)
{
    const int16_t exp_minus_eighth = 28918, third = 10923;
    int16_t x = (int16_t)(a + (1 << 12));
    int16_t x2 = mul16(x, x), x3 = mul16(x2, x), x4 = mul16(x2, x2);
    int16_t x4_over_4 = (int16_t)nn_div_pot(x4, 2);
    int16_t poly = (int16_t)nn_div_pot((int16_t)(mul16((int16_t)(x4_over_4 + x3), third) + x2), 1);
    return sat16(exp_minus_eighth + mul16(exp_minus_eighth, (int16_t)(x + poly)));
}

/* exp(a) for a <= 0 with ``bits`` integer bits (Q0.15 out): exp of a mod 1/4, times exp(-2^k)
 * for each bit k of the rest (gemmlowp's barrel shifter, its constants rescaled to int16). */
static int16_t exp_negative(int16_t a, int bits)
{
    static const int16_t exp_of_minus_pot[7] = {25520, 19875, 12055, 4435, 600, 11, 0}; /* exp(-2^k), k = -2..4 */
    int fraction = 15 - bits;
    int16_t quarter = (int16_t)(1 << (fraction - 2));
    int16_t a_mod = (int16_t)((a & (quarter - 1)) - quarter);
    int16_t result = exp_quarter(bits ? shl16(a_mod, bits) : a_mod);
    int16_t remainder = (int16_t)(a_mod - a);
    for (int k = -2; k <= 4 && bits > k; k++)
        if (remainder & (1 << (fraction + k)))
            result = mul16(result, exp_of_minus_pot[k + 2]);
    if (bits > 5 && a < (int16_t)nn_div_pot(-(1 << (36 - bits)), 16)) /* below -32: 0 */
        result = 0;
    return a == 0 ? INT16_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1] (Q0.15), as Q2.13: three Newton-Raphson steps from 48/17 - 32/17 x. */
static int16_t reciprocal_one_plus(int16_t a)
{
    const int16_t c48_17 = 23130, c_neg32_17 = -15420;
    int32_t sum = (int32_t)a + INT16_MAX;
    int16_t half_denominator = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2); /* RoundingHalfSum */
    int16_t x = (int16_t)(c48_17 + mul16(half_denominator, c_neg32_17));
    for (int i = 0; i < 3; i++) {
        int16_t one_minus = (int16_t)((1 << 13) - mul16(half_denominator, x));
        x = (int16_t)(x + shl16(mul16(x, one_minus), 2));
    }
    return x;
}

static int16_t logistic16(int16_t a, int bits)
{
    if (a == 0)
        return 1 << 14;
    int16_t magnitude = a > 0 ? a : (int16_t)-a;
    int16_t positive = shl16(reciprocal_one_plus(exp_negative((int16_t)-magnitude, bits)), 1);
    return a > 0 ? positive : (int16_t)(INT16_MAX - positive);
}

static int16_t tanh16(int16_t a, int bits)
{
    if (a == 0)
        return 0;
    int16_t negative = a < 0 ? a : (int16_t)-a;
    int16_t t = shl16((int16_t)(reciprocal_one_plus(exp_negative(negative, bits + 1)) - (1 << 13)), 2);
    return a < 0 ? (int16_t)-t : t;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<e> for int32, e > 0. */
static inline int32_t shl32(int32_t x, int e)
{
    int32_t threshold = (int32_t)((1u << (31 - e)) - 1);
    return x > threshold ? INT32_MAX : x < -threshold ? INT32_MIN : (int32_t)((uint32_t)x << e);
}

/* 1 / sqrt(v) as a multiplier and left shift (TFLite's GetInvSqrtQuantizedMultiplierExp with
 * reverse_shift -1): v normalised to [2^27, 2^29) by pairs of bits, five Newton-Raphson steps in
 * Q3.28, times sqrt(2) / 2. */
static void inv_sqrt(int32_t v, int32_t *multiplier, int32_t *shift)
{
    if (v <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    int32_t exponent = 11;
    while (v >= (1 << 29)) {
        v /= 4;
        exponent++;
    }
    int pairs = (__builtin_clz((uint32_t)v) - 1) / 2 - 1;
    exponent -= pairs;
    v <<= 2 * pairs;
    const int32_t half_three = (1 << 28) + (1 << 27), half_sqrt2 = 1518500250;
    int32_t half_input = nn_div_pot(v >> 1, 1), x = 1 << 28;
    for (int i = 0; i < 5; i++) {
        int32_t x3 = shl32(nn_mul_high(nn_mul_high(x, x), x), 6);
        x = shl32((int32_t)((uint32_t)nn_mul_high(half_three, x) - (uint32_t)nn_mul_high(half_input, x3)), 3);
    }
    x = nn_mul_high(x, half_sqrt2);
    if (exponent < 0) {
        x = (int32_t)((uint32_t)x << -exponent);
        exponent = 0;
    }
    *multiplier = x;
    *shift = -exponent;
}

/* TFLite's integer ApplyLayerNorm over one gate: mean and variance with 2^10 of extra resolution,
 * the variance guard when it is below 1, the normalised value times the coefficient plus the bias
 * (int32 arithmetic, as the reference), rounded by 2^10, requantised to Q3.12. */
static void layer_norm(const nn_lstm_params *p, int g, int16_t *gate)
{
    int32_t n = p->n_cell;
    int64_t sum = 0, sum_sq = 0;
    for (int32_t j = 0; j < n; j++) {
        sum += gate[j];
        sum_sq += (int32_t)gate[j] * gate[j];
    }
    int32_t mean = (int32_t)(sum * 1024 / n);
    int64_t variance = sum_sq * ((1 << 20) / n) - (int64_t)mean * mean;
    int32_t variance2 = (int32_t)(variance / (1 << 20)), multiplier, shift;
    inv_sqrt(variance2 < 1 ? p->ln_guard[g] : variance2, &multiplier, &shift);
    const int16_t *w = p->ln_weights[g];
    const int32_t *bias = p->ln_bias[g];
    for (int32_t j = 0; j < n; j++) {
        int32_t rescaled = nn_requantize_gemmlowp(1024 * gate[j] - mean, multiplier, shift);
        int64_t weighted = (int32_t)((uint32_t)rescaled * (uint32_t)(int32_t)w[j] + (uint32_t)bias[j]);
        int32_t rounded = (int32_t)((weighted > 0 ? weighted + 512 : weighted - 512) / 1024);
        gate[j] = sat16(nn_requantize_gemmlowp(rounded, p->ln_multiplier[g], p->ln_shift[g] + 12));
    }
}

/* gate[r] = sat16(gate[r] + requant(bias[r] + sum_c w[r][c] * v[c])) */
static void accumulate(int16_t *gate, const int8_t *w, const int32_t *bias, const int8_t *v, int32_t rows,
                       int32_t cols, int32_t multiplier, int32_t shift)
{
    for (int32_t r = 0; r < rows; r++, w += cols) {
        int32_t acc = bias[r];
        for (int32_t c = 0; c < cols; c++)
            acc += w[c] * v[c];
        gate[r] = sat16(gate[r] + nn_requantize_gemmlowp(acc, multiplier, shift));
    }
}

static void gate_of(const nn_lstm_params *p, int g, const int8_t *x, int16_t *gate)
{
    for (int32_t r = 0; r < p->n_cell; r++)
        gate[r] = 0;
    accumulate(gate, p->in_weights[g], p->in_bias[g], x, p->n_cell, p->n_input, p->in_multiplier[g],
               p->in_shift[g]);
    accumulate(gate, p->rec_weights[g], p->rec_bias[g], p->output_state, p->n_cell, p->n_output,
               p->rec_multiplier[g], p->rec_shift[g]);
    if (p->peephole[g]) /* the input and forget gates see the previous cell state, the output gate the new */
        for (int32_t r = 0; r < p->n_cell; r++)
            gate[r] = sat16(gate[r] + nn_requantize_gemmlowp((int32_t)p->peephole[g][r] * p->cell_state[r],
                                                             p->peephole_multiplier[g], p->peephole_shift[g]));
    if (p->ln_weights[g])
        layer_norm(p, g, gate);
    for (int32_t r = 0; r < p->n_cell; r++)
        gate[r] = g == GATE_CELL ? tanh16(gate[r], 3) : logistic16(gate[r], 3);
}

/* One sequence: steps apart by in_step / out_step elements, from the reset state. */
static void sequence(const nn_lstm_params *p, const int8_t *in, int8_t *out)
{
    int32_t n = p->n_cell;
    int16_t *input_gate = p->scratch, *forget_gate = input_gate + n, *cell_gate = forget_gate + n;
    int16_t *output_gate = cell_gate + n, *cell = p->cell_state;
    int cell_bits = 15 + p->cell_exponent, product_shift = 30 + p->cell_exponent;
    for (int32_t i = 0; i < p->n_output; i++)
        p->output_state[i] = (int8_t)p->state_zp;
    for (int32_t i = 0; i < n; i++)
        cell[i] = 0;
    for (int32_t t = 0; t < p->steps; t++, in += p->in_step, out += p->out_step) {
        gate_of(p, GATE_FORGET, in, forget_gate);
        gate_of(p, GATE_CELL, in, cell_gate);
        int cifg = p->in_weights[GATE_INPUT] == 0;
        if (!cifg)
            gate_of(p, GATE_INPUT, in, input_gate);
        for (int32_t i = 0; i < n; i++) {
            int16_t kept = (int16_t)nn_div_pot((int32_t)forget_gate[i] * cell[i], 15);
            int16_t in_gate = cifg ? (int16_t)(INT16_MAX - forget_gate[i]) : input_gate[i];
            int16_t added = (int16_t)nn_div_pot((int32_t)in_gate * cell_gate[i], product_shift);
            int16_t c = sat16(kept + added);
            if (p->cell_clip > 0)
                c = c > p->cell_clip ? (int16_t)p->cell_clip : c < -p->cell_clip ? (int16_t)-p->cell_clip : c;
            cell[i] = c;
        }
        gate_of(p, GATE_OUTPUT, in, output_gate);
        int8_t *hidden = p->proj_weights ? (int8_t *)(output_gate + n) : p->output_state;
        for (int32_t i = 0; i < n; i++) {
            int32_t h = nn_requantize_gemmlowp((int32_t)output_gate[i] * tanh16(cell[i], cell_bits),
                                               p->hidden_multiplier, p->hidden_shift) + p->hidden_zp;
            hidden[i] = nn_clamp(h, -128, 127);
        }
        if (p->proj_weights) {
            const int8_t *w = p->proj_weights;
            int32_t lo = p->proj_clip > 0 ? -p->proj_clip : -128, hi = p->proj_clip > 0 ? p->proj_clip : 127;
            for (int32_t r = 0; r < p->n_output; r++, w += n) {
                int32_t acc = p->proj_bias[r];
                for (int32_t c = 0; c < n; c++)
                    acc += w[c] * hidden[c];
                p->output_state[r] = nn_clamp(nn_clamp(nn_requantize_gemmlowp(acc, p->proj_multiplier,
                                                                              p->proj_shift) + p->state_zp,
                                                       -128, 127), lo, hi);
            }
        }
        for (int32_t i = 0; i < p->n_output; i++)
            out[i] = p->output_state[i];
    }
}

void nn_lstm(const nn_lstm_params *p, const int8_t *in, int8_t *out)
{
    for (int32_t b = 0; b < p->batches; b++) { /* independent sequences, each with its rows of the states */
        nn_lstm_params one = *p;
        one.output_state += b * p->n_output;
        one.cell_state += b * p->n_cell;
        sequence(&one, in + b * p->in_batch, out + b * p->out_batch);
    }
}
