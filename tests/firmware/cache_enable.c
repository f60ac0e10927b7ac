/* The Cortex-M7 start-up sequence of CMSIS SCB_EnableICache() / SCB_EnableDCache(): invalidate by
 * set/way over the geometry CCSIDR reports, then set CCR.IC and CCR.DC. */
#include "simmcu.h"

#define REG(a) (*(volatile uint32_t *)(a))
#define CCR REG(0xE000ED14u)
#define CCSIDR REG(0xE000ED80u)
#define CSSELR REG(0xE000ED84u)
#define ICIALLU REG(0xE000EF50u)
#define DCISW REG(0xE000EF60u)

int main(void)
{
    __asm__ volatile("dsb\n isb");
    ICIALLU = 0;
    CCR |= 1u << 17;                       /* IC */
    CSSELR = 0;
    uint32_t ccsidr = CCSIDR, sets = (ccsidr >> 13) & 0x7FFF, n = 0;
    do {
        uint32_t ways = (ccsidr >> 3) & 0x3FF;
        do {
            DCISW = (sets << 5) | (ways << 30);
            n++;
        } while (ways-- != 0);
    } while (sets-- != 0);
    CCR |= 1u << 16;                       /* DC */
    __asm__ volatile("dsb\n isb");
    printf("invalidated %u caches enabled %u\n", (unsigned)n, (unsigned)((CCR >> 16) & 3));
    return 0;
}
