/* PAD, PADV2, CONCATENATION and STRIDED_SLICE as strided block copies, and MEAN (TFLite's
 * QuantizedMeanOrSum: sum, then one requantisation with 1/count folded into the multiplier); each
 * for int8 and int16 elements (the reference's int16 paths are the same copies and the same mean,
 * zero points 0), from one definition per operator. */
#include "simmcu.h"
#include "simmcu_nn.h"

#define NN_COPY(name, T)                                                                                          \
    void name(const nn_copy_params *params, const T *in, T *out)                                                  \
    {                                                                                                             \
        const nn_copy_params local = *params, *p = &local;                                                        \
        const int32_t *d = p->dims, *si = p->in_stride, *so = p->out_stride;                                      \
        if (p->fill_size > 0 && (sizeof(T) == 1 || p->fill == 0)) /* the fill's bytes all alike */               \
            memset(out, p->fill, p->fill_size);                                                                   \
        else if (p->fill_size > 0)                                                                                \
            for (int32_t k = 0; k < p->fill_size / (int32_t)sizeof(T); k++)                                       \
                out[k] = (T)p->fill;                                                                              \
        int32_t n = d[5], step_in = si[5], step_out = so[5];                                                      \
        in += p->in_start;                                                                                        \
        out += p->out_start;                                                                                      \
        for (int i0 = 0; i0 < d[0]; i0++)                                                                         \
            for (int i1 = 0; i1 < d[1]; i1++)                                                                     \
                for (int i2 = 0; i2 < d[2]; i2++)                                                                 \
                    for (int i3 = 0; i3 < d[3]; i3++)                                                             \
                        for (int i4 = 0; i4 < d[4]; i4++) {                                                       \
                            const T *src = in + i0 * si[0] + i1 * si[1] + i2 * si[2] + i3 * si[3] + i4 * si[4];   \
                            T *dst = out + i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3] + i4 * so[4];        \
                            if (step_in == 1 && step_out == 1) {                                                  \
                                memcpy(dst, src, n * sizeof(T));                                                  \
                            } else {                                                                              \
                                for (int32_t k = 0; k < n; k++)                                                   \
                                    dst[k * step_out] = src[k * step_in];                                         \
                            }                                                                                     \
                        }                                                                                         \
    }
NN_COPY(nn_copy, int8_t)
NN_COPY(nn_copy_s16, int16_t)

#define NN_MEAN(name, T, lo, hi)                                                                                  \
    void name(const nn_mean_params *params, const T *in, T *out)                                                  \
    {                                                                                                             \
        const nn_mean_params local = *params, *p = &local;                                                        \
        const int32_t *d = p->dims, *sa = p->acc_stride;                                                          \
        int32_t *acc = p->acc;                                                                                    \
        for (int32_t i = 0; i < p->out_size; i++)                                                                 \
            acc[i] = 0;                                                                                           \
        int32_t n = d[5], step = sa[5];                                                                           \
        for (int i0 = 0; i0 < d[0]; i0++)                                                                         \
            for (int i1 = 0; i1 < d[1]; i1++)                                                                     \
                for (int i2 = 0; i2 < d[2]; i2++)                                                                 \
                    for (int i3 = 0; i3 < d[3]; i3++)                                                             \
                        for (int i4 = 0; i4 < d[4]; i4++, in += n) {                                              \
                            int32_t *a = acc + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];    \
                            if (step == 0) {                                                                      \
                                int32_t sum = 0;                                                                  \
                                for (int32_t k = 0; k < n; k++)                                                   \
                                    sum += in[k];                                                                 \
                                *a += sum;                                                                        \
                            } else {                                                                              \
                                for (int32_t k = 0; k < n; k++)                                                   \
                                    a[k] += in[k];                                                                \
                            }                                                                                     \
                        }                                                                                         \
        for (int32_t i = 0; i < p->out_size; i++) {                                                               \
            int32_t v = nn_requantize_gemmlowp(acc[i] - p->zp_sum, p->multiplier, p->shift) + p->out_zp;          \
            out[i] = (T)(v < lo ? lo : v > hi ? hi : v);                                                          \
        }                                                                                                         \
    }
NN_MEAN(nn_mean, int8_t, -128, 127)
NN_MEAN(nn_mean_s16, int16_t, INT16_MIN, INT16_MAX)
