/* simmcu's `cfu` custom-instruction unit (docs/accelerators.md): int8 inference operations.
 * RISC-V: custom-0 R-type, funct3 = operation, funct7 = selector, rd = result. Cortex-M
 * (ARMv7-M and later): coprocessor 0, MCRR runs an operation (opc1) on two registers (CRm =
 * selector), MRC reads the result of the last operation. */
#ifndef SIMMCU_CFU_H
#define SIMMCU_CFU_H
#include <stdint.h>

#define CFU_MAC4 0       /* acc += sum over 4 lanes of (int8 a + offset) * int8 b; returns acc */
#define CFU_READ 1       /* sel 0: returns acc; sel 1-4: returns lane accumulator sel - 1 */
#define CFU_RESET 2      /* sel 0: acc = a; sel 1: lanes 0, 1 = a, b; sel 2: lanes 2, 3 = a, b */
#define CFU_SET_OFFSET 3 /* input offset = a */
#define CFU_REQUANT 4    /* returns clamp(requantise(a) + out_zp) with the parameters set by CFU_SET */
#define CFU_SET 5        /* parameter[sel] = a: 0 multiplier, 1 shift, 2 out_zp, 3 act_min, 4 act_max,
                          * 5 rounding (0: gemmlowp's two, as TFLite convolutions; 1: one, as FULLY_CONNECTED) */
#define CFU_MACL 6       /* lane-wise MAC: lane k += (int8 input + offset) * int8 byte k of b, four accumulators
                          * (depthwise convolution); the input is byte k >> sel of a: sel 0 four inputs, 1 two
                          * (each feeding two lanes, depth multiplier 2), 2 one (a multiple of 4) */

#if defined(__riscv)
#define CFU_OP(op, sel, a, b) ({ int32_t r_; \
    __asm__ volatile(".insn r 0x0B, %3, %4, %0, %1, %2" : "=r"(r_) : "r"(a), "r"(b), "i"(op), "i"(sel)); r_; })
#define CFU_SEND(op, sel, a, b) ((void)CFU_OP(op, sel, a, b))
#define CFU_RESULT(op, sel, a) CFU_OP(op, sel, a, 0)
#else
#if __ARM_ARCH < 7
#error "the cfu needs coprocessor instructions: ARMv7-M or later"
#endif
#define CFU_SEND(op, sel, a, b) \
    __asm__ volatile("mcrr p0, %c2, %0, %1, c%c3" :: "r"(a), "r"(b), "i"(op), "i"(sel) : "memory")
#define CFU_RESULT(op, sel, a) ({ int32_t r_; CFU_SEND(op, sel, a, 0); \
    __asm__ volatile("mrc p0, 0, %0, c0, c0, 0" : "=r"(r_)); r_; })
#endif

static inline void cfu_mac4(uint32_t a, uint32_t b) { CFU_SEND(CFU_MAC4, 0, a, b); }
static inline void cfu_reset(int32_t acc) { CFU_SEND(CFU_RESET, 0, acc, 0); }
static inline void cfu_set_offset(int32_t off) { CFU_SEND(CFU_SET_OFFSET, 0, off, 0); }
#if defined(__riscv)
static inline int32_t cfu_read(void) { return CFU_OP(CFU_READ, 0, 0, 0); }
static inline int32_t cfu_requant(int32_t acc) { return CFU_OP(CFU_REQUANT, 0, acc, 0); }
#else
static inline int32_t cfu_read(void) { return CFU_RESULT(CFU_READ, 0, 0); }
static inline int32_t cfu_requant(int32_t acc) { return CFU_RESULT(CFU_REQUANT, 0, acc); }
#endif
#define cfu_set_param(sel, v) CFU_SEND(CFU_SET, sel, v, 0)
#define cfu_macl(sel, a, b) CFU_SEND(CFU_MACL, sel, a, b)
#define cfu_reset_lanes(a0, a1, a2, a3) do { CFU_SEND(CFU_RESET, 1, a0, a1); CFU_SEND(CFU_RESET, 2, a2, a3); } while (0)
#define cfu_read_lane(k) CFU_RESULT(CFU_READ, (k) + 1, 0)
#endif
