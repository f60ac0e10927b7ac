/* Thousands of instructions of straight-line code: decoding it takes measurable time (and compiling
 * it little: each S512 is a few seconds of -O2). */
#include "simmcu.h"

#define S1(n) x = x * 31u + (n); y ^= x >> ((n) & 7);
#define S8(n) S1(n) S1(n + 1) S1(n + 2) S1(n + 3) S1(n + 4) S1(n + 5) S1(n + 6) S1(n + 7)
#define S64(n) S8(n) S8(n + 8) S8(n + 16) S8(n + 24) S8(n + 32) S8(n + 40) S8(n + 48) S8(n + 56)
#define S512(n) S64(n) S64(n + 64) S64(n + 128) S64(n + 192) S64(n + 256) S64(n + 320) S64(n + 384) S64(n + 448)

static volatile uint32_t sink;

int main(void)
{
    uint32_t x = sink, y = 0;
    S512(0) S512(512)
    sink = x + y;
    return 0;
}
