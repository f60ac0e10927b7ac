/* RISC-V machine-mode registers the simulator models: CSRs and the CLINT timer. */
#ifndef SIMMCU_RISCV_H
#define SIMMCU_RISCV_H

#include <stdint.h>

#ifndef SIMMCU_CLINT_BASE
#define SIMMCU_CLINT_BASE 0x02000000u
#endif
#define CLINT_MSIP        (*(volatile uint32_t *)(SIMMCU_CLINT_BASE + 0x0000u))
#define CLINT_MTIMECMP_LO (*(volatile uint32_t *)(SIMMCU_CLINT_BASE + 0x4000u))
#define CLINT_MTIMECMP_HI (*(volatile uint32_t *)(SIMMCU_CLINT_BASE + 0x4004u))
#define CLINT_MTIME_LO    (*(volatile uint32_t *)(SIMMCU_CLINT_BASE + 0xBFF8u))
#define CLINT_MTIME_HI    (*(volatile uint32_t *)(SIMMCU_CLINT_BASE + 0xBFFCu))

#define MSTATUS_MIE (1u << 3)
#define MIE_MSIE (1u << 3)
#define MIE_MTIE (1u << 7)
#define MIE_MEIE (1u << 11)  /* device interrupt lines (accelerators) */

#define csr_read(csr) ({ uint32_t v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" :: "r"((uint32_t)(v)))
#define csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" :: "r"((uint32_t)(v)))
#define csr_clear(csr, v) __asm__ volatile("csrc " #csr ", %0" :: "r"((uint32_t)(v)))

static inline uint64_t clint_mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = CLINT_MTIME_HI;
        lo = CLINT_MTIME_LO;
    } while (hi != CLINT_MTIME_HI);
    return ((uint64_t)hi << 32) | lo;
}

static inline void clint_set_mtimecmp(uint64_t when)
{
    CLINT_MTIMECMP_HI = 0xFFFFFFFFu; /* no spurious match while the halves disagree */
    CLINT_MTIMECMP_LO = (uint32_t)when;
    CLINT_MTIMECMP_HI = (uint32_t)(when >> 32);
}

static inline void simmcu_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

#endif
