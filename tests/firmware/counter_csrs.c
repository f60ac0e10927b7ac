/* Each core's own counter CSRs: `counter_csrs CSR` reads CSR (and prints it), `counter_csrs
 * inhibit` counts 10 NOPs with mcycle and minstret before and after clearing mcountinhibit, as
 * CV32E40P firmware does (its counters reset inhibited). */
#include "simmcu.h"

#define READ(csr) ({ uint32_t v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define SPAN(csr, out) __asm__ volatile("csrr %0, " #csr "\n .rept 10\n nop\n .endr\n csrr %1, " #csr \
                                        : "=&r"(out[0]), "=&r"(out[1]))

static int same(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && !memcmp(a, b, strlen(a));
}

static uint32_t read_csr(const char *name)
{
#define CASE(csr) if (same(name, #csr)) return READ(csr)
    CASE(cycle); CASE(cycleh); CASE(time); CASE(timeh); CASE(instret); CASE(instreth);
    CASE(mcycle); CASE(mcycleh); CASE(minstret); CASE(minstreth); CASE(mcountinhibit);
    printf("unknown CSR %s\n", name);
    _exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!same(argv[1], "inhibit")) {
        printf("%s %u\n", argv[1], (unsigned)read_csr(argv[1]));
        return 0;
    }
    uint32_t c[2], i[2];
    unsigned reset = READ(mcountinhibit);
    SPAN(mcycle, c);
    SPAN(minstret, i);
    printf("mcountinhibit %x: mcycle +%u minstret +%u\n", reset, (unsigned)(c[1] - c[0]), (unsigned)(i[1] - i[0]));
    __asm__ volatile("csrw mcountinhibit, zero");
    SPAN(mcycle, c);
    SPAN(minstret, i);
    printf("mcountinhibit %x: mcycle +%u minstret +%u\n", (unsigned)READ(mcountinhibit), (unsigned)(c[1] - c[0]),
           (unsigned)(i[1] - i[0]));
    __asm__ volatile("csrw mcountinhibit, %0" ::"r"(1u));  /* stop mcycle only */
    SPAN(mcycle, c);
    SPAN(minstret, i);
    printf("mcountinhibit %x: mcycle +%u minstret +%u\n", (unsigned)READ(mcountinhibit), (unsigned)(c[1] - c[0]),
           (unsigned)(i[1] - i[0]));
    return 0;
}
