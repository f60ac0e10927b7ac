/* Loads and stores inside Thumb-2 IT blocks, for runs that hook every data access (exact memory,
 * data cache). Unicorn #2309: such a hook can leave the IT state behind, and the code after the
 * block then runs as if predicated. Each case leaves the block a different way: falling through,
 * by a branch that ends the block, and by a conditional return (POP {..., PC}) to the caller. */
#include "simmcu.h"

static volatile uint32_t table[64];

__attribute__((noinline)) static uint32_t fall_through(uint32_t n)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        __asm__ volatile("cmp %[i], #32\n"
                         "ittee lo\n"
                         "ldrlo %[v], [%[t], %[i], lsl #2]\n"
                         "strlo %[i], [%[t], %[i], lsl #2]\n"
                         "movhs %[v], #5\n"
                         "addhs %[v], %[v], %[i]\n"
                         "cmp %[v], #40\n"      /* flags for the C code after the block */
                         : [v] "=&r"(v) : [i] "r"(i), [t] "r"(table) : "cc", "memory");
        sum += v < 40 ? v : 2 * v;
    }
    return sum;
}

__attribute__((noinline)) static uint32_t branch_out(uint32_t n)
{
    uint32_t hits = 0;
    for (uint32_t i = 0; i < n; i++) {
        __asm__ volatile("tst %[i], #3\n"
                         "itt eq\n"
                         "streq %[i], [%[t], #4]\n"
                         "beq 1f\n"
                         "adds %[h], %[h], #1\n"
                         "1:\n"
                         : [h] "+r"(hits) : [i] "r"(i), [t] "r"(table) : "cc", "memory");
    }
    return hits;
}

/* Returns *p + c, or p[1] when c == 0: a load and the return inside one IT block. */
__attribute__((naked, noinline)) static uint32_t cond_return(const volatile uint32_t *p, uint32_t c)
{
    __asm__ volatile("push {r4, lr}\n"
                     "ldr r4, [r0]\n"
                     "cmp r1, #0\n"
                     "itt eq\n"
                     "ldreq r0, [r0, #4]\n"
                     "popeq {r4, pc}\n"
                     "adds r0, r4, r1\n"
                     "pop {r4, pc}\n");
}

int main(void)
{
    for (int i = 0; i < 64; i++)
        table[i] = (uint32_t)(3 * i + 1);
    uint32_t a = fall_through(64);
    uint32_t b = branch_out(100);
    table[0] = 10;
    table[1] = 7;
    uint32_t c = 0;
    for (uint32_t k = 0; k < 50; k++)
        c += cond_return(table, k % 3) < 11 ? 1 : 100;  /* a compare and branch after each return */
    printf("a=%u b=%u c=%u\n", a, b, c);
    return 0;
}
