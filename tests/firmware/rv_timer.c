/* RISC-V interrupt paths: the CLINT machine timer every 1000 cycles through mtvec, woken from
 * WFI, a software interrupt through msip, and an ecall trap; the cycle count read through the runtime. */
#include "simmcu.h"
#include "simmcu_riscv.h"

static volatile uint32_t ticks, soft_runs, ecalls;

__attribute__((interrupt("machine"), aligned(4))) void trap_handler(void) /* mtvec needs 4-byte alignment */
{
    uint32_t cause = csr_read(mcause);
    if (cause == 0x80000007u) {
        ticks++;
        if (ticks < 10)
            clint_set_mtimecmp(clint_mtime() + 1000);
        else
            csr_clear(mie, MIE_MTIE);
    } else if (cause == 0x80000003u) {
        soft_runs++;
        CLINT_MSIP = 0;
    } else if (cause == 11) {
        ecalls++;
        csr_write(mepc, csr_read(mepc) + 4);
    }
}

int main(void)
{
    csr_write(mtvec, (uint32_t)(uintptr_t)trap_handler);
    __asm__ volatile("ecall");
    csr_set(mie, MIE_MSIE);
    csr_set(mstatus, MSTATUS_MIE);
    CLINT_MSIP = 1;
    clint_set_mtimecmp(clint_mtime() + 1000);
    csr_set(mie, MIE_MTIE);
    while (ticks < 10)
        simmcu_wfi();
    uint64_t cycles = simmcu_cycles();
    printf("ticks=%u soft=%u ecalls=%u\n", (unsigned)ticks, (unsigned)soft_runs, (unsigned)ecalls);
    printf("cycles>=10000: %u\n", cycles >= 10000u);
    return !(ticks == 10 && soft_runs == 1 && ecalls == 1);
}
