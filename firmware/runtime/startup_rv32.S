/* RV32 reset entry: global pointer, stack, then C start-up (data copy, bss zero, main, _exit). */
    .section .text.init, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, _estack
    call __simmcu_start_c
    .size _start, . - _start
