/* Semihosting calls at the edges (issue 14): the first command-line argument picks one; each prints
 * what the calls returned and the errno they left. */
#include "simmcu.h"

enum { SYS_HEAPINFO = 0x16 };  /* not in simmcu.h */

struct cmdline { char *buf; uint32_t len; };

/* Mapped on neither generic board (flash and SRAM sit elsewhere on both). */
#define UNMAPPED ((void *)0x30000000u)

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static const char rom[16] = "in flash";

static long open_file(const char *name, uint32_t length, uint32_t mode)
{
    const uint32_t block[3] = {(uint32_t)(uintptr_t)name, mode, length};
    return simmcu_semihost(SYS_OPEN, block);
}

static long transfer(long op, long fd, void *buf, uint32_t length)
{
    const uint32_t block[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, length};
    return simmcu_semihost(op, block);
}

static long error(void) { return simmcu_semihost(SYS_ERRNO, 0); }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    static char buf[64];
    if (same(what, "write0-end")) {
        uint32_t info[4];
        const uint32_t block[1] = {(uint32_t)(uintptr_t)info};
        simmcu_semihost(SYS_HEAPINFO, block);
        volatile char *end = (volatile char *)(uintptr_t)(info[2] - 3);  /* the last 3 bytes of RAM */
        char saved[3] = {end[0], end[1], end[2]};
        end[0] = 'h', end[1] = 'i', end[2] = 0;
        simmcu_semihost(SYS_WRITE0, (const void *)end);
        end[0] = saved[0], end[1] = saved[1], end[2] = saved[2];
        printf("\n");
    } else if (same(what, "nul-name")) {
        long fd = open_file("a\0b", 3, 0);
        printf("open %ld errno %ld\n", fd, error());
    } else if (same(what, "wrong-direction")) {
        long fd = open_file("w.txt", 5, 4 /* "w" */);
        long left = transfer(SYS_READ, fd, buf, 4);
        printf("read from a write handle: %ld left, errno %ld\n", left, error());
        simmcu_semihost(SYS_CLOSE, &fd);
        fd = open_file("w.txt", 5, 0 /* "r" */);
        left = transfer(SYS_WRITE, fd, buf, 4);
        printf("write to a read handle: %ld left, errno %ld\n", left, error());
    } else if (same(what, "many-opens")) {
        long opened = 0, first = -1, err = 0;
        for (int i = 0; i < 25000; i++) {
            long fd = open_file(":semihosting-features", 21, 0);
            if (fd >= 0)
                opened++, first = first < 0 ? fd : first;
            else if (!err)
                err = error();
        }
        simmcu_semihost(SYS_CLOSE, &first);
        long again = open_file(":semihosting-features", 21, 0);
        printf("opened %ld, then errno %ld; after a close: %s\n", opened, err, again >= 0 ? "opens" : "fails");
    } else if (same(what, "read-huge")) {
        long fd = open_file("a.txt", 5, 0);
        long left = transfer(SYS_READ, fd, buf, 0xFFFFFFFFu);
        printf("read %lu bytes: %s\n", 0xFFFFFFFFul - (unsigned long)left, buf);
    } else if (same(what, "open-special")) {
        long fifo = open_file("fifo", 4, 0);
        long fifo_errno = error();
        long dir = open_file("dir", 3, 0);
        printf("fifo %ld errno %ld, directory %ld errno %ld\n", fifo, fifo_errno, dir, error());
    } else if (same(what, "read-into-flash")) {
        transfer(SYS_READ, 0 /* stdin */, (void *)rom, 4);
    } else if (same(what, "heapinfo-into-flash")) {
        const uint32_t block[1] = {(uint32_t)(uintptr_t)rom};
        simmcu_semihost(SYS_HEAPINFO, block);
    } else if (same(what, "cmdline-into-flash")) {
        struct cmdline c = {(char *)rom, 128};  /* room for the line: the write itself faults */
        simmcu_semihost(SYS_GET_CMDLINE, &c);
    } else if (same(what, "write-unmapped")) {
        transfer(SYS_WRITE, 1 /* stdout */, UNMAPPED, 4);
    } else if (same(what, "write-huge")) {
        transfer(SYS_WRITE, 1, (void *)rom, 0x7fffffffu);  /* a length far past the buffer's memory */
    } else if (same(what, "write0-unmapped")) {
        simmcu_semihost(SYS_WRITE0, UNMAPPED);
    } else if (same(what, "open-unmapped")) {
        open_file(UNMAPPED, 4, 0);
    } else if (same(what, "heapinfo-unmapped")) {
        const uint32_t block[1] = {(uint32_t)(uintptr_t)UNMAPPED};
        simmcu_semihost(SYS_HEAPINFO, block);
    } else if (same(what, "elapsed-unmapped")) {
        simmcu_semihost(SYS_ELAPSED, UNMAPPED);
    } else if (same(what, "block-unmapped")) {
        simmcu_semihost(SYS_WRITE, UNMAPPED);  /* the argument block itself */
    }
    return 0;
}
