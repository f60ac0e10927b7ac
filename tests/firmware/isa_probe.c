/* Executes one instruction given as raw halfwords (PROBE_HW1, PROBE_HW2), so that the
 * compiler's own target does not matter: the simulated core alone decides if it exists. */
#include "simmcu.h"

int main(void)
{
    __asm__ volatile(".hword " PROBE ::: "r0", "memory");
    printf("probe executed\n");
    return 0;
}
