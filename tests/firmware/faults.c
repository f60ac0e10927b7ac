/* Faults the core raises and Unicorn reports imprecisely or not at all; the argument picks one. */
#include "simmcu.h"

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static volatile uint32_t words[4];

#if !defined(__riscv)
/* The exception return pops its frame from unmapped memory. */
__attribute__((naked)) void SVC_Handler(void)
{
    __asm__ volatile("ldr r0, =0x60000000\n msr msp, r0\n bx lr");
}
#endif

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    char *odd = (char *)words + 1;
#if defined(__riscv)
#define THUMB_BIT 0u
#else
#define THUMB_BIT 1u
#endif
    if (same(what, "fetch-mmio"))
        ((void (*)(void))(0x40000000u | THUMB_BIT))();
#if defined(__riscv)
    else if (same(what, "illegal-32"))
        __asm__ volatile(".4byte 0xfe000033\n nop");
    else if (same(what, "illegal-16"))
        __asm__ volatile(".2byte 0\n nop");
#else
    else if (same(what, "unaligned-ldr"))
        return *(volatile uint32_t *)odd;
    else if (same(what, "vtor-svc")) {
        *(volatile uint32_t *)0xE000ED08 = 0x60000000u;
        __asm__ volatile("svc 0");
    } else if (same(what, "unstack"))
        __asm__ volatile("svc 0");
#if __ARM_ARCH >= 7
    else if (same(what, "ldrd")) {
        uint32_t a, b;
        __asm__ volatile("ldrd %0, %1, [%2, #4]" : "=r"(a), "=r"(b) : "r"(odd));
        return (int)(a + b);
    } else if (same(what, "strd"))
        __asm__ volatile("strd %0, %1, [%2]" :: "r"(1), "r"(2), "r"(odd + 1) : "memory");
    else if (same(what, "ldm")) {
        uint32_t a, b;
        __asm__ volatile("ldm %2, {%0, %1}" : "=r"(a), "=r"(b) : "r"(odd) : "memory");
        return (int)(a + b);
    } else if (same(what, "literal-ldrd")) { /* from a PC that is not word-aligned: Align(PC, 4) + imm */
        uint32_t a, b;
        __asm__ volatile(".balign 4\n nop\n ldrd %0, %1, 1f\n b 2f\n .balign 4\n1: .word 20, 22\n2:"
                         : "=r"(a), "=r"(b));
        return (int)(a + b);
    }
#if defined(__ARM_FP)
    else if (same(what, "literal-vldr")) {
        uint32_t a;
        __asm__ volatile(".balign 4\n nop\n vldr s0, 1f\n vmov %0, s0\n b 2f\n .balign 4\n1: .word 42\n2:"
                         : "=r"(a) :: "s0");
        return (int)a;
    }
#endif
#endif
#endif
    return 0;
}
