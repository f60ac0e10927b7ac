/* FULLY_CONNECTED, int8, portable C (TFLite reference_integer_ops::FullyConnected). */
#include "simmcu_nn.h"

void nn_fully_connected(const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out, int batches,
                        int depth, int channels, int32_t in_offset, const int32_t *multiplier,
                        const int32_t *shift, int32_t out_zp, int32_t act_min, int32_t act_max)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *x = in + b * depth;
        for (int o = 0; o < channels; o++) {
            const int8_t *wo = w + o * depth;
            int32_t acc = bias ? bias[o] : 0;
            for (int d = 0; d < depth; d++)
                acc += (x[d] + in_offset) * wo[d];
            out[b * channels + o] = nn_clamp(nn_requantize(acc, multiplier[o], shift[o]) + out_zp, act_min, act_max);
        }
    }
}
