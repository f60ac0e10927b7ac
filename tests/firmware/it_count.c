/* Instructions skipped by an IT block still issue: 100 passes of a 7-instruction loop whose IT
 * block always skips one of its three instructions must count 700 instructions. */
#include "simmcu.h"

int main(void)
{
    volatile uint32_t *cyccnt = (volatile uint32_t *)0xE0001004u;
    uint32_t c0, c1, a = 0, b = 0;
    __asm__ volatile("ldr %0, [%4]\n"
                     "movs r1, #100\n"
                     "1: tst r1, #1\n"
                     "itte ne\n"
                     "addne %2, %2, #1\n"
                     "addne %3, %3, #2\n"
                     "addeq %3, %3, #3\n"
                     "subs r1, r1, #1\n"
                     "bne 1b\n"
                     "ldr %1, [%4]"
                     : "=&r"(c0), "=&r"(c1), "+r"(a), "+r"(b) : "r"(cyccnt) : "r1", "cc");
    printf("cycles %u a %u b %u\n", (unsigned)(c1 - c0), (unsigned)a, (unsigned)b);
    return 0;
}
