/* Driver for simmcu's `conv` coprocessor (docs/accelerators.md): int8 convolution with TFLite
 * semantics, operands in memory, read by DMA at START, output written at the end. */
#ifndef SIMMCU_CONV_H
#define SIMMCU_CONV_H
#include <stdint.h>

#ifndef SIMMCU_CONV_BASE
#define SIMMCU_CONV_BASE 0x40000000u
#endif
#define CONV_REG(off) (*(volatile uint32_t *)(SIMMCU_CONV_BASE + (off)))
#define CONV_CTRL CONV_REG(0x00)      /* bit 0 START, bit 1 IRQ_EN */
#define CONV_STATUS CONV_REG(0x04)    /* bit 0 BUSY, bit 1 DONE, bit 2 ERROR; write DONE to acknowledge */
#define CONV_ERROR CONV_REG(0x08)     /* 0 none, 1 misaligned, 2 out of range, 3 shape, 4 tiling, 5 busy */
#define CONV_INPUT CONV_REG(0x0C)     /* int8 [H][W][C] */
#define CONV_WEIGHTS CONV_REG(0x10)   /* int8 [OC][KH][KW][C]; depthwise: [KH][KW][OC] */
#define CONV_BIAS CONV_REG(0x14)      /* int32 [OC] */
#define CONV_OUTPUT CONV_REG(0x18)    /* int8 [OH][OW][OC] */
#define CONV_QUANT CONV_REG(0x1C)     /* int32 [OC][2]: multiplier, shift (TFLite: > 0 left) */
#define CONV_IN_H CONV_REG(0x20)
#define CONV_IN_W CONV_REG(0x24)
#define CONV_IN_C CONV_REG(0x28)
#define CONV_OUT_C CONV_REG(0x2C)
#define CONV_KERNEL CONV_REG(0x30)    /* KH | KW << 8 */
#define CONV_STRIDE CONV_REG(0x34)    /* SH | SW << 8 */
#define CONV_PAD CONV_REG(0x38)       /* top | left << 8 | bottom << 16 | right << 24 */
#define CONV_MODE CONV_REG(0x3C)      /* bit 0 depthwise, bit 1 single rounding (as FULLY_CONNECTED) */
#define CONV_IN_ZP CONV_REG(0x40)
#define CONV_OUT_ZP CONV_REG(0x44)
#define CONV_ACT_MIN CONV_REG(0x48)
#define CONV_ACT_MAX CONV_REG(0x4C)
#define CONV_OUT_H CONV_REG(0x50)     /* read-only: output height of the programmed shape */
#define CONV_OUT_W CONV_REG(0x54)
#define CONV_LAST_CYCLES CONV_REG(0x58)

#define CONV_START 1u
#define CONV_IRQ_EN 2u
#define CONV_BUSY 1u
#define CONV_DONE 2u
#define CONV_ERR 4u
#define CONV_MODE_DEPTHWISE 1u
#define CONV_MODE_SINGLE_ROUNDING 2u

typedef struct {
    const int8_t *input, *weights;
    const int32_t *bias, *quant;
    int8_t *output;
    uint32_t h, w, c, oc, kh, kw, sh, sw, pad_t, pad_l, pad_b, pad_r, mode;
    int32_t in_zp, out_zp, act_min, act_max;
} conv_job;

static inline void conv_program(const conv_job *j)
{
    CONV_INPUT = (uint32_t)(uintptr_t)j->input;
    CONV_WEIGHTS = (uint32_t)(uintptr_t)j->weights;
    CONV_BIAS = (uint32_t)(uintptr_t)j->bias;
    CONV_QUANT = (uint32_t)(uintptr_t)j->quant;
    CONV_OUTPUT = (uint32_t)(uintptr_t)j->output;
    CONV_IN_H = j->h;
    CONV_IN_W = j->w;
    CONV_IN_C = j->c;
    CONV_OUT_C = j->oc;
    CONV_KERNEL = j->kh | j->kw << 8;
    CONV_STRIDE = j->sh | j->sw << 8;
    CONV_PAD = j->pad_t | j->pad_l << 8 | j->pad_b << 16 | j->pad_r << 24;
    CONV_MODE = j->mode;
    CONV_IN_ZP = (uint32_t)j->in_zp;
    CONV_OUT_ZP = (uint32_t)j->out_zp;
    CONV_ACT_MIN = (uint32_t)j->act_min;
    CONV_ACT_MAX = (uint32_t)j->act_max;
}

/* Start and poll until done; returns the ERROR register (0: success). */
static inline uint32_t conv_run(const conv_job *j)
{
    conv_program(j);
    CONV_CTRL = CONV_START;
    while (CONV_STATUS & CONV_BUSY)
        ;
    uint32_t err = CONV_ERROR;
    CONV_STATUS = CONV_DONE;
    return err;
}
#endif
