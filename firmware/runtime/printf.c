/* The console (putchar, puts, printf: line-buffered SYS_WRITEs) and a small printf family:
 * %d %i %u %x %X %p %s %c %%, %f %e %g (and %F %E %G), flags '-' and '0', width, precision for
 * %s and the floating-point conversions, length modifiers l, ll, z.
 *
 * Floating point is formatted exactly, as glibc does (round half to even on the exact binary
 * value), with integer arithmetic only: no FPU or soft-float routines are needed, and the
 * integer conversions pay nothing for it. */
#include "simmcu.h"

static char out_buf[128];
static size_t out_len;

void simmcu_flush(void)
{
    /* The console is the handle SYS_OPEN gives for ":tt", as QEMU and debuggers expect. */
    static long console = -1;
    if (!out_len)
        return;
    if (console < 0) {
        const uint32_t open[3] = {(uint32_t)(uintptr_t)":tt", 4 /* "w" */, 3};
        console = simmcu_semihost(SYS_OPEN, open);
    }
    const uint32_t block[3] = {(uint32_t)console, (uint32_t)(uintptr_t)out_buf, out_len};
    simmcu_semihost(SYS_WRITE, block);
    out_len = 0;
}

int putchar(int c)
{
    out_buf[out_len++] = (char)c;
    if (c == '\n' || out_len == sizeof out_buf)
        simmcu_flush();
    return (unsigned char)c;
}

int puts(const char *s)
{
    while (*s)
        putchar(*s++);
    putchar('\n');
    return 0;
}

struct out {
    char *buf;
    size_t size, len;
    int console; /* printf: straight to putchar, no length limit */
};

static __attribute__((noinline)) void emit(struct out *o, char c)
{
    if (o->console)
        putchar(c);
    else if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        emit(o, c);
}

/* The padding and sign before a field of len characters (the sign included). */
static void open_field(struct out *o, int len, int negative, int width, int left, char fill)
{
    if (!left && fill == ' ')
        pad(o, ' ', width - len);
    if (negative)
        emit(o, '-');
    if (!left && fill == '0')
        pad(o, '0', width - len);
}

static void number(struct out *o, uint64_t v, int negative, unsigned base, int upper, int width, int left,
                   char fill)
{
    char digits[24];
    int n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[v % base];
        v /= base;
    } while (v);
    int len = n + negative;
    open_field(o, len, negative, width, left, fill);
    while (n)
        emit(o, digits[--n]);
    if (left)
        pad(o, ' ', width - len);
}

/* The exact decimal value of a double, 0.D x 10^exp, and how it was rounded. */
struct decimal {
    uint32_t limb[88]; /* D as an integer in base 1e9, least significant first (2^53 * 5^1074 fits) */
    int limbs, digits, exp;
    int shift;         /* leading zeros put before D so that rounding keeps at least one digit */
    int up, last;      /* rounded up: digit `last` grows by one, those after it become 0 */
    int carry;         /* rounded up through nines only: the value is now 1 x 10^(exp - 1) */
};

static const uint32_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

static __attribute__((noinline)) void multiply(struct decimal *d, uint32_t factor)
{
    uint32_t carry = 0;
    for (int i = 0; i < d->limbs; i++) {
        uint64_t t = (uint64_t)d->limb[i] * factor + carry;
        d->limb[i] = (uint32_t)(t % 1000000000u);
        carry = (uint32_t)(t / 1000000000u);
    }
    for (; carry; carry /= 1000000000u)
        d->limb[d->limbs++] = carry % 1000000000u;
}

/* Digit i of the exact value (0 outside it), counting the leading zeros of the shift. */
static __attribute__((noinline)) int exact(const struct decimal *d, int i)
{
    i -= d->shift;
    if (i < 0 || i >= d->digits)
        return 0;
    int j = d->digits - 1 - i;
    return (int)(d->limb[j / 9] / pow10[j % 9] % 10);
}

/* Digit i after rounding to the digits kept. */
static __attribute__((noinline)) int rounded(const struct decimal *d, int i)
{
    if (d->carry)
        return i == 0;
    if (!d->up || i < d->last)
        return exact(d, i);
    return i == d->last ? exact(d, i) + 1 : 0;
}

static __attribute__((noinline)) void decompose(struct decimal *d, uint64_t bits)
{
    int e = (int)(bits >> 52 & 0x7ff);
    uint64_t m = bits & ((1ull << 52) - 1);
    d->shift = d->up = d->carry = 0;
    d->limbs = d->digits = 0;
    d->exp = 1; /* zero: 0.0 x 10^1, so that its first digit is the units */
    if (!e && !m)
        return;
    if (e)
        m |= 1ull << 52;
    else
        e = 1; /* subnormal */
    e -= 1075; /* value = m * 2^e */
    d->limb[0] = (uint32_t)(m % 1000000000u);
    d->limb[1] = (uint32_t)(m / 1000000000u);
    d->limbs = d->limb[1] ? 2 : 1;
    d->exp = 0;
    for (int k; e > 0; e -= k) {
        k = e < 29 ? e : 29;
        multiply(d, 1u << k);
    }
    for (int k; e < 0; e += k) { /* m / 2^k = m * 5^k / 10^k */
        k = -e < 13 ? -e : 13;
        uint32_t f = 1;
        for (int i = 0; i < k; i++)
            f *= 5;
        multiply(d, f);
        d->exp -= k;
    }
    d->digits = 9 * (d->limbs - 1);
    for (uint32_t top = d->limb[d->limbs - 1]; top; top /= 10)
        d->digits++;
    d->exp += d->digits;
}

