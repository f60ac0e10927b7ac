/* conv2d: int8 3x3 convolution (16x16x8 -> 16x16x8, stride 1, same padding) with TFLite
 * per-channel requantisation. Exit code 0 when the FNV-1a checksum of the output matches
 * the one the build computed with the numpy reference. Variants (conv2d_cfu, conv2d_conv,
 * conv2d_conv_irq) compute it on an accelerator and time that; built with -DCONV2D_CHECK_C they
 * also run this plain C kernel and require the same bytes. */
#include "simmcu.h"
#include "simmcu_nn.h"
#include "conv2d_data.h"
#if defined(CONV2D_CFU)
#include "simmcu_cfu.h"
#elif defined(CONV2D_CONV) || defined(CONV2D_CONV_IRQ)
#include "simmcu_conv.h"
#if defined(__riscv)
#include "simmcu_riscv.h"
#else
#include "simmcu_cortexm.h"
#endif
#endif

static int8_t output[CONV_H * CONV_W * CONV_COUT] __attribute__((aligned(4)));

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
                acc = nn_requantize_gemmlowp(acc + bias[oc], conv_multiplier[oc], conv_shift[oc]) + CONV_OUTPUT_ZERO_POINT;
                out[(y * CONV_W + x) * CONV_COUT + oc] = (int8_t)(acc < -128 ? -128 : acc > 127 ? 127 : acc);
            }
}

#if defined(CONV2D_CFU)
/* The same convolution on the cfu: four int8 multiply-accumulates per instruction, the
 * requantisation in the unit too. */
__attribute__((noinline)) void conv2d_3x3_cfu(const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out)
{
    cfu_set_offset(-CONV_INPUT_ZERO_POINT);
    cfu_set_param(2, CONV_OUTPUT_ZERO_POINT);
    for (int y = 0; y < CONV_H; y++)
        for (int x = 0; x < CONV_W; x++)
            for (int oc = 0; oc < CONV_COUT; oc++) {
                cfu_reset(bias[oc]);
                for (int ky = 0; ky < CONV_K; ky++) {
                    int iy = y + ky - 1;
                    if (iy < 0 || iy >= CONV_H)
                        continue;
                    for (int kx = 0; kx < CONV_K; kx++) {
                        int ix = x + kx - 1;
                        if (ix < 0 || ix >= CONV_W)
                            continue;
                        const uint32_t *px = (const uint32_t *)(in + (iy * CONV_W + ix) * CONV_CIN);
                        const uint32_t *wk = (const uint32_t *)(w + ((oc * CONV_K + ky) * CONV_K + kx) * CONV_CIN);
                        for (int i = 0; i < CONV_CIN / 4; i++)
                            cfu_mac4(px[i], wk[i]);
                    }
                }
                cfu_set_param(0, conv_multiplier[oc]);
                cfu_set_param(1, conv_shift[oc]);
                out[(y * CONV_W + x) * CONV_COUT + oc] = (int8_t)cfu_requant(cfu_read());
            }
}
#elif defined(CONV2D_CONV) || defined(CONV2D_CONV_IRQ)
static int32_t quant[CONV_COUT * 2];
static volatile int conv_done;

#if defined(__riscv)
__attribute__((interrupt("machine"), aligned(4))) void trap_handler(void)
#else
void IRQ0_Handler(void)
#endif
{
    conv_done = 1;
    CONV_STATUS = CONV_DONE;
}

/* The same convolution on the conv coprocessor: program, start, wait (polling or asleep). */
__attribute__((noinline)) void conv2d_3x3_conv(const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out)
{
    for (int oc = 0; oc < CONV_COUT; oc++) {
        quant[2 * oc] = conv_multiplier[oc];
        quant[2 * oc + 1] = conv_shift[oc];
    }
    conv_job job = {in, w, bias, quant, out, CONV_H, CONV_W, CONV_CIN, CONV_COUT, CONV_K, CONV_K, 1, 1,
                    1, 1, 1, 1, 0, CONV_INPUT_ZERO_POINT, CONV_OUTPUT_ZERO_POINT, -128, 127};
    conv_program(&job);
#if defined(CONV2D_CONV_IRQ)
#if defined(__riscv)
    csr_write(mtvec, (uint32_t)(uintptr_t)trap_handler);
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
#else
    nvic_enable(0);
#endif
    CONV_CTRL = CONV_START | CONV_IRQ_EN;
    while (!conv_done)
        simmcu_wfi();
#else
    CONV_CTRL = CONV_START;
    while (CONV_STATUS & CONV_BUSY)
        ;
    CONV_STATUS = CONV_DONE;
#endif
}
#endif

static uint32_t fnv1a(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t h = 0x811c9dc5u;
    while (n--)
        h = (h ^ *p++) * 0x01000193u;
    return h;
}

#if defined(CONV2D_CFU)
#define KERNEL conv2d_3x3_cfu
#define VARIANT "cfu"
#elif defined(CONV2D_CONV)
#define KERNEL conv2d_3x3_conv
#define VARIANT "conv"
#elif defined(CONV2D_CONV_IRQ)
#define KERNEL conv2d_3x3_conv
#define VARIANT "conv, interrupt"
#else
#define KERNEL conv2d_3x3
#define VARIANT "C"
#endif

int main(void)
{
    uint64_t start = simmcu_cycles();
    KERNEL(conv_input, conv_weights, conv_bias, output);
    uint64_t cycles = simmcu_cycles() - start;
    uint32_t sum = fnv1a(output, sizeof output);
    int same = 1;
#if defined(CONV2D_CHECK_C) && (defined(CONV2D_CFU) || defined(CONV2D_CONV) || defined(CONV2D_CONV_IRQ))
    static int8_t plain[sizeof output];
    conv2d_3x3(conv_input, conv_weights, conv_bias, plain);
    for (unsigned i = 0; i < sizeof output; i++)
        same &= plain[i] == output[i];
#endif
    printf("conv2d 16x16x8 -> 16x16x8 (%s): checksum %08x (expected %08x)%s, %u cycles\n", VARIANT, (unsigned)sum,
           (unsigned)CONV_EXPECTED_CHECKSUM, same ? "" : " DIFFERS FROM THE C KERNEL", (unsigned)cycles);
    return sum == CONV_EXPECTED_CHECKSUM && same ? 0 : 1;
}
