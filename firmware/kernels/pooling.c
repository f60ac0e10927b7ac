/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLite reference_integer_ops): the window is clipped to
 * the image, so padding never counts towards a mean. */
#include "simmcu_nn.h"

static inline int32_t combine(int32_t acc, int32_t v, int average)
{
    return average ? acc + v : v > acc ? v : acc;
}

static inline int8_t result(int32_t acc, int count, int average, const nn_pool_params *p)
{
    if (average && count > 0) /* the mean rounded half away from zero */
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return nn_clamp(acc, p->act_min, p->act_max);
}

/* Per output pixel, four channels at a time are kept in registers while the window (clipped to
 * the image) is swept; ``average`` is a constant once inlined, so each kernel has one loop. */
static inline __attribute__((always_inline)) void pool(const nn_pool_params *p, const int8_t *in, int8_t *out,
                                                       int average)
{
    int ch = p->channels, row_step = p->in_w * ch;
    for (int y = 0; y < p->out_h; y++)
        for (int x = 0; x < p->out_w; x++, out += ch) {
            int iy0 = y * p->stride_h - p->pad_top, ix0 = x * p->stride_w - p->pad_left;
            int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = p->in_h - iy0 < p->kh ? p->in_h - iy0 : p->kh;
            int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = p->in_w - ix0 < p->kw ? p->in_w - ix0 : p->kw;
            int rows = ky1 - ky0, cols = kx1 - kx0, count = rows * cols;
            const int8_t *window = in + ((iy0 + ky0) * p->in_w + ix0 + kx0) * ch;
            int c = 0;
            for (; c + 4 <= ch; c += 4) {
                int32_t a0 = average ? 0 : -128, a1 = a0, a2 = a0, a3 = a0;
                for (int r = 0; r < rows; r++) {
                    const int8_t *px = window + r * row_step + c;
                    for (int k = 0; k < cols; k++, px += ch) {
                        a0 = combine(a0, px[0], average);
                        a1 = combine(a1, px[1], average);
                        a2 = combine(a2, px[2], average);
                        a3 = combine(a3, px[3], average);
                    }
                }
                out[c] = result(a0, count, average, p);
                out[c + 1] = result(a1, count, average, p);
                out[c + 2] = result(a2, count, average, p);
                out[c + 3] = result(a3, count, average, p);
            }
            for (; c < ch; c++) {
                int32_t acc = average ? 0 : -128;
                for (int r = 0; r < rows; r++)
                    for (int k = 0; k < cols; k++)
                        acc = combine(acc, window[r * row_step + k * ch + c], average);
                out[c] = result(acc, count, average, p);
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
