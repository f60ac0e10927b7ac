/* Cortex-M interrupt paths: SysTick every 1000 cycles woken from WFI, a device IRQ pended
 * through STIR, PendSV, and a higher-priority IRQ preempting a lower one. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

static volatile uint32_t ticks, irq3_runs, irq5_runs, pendsv_runs, nested_ok;

void SysTick_Handler(void) { ticks++; }
void PendSV_Handler(void) { pendsv_runs++; }
void IRQ5_Handler(void) { irq5_runs++; }

void IRQ3_Handler(void)
{
    irq3_runs++;
    NVIC_STIR = 5;            /* higher priority (lower number): preempts right here */
    nested_ok = irq5_runs == 1;
}

int main(void)
{
    NVIC_IPR8(3) = 0x80;
    NVIC_IPR8(5) = 0x40;
    nvic_enable(3);
    nvic_enable(5);
    NVIC_STIR = 3;
    SCB_ICSR = ICSR_PENDSVSET;

    SYST_RVR = 999;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    while (ticks < 10)
        simmcu_wfi();
    SYST_CSR = 0;
    uint32_t cycles = (uint32_t)simmcu_cycles();
    printf("ticks=%u irq3=%u irq5=%u nested=%u pendsv=%u\n", (unsigned)ticks, (unsigned)irq3_runs,
           (unsigned)irq5_runs, (unsigned)nested_ok, (unsigned)pendsv_runs);
    printf("cycles>=10000: %u\n", cycles >= 10000u);
    return !(ticks == 10 && irq3_runs == 1 && irq5_runs == 1 && nested_ok && pendsv_runs == 1);
}
