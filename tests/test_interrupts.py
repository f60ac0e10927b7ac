"""Interrupt paths: SysTick, NVIC device IRQs with preemption, PendSV; RISC-V CLINT timer, msip, ecall."""

import pytest


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0plus", "cortex-m33", "cortex-m7"])
def test_cortexm_systick_nvic_pendsv(run, core):
    r = run("systick.c", core)
    assert r.exit_code == 0, (r.message, r.console)
    assert r.console == "ticks=10 irq3=1 irq5=1 nested=1 pendsv=1\ncycles>=10000: 1\n"
    assert r.interrupts == {"SysTick": 10, "IRQ3": 1, "IRQ5": 1, "PendSV": 1}
    # WFI sleeps: modeled cycles pass without instructions; every other cycle has a cause.
    assert r.sleep_cycles > 0
    assert r.cycles == r.instructions - r.dual_issued + sum(r.stalls.values()) + r.sleep_cycles
    assert (r.dual_issued > 0) == (core == "cortex-m7")


def test_rv32_timer_software_interrupt_and_ecall(run):
    r = run("rv_timer.c", "rv32imc")
    assert r.exit_code == 0, (r.message, r.console)
    assert r.console == "ticks=10 soft=1 ecalls=1\ncycles>=10000: 1\n"
    assert r.interrupts == {"machine-timer": 10, "machine-software": 1, "ecall": 1}
    assert r.sleep_cycles > 0
    assert r.cycles == r.instructions + sum(r.stalls.values()) + r.sleep_cycles


def test_interrupt_runs_are_deterministic(run):
    a, b = run("systick.c", "cortex-m4"), run("systick.c", "cortex-m4")
    assert (a.cycles, a.instructions) == (b.cycles, b.instructions)


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m3", "cortex-m0plus"])
def test_process_stack_and_fp_context_survive_interrupts(run, core):
    r = run("exceptions.c", core)
    assert r.exit_code == 0, (r.message, r.console)
    assert r.console == "result=1000 ticks>0=1 handler_msp=1 thread_psp=1\n"
    assert r.interrupts["SysTick"] >= 10


@pytest.mark.parametrize("core", ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"])
@pytest.mark.parametrize("period", [89, 97, 101])  # above exception entry + handler + return
def test_interrupts_around_it_blocks_preserve_results(run, core, period):
    r = run("it_blocks.c", core, defines={"PERIOD": str(period)})
    assert r.console == "same ticks>100=1\n", r.message
    assert r.exit_code == 0


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m33", "cortex-m3"])
def test_primask_and_basepri_release_interrupts_at_once(run, core):
    r = run("masking.c", core)
    assert r.console == "irq1=2 after=3 irq3=4 before=5 irq2=6 after=7\n", r.message


def test_primask_on_armv6m(run):
    r = run("masking.c", "cortex-m0plus")
    assert r.console == "irq1=2 after=3\n", r.message


def test_rv32_vectored_mtvec(run):
    r = run("rv_vectored.c", "rv32imc")
    assert (r.exit_code, r.console) == (0, "timer via vector 7: 1\n"), r.message
