/* A long int8 convolution loop for speed measurements: REPS passes over a 16x16x8 image with
 * 3x3x8x8 weights. Prints nothing until it ends, so a plain-Unicorn run can stop at its exit. */
#include "simmcu.h"

#ifndef REPS
#define REPS 100
#endif

static int8_t in[16 * 16 * 8], w[8 * 3 * 3 * 8], out[16 * 16 * 8];

int main(void)
{
    for (int i = 0; i < (int)sizeof in; i++)
        in[i] = (int8_t)(i * 7);
    for (int i = 0; i < (int)sizeof w; i++)
        w[i] = (int8_t)(i * 13);
    int32_t total = 0;
    for (int rep = 0; rep < REPS; rep++)
        for (int y = 1; y < 15; y++)
            for (int x = 1; x < 15; x++)
                for (int oc = 0; oc < 8; oc++) {
                    int32_t acc = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            for (int ic = 0; ic < 8; ic++)
                                acc += in[((y + ky - 1) * 16 + x + kx - 1) * 8 + ic] * w[((oc * 3 + ky) * 3 + kx) * 8 + ic];
                    out[(y * 16 + x) * 8 + oc] = (int8_t)(acc >> 8);
                    total += acc;
                }
    return (int)(total & 0x7f);
}
