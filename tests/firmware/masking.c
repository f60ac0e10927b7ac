/* Masking: an IRQ pended under PRIMASK runs right after CPSIE (before the next statement);
 * BASEPRI blocks only priorities at or below it, and lowering BASEPRI releases them at once. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

static volatile uint32_t step, irq1_at, irq2_at, irq3_at;

void IRQ1_Handler(void) { irq1_at = ++step; }
void IRQ2_Handler(void) { irq2_at = ++step; }
void IRQ3_Handler(void) { irq3_at = ++step; }

int main(void)
{
    NVIC_IPR8(1) = 0x20;
    NVIC_IPR8(2) = 0x80;
    NVIC_IPR8(3) = 0x40;
    nvic_enable(1);
    nvic_enable(2);
    nvic_enable(3);

    simmcu_disable_irq();
    NVIC_STIR = 1;
    step++;                      /* 1: IRQ1 is pending but masked */
    simmcu_enable_irq();         /* IRQ1 runs here: step 2 */
    uint32_t after_cpsie = ++step; /* 3 */

#if !defined(__ARM_ARCH_6M__)
    __asm__ volatile("msr basepri, %0" :: "r"(0x80u) : "memory");
    NVIC_STIR = 2;               /* priority 0x80: blocked by BASEPRI 0x80 */
    NVIC_STIR = 3;               /* priority 0x40: runs at once, step 4 */
    uint32_t before_release = ++step; /* 5 */
    __asm__ volatile("msr basepri, %0" :: "r"(0u) : "memory"); /* IRQ2 runs here: step 6 */
    uint32_t after_release = ++step;  /* 7 */
    printf("irq1=%u after=%u irq3=%u before=%u irq2=%u after=%u\n", (unsigned)irq1_at, (unsigned)after_cpsie,
           (unsigned)irq3_at, (unsigned)before_release, (unsigned)irq2_at, (unsigned)after_release);
#else
    printf("irq1=%u after=%u\n", (unsigned)irq1_at, (unsigned)after_cpsie);
#endif
    return 0;
}
