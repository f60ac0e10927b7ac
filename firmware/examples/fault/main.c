/* fault: reads an address no board region covers, so the simulator reports the faulting
 * PC (inside read_sensor), the symbol and the address. */
#include "simmcu.h"

#define SENSOR_ADDRESS 0x60000000u

__attribute__((noinline)) uint32_t read_sensor(void)
{
    return *(volatile uint32_t *)SENSOR_ADDRESS;
}

int main(void)
{
    printf("reading sensor at %p\n", (void *)SENSOR_ADDRESS);
    uint32_t v = read_sensor();
    printf("unreachable: %u\n", (unsigned)v);
    return 0;
}