/* Keep `keep` digits (at least one, shifting in leading zeros), rounding half to even. */
static void round_to(struct decimal *d, int keep)
{
    if (keep < 1) {
        d->shift = 1 - keep;
        d->exp += d->shift;
        keep = 1;
    }
    int next = exact(d, keep), rest = 0;
    for (int i = keep + 1; !rest && i < d->digits + d->shift; i++)
        rest = exact(d, i);
    d->up = next > 5 || (next == 5 && (rest || exact(d, keep - 1) % 2));
    d->carry = 0;
    if (d->up) {
        d->last = keep - 1;
        while (d->last >= 0 && exact(d, d->last) == 9)
            d->last--;
        if (d->last < 0) {
            d->carry = 1;
            d->exp++;
        }
    }
}

static __attribute__((noinline)) void floating(struct out *o, uint64_t bits, char conv, int precision, int width,
                                              int left, char fill)
{
    int negative = (int)(bits >> 63), upper = conv < 'a';
    conv |= 0x20;
    bits &= ~(1ull << 63);
    if (bits >= 0x7ffull << 52) { /* inf and nan: no zero padding */
        const char *s = bits == 0x7ffull << 52 ? (upper ? "INF" : "inf") : (upper ? "NAN" : "nan");
        open_field(o, 3 + negative, negative, width, left, ' ');
        for (; *s; s++)
            emit(o, *s);
        if (left)
            pad(o, ' ', width - 3 - negative);
        return;
    }
    struct decimal d;
    decompose(&d, bits);
    if (precision < 0)
        precision = 6;
    int strip = 0;
    if (conv == 'g') {
        int p = precision ? precision : 1;
        round_to(&d, p);
        int x = d.exp - 1;
        conv = p > x && x >= -4 ? 'f' : 'e';
        precision = conv == 'f' ? p - 1 - x : p - 1;
        strip = 1;
    } else {
        round_to(&d, conv == 'f' ? d.exp + precision : precision + 1);
    }
    int x = d.exp - 1;                   /* the first digit's power of ten */
    int first = conv == 'f' ? x + 1 : 1; /* digits before the point; the fraction's come next */
    if (strip)                           /* %g: no trailing zeros after the point */
        while (precision > 0 && rounded(&d, first + precision - 1) == 0)
            precision--;
    int ax = x < 0 ? -x : x;
    int len = negative + (first > 0 ? first : 1) + (precision ? precision + 1 : 0)
              + (conv == 'e' ? (ax >= 100 ? 5 : 4) : 0);
    open_field(o, len, negative, width, left, fill);
    if (first <= 0)
        emit(o, '0');
    for (int i = 0; i < first; i++)
        emit(o, (char)('0' + rounded(&d, i)));
    if (precision)
        emit(o, '.');
    for (int i = 0; i < precision; i++)
        emit(o, (char)('0' + rounded(&d, first + i)));
    if (conv == 'e') {
        emit(o, upper ? 'E' : 'e');
        emit(o, x < 0 ? '-' : '+');
        number(o, (unsigned)ax, 0, 10, 0, 2, 0, '0');
    }
    if (left)
        pad(o, ' ', width - len);
}

static void format(struct out *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(o, *fmt);
            continue;
        }
        int left = 0, width = 0, precision = -1, longs = 0;
        char fill = ' ';
        for (;; fmt++) {
            if (fmt[1] == '-')
                left = 1;
            else if (fmt[1] == '0')
                fill = '0';
            else
                break;
        }
        while (fmt[1] >= '0' && fmt[1] <= '9')
            width = width * 10 + (*++fmt - '0');
        if (fmt[1] == '.') {
            fmt++;
            precision = 0;
            while (fmt[1] >= '0' && fmt[1] <= '9')
                precision = precision * 10 + (*++fmt - '0');
        }
        while (fmt[1] == 'l' || fmt[1] == 'z') {
            longs += fmt[1] == 'l' ? 1 : (sizeof(size_t) == 8 ? 2 : 1);
            fmt++;
        }
        if (left)
            fill = ' ';
        char c = *++fmt;
        switch (c) {
        case 'd':
        case 'i': {
            int64_t v = longs >= 2 ? va_arg(ap, long long) : longs ? va_arg(ap, long) : va_arg(ap, int);
            number(o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, 0, width, left, fill);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long)
                         : longs   ? va_arg(ap, unsigned long)
                                   : va_arg(ap, unsigned);
            number(o, v, 0, c == 'u' ? 10 : 16, c == 'X', width, left, fill);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            union {
                double d;
                uint64_t bits;
            } v = {va_arg(ap, double)};
            floating(o, v.bits, c, precision, width, left, fill);
            break;
        }
        case 'p':
            emit(o, '0');
            emit(o, 'x');
            number(o, (uintptr_t)va_arg(ap, void *), 0, 16, 0, 8, 0, '0');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len] && (precision < 0 || len < precision))
                len++;
            if (!left)
                pad(o, ' ', width - len);
            for (int i = 0; i < len; i++)
                emit(o, s[i]);
            if (left)
                pad(o, ' ', width - len);
            break;
        }
        case 'c':
            emit(o, (char)va_arg(ap, int));
            break;
        case '%':
            emit(o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            emit(o, '%');
            emit(o, c);
        }
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0, 0};
    format(&o, fmt, ap);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int printf(const char *fmt, ...)
{
    struct out o = {0, 0, 0, 1};
    va_list ap;
    va_start(ap, fmt);
    format(&o, fmt, ap);
    va_end(ap);
    return (int)o.len;
}
