/* One program, many mistakes: the first command-line argument (argv[1]) picks one. */
#include "simmcu.h"

#if defined(__riscv)
#define FLASH_ADDRESS 0x20000100u
#define ILLEGAL_INSTRUCTION ".4byte 0"
#define OTHER_BREAKPOINT "ebreak"
#else
#define FLASH_ADDRESS 0x100u
#define ILLEGAL_INSTRUCTION "udf #1"
#define OTHER_BREAKPOINT "bkpt 0x01"
#endif

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

__attribute__((noinline)) void write_flash(void) { *(volatile uint32_t *)FLASH_ADDRESS = 1; }
__attribute__((noinline)) void spin(void) { for (;;) __asm__ volatile(""); }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (same(what, "write-flash"))
        write_flash();
    else if (same(what, "spin"))
        spin();
    else if (same(what, "wfi-forever"))
        for (;;) __asm__ volatile("wfi");
    else if (same(what, "illegal"))
        __asm__ volatile(ILLEGAL_INSTRUCTION);
    else if (same(what, "breakpoint"))
        __asm__ volatile(OTHER_BREAKPOINT);
    else if (same(what, "system")) {
        const uint32_t block[2] = {(uint32_t)(uintptr_t)"ls", 2};
        simmcu_semihost(0x12 /* SYS_SYSTEM */, block);
    } else if (same(what, "open-file") || same(what, "file-roundtrip")) {
        const char *name = "out.txt";
        const uint32_t wblock[3] = {(uint32_t)(uintptr_t)name, 4 /* "w" */, 7};
        long fd = simmcu_semihost(SYS_OPEN, wblock);
        if (fd < 0)
            return 3;
        const uint32_t w[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)"data 42", 7};
        simmcu_semihost(SYS_WRITE, w);
        simmcu_semihost(SYS_CLOSE, &fd);
        const uint32_t rblock[3] = {(uint32_t)(uintptr_t)name, 0 /* "r" */, 7};
        fd = simmcu_semihost(SYS_OPEN, rblock);
        char back[8] = {0};
        const uint32_t r[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)back, 7};
        simmcu_semihost(SYS_READ, r);
        printf("read back: %s\n", back);
        const uint32_t escape[3] = {(uint32_t)(uintptr_t)"../escape", 4, 9};
        printf("escape: %ld\n", simmcu_semihost(SYS_OPEN, escape));
        return 0;
    }
#if !defined(__riscv)
    else if (same(what, "invstate"))
        __asm__ volatile("movs r0, #0x40\n bx r0" ::: "r0");
    else if (same(what, "svc-masked"))
        __asm__ volatile("cpsid i\n svc 0" ::: "memory");
#endif
    else if (same(what, "exit-7"))
        return 7;
    printf("unknown mistake '%s'\n", what);
    return 99;
}
