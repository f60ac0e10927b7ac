/* Single-precision float work for speed measurements on FPU cores (Cortex-M4F, M7): REPS rounds
 * of a 16-tap FIR filter over 256 samples, a 12x12 matrix product, a biquad IIR, Newton square
 * roots and a polynomial sine. Each part checks itself against an identity that holds within
 * float rounding; main returns 0 when all checks held, else the number of the failing part.
 * Prints nothing until it ends, so a plain-Unicorn run can stop at its exit. */
#include "simmcu.h"

#ifndef REPS
#define REPS 40
#endif

#define NOINLINE __attribute__((noinline))
#define N 256
#define TAPS 16
#define M 12

static float x[N], y[N], taps[TAPS], a[M][M], b[M][M], c[M][M];

static float absf(float v) { return v < 0 ? -v : v; }

static NOINLINE void fir(const float *in, float *out, int n)
{
    for (int i = TAPS - 1; i < n; i++) {
        float acc = 0.0f;
        for (int k = 0; k < TAPS; k++)
            acc += taps[k] * in[i - k];
        out[i] = acc;
    }
}

static NOINLINE int fir_part(void)
{
    /* Taps summing to 1 on a constant signal give the constant back. */
    for (int k = 0; k < TAPS; k++)
        taps[k] = 1.0f / TAPS;
    for (int i = 0; i < N; i++)
        x[i] = 3.25f;
    fir(x, y, N);
    for (int i = TAPS - 1; i < N; i++)
        if (absf(y[i] - 3.25f) > 1e-4f)
            return 0;
    return 1;
}

static NOINLINE void matmul(float r[M][M], float p[M][M], float q[M][M])
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float acc = 0.0f;
            for (int k = 0; k < M; k++)
                acc += p[i][k] * q[k][j];
            r[i][j] = acc;
        }
}

static NOINLINE int matrix_part(int rep)
{
    /* A times the identity scaled by 2 is 2A. */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            a[i][j] = (float)((i * 7 + j * 3 + rep) % 11) - 5.0f;
            b[i][j] = i == j ? 2.0f : 0.0f;
        }
    matmul(c, a, b);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            if (c[i][j] != 2.0f * a[i][j])
                return 0;
    return 1;
}

static NOINLINE int iir_part(void)
{
    /* A unity-DC-gain low-pass biquad settles on a step's value. */
    const float b0 = 0.2f, b1 = 0.4f, b2 = 0.2f, a1 = -0.3f, a2 = 0.1f;
    float x1 = 0, x2 = 0, y1 = 0, y2 = 0, out = 0;
    for (int i = 0; i < N; i++) {
        out = b0 * 1.0f + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = 1.0f;
        y2 = y1;
        y1 = out;
    }
    return absf(out - 1.0f) < 1e-4f;
}

static NOINLINE float newton_sqrt(float v)
{
    float r = v > 1.0f ? v / 2.0f : 1.0f;
    for (int i = 0; i < 20; i++)
        r = 0.5f * (r + v / r);
    return r;
}

static NOINLINE float poly_sin(float t)
{
    float t2 = t * t;
    return t * (1.0f - t2 / 6.0f * (1.0f - t2 / 20.0f * (1.0f - t2 / 42.0f * (1.0f - t2 / 72.0f))));
}

static NOINLINE int math_part(void)
{
    for (int i = 1; i <= 32; i++) {
        float v = (float)i * 1.5f, r = newton_sqrt(v);
        if (absf(r * r - v) > 1e-3f * v)
            return 0;
        float t = (float)i / 40.0f, s = poly_sin(t), co = poly_sin(1.5707964f - t);
        if (absf(s * s + co * co - 1.0f) > 1e-3f)
            return 0;
    }
    return 1;
}

int main(void)
{
    for (int rep = 0; rep < REPS; rep++) {
        if (!fir_part())
            return 1;
        if (!matrix_part(rep))
            return 2;
        if (!iir_part())
            return 3;
        if (!math_part())
            return 4;
    }
    return 0;
}
