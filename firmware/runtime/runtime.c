/* Exit, heap, cycle counter and the C start-up shared by both ISAs. */
#include "simmcu.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _end[], _heap_limit[];

__attribute__((noreturn)) void _exit(int status)
{
    simmcu_flush();
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    simmcu_semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

void *_sbrk(ptrdiff_t increment)
{
    static char *brk = (char *)_end;
    char *old = brk;
    if (increment > (char *)_heap_limit - brk)
        return (void *)-1;
    brk += increment;
    return old;
}

#if defined(__riscv) || defined(__ARM_ARCH_6M__)
/* RISC-V cores disagree on their counter CSRs (PicoRV32 has only rdcycle, Ibex only mcycle,
 * CV32E40P starts with mcycle inhibited) and ARMv6-M has no cycle counter: ask the host. */
uint64_t simmcu_cycles(void)
{
    uint64_t ticks;
    simmcu_semihost(SYS_ELAPSED, &ticks);
    return ticks;
}
#else
#include "simmcu_cortexm.h"
uint64_t simmcu_cycles(void)
{
    return DWT_CYCCNT; /* 32-bit on hardware: wraps after 2^32 cycles */
}
#endif

/* Declared with argc and argv; `int main(void)` is called the same way and ignores them. */
int main(int argc, char **argv);

/* Split the semihosting command line (the ELF's name, then its arguments) at spaces into
 * argv; argc is 0 when the host has none, or with SIMMCU_NO_CMDLINE defined, which makes no
 * semihosting call before main (for hosts that stop at the first one, e.g. an RTL testbench). */
static int arguments(char *line, size_t size, char **argv, int max)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)line, size};
    int argc = 0;
#ifdef SIMMCU_NO_CMDLINE
    (void)block;
    line[0] = '\0';
#else
    if (simmcu_semihost(SYS_GET_CMDLINE, block) != 0)
        line[0] = '\0';
#endif
    for (char *p = line; *p && argc < max;) {
        while (*p == ' ')
            *p++ = '\0';
        if (*p)
            argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[argc] = 0;
    return argc;
}

/* Called by the ISA start-up code with a valid stack. */
__attribute__((noreturn, used)) void __simmcu_start_c(void)
{
    uint32_t *src = _sidata, *dst = _sdata;
    while (dst < _edata)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss; dst++)
        *dst = 0;
#if !defined(__riscv) && !defined(__ARM_ARCH_6M__)
    DEMCR |= 1u << 24;  /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;     /* CYCCNTENA */
#endif
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20; /* CP10/CP11 full access */
#endif
    char line[256], *argv[33];
    int argc = arguments(line, sizeof line, argv, 32);
    _exit(main(argc, argv));
}
