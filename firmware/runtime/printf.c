/* A small vsnprintf: %d %i %u %x %X %p %s %c %%, flags '-' and '0', width, precision for %s,
 * length modifiers l, ll, z. Enough for reports; no floating point (it would pull in soft-float). */
#include "simmcu.h"

struct out {
    char *buf;
    size_t size, len;
};

static void emit(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        emit(o, c);
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
    if (negative && fill == '0')
        emit(o, '-');
    if (!left)
        pad(o, fill, width - len);
    if (negative && fill != '0')
        emit(o, '-');
    while (n)
        emit(o, digits[--n]);
    if (left)
        pad(o, ' ', width - len);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(&o, *fmt);
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
            number(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, 0, width, left, fill);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long)
                         : longs   ? va_arg(ap, unsigned long)
                                   : va_arg(ap, unsigned);
            number(&o, v, 0, c == 'u' ? 10 : 16, c == 'X', width, left, fill);
            break;
        }
        case 'p':
            emit(&o, '0');
            emit(&o, 'x');
            number(&o, (uintptr_t)va_arg(ap, void *), 0, 16, 0, 8, 0, '0');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len] && (precision < 0 || len < precision))
                len++;
            if (!left)
                pad(&o, ' ', width - len);
            for (int i = 0; i < len; i++)
                emit(&o, s[i]);
            if (left)
                pad(&o, ' ', width - len);
            break;
        }
        case 'c':
            emit(&o, (char)va_arg(ap, int));
            break;
        case '%':
            emit(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            emit(&o, '%');
            emit(&o, c);
        }
    }
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
