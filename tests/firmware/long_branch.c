/* A BL that is a branch: Thumb-1 compilers reach beyond B's 2 KiB with BL inside a function, and
 * nothing returns to its fall-through. The profile must not count it as a call (it did, and every
 * later function nested under this one). */
#include "simmcu.h"

__attribute__((naked, noinline)) int far_jump(void)
{
    __asm__ volatile("push {r4, lr}\n"
                     "movs r0, #5\n"
                     "bl 1f\n"          /* to the same function: a jump, LR clobbered */
                     "movs r0, #0\n"    /* never runs */
                     "1: adds r0, #2\n"
                     "pop {r4, pc}\n");
}

__attribute__((noinline)) int after(int x) { return x * 3; }

int main(void)
{
    int v = far_jump();
    printf("%d\n", after(v));
    return 0;
}
