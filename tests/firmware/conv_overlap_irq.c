/* The conv coprocessor with its completion interrupt, for the timeline: job 1 runs while the CPU
 * computes a checksum of its inputs (the handler preempts that work when the job ends), job 2 is
 * waited for asleep in WFI. Prints the irq count and the output checksums. */
#include "simmcu.h"
#include "simmcu_conv.h"
#if defined(__riscv)
#include "simmcu_riscv.h"
#else
#include "simmcu_cortexm.h"
#endif

#define H 8
#define W 8
#define C 8
#define OC 8
static int8_t input[H * W * C] __attribute__((aligned(4)));
static int8_t weights[OC * 3 * 3 * C] __attribute__((aligned(4)));
static int32_t bias[OC], quant[OC * 2];
static int8_t output[H * W * OC] __attribute__((aligned(4)));
static volatile uint32_t irq_seen;

#if defined(__riscv)
__attribute__((interrupt("machine"), aligned(4))) void trap_handler(void)
#else
void IRQ0_Handler(void)
#endif
{
    irq_seen++;
    CONV_STATUS = CONV_DONE; /* acknowledge: drops the line */
}

/* CPU work that outlasts a job: rounds of an FNV-1a checksum over the inputs and weights. */
__attribute__((noinline)) uint32_t cpu_work(int rounds)
{
    uint32_t h = 0x811c9dc5u;
    for (int r = 0; r < rounds; r++)
        for (unsigned i = 0; i < sizeof weights; i++)
            h = (h ^ (uint8_t)(weights[i] + input[i % sizeof input])) * 0x01000193u;
    return h;
}

__attribute__((noinline)) void wait_asleep(void)
{
    while (irq_seen < 2)
        simmcu_wfi();
}

static uint32_t checksum(void)
{
    uint32_t h = 0;
    for (unsigned i = 0; i < sizeof output; i++)
        h = h * 31 + (uint8_t)output[i];
    return h;
}

int main(void)
{
    uint32_t seed = 99;
    for (unsigned i = 0; i < sizeof input; i++)
        input[i] = (int8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
    for (unsigned i = 0; i < sizeof weights; i++)
        weights[i] = (int8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
    for (unsigned o = 0; o < OC; o++) {
        bias[o] = (int32_t)(o * 37) - 100;
        quant[2 * o] = 0x40000000;
        quant[2 * o + 1] = -7;
    }
#if defined(__riscv)
    csr_write(mtvec, (uint32_t)(uintptr_t)trap_handler);
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
#else
    nvic_enable(0);
#endif
    conv_job j = {input, weights, bias, quant, output, H, W, C, OC, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, -128, 127};
    conv_program(&j);
    CONV_CTRL = CONV_START | CONV_IRQ_EN;
    uint32_t work = cpu_work(3);
    uint32_t first = checksum();
    printf("job 1 %08x irq %u work %08x\n", (unsigned)first, (unsigned)irq_seen, (unsigned)work);
    j.sh = j.sw = 2;
    conv_program(&j);
    CONV_CTRL = CONV_START | CONV_IRQ_EN;
    wait_asleep();
    printf("job 2 %08x irq %u\n", (unsigned)checksum(), (unsigned)irq_seen);
    return irq_seen == 2 ? 0 : 1;
}
