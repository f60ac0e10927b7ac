/* Counter reads are exact: a read returns the count when the reading instruction issues, so two
 * reads differ by the cycles of the instructions from the first read up to the second: RISC-V
 * mcycle spans csrr+csrr+10 NOPs (CV32E40P: 4 + 4 + 10), Arm LDR (2 cycles) + 10 NOPs. */
#include "simmcu.h"

int main(void)
{
    uint32_t c0, c1, i0, i1;
#if defined(__riscv)
    __asm__ volatile("csrr %0, mcycle\n csrr %1, minstret\n"
                     ".rept 10\n nop\n .endr\n"
                     "csrr %2, mcycle\n csrr %3, minstret"
                     : "=&r"(c0), "=&r"(i0), "=&r"(c1), "=&r"(i1));
    /* mcycle is writable: after writing 1000 the next read continues from there. */
    uint32_t after;
    __asm__ volatile("csrw mcycle, %1\n csrr %0, mcycle" : "=r"(after) : "r"(1000));
    printf("cycles %u instret %u after-write %u\n", (unsigned)(c1 - c0), (unsigned)(i1 - i0), (unsigned)after);
#else
    volatile uint32_t *cyccnt = (volatile uint32_t *)0xE0001004u;
    __asm__ volatile("ldr %0, [%2]\n"
                     ".rept 10\n nop\n .endr\n"
                     "ldr %1, [%2]"
                     : "=&r"(c0), "=&r"(c1) : "r"(cyccnt));
    (void)i0, (void)i1;
    printf("cycles %u\n", (unsigned)(c1 - c0));
#endif
    return 0;
}
