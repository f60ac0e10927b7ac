/* ADD, int8, same shapes (TFLite reference_integer_ops::Add): each input, offset and shifted left
 * by 20 bits, is rescaled to twice the larger input scale; the sum is requantised to the output. */
#include "simmcu_nn.h"

void nn_add(const nn_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    for (int i = 0; i < p->size; i++) {
        int32_t a = nn_requantize_gemmlowp((in1[i] + p->in1_offset) * (1 << 20), p->in1_multiplier, p->in1_shift);
        int32_t b = nn_requantize_gemmlowp((in2[i] + p->in2_offset) * (1 << 20), p->in2_multiplier, p->in2_shift);
        out[i] = nn_clamp(nn_requantize_gemmlowp(a + b, p->out_multiplier, p->out_shift) + p->out_zp, p->act_min, p->act_max);
    }
}
