/* The conv coprocessor against a plain C int8 convolution with TFLite semantics: a regular and a
 * depthwise job polled, one job waited for by interrupt, the CPU computing its own reference while
 * the coprocessor runs, and START with bad programming. Prints one line per check. */
#include "simmcu.h"
#include "simmcu_conv.h"
#include "simmcu_nn.h"
#if defined(__riscv)
#include "simmcu_riscv.h"
#else
#include "simmcu_cortexm.h"
#endif

#define H 10
#define W 10
#define C 8
#define OC 16
static int8_t input[H * W * C] __attribute__((aligned(4)));
static int8_t weights[OC * 3 * 3 * C] __attribute__((aligned(4)));
static int32_t bias[OC], quant[OC * 2];
static int8_t out_hw[H * W * OC] __attribute__((aligned(4))), out_sw[H * W * OC];
static uint32_t seed = 12345;

static uint32_t next(void) { return seed = seed * 1664525u + 1013904223u; }

static void conv_c(const conv_job *j)
{
    uint32_t oh = (j->h + j->pad_t + j->pad_b - j->kh) / j->sh + 1, ow = (j->w + j->pad_l + j->pad_r - j->kw) / j->sw + 1;
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++)
            for (uint32_t o = 0; o < j->oc; o++) {
                int64_t acc = j->bias[o];
                for (uint32_t ky = 0; ky < j->kh; ky++)
                    for (uint32_t kx = 0; kx < j->kw; kx++) {
                        int32_t iy = (int32_t)(y * j->sh + ky) - (int32_t)j->pad_t;
                        int32_t ix = (int32_t)(x * j->sw + kx) - (int32_t)j->pad_l;
                        if (iy < 0 || ix < 0 || iy >= (int32_t)j->h || ix >= (int32_t)j->w)
                            continue;
                        const int8_t *px = j->input + (iy * j->w + ix) * j->c;
                        if (j->mode & CONV_MODE_DEPTHWISE)
                            acc += (px[o / (j->oc / j->c)] - j->in_zp) * j->weights[(ky * j->kw + kx) * j->oc + o];
                        else
                            for (uint32_t i = 0; i < j->c; i++)
                                acc += (px[i] - j->in_zp) * j->weights[((o * j->kh + ky) * j->kw + kx) * j->c + i];
                    }
                int32_t v = nn_requantize_gemmlowp((int32_t)acc, j->quant[2 * o], j->quant[2 * o + 1]) + j->out_zp;
                v = v < j->act_min ? j->act_min : v > j->act_max ? j->act_max : v;
                out_sw[(y * ow + x) * j->oc + o] = (int8_t)v;
            }
}

static uint32_t check(const conv_job *j)
{
    uint32_t n = CONV_OUT_H * CONV_OUT_W * j->oc, sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (out_hw[i] != out_sw[i])
            return 0xFFFFFFFFu;
        sum = sum * 31 + (uint8_t)out_hw[i];
    }
    return sum;
}

static volatile uint32_t irq_seen;
#if defined(__riscv)
__attribute__((interrupt("machine"), aligned(4))) void trap_handler(void) /* mtvec needs 4-byte alignment */
{
    if (csr_read(mcause) == 0x8000000Bu) {
        irq_seen++;
        CONV_STATUS = CONV_DONE; /* acknowledge: drops the line */
    }
}
#else
void IRQ0_Handler(void)
{
    irq_seen++;
    CONV_STATUS = CONV_DONE;
}
#endif

int main(void)
{
    for (uint32_t i = 0; i < sizeof input; i++)
        input[i] = (int8_t)(next() >> 24);
    for (uint32_t i = 0; i < sizeof weights; i++)
        weights[i] = (int8_t)(next() >> 24);
    for (uint32_t o = 0; o < OC; o++) {
        bias[o] = (int32_t)(next() >> 20) - 2048;
        quant[2 * o] = (int32_t)(0x40000000u + (next() >> 2));
        quant[2 * o + 1] = -(int32_t)(6 + o % 4) + (o == 3);
    }
    conv_job j = {input, weights, bias, quant, out_hw, H, W, C, OC, 3, 3, 1, 1, 1, 1, 1, 1, 0, -3, 5, -100, 120};

    /* 1. polled; the CPU computes the reference while the coprocessor runs */
    uint64_t t0 = simmcu_cycles();
    conv_program(&j);
    CONV_CTRL = CONV_START;
    conv_c(&j);
    uint64_t t1 = simmcu_cycles();
    while (CONV_STATUS & CONV_BUSY)
        ;
    uint64_t t2 = simmcu_cycles();
    CONV_STATUS = CONV_DONE;
    printf("conv %08x hw_cycles %u overlapped %u\n", (unsigned)check(&j), (unsigned)CONV_LAST_CYCLES,
           t1 - t0 > CONV_LAST_CYCLES && t2 - t1 < 100);

    /* 2. depthwise, stride 2, asymmetric padding, multiplier 2 */
    conv_job d = {input, weights, bias, quant, out_hw, H, W, C, OC, 3, 3, 2, 2, 1, 1, 0, 0, 1, 7, -2, -128, 127};
    conv_c(&d);
    uint32_t err = conv_run(&d);
    printf("depthwise %08x err %u\n", (unsigned)check(&d), (unsigned)err);

    /* 3. interrupt-driven: sleep until the coprocessor's interrupt */
#if defined(__riscv)
    csr_write(mtvec, (uint32_t)(uintptr_t)trap_handler);
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
#else
    nvic_enable(0);
#endif
    j.sh = j.sw = 2;
    conv_c(&j);
    conv_program(&j);
    CONV_CTRL = CONV_START | CONV_IRQ_EN;
    while (!irq_seen)
        simmcu_wfi();
    printf("irq %08x seen %u\n", (unsigned)check(&j), (unsigned)irq_seen);

    /* 4. bad programming: misaligned input, then START while busy */
    CONV_CTRL = 0;
    j.input = input + 1;
    printf("misaligned err %u\n", (unsigned)conv_run(&j));
    j.input = input;
    conv_program(&j);
    CONV_CTRL = CONV_START;
    CONV_CTRL = CONV_START;
    uint32_t busy_err = CONV_ERROR;
    while (CONV_STATUS & CONV_BUSY)
        ;
    CONV_STATUS = CONV_DONE;
    printf("busy err %u\n", (unsigned)busy_err);
    return 0;
}
