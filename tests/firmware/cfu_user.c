/* A user-defined custom instruction (tests/test_accelerators.py defines the unit): custom-0,
 * funct3 0 returns the number of bits in which rs1 and rs2 differ. */
#include "simmcu.h"
#include "simmcu_cfu.h"

int main(void)
{
    uint32_t a = 0x12345678u, wrong = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t b = a * 2654435761u + i;
        wrong += (uint32_t)CFU_OP(0, 0, a, b) != (uint32_t)__builtin_popcount(a ^ b);
        a = b;
    }
    printf("wrong %u\n", (unsigned)wrong);
    return wrong != 0;
}
