/* simmcu firmware runtime: console, exit and cycle counter for bare-metal programs.
 *
 * Output and exit go through semihosting (Arm BKPT 0xAB; RISC-V
 * slli/ebreak/srai), which the simulator serves; the same ELF also runs
 * under a debugger or QEMU with semihosting enabled.
 */
#ifndef SIMMCU_H
#define SIMMCU_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Standard semihosting operation numbers. */
enum {
    SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITEC = 0x03, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05,
    SYS_READ = 0x06, SYS_READC = 0x07, SYS_CLOCK = 0x10, SYS_TIME = 0x11, SYS_ERRNO = 0x13,
    SYS_GET_CMDLINE = 0x15, SYS_EXIT = 0x18, SYS_EXIT_EXTENDED = 0x20, SYS_ELAPSED = 0x30, SYS_TICKFREQ = 0x31,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

/* One semihosting call: operation number and pointer to its parameter block. */
static inline long simmcu_semihost(long op, const void *arg)
{
#if defined(__riscv)
    register long a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n.option norvc\n.balign 4\n"
                     "slli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
#else
    register long r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
#endif
}

int putchar(int c);
int puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void simmcu_flush(void);

/* Modeled cycle count since reset (DWT CYCCNT on ARMv7-M and later; SYS_ELAPSED on ARMv6-M,
 * which has no cycle counter, and on RISC-V, whose cores implement different counter CSRs). */
uint64_t simmcu_cycles(void);

__attribute__((noreturn)) void _exit(int status);
void *_sbrk(ptrdiff_t increment);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
