/* CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on the conv coprocessor (simmcu_conv.h), compiled
 * into a model's firmware when conv is attached (ConvAccelerator.firmware): the
 * layer's parameter block becomes one job; the CPU polls until it is done. Weights must be
 * unpadded (taps == kh * kw * in_c) and the quantisation interleaved (quant). */
#include "simmcu_nn.h"
#include "simmcu_conv.h"

uint32_t nn_conv2d_offload(const nn_conv_params *p, const int8_t *in, int8_t *out, int depthwise)
{
    conv_job job = {in, p->weights, p->bias, p->quant, out, (uint32_t)p->in_h, (uint32_t)p->in_w,
                    (uint32_t)p->in_c, (uint32_t)p->out_c, (uint32_t)p->kh, (uint32_t)p->kw,
                    (uint32_t)p->stride_h, (uint32_t)p->stride_w, (uint32_t)p->pad_top, (uint32_t)p->pad_left,
                    (uint32_t)p->pad_bottom, (uint32_t)p->pad_right,
                    (depthwise ? CONV_MODE_DEPTHWISE : 0) | (p->single_rounding ? CONV_MODE_SINGLE_ROUNDING : 0), -p->in_offset,
                    p->out_zp, p->act_min, p->act_max};
    return conv_run(&job);
}
