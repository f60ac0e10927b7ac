/* Cortex-M system registers the simulator models: SysTick, NVIC, SCB, DWT. */
#ifndef SIMMCU_CORTEXM_H
#define SIMMCU_CORTEXM_H

#include <stdint.h>

#define SIMMCU_REG(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR   SIMMCU_REG(0xE000E010u)
#define SYST_RVR   SIMMCU_REG(0xE000E014u)
#define SYST_CVR   SIMMCU_REG(0xE000E018u)
#define NVIC_ISER(n) SIMMCU_REG(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) SIMMCU_REG(0xE000E180u + 4u * (n))
#define NVIC_ISPR(n) SIMMCU_REG(0xE000E200u + 4u * (n))
#define NVIC_ICPR(n) SIMMCU_REG(0xE000E280u + 4u * (n))
#define NVIC_IPR8(n) (*(volatile uint8_t *)(0xE000E400u + (n)))
#define NVIC_STIR  SIMMCU_REG(0xE000EF00u)
#define SCB_CPUID  SIMMCU_REG(0xE000ED00u)
#define SCB_ICSR   SIMMCU_REG(0xE000ED04u)
#define SCB_VTOR   SIMMCU_REG(0xE000ED08u)
#define SCB_AIRCR  SIMMCU_REG(0xE000ED0Cu)
#define SCB_SHPR3  SIMMCU_REG(0xE000ED20u)
#define SCB_CPACR  SIMMCU_REG(0xE000ED88u)
#define DEMCR      SIMMCU_REG(0xE000EDFCu)
#define DWT_CTRL   SIMMCU_REG(0xE0001000u)
#define DWT_CYCCNT SIMMCU_REG(0xE0001004u)

#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)
#define SYST_CSR_COUNTFLAG (1u << 16)
#define ICSR_PENDSVSET     (1u << 28)

static inline void simmcu_enable_irq(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void simmcu_disable_irq(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void simmcu_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

static inline void nvic_enable(unsigned irq) { NVIC_ISER(irq / 32) = 1u << (irq % 32); }

#endif
