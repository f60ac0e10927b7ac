/* Vectored mtvec: the machine timer interrupt enters at base + 4 * 7. */
#include "simmcu.h"
#include "simmcu_riscv.h"

static volatile uint32_t timer_runs;

__attribute__((interrupt("machine"))) void timer_entry(void)
{
    timer_runs++;
    csr_clear(mie, MIE_MTIE);
}

__attribute__((interrupt("machine"))) void other_entry(void)
{
    printf("wrong vector, mcause %x\n", (unsigned)csr_read(mcause));
    _exit(2);
}

__attribute__((naked, aligned(64))) void vector_table(void)
{
    __asm__ volatile(".option push\n.option norvc\n"
                     "j other_entry\n j other_entry\n j other_entry\n j other_entry\n"
                     "j other_entry\n j other_entry\n j other_entry\n j timer_entry\n"
                     ".option pop");
}

int main(void)
{
    csr_write(mtvec, (uint32_t)(uintptr_t)vector_table | 1u);
    clint_set_mtimecmp(clint_mtime() + 500);
    csr_set(mie, MIE_MTIE);
    csr_set(mstatus, MSTATUS_MIE);
    while (!timer_runs)
        simmcu_wfi();
    printf("timer via vector 7: %u\n", (unsigned)timer_runs);
    return 0;
}
