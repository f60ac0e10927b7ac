/* gdb_target: a small kernel for the GDB server tests -- a function to break at, a global the
 * loop writes (write watchpoint) and one it reads (read watchpoint), console output, exit code 3.
 * Built with -D SPIN=1 it first spins until a debugger clears `spin` (Ctrl-C tests). */
#include "simmcu.h"

#ifndef SPIN
#define SPIN 0
#endif
volatile int32_t spin = SPIN;

volatile int32_t total;          /* written on every call of dot() */
volatile int32_t scale = 3;      /* read on every call of dot() */
int32_t a[16], b[16];

__attribute__((noinline)) int32_t dot(const int32_t *x, const int32_t *y, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++)
        s += x[i] * y[i];
    total += s * scale;
    return s;
}

int main(void)
{
    while (spin)
        ;
    for (int i = 0; i < 16; i++) {
        a[i] = i + 1;
        b[i] = 2 * i - 7;
    }
    int32_t r = 0;
    for (int k = 0; k < 4; k++)
        r += dot(a, b, 16 - k);
    printf("dot %ld total %ld\n", (long)r, (long)total);
    return 3;
}
