/* Word-aligned accesses through pointers from everywhere, one of which may not be aligned, for the access
 * plans' alignment check (tests/test_access_plans.py): LDRD/STRD through pointers loaded from a table,
 * LDM/STM through computed ones (memcpy of structs), VLDR/VSTR where there is an FPU. FAULT_AT (-1: none)
 * is the pass whose pointer is off by 2 bytes: the core's UsageFault must come at that access. */
#include <stdint.h>

#include "simmcu.h"

#ifndef FAULT_AT
#define FAULT_AT -1
#endif
#define N 24

struct pair { int64_t a; int64_t b; };
static struct pair pairs[N] __attribute__((aligned(8)));
static uint8_t raw[8 * N + 16] __attribute__((aligned(8)));
static void *table[N];

static __attribute__((noinline)) int64_t sum_pairs(void *const *ptrs, int n) {
    int64_t s = 0;
    for (int i = 0; i < n; i++) {
        const int64_t *p = ptrs[i];  /* a pointer loaded, then an LDRD through it in the same block */
        s += p[0] ^ (p[1] << 1);
    }
    return s;
}

static __attribute__((noinline)) void copy_pairs(struct pair *dst, const struct pair *src, int n) {
    for (int i = 0; i < n; i++)
        dst[i] = src[(i * 7) % n];  /* LDM/STM or LDRD/STRD pairs */
}

#if defined(__ARM_FP)
static __attribute__((noinline)) float scale(float *const *ptrs, int n) {
    float s = 0;
    for (int i = 0; i < n; i++)
        s += *ptrs[i] * 0.5f;  /* VLDR through a loaded pointer */
    return s;
}
#endif

int main(void) {
    for (int i = 0; i < N; i++) {
        pairs[i].a = i * 0x10001;
        pairs[i].b = -i;
        table[i] = (i == FAULT_AT) ? (void *)(raw + 2) : (void *)&pairs[i];
    }
    int64_t s = sum_pairs(table, N);
    copy_pairs((struct pair *)raw, pairs, N / 2);
    s += sum_pairs(table, N / 2);
#if defined(__ARM_FP)
    s += (int64_t)scale((float *const *)table, N);
#endif
    printf("sum %ld\n", (long)(s & 0x7fffffff));
    return 0;
}
