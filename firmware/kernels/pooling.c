/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLite reference_integer_ops): the window is clipped to
 * the image, so padding never counts towards a mean. */
#include "simmcu_nn.h"

/* Per output pixel, the window's pixels are swept whole: the inner loop runs over contiguous
 * channels, into the accumulators in scratch (channels int32s). */
static inline __attribute__((always_inline)) void pool(const nn_pool_params *p, const int8_t *in, int8_t *out,
                                                       int average)
{
    int32_t *acc = p->scratch;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = p->in_h - iy0 < p->kh ? p->in_h - iy0 : p->kh;
            int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = p->in_w - ix0 < p->kw ? p->in_w - ix0 : p->kw;
            int count = (ky1 - ky0) * (kx1 - kx0);
            for (int c = 0; c < p->channels; c++)
                acc[c] = average ? 0 : -128;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++) {
                    const int8_t *px = in + ((iy0 + ky) * p->in_w + ix0 + kx) * p->channels;
                    if (average)
                        for (int c = 0; c < p->channels; c++)
                            acc[c] += px[c];
                    else
                        for (int c = 0; c < p->channels; c++)
                            acc[c] = px[c] > acc[c] ? px[c] : acc[c];
                }
            for (int c = 0; c < p->channels; c++) {
                int32_t v = acc[c];
                if (average && count > 0) /* the mean rounded half away from zero */
                    v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
                *out++ = nn_clamp(v, p->act_min, p->act_max);
            }
        }
}

void nn_average_pool(const nn_pool_params *params, const int8_t *in, int8_t *out)
{
    const nn_pool_params local = *params; /* not reloaded after each output store (see conv.c) */
    pool(&local, in, out, 1);
}

void nn_max_pool(const nn_pool_params *params, const int8_t *in, int8_t *out)
{
    const nn_pool_params local = *params;
    pool(&local, in, out, 0);
}
