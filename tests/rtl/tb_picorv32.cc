// Cycle-counting testbench for the PicoRV32 RTL (translated to C++ by Yosys' CXXRTL backend).
//
// LATENCY 0: the memory answers within the cycle of the request (mem_ready with mem_valid, the
// condition of the README's CPI table); 1: as the upstream testbench_ez.v, mem_ready and mem_rdata
// are registers set on the clock edge after mem_valid rises.
// Usage: tb IMAGE BASE SIZE RESULT_ADDR MAX_CYCLES LATENCY [TRACE]
//   TRACE: file that gets "PC CYCLE" per instruction: the cycle it entered cpu_state_fetch, and
//   its address (reg_pc when it then enters cpu_state_ld_rs1). Differences of consecutive CYCLEs
//   are per-instruction cycles, its fetch included.
//   IMAGE: raw bytes loaded at BASE into a SIZE-byte memory (the ELF's flash and SRAM, flattened)
// Prints "cycles N trap T result R": cycles from reset release to the first trap (the firmware's
// semihosting EBREAK at exit), and the 32-bit word at RESULT_ADDR then.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include "picorv32_cxxrtl.cc"

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8) {
        std::fprintf(stderr, "usage: %s IMAGE BASE SIZE RESULT_ADDR MAX_CYCLES LATENCY\n", argv[0]);
        return 2;
    }
    uint32_t base = std::strtoul(argv[2], nullptr, 0), size = std::strtoul(argv[3], nullptr, 0);
    uint32_t result_addr = std::strtoul(argv[4], nullptr, 0);
    uint64_t max_cycles = std::strtoull(argv[5], nullptr, 0);
    bool registered = std::atoi(argv[6]) != 0;
    FILE *trace = argc == 8 ? std::fopen(argv[7], "w") : nullptr;
    const uint32_t fetch_state = 0x40, decode_state = 0x20;  // picorv32.v: cpu_state_fetch, _ld_rs1
    uint64_t fetch_entered = 0;
    uint32_t last_state = 0;
    std::vector<uint8_t> mem(size, 0);
    FILE *f = std::fopen(argv[1], "rb");
    if (!f || std::fread(mem.data(), 1, size, f) == 0) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    std::fclose(f);

    cxxrtl_design::p_picorv32 top;
    auto edge = [&](bool clk) { top.p_clk.set<bool>(clk); top.step(); };
    top.p_resetn.set<bool>(false);
    for (int i = 0; i < 4; i++) { edge(false); edge(true); }
    top.p_resetn.set<bool>(true);

    bool ready = false;
    uint32_t rdata = 0;
    uint64_t cycles = 0;
    // One memory transfer at the current outputs of the core: read data, and the write applied.
    auto access = [&](uint32_t addr, uint32_t wdata, uint32_t wstrb, uint32_t &data) {
        uint32_t off = (addr & ~3u) - base;
        if (off > size - 4)
            return false;
        data = mem[off] | mem[off + 1] << 8 | mem[off + 2] << 16 | (uint32_t)mem[off + 3] << 24;
        for (int b = 0; b < 4; b++)
            if (wstrb >> b & 1)
                mem[off + b] = wdata >> (8 * b);
        return true;
    };
    while (!top.p_trap.get<bool>() && cycles < max_cycles) {
        edge(false);
        bool valid = top.p_mem__valid.get<bool>();
        uint32_t addr = top.p_mem__addr.get<uint32_t>();
        bool next_ready = false;
        uint32_t next_rdata = rdata;
        if (valid && (registered ? !ready : true)) {
            if (!access(addr, top.p_mem__wdata.get<uint32_t>(), top.p_mem__wstrb.get<uint32_t>(), next_rdata)) {
                std::printf("cycles %llu trap 2 result 0 bad-address 0x%08x\n", (unsigned long long)cycles, addr);
                return 1;
            }
            next_ready = true;
        }
        if (!registered) {  // combinational: the core sees the answer at this very edge
            top.p_mem__ready.set<bool>(next_ready);
            top.p_mem__rdata.set<uint32_t>(next_rdata);
            top.step();
        }
        edge(true);
        if (registered) {  // the memory's registers take their new values at the edge
            top.p_mem__ready.set<bool>(next_ready);
            top.p_mem__rdata.set<uint32_t>(next_rdata);
            top.step();
        } else {
            top.p_mem__ready.set<bool>(false);
        }
        ready = next_ready;
        rdata = next_rdata;
        cycles++;
        uint32_t state = top.p_cpu__state.get<uint32_t>();
        if (state == fetch_state && last_state != fetch_state)
            fetch_entered = cycles;
        if (trace && state == decode_state && last_state != decode_state)
            std::fprintf(trace, "%08x %llu\n", top.p_reg__pc.get<uint32_t>(), (unsigned long long)fetch_entered);
        last_state = state;
    }
    if (trace)
        std::fclose(trace);
    uint32_t off = result_addr - base;
    uint32_t result = off <= size - 4 ? mem[off] | mem[off + 1] << 8 | mem[off + 2] << 16 | (uint32_t)mem[off + 3] << 24 : 0;
    std::printf("cycles %llu trap %d result %u\n", (unsigned long long)cycles, top.p_trap.get<bool>() ? 1 : 0, result);
    return 0;
}
