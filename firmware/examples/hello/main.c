/* hello: the smallest useful program -- console output through semihosting, exit code 0. */
#include "simmcu.h"

int main(void)
{
    printf("Hello from simmcu on %s!\n", SIMMCU_CORE);
    return 0;
}
