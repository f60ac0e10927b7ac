/* Interrupts around IT blocks: a SysTick every PERIOD cycles (a prime, so it falls due at every
 * position in the loop; inside an IT block it is taken when the block ends) must not change
 * what the IT-heavy loop computes, nor the flags it depends on. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

static volatile uint32_t ticks;
void SysTick_Handler(void)
{
    ticks++;
    __asm__ volatile("movs r0, #0\n cmp r0, #1" ::: "r0", "cc"); /* leave flags different */
}

__attribute__((noinline)) static uint32_t mix(uint32_t n)
{
    uint32_t a = 0, b = 1;
    for (uint32_t i = 0; i < n; i++) {
        __asm__ volatile("tst %2, #1\n"
                         "itte ne\n"
                         "addne %0, %0, %2\n"
                         "eorne %1, %1, %0\n"
                         "subeq %0, %0, #3\n"
                         "cmp %0, %1\n"
                         "ite hi\n"
                         "addhi %1, %1, #7\n"
                         "lsrls %0, %0, #1"
                         : "+r"(a), "+r"(b) : "r"(i) : "cc");
    }
    return a ^ b;
}

int main(void)
{
    uint32_t quiet = mix(3000);
    SYST_RVR = PERIOD - 1;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    uint32_t busy = mix(3000);
    SYST_CSR = 0;
    printf("%s ticks>100=%u\n", quiet == busy ? "same" : "DIFFERENT", ticks > 100);
    return quiet != busy;
}
