/* Cortex-M vector table and reset handler. Handlers are weak: define SysTick_Handler,
 * IRQ0_Handler ... in the firmware to install one. Unhandled exceptions report and exit. */
#include "simmcu.h"

extern uint32_t _estack[];
void __simmcu_start_c(void);

__attribute__((noreturn)) void Reset_Handler(void) { __simmcu_start_c(); for (;;) {} }

__attribute__((noreturn)) void Default_Handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    printf("simmcu runtime: unhandled exception %u\n", (unsigned)ipsr);
    _exit(128 + (int)(ipsr & 0x7f));
}

#define WEAK __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK;
void HardFault_Handler(void) WEAK;
void MemManage_Handler(void) WEAK;
void BusFault_Handler(void) WEAK;
void UsageFault_Handler(void) WEAK;
void SVC_Handler(void) WEAK;
void DebugMon_Handler(void) WEAK;
void PendSV_Handler(void) WEAK;
void SysTick_Handler(void) WEAK;
void IRQ0_Handler(void) WEAK;  void IRQ1_Handler(void) WEAK;  void IRQ2_Handler(void) WEAK;
void IRQ3_Handler(void) WEAK;  void IRQ4_Handler(void) WEAK;  void IRQ5_Handler(void) WEAK;
void IRQ6_Handler(void) WEAK;  void IRQ7_Handler(void) WEAK;  void IRQ8_Handler(void) WEAK;
void IRQ9_Handler(void) WEAK;  void IRQ10_Handler(void) WEAK; void IRQ11_Handler(void) WEAK;
void IRQ12_Handler(void) WEAK; void IRQ13_Handler(void) WEAK; void IRQ14_Handler(void) WEAK;
void IRQ15_Handler(void) WEAK; void IRQ16_Handler(void) WEAK; void IRQ17_Handler(void) WEAK;
void IRQ18_Handler(void) WEAK; void IRQ19_Handler(void) WEAK; void IRQ20_Handler(void) WEAK;
void IRQ21_Handler(void) WEAK; void IRQ22_Handler(void) WEAK; void IRQ23_Handler(void) WEAK;
void IRQ24_Handler(void) WEAK; void IRQ25_Handler(void) WEAK; void IRQ26_Handler(void) WEAK;
void IRQ27_Handler(void) WEAK; void IRQ28_Handler(void) WEAK; void IRQ29_Handler(void) WEAK;
void IRQ30_Handler(void) WEAK; void IRQ31_Handler(void) WEAK;

typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) const vector_t __simmcu_vectors[16 + 32] = {
    (vector_t)_estack, Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, SVC_Handler, DebugMon_Handler, 0,
    PendSV_Handler, SysTick_Handler,
    IRQ0_Handler, IRQ1_Handler, IRQ2_Handler, IRQ3_Handler, IRQ4_Handler, IRQ5_Handler,
    IRQ6_Handler, IRQ7_Handler, IRQ8_Handler, IRQ9_Handler, IRQ10_Handler, IRQ11_Handler,
    IRQ12_Handler, IRQ13_Handler, IRQ14_Handler, IRQ15_Handler, IRQ16_Handler, IRQ17_Handler,
    IRQ18_Handler, IRQ19_Handler, IRQ20_Handler, IRQ21_Handler, IRQ22_Handler, IRQ23_Handler,
    IRQ24_Handler, IRQ25_Handler, IRQ26_Handler, IRQ27_Handler, IRQ28_Handler, IRQ29_Handler,
    IRQ30_Handler, IRQ31_Handler,
};
