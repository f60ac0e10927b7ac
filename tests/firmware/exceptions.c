/* Exception entry/return details: thread mode on the process stack (as an RTOS runs tasks),
 * and floating-point registers preserved across an interrupt that also uses them. */
#include "simmcu.h"
#include "simmcu_cortexm.h"

static volatile uint32_t ticks, handler_sp_was_msp;
static uint32_t process_stack[256] __attribute__((aligned(8)));

void SysTick_Handler(void)
{
    uint32_t sp, msp;
    __asm__ volatile("mov %0, sp\n mrs %1, msp" : "=r"(sp), "=r"(msp));
    handler_sp_was_msp = sp == msp;
#if defined(__ARM_FP)
    /* s0-s15 are caller-saved: the compiler does not preserve them, the exception frame must. */
    __asm__ volatile("vmov.f32 s0, #-1.0\n vmov.f32 s1, #-1.0\n vmov.f32 s2, #-1.0\n vmov.f32 s3, #-1.0\n"
                     "vmov.f32 s4, #-1.0\n vmov.f32 s5, #-1.0\n vmov.f32 s6, #-1.0\n vmov.f32 s7, #-1.0\n"
                     "vmov.f32 s8, #-1.0\n vmov.f32 s9, #-1.0\n vmov.f32 s10, #-1.0\n vmov.f32 s11, #-1.0\n"
                     "vmov.f32 s12, #-1.0\n vmov.f32 s13, #-1.0\n vmov.f32 s14, #-1.0\n vmov.f32 s15, #-1.0"
                     ::: "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",
                     "s13", "s14", "s15");
#endif
    ticks++;
}

__attribute__((noinline)) static uint32_t work(void)
{
#if defined(__ARM_FP)
    static volatile float step = 0.25f;
    float acc = 0.0f;
    for (int i = 0; i < 4000; i++)
        acc += step;  /* exact in binary floating point: 1000.0 */
    return (uint32_t)acc;
#else
    static volatile uint32_t one = 1;
    uint32_t acc = 0;
    for (int i = 0; i < 4000; i++)
        acc += one;
    return acc / 4;
#endif
}

/* Runs on the process stack; never returns into main's frame on the main stack. */
__attribute__((noinline)) static int task(void)
{
    SYST_RVR = 499;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    uint32_t result = work();
    SYST_CSR = 0;
    uint32_t control, sp, psp;
    __asm__ volatile("mrs %0, control\n mov %1, sp\n mrs %2, psp" : "=r"(control), "=r"(sp), "=r"(psp));
    printf("result=%u ticks>0=%u handler_msp=%u thread_psp=%u\n", (unsigned)result, ticks > 0,
           (unsigned)handler_sp_was_msp, (unsigned)((control & 2) && sp == psp));
    return !(result == 1000 && ticks > 0 && handler_sp_was_msp && (control & 2) && sp == psp);
}

int main(void)
{
    __asm__ volatile("msr psp, %0\n movs r0, #2\n msr control, r0\n isb"
                     :: "r"(process_stack + 256) : "r0", "memory");
    _exit(task());
}
