/* Micro-benchmarks: the steady-state cost of one instruction class, read by the firmware from the
 * cycle counter. Each body runs 20 and 10 times back to back between two counter reads; the
 * difference of the two spans is exactly ten bodies, whatever the reads and the boundaries cost
 * (on RISC-V each span starts after a jump, so a prefetch buffer starts both spans empty).
 * tests/test_timing.py derives the expected counts from each core's published timing table. */
#include "simmcu.h"

#if defined(__riscv)
static volatile uint32_t buffer[4];
#else
#include "simmcu_cortexm.h"
#endif

#if defined(__riscv)
/* PicoRV32 has only the unprivileged counters (the test builds it with -D COUNTER_CSR=cycle);
 * CV32E40P's counters start inhibited (-D START_COUNTERS clears mcountinhibit first). */
#ifndef COUNTER_CSR
#define COUNTER_CSR mcycle
#endif
#define STRINGIFY(x) #x
#define CSR_NAME(x) STRINGIFY(x)
#define READ(operand) "csrr " operand ", " CSR_NAME(COUNTER_CSR) "\n"
#define SETUP "li a0, 0\n li a1, 3\n li a2, 1000\n li a3, 5\n"
#define SPAN(reps, body) ({                                                              \
    uint32_t c0, c1;                                                                     \
    __asm__ volatile(SETUP "j 2f\n nop\n .balign 4\n 2:\n" READ("%0")                         \
                     ".option push\n .option norvc\n"                                    \
                     ".rept " #reps "\n" body "\n.endr\n .option pop\n" READ("%1")       \
                     : "=&r"(c0), "=&r"(c1) : "r"(buffer)                                \
                     : "a0", "a1", "a2", "a3", "a4", "a5", "memory");                    \
    c1 - c0; })
#else
/* Thumb-1 cores have few low registers: the first count waits on the stack, where the loads and
 * stores of the bodies also go (an 8-byte slot reserved around the measurement). ARMv6-M has no
 * DWT: it counts with SysTick, which counts down. */
#if __ARM_ARCH >= 7
#define COUNTER 0xE0001004u
#define ELAPSED(first, second) ((second) - (first))
#else
#define COUNTER 0xE000E018u
#define ELAPSED(first, second) ((first) - (second))
#endif
#define SETUP "movs r0, #0\n movs r1, #3\n movs r2, #250\n lsls r2, r2, #2\n"
#define SPAN(reps, body) ({                                                              \
    uint32_t c1, c0 = COUNTER;                                                           \
    __asm__ volatile(SETUP "sub sp, #8\n .balign 4\n ldr %0, [%1]\n str %0, [sp, #4]\n"  \
                     ".rept " #reps "\n" body "\n.endr\n"                                 \
                     "ldr %0, [%1]\n ldr %1, [sp, #4]\n add sp, #8\n"                     \
                     : "=&l"(c1), "+l"(c0) : : "r0", "r1", "r2", "r4", "r5", "memory", "cc"); \
    ELAPSED(c0, c1); })
#endif

#define BENCH(name, body) printf("%s %u\n", name, (unsigned)(SPAN(20, body) - SPAN(10, body)))

int main(void)
{
#if defined(__riscv)
#ifdef START_COUNTERS
    __asm__ volatile("csrw mcountinhibit, zero");
#endif
    BENCH("alu_imm", "addi a0, a0, 1");
    BENCH("alu_reg", "add a0, a0, a1");
    BENCH("shift_reg", "sll a0, a0, a3");
    BENCH("load", "lw a4, 0(%2)");
    BENCH("load_use", "lw a4, 0(%2)\n add a0, a0, a4");
    BENCH("store", "sw a0, 0(%2)");
    BENCH("mul", "mul a0, a0, a1");
    BENCH("mulh", "mulh a0, a0, a1");
    BENCH("div", "divu a5, a2, a1");
    BENCH("div_zero", "divu a5, a2, zero");
    BENCH("jump", "j 1f\n nop\n 1:");
    BENCH("branch_taken", "beq zero, zero, 1f\n nop\n 1:");
    BENCH("branch_not_taken", "bne zero, zero, 1f\n 1:");
    /* 8 bytes: the ADD sits at a 2-mod-4 address in every body */
    BENCH("misaligned32", ".option rvc\n c.nop\n .option norvc\n add a0, a0, a1\n .option rvc\n c.nop\n .option norvc");
#else
    SYST_RVR = 0xFFFFFF;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enabled, core clock, no interrupt */
    BENCH("alu", "adds r0, r0, r1");
    BENCH("load", "ldr r4, [sp]\n nop");
    BENCH("load_pipelined", "ldr r4, [sp]");
    BENCH("store", "str r0, [sp]");
    BENCH("mul", "muls r0, r1, r0");
    BENCH("push_pop", "push {r4, r5}\n pop {r4, r5}");
    BENCH("branch_taken", "b 1f\n nop\n 1:");
    BENCH("branch_not_taken", "cmp r1, #0\n beq 1f\n 1:");
    BENCH("branch_forward_taken", "cmp r1, #0\n bne 1f\n nop\n 1:");
    /* issue pairing (dual-issue cores): independent, dependent, competing for one unit */
    BENCH("dual_alu_load", "adds r0, r0, r1\n ldr r4, [sp]");
    BENCH("dual_independent", "adds r0, r0, r1\n adds r2, r2, r1");
    BENCH("dual_dependent", "adds r0, r0, r1\n adds r0, r0, r2");
    BENCH("dual_two_loads", "ldr r4, [sp]\n ldr r5, [sp, #4]");
    BENCH("dual_mul_store", "muls r0, r1, r0\n str r2, [sp]");
    /* a counted loop: its backward branch is taken three times, then falls through */
    BENCH("loop_predicted", "movs r5, #4\n 2: subs r5, r5, #1\n bne 2b");
#if __ARM_ARCH >= 7
    BENCH("div", "udiv r5, r2, r1");
    BENCH("div_zero", "udiv r5, r2, r0");
#endif
#if defined(__ARM_FP)
    BENCH("fp_add", "vadd.f32 s0, s1, s2");
    BENCH("fp_mac", "vmla.f32 s0, s1, s2");
    BENCH("fp_div", "vdiv.f32 s3, s1, s2");
#endif
#endif
    return 0;
}
