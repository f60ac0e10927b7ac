/* Per-class micro-programs for the RTL (tests/rtl/micro.py): each block m_<class> repeats one
 * pattern REP times, from label m_<class> to m_<class>_end; the cycles between the retirement of
 * those two labels' instructions in the RTL's retire trace, divided by REP, are the pattern's
 * cycles in steady state. Registers hold the operands each block needs; nothing is printed.
 * With -DMCOUNTINHIBIT, rtl_result gets mcountinhibit as it is after reset (Ibex: an illegal
 * instruction, so not read there).
 * -DCOUNTERS adds csrr of mcycle and minstret. With -DRDCYCLE the program ends in rdcycle (the user cycle CSR, which Ibex does not have). */
#define REP 16
#define BLOCK(name, ...) .globl m_##name; .globl m_##name##_end; m_##name: .rept REP; __VA_ARGS__; .endr; m_##name##_end: .4byte 0x00000013 /* nop, never compressed */

    .section .bss
    .globl rtl_result
    .balign 4
rtl_result:
    .word 0

    .section .text
    .option norvc
    .globl main
    .balign 4
main:
#ifdef MCOUNTINHIBIT
    csrr a0, 0x320              /* mcountinhibit, before anything writes it */
    la t1, rtl_result
    sw a0, 0(t1)
    csrw 0x320, zero            /* count cycles and instructions from here on */
#endif
    addi sp, sp, -16
    li a2, 3
    li a3, 5
    BLOCK(alu, add a1, a2, a3)
    BLOCK(load, lw a1, 0(sp))
    BLOCK(store, sw a2, 0(sp))
    BLOCK(load_use, lw a1, 0(sp); add a4, a1, a1)
    BLOCK(branch_not_taken, bne zero, zero, 1f; 1:)
    BLOCK(branch_taken, beq zero, zero, 1f; 1:)
    BLOCK(jal, jal zero, 1f; 1:)
    BLOCK(auipc_jalr, auipc t0, 0; jalr zero, 8(t0))
    BLOCK(auipc_alu_jalr, auipc t0, 0; add a1, a2, a3; jalr zero, 12(t0))
    BLOCK(mul, mul a1, a2, a3)
    BLOCK(mulh, mulh a1, a2, a3)
    li a2, 100
    li a3, 7
    BLOCK(div_small, div a1, a2, a3)
    BLOCK(rem_small, rem a1, a2, a3)
    li a2, 0x7fffffff
    li a3, 3
    BLOCK(div_large, div a1, a2, a3)
    li a3, 0
    BLOCK(div_zero, div a1, a2, a3)
    li a2, 0x80000000
    li a3, -1
    BLOCK(div_overflow, div a1, a2, a3)
    .option rvc
    BLOCK(compressed_alu, c.add a1, a2)
    c.nop                       /* the next block's 32-bit instructions at 2 mod 4 */
    .option norvc
    BLOCK(branch_taken_misaligned, beq zero, zero, 1f; 1:)
    BLOCK(jal_misaligned, jal zero, 1f; 1:)
    .option rvc
    c.nop
    .option norvc
#ifdef COUNTERS
    BLOCK(csr_mcycle, csrr a1, mcycle)
    BLOCK(csr_minstret, csrr a1, minstret)
#endif
#ifdef RDCYCLE
    BLOCK(rdcycle, rdcycle a1)
#endif
    addi sp, sp, 16
    li a0, 0
    ret
