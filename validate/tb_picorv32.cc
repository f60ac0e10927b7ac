// Cycle-counting testbench for the PicoRV32 RTL (translated to C++ by Yosys' CXXRTL backend).
// PicoRV32's native memory interface: one transfer at a time, mem_valid held until mem_ready.
//   comb: mem_ready and mem_rdata within the cycle of mem_valid (the README's CPI condition).
//   registered N: mem_ready and mem_rdata are registers set on the clock edge N+1 cycles after
//     mem_valid rose (N = 0: upstream testbench_ez.v's memory).
// Retire trace: an instruction is logged at the clock edge that decodes it (cpu_state_fetch with
// decoder_trigger; its address is then reg_pc), with the cycle its time began: when the core
// entered cpu_state_fetch for it, or, after a JAL (which picorv32.v decodes and resolves inside
// cpu_state_fetch, never leaving it), the cycle after the JAL's decode. Differences of
// consecutive cycles are per-instruction cycles, its fetch included.
#include "tb_common.h"
#include "picorv32_cxxrtl.cc"

int main(int argc, char **argv)
{
    Bench b(argc, argv);
    const uint32_t fetch_state = 0x40;  // picorv32.v: cpu_state_fetch
    uint64_t began = 0;
    uint32_t last_state = 0;

    cxxrtl_design::p_picorv32 top;
    auto edge = [&](bool clk) { top.p_clk.set<bool>(clk); top.step(); };
    top.p_resetn.set<bool>(false);
    for (int i = 0; i < 4; i++) { edge(false); edge(true); }
    top.p_resetn.set<bool>(true);

    bool ready = false;
    uint32_t rdata = 0;
    unsigned waited = 0;  // registered: cycles mem_valid has waited for mem_ready
    while (!top.p_trap.get<bool>() && b.cycles < b.max_cycles) {
        edge(false);
        bool valid = top.p_mem__valid.get<bool>();
        uint32_t addr = top.p_mem__addr.get<uint32_t>();
        bool next_ready = false;
        uint32_t next_rdata = rdata;
        if (valid && !(b.registered && (ready || waited++ < b.wait_states))) {
            if (!b.contains(addr))
                return b.report(2, addr);
            uint32_t wstrb = top.p_mem__wstrb.get<uint32_t>();
            next_rdata = b.access(addr, wstrb != 0, top.p_mem__wdata.get<uint32_t>(), wstrb);
            next_ready = true;
            waited = 0;
        }
        if (!b.registered) {  // combinational: the core sees the answer at this very edge
            top.p_mem__ready.set<bool>(next_ready);
            top.p_mem__rdata.set<uint32_t>(next_rdata);
            top.step();
        }
        bool decoding = top.p_cpu__state.get<uint32_t>() == fetch_state && top.p_decoder__trigger.get<bool>();
        edge(true);
        if (b.registered) {  // the memory's registers take their new values at the edge
            top.p_mem__ready.set<bool>(next_ready);
            top.p_mem__rdata.set<uint32_t>(next_rdata);
            top.step();
        } else {
            top.p_mem__ready.set<bool>(false);
        }
        ready = next_ready;
        rdata = next_rdata;
        b.cycles++;
        uint32_t state = top.p_cpu__state.get<uint32_t>();
        if (decoding)
            b.retired(top.p_reg__pc.get<uint32_t>(), began);
        if (state == fetch_state && (last_state != fetch_state || decoding))
            began = b.cycles;
        last_state = state;
    }
    return b.report(top.p_trap.get<bool>() ? 1 : 0);
}
