/* Kernels for comparing simmcu's picorv32 profile with the PicoRV32 RTL. One kernel per build
 * (-DKERNEL=name); each stores a checksum in rtl_result and returns its low byte as the exit
 * code, so both simulators can be checked for the same result. Nothing is printed: the RTL
 * testbench stops at the first EBREAK, the semihosting exit. */
#include <stdint.h>

volatile uint32_t rtl_result;

#define N 64
static int8_t a8[N * N], b8[N * N];
static int32_t m32[16 * 16], n32[16 * 16], p32[16 * 16];
static uint8_t buf[2048], dst[2048];
static int32_t keys[200];

static void fill(uint32_t seed)
{
    for (int i = 0; i < N * N; i++) {
        seed = seed * 1664525u + 1013904223u;
        a8[i] = (int8_t)(seed >> 24);
        b8[i] = (int8_t)(seed >> 16);
    }
    for (int i = 0; i < 256; i++) {
        seed = seed * 1664525u + 1013904223u;
        m32[i] = (int32_t)(seed >> 20) - 2048;
        n32[i] = (int32_t)(seed & 0xfff) - 2048;
    }
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 3));
    for (int i = 0; i < 200; i++) {
        seed = seed * 1664525u + 1013904223u;
        keys[i] = (int32_t)(seed >> 8);
    }
}

__attribute__((noinline)) static uint32_t conv_int8(void)  /* int8 3x3 convolution, MUL-heavy */
{
    int32_t total = 0;
    for (int y = 1; y < 31; y++)
        for (int x = 1; x < 31; x++) {
            int32_t acc = 0;
            for (int ky = -1; ky <= 1; ky++)
                for (int kx = -1; kx <= 1; kx++)
                    acc += a8[(y + ky) * N + x + kx] * b8[(ky + 1) * 3 + kx + 1];
            total += acc >> 4;
        }
    return (uint32_t)total;
}

__attribute__((noinline)) static uint32_t matmul_int32(void)  /* 16x16 int32 matrix multiply */
{
    uint32_t sum = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int32_t acc = 0;
            for (int k = 0; k < 16; k++)
                acc += m32[i * 16 + k] * n32[k * 16 + j];
            p32[i * 16 + j] = acc;
            sum += (uint32_t)acc;
        }
    return sum;
}

__attribute__((noinline)) static uint32_t crc32_bitwise(void)  /* shifts, xors, data-dependent branches */
{
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < 512; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
    }
    return ~crc;
}

__attribute__((noinline)) static uint32_t copy_bytes(void)  /* byte loads and stores */
{
    uint32_t sum = 0;
    for (int rep = 0; rep < 4; rep++) {
        for (int i = 0; i < (int)sizeof buf; i++)
            dst[i] = (uint8_t)(buf[i] ^ rep);
        for (int i = 0; i < (int)sizeof dst; i += 4)
            sum += dst[i];
    }
    return sum;
}

__attribute__((noinline)) static uint32_t insertion_sort(void)  /* loads, stores, compares */
{
    for (int i = 1; i < 200; i++) {
        int32_t k = keys[i];
        int j = i - 1;
        while (j >= 0 && keys[j] > k) {
            keys[j + 1] = keys[j];
            j--;
        }
        keys[j + 1] = k;
    }
    return (uint32_t)keys[0] ^ (uint32_t)keys[100] ^ (uint32_t)keys[199];
}

__attribute__((noinline)) static uint32_t decimal(void)  /* DIV/REM: numbers to decimal digits */
{
    uint32_t sum = 0;
    for (uint32_t v = 1; v < 2000000000u; v = v * 3 + 7)
        for (uint32_t x = v; x; x /= 10)
            sum += x % 10;
    return sum;
}

__attribute__((noinline)) static uint32_t fib(uint32_t n)  /* calls and returns */
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static uint32_t shifts(void)  /* register-amount shifts (barrel shifter option) */
{
    uint32_t x = 0x12345678u, sum = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t s = i & 31;
        x = (x << s | x >> ((32 - s) & 31)) ^ i;
        sum += x >> (i % 7) ;
    }
    return sum;
}

int main(void)
{
    fill(12345);
    uint32_t r = KERNEL;
    rtl_result = r;
    return (int)(r & 0xff);
}
