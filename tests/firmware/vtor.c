/* Relocating the vector table to RAM (as bootloaders and RTOSes do) changes which handler runs. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

static volatile uint32_t flash_handler_runs, ram_handler_runs;
static uint32_t ram_vectors[48] __attribute__((aligned(256)));

void SysTick_Handler(void) { flash_handler_runs++; }
static void ram_systick(void) { ram_handler_runs++; SYST_CSR = 0; }

int main(void)
{
    const uint32_t *flash_vectors = (const uint32_t *)SCB_VTOR;
    for (int i = 0; i < 48; i++)
        ram_vectors[i] = flash_vectors[i];
    ram_vectors[15] = (uint32_t)(uintptr_t)ram_systick;
    SCB_VTOR = (uint32_t)(uintptr_t)ram_vectors;
    SYST_RVR = 99;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    while (!ram_handler_runs)
        simmcu_wfi();
    printf("flash %u ram %u\n", (unsigned)flash_handler_runs, (unsigned)ram_handler_runs);
    return 0;
}
