/* Prints SCB CPUID, which the simulator answers per core. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

int main(void)
{
    printf("cpuid %08x\n", (unsigned)SCB_CPUID);
    return 0;
}
