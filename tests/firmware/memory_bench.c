/* Data traffic whose cost can be worked out by hand, for the exact-memory and cache tests:
 *   flash_table: one byte load per element of a 1000-byte const table in flash;
 *   stream:      two passes of word loads over a 64 KiB SRAM array (larger than the D-cache);
 *   reuse:       four passes over a 4 KiB SRAM array (fits the D-cache).
 * Each prints the cycles it took, read by the firmware (simmcu_cycles: DWT, or the host on RISC-V
 * and ARMv6-M) around the loop. A first, unmeasured pass over the big array leaves a data cache holding clean lines of it only. */
#include "simmcu.h"

#define TABLE 1000
static const uint8_t table[TABLE] __attribute__((aligned(32))) = {[0] = 1, [TABLE - 1] = 2};
static volatile uint32_t big[16384], small[1024];

__attribute__((noinline)) static uint32_t sum_bytes(const volatile uint8_t *p, int n)
{
    uint32_t s = 0;
    for (int i = 0; i < n; i++)
        s += p[i];
    return s;
}

__attribute__((noinline)) static uint32_t sum_words(const volatile uint32_t *p, int n, int passes)
{
    uint32_t s = 0;
    for (int k = 0; k < passes; k++)
        for (int i = 0; i < n; i++)
            s += p[i];
    return s;
}

int main(void)
{
    uint32_t warm = sum_words(big, 16384, 1);
    uint64_t t0 = simmcu_cycles();
    uint32_t a = sum_bytes(table, TABLE);
    uint64_t t1 = simmcu_cycles();
    uint32_t b = sum_words(big, 16384, 2);
    uint64_t t2 = simmcu_cycles();
    uint32_t c = sum_words(small, 1024, 4);
    uint64_t t3 = simmcu_cycles();
    printf("flash_table %u stream %u reuse %u sums %u\n", (unsigned)(t1 - t0), (unsigned)(t2 - t1),
           (unsigned)(t3 - t2), (unsigned)(a + b + c + warm));
    return 0;
}
