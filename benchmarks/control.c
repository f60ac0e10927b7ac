/* Control-heavy firmware for speed measurements: short basic blocks (calls, branches, pointer
 * chasing) rather than long arithmetic loops. Each of REPS rounds runs a linked-list pass, a
 * protocol state machine over a byte stream, an insertion sort and a quicksort, FNV-1a and CRC-8
 * hashing, and string handling (tokenising, reversing, number formatting and parsing), all through
 * small non-inlined functions. Every part checks itself; main returns 0 when all checks held and
 * the number of the first failing part otherwise. Prints nothing until it ends, so a plain-Unicorn
 * run can stop at its exit. */
#include "simmcu.h"

#ifndef REPS
#define REPS 400
#endif

#define NOINLINE __attribute__((noinline))
#define N_NODES 64
#define N_SORT 48
#define STREAM 96

static uint32_t seed = 12345;

static NOINLINE uint32_t next_random(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

/* -- linked list: build, reverse, walk, remove the odd values ----------------------------- */
struct node {
    struct node *next;
    int value;
};
static struct node pool[N_NODES];

static NOINLINE struct node *list_build(int n)
{
    struct node *head = 0;
    for (int i = 0; i < n; i++) {
        pool[i].value = (int)(next_random() & 1023);
        pool[i].next = head;
        head = &pool[i];
    }
    return head;
}

static NOINLINE struct node *list_reverse(struct node *head)
{
    struct node *prev = 0;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}

static NOINLINE int list_sum(const struct node *head)
{
    int sum = 0;
    for (; head; head = head->next)
        sum += head->value;
    return sum;
}

static NOINLINE struct node *list_drop_odd(struct node *head, int *dropped)
{
    struct node **link = &head;
    while (*link) {
        if ((*link)->value & 1) {
            *link = (*link)->next;
            ++*dropped;
        } else {
            link = &(*link)->next;
        }
    }
    return head;
}

static NOINLINE int list_part(void)
{
    struct node *head = list_build(N_NODES);
    int before = list_sum(head);
    head = list_reverse(head);
    if (head != &pool[0] || list_sum(head) != before)
        return 0;
    int dropped = 0, odd = 0;
    for (int i = 0; i < N_NODES; i++)
        odd += pool[i].value & 1;
    head = list_drop_odd(head, &dropped);
    for (const struct node *p = head; p; p = p->next)
        if (p->value & 1)
            return 0;
    return dropped == odd;
}

/* -- state machine: frames "<len><payload><sum>" with escapes, parsed byte by byte --------- */
enum state { IDLE, LENGTH, PAYLOAD, ESCAPE, CHECK };
#define START 0x7E
#define ESC 0x7D

struct parser {
    enum state state;
    int length, got, sum, frames, errors;
};

static NOINLINE void parser_feed(struct parser *p, int byte)
{
    switch (p->state) {
    case IDLE:
        if (byte == START)
            p->state = LENGTH;
        break;
    case LENGTH:
        p->length = byte;
        p->got = 0;
        p->sum = 0;
        p->state = byte ? PAYLOAD : CHECK;
        break;
    case PAYLOAD:
        if (byte == ESC) {
            p->state = ESCAPE;
            break;
        }
        /* fall through */
    case ESCAPE:
        if (p->state == ESCAPE)
            byte ^= 0x20;
        p->sum = (p->sum + byte) & 0xFF;
        p->state = ++p->got == p->length ? CHECK : PAYLOAD;
        break;
    case CHECK:
        if (byte == p->sum)
            p->frames++;
        else
            p->errors++;
        p->state = IDLE;
        break;
    }
}

static NOINLINE int emit(uint8_t *out, int at, int byte)
{
    if (byte == START || byte == ESC) {
        out[at++] = ESC;
        byte ^= 0x20;
    }
    out[at++] = (uint8_t)byte;
    return at;
}

static NOINLINE int machine_part(void)
{
    static uint8_t stream[4 * STREAM];
    int at = 0, frames = 0, bad = 0;
    while (at < 3 * STREAM) {
        int len = (int)(next_random() % 7), sum = 0;
        stream[at++] = START;
        stream[at++] = (uint8_t)len;
        for (int i = 0; i < len; i++) {
            int byte = (int)(next_random() & 0xFF);
            sum = (sum + byte) & 0xFF;
            at = emit(stream, at, byte);
        }
        int corrupt = (next_random() & 7) == 0;
        stream[at++] = (uint8_t)(corrupt ? sum ^ 1 : sum);
        frames += !corrupt;
        bad += corrupt;
    }
    struct parser p = {IDLE, 0, 0, 0, 0, 0};
    for (int i = 0; i < at; i++)
        parser_feed(&p, stream[i]);
    return p.frames == frames && p.errors == bad;
}

/* -- sorting: insertion sort and quicksort through a comparison function ---------------- */
static NOINLINE int compare(int a, int b) { return (a > b) - (a < b); }

static NOINLINE void insertion_sort(int *v, int n)
{
    for (int i = 1; i < n; i++) {
        int x = v[i], j = i;
        while (j > 0 && compare(v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static NOINLINE void quicksort(int *v, int lo, int hi)
{
    while (lo < hi) {
        int pivot = v[(lo + hi) / 2], i = lo, j = hi;
        while (i <= j) {
            while (compare(v[i], pivot) < 0)
                i++;
            while (compare(v[j], pivot) > 0)
                j--;
            if (i <= j) {
                int t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

static NOINLINE int sort_part(void)
{
    static int a[N_SORT], b[N_SORT];
    int sum = 0;
    for (int i = 0; i < N_SORT; i++) {
        a[i] = b[i] = (int)(next_random() % 1000) - 500;
        sum += a[i];
    }
    insertion_sort(a, N_SORT);
    quicksort(b, 0, N_SORT - 1);
    for (int i = 0; i < N_SORT; i++) {
        if (a[i] != b[i] || (i && a[i - 1] > a[i]))
            return 0;
        sum -= a[i];
    }
    return sum == 0;
}

/* -- hashing: FNV-1a into an open-addressing table, CRC-8 bit by bit ----------------------- */
#define SLOTS 128
static uint32_t keys[SLOTS];

static NOINLINE uint32_t fnv1a(const uint8_t *p, int n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

/* The slot holding ``key``, or the empty slot where it goes. */
static NOINLINE uint32_t table_slot(uint32_t key)
{
    uint32_t slot = fnv1a((const uint8_t *)&key, 4) & (SLOTS - 1);
    while (keys[slot] != 0 && keys[slot] != key)
        slot = (slot + 1) & (SLOTS - 1);
    return slot;
}

static NOINLINE int table_insert(uint32_t key)
{
    uint32_t slot = table_slot(key);
    if (keys[slot] == key)
        return 0;
    keys[slot] = key;
    return 1;
}

static NOINLINE int table_contains(uint32_t key) { return keys[table_slot(key)] == key; }

static NOINLINE uint8_t crc8(const uint8_t *p, int n)
{
    uint8_t crc = 0;
    while (n--) {
        crc ^= *p++;
        for (int bit = 0; bit < 8; bit++)
            crc = crc & 0x80 ? (uint8_t)((crc << 1) ^ 0x07) : (uint8_t)(crc << 1);
    }
    return crc;
}

static NOINLINE int hash_part(void)
{
    memset(keys, 0, sizeof keys);
    uint32_t inserted[SLOTS / 2];
    int n = 0;
    for (int i = 0; i < SLOTS / 2; i++) {
        uint32_t key = next_random() % 200 + 1;
        if (table_insert(key))
            inserted[n++] = key;
    }
    for (int i = 0; i < n; i++)
        if (!table_contains(inserted[i]))
            return 0;
    const uint8_t check[] = "123456789";
    return crc8(check, 9) == 0xF4;  /* the CRC-8 (poly 0x07) check value */
}

/* -- strings: format, parse, tokenise, reverse ------------------------------------------- */
static NOINLINE int format_int(char *out, int v)
{
    char tmp[12];
    int n = 0, at = 0;
    unsigned u = v < 0 ? (unsigned)-v : (unsigned)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[at++] = '-';
    while (n)
        out[at++] = tmp[--n];
    out[at] = 0;
    return at;
}

static NOINLINE int parse_int(const char **s)
{
    int sign = 1, v = 0;
    if (**s == '-') {
        sign = -1;
        ++*s;
    }
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (*(*s)++ - '0');
    return sign * v;
}

static NOINLINE void reverse(char *s, int n)
{
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        char t = s[i];
        s[i] = s[j];
        s[j] = t;
    }
}

static NOINLINE int string_part(void)
{
    static char line[256];
    int values[16], at = 0, sum = 0;
    for (int i = 0; i < 16; i++) {
        values[i] = (int)(next_random() % 20000) - 10000;
        sum += values[i];
        at += format_int(line + at, values[i]);
        line[at++] = i % 3 ? ',' : ' ';
    }
    line[at] = 0;
    if ((int)strlen(line) != at)
        return 0;
    const char *p = line;
    int parsed = 0, count = 0;
    while (*p) {
        parsed += parse_int(&p);
        count++;
        while (*p == ',' || *p == ' ')
            p++;
    }
    reverse(line, at);
    reverse(line, at);
    const char *q = line;
    return count == 16 && parsed == sum && parse_int(&q) == values[0];
}

int main(void)
{
    for (int rep = 0; rep < REPS; rep++) {
        if (!list_part())
            return 1;
        if (!machine_part())
            return 2;
        if (!sort_part())
            return 3;
        if (!hash_part())
            return 4;
        if (!string_part())
            return 5;
    }
    return 0;
}
