/* Loads and stores whose addresses come from everywhere, for the access plans (tests/test_access_plans.py):
 * pointers chased through a list, loaded from arrays and structs, spilled and reloaded, computed with
 * masks, shifts and scaled indices, tables in flash indexed by loaded bytes, signed and unsigned narrow
 * loads, stores through aliasing pointers, copies, calls through pointers, and the cycle counter read
 * between them (a device register whose value is the time). SEED varies the data and the paths. */
#include <stdint.h>

#include "simmcu.h"

#ifndef SEED
#define SEED 1
#endif
#define NODES 97

struct node { struct node *next; int32_t value; int16_t weight; uint8_t tag; };

static struct node nodes[NODES];
static struct node *slots[NODES];
static int32_t words[256];
static int16_t halves[128];
static int8_t bytes[128];
static const uint8_t sbox[256] = {
#define R(x) (uint8_t)((x) * 167u + 13u), (uint8_t)((x) * 167u + 180u), (uint8_t)((x) * 167u + 91u), \
    (uint8_t)((x) * 167u + 2u)
    R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9), R(10), R(11), R(12), R(13), R(14), R(15),
    R(16), R(17), R(18), R(19), R(20), R(21), R(22), R(23), R(24), R(25), R(26), R(27), R(28), R(29), R(30),
    R(31), R(32), R(33), R(34), R(35), R(36), R(37), R(38), R(39), R(40), R(41), R(42), R(43), R(44), R(45),
    R(46), R(47), R(48), R(49), R(50), R(51), R(52), R(53), R(54), R(55), R(56), R(57), R(58), R(59), R(60),
    R(61), R(62), R(63)
#undef R
};
static uint32_t state = SEED * 2654435761u + 1u;

static uint32_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static void build(void) {
    for (int i = 0; i < NODES; i++) {
        slots[i] = &nodes[i];
        nodes[i].value = (int32_t)next_random();
        nodes[i].weight = (int16_t)next_random();
        nodes[i].tag = (uint8_t)next_random();
    }
    for (int i = NODES - 1; i > 0; i--) {  /* a shuffled cycle: the list's order is the data's */
        int j = (int)(next_random() % (uint32_t)(i + 1));
        struct node *t = slots[i];
        slots[i] = slots[j];
        slots[j] = t;
    }
    for (int i = 0; i < NODES; i++)
        slots[i]->next = slots[(i + 1) % NODES];
    for (int i = 0; i < 256; i++)
        words[i] = (int32_t)next_random();
    for (int i = 0; i < 128; i++) {
        halves[i] = (int16_t)next_random();
        bytes[i] = (int8_t)next_random();
    }
}

static __attribute__((noinline)) int32_t chase(struct node *p, int steps) {
    int32_t sum = 0;
    while (steps--) {
        sum += p->value ^ p->weight;
        if (p->tag & 1)
            p = p->next->next;  /* a pointer loaded and used in one block */
        else
            p = p->next;
    }
    return sum;
}

static __attribute__((noinline)) int32_t lookups(int rounds) {
    uint32_t h = state;
    int32_t acc = 0;
    for (int i = 0; i < rounds; i++) {
        uint8_t b = sbox[(h >> 3) & 0xFF];          /* a byte from flash as the next index */
        acc += words[sbox[b ^ (uint8_t)i]];
        acc ^= halves[b & 127] * bytes[(b >> 1) & 127];
        h = h * 33u + (uint32_t)acc;
    }
    return acc;
}

static __attribute__((noinline)) int32_t spills(const int32_t *in, int n) {
    int32_t a0 = 0, a1 = 1, a2 = 2, a3 = 3, a4 = 4, a5 = 5, a6 = 6, a7 = 7, a8 = 8, a9 = 9, a10 = 10, a11 = 11;
    const int32_t *p = in, *q = in + n - 1;
    for (int i = 0; i < n; i++, p++, q--) {  /* more live values than registers: spilled pointers */
        a0 += *p; a1 ^= *q; a2 += a0 >> 3; a3 -= a1; a4 += p[1] & a2; a5 ^= q[-1]; a6 += a4 * 3;
        a7 -= a5 >> 1; a8 += a6 ^ a7; a9 ^= a8 + *p; a10 += a9 - *q; a11 ^= a10 + a3;
    }
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
}

static __attribute__((noinline)) int32_t aliasing(int rounds) {
    int32_t sum = 0;
    for (int k = 0; k < rounds; k++) {
        int i = (int)(next_random() & 15), j = (int)(next_random() & 15);
        int32_t *a = &words[i], *b = &words[j];
        *a = k;          /* j == i sometimes: the load below then reads this store */
        sum += *b;
        ((int16_t *)b)[1] = (int16_t)sum;
        sum += *a;
    }
    return sum;
}

typedef int32_t (*stage)(int);
static int32_t twice(int x) { return lookups(x) * 2; }
static int32_t shifted(int x) { return aliasing(x) << 1; }
static const stage stages[] = {twice, shifted};

int main(void) {
    build();
    uint32_t t0 = simmcu_cycles();
    int32_t sum = chase(slots[SEED % NODES], 300 + SEED * 7);
    sum += lookups(200 + SEED);
    sum += spills(words + SEED % 16, 96);
    memmove(words + 3, words + (SEED & 7), 100 * sizeof(int32_t));
    memcpy(halves, bytes, sizeof(bytes) / 2);
    for (int i = 0; i < 6; i++)
        sum += stages[(i + SEED) & 1](40 + i);
    uint32_t t1 = simmcu_cycles();
    sum += chase(nodes[SEED & 3].next, 50);
    printf("sum %ld time %lu\n", (long)sum, (unsigned long)(t1 - t0 > 0));
    return 0;
}
