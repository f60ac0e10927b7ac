/* conv2d: int8 3x3 convolution (16x16x8 -> 16x16x8, stride 1, same padding) with TFLite
 * per-channel requantisation. Exit code 0 when the FNV-1a checksum of the output matches
 * the one the build computed with the numpy reference. */
#include "simmcu.h"
#include "conv2d_data.h"

static int8_t output[CONV_H * CONV_W * CONV_COUT];

static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / (1ll << 31));
}

static int32_t rounding_divide_by_pot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1ll << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + (remainder > threshold);
}

static int32_t requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return rounding_divide_by_pot(srdhm(acc * (1 << left), multiplier), right);
}

__attribute__((noinline)) void conv2d_3x3(const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out)
{
    for (int y = 0; y < CONV_H; y++)
        for (int x = 0; x < CONV_W; x++)
            for (int oc = 0; oc < CONV_COUT; oc++) {
                int32_t acc = 0;
                for (int ky = 0; ky < CONV_K; ky++) {
                    int iy = y + ky - 1;
                    if (iy < 0 || iy >= CONV_H)
                        continue;
                    for (int kx = 0; kx < CONV_K; kx++) {
                        int ix = x + kx - 1;
                        if (ix < 0 || ix >= CONV_W)
                            continue;
                        const int8_t *px = in + (iy * CONV_W + ix) * CONV_CIN;
                        const int8_t *wk = w + ((oc * CONV_K + ky) * CONV_K + kx) * CONV_CIN;
                        for (int ic = 0; ic < CONV_CIN; ic++)
                            acc += (px[ic] - CONV_INPUT_ZERO_POINT) * wk[ic];
                    }
                }
                acc = requantize(acc + bias[oc], conv_multiplier[oc], conv_shift[oc]) + CONV_OUTPUT_ZERO_POINT;
                out[(y * CONV_W + x) * CONV_COUT + oc] = (int8_t)(acc < -128 ? -128 : acc > 127 ? 127 : acc);
            }
}

static uint32_t fnv1a(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t h = 0x811c9dc5u;
    while (n--)
        h = (h ^ *p++) * 0x01000193u;
    return h;
}

int main(void)
{
    uint64_t start = simmcu_cycles();
    conv2d_3x3(conv_input, conv_weights, conv_bias, output);
    uint64_t cycles = simmcu_cycles() - start;
    uint32_t sum = fnv1a(output, sizeof output);
    printf("conv2d 16x16x8 -> 16x16x8: checksum %08x (expected %08x), %u cycles\n", (unsigned)sum,
           (unsigned)CONV_EXPECTED_CHECKSUM, (unsigned)cycles);
    return sum == CONV_EXPECTED_CHECKSUM ? 0 : 1;
}
