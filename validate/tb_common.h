// What the three RTL testbenches share: the command line, the memory image, the retire trace and
// the report. Each testbench adds only its core's bus protocol (tb_obi.cc, tb_picorv32.cc).
//
// Usage: tb IMAGE BASE SIZE RESULT_ADDR MAX_CYCLES MEMORY WAIT_STATES [TRACE]
//   IMAGE: raw bytes loaded at BASE into a SIZE-byte memory (the ELF flattened by simmcu.validate)
//   MEMORY: "comb" (the memory answers as fast as the bus allows) or "registered" (registered
//   memory with WAIT_STATES (0..3) extra cycles per transfer); each testbench says what that
//   means on its bus.
//   TRACE: a file that gets "PC CYCLE" (hex PC, decimal cycle) per retired instruction.
// Prints "cycles N trap T result R": cycles from reset release to the exit EBREAK (T = 1; T = 0 if
// MAX_CYCLES ran out first; T = 2 on a data access outside the memory) and the 32-bit word at
// RESULT_ADDR then.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

struct Bench {
    uint32_t base = 0, size = 0, result_addr = 0;
    uint64_t max_cycles = 0, cycles = 0;
    bool registered = false;
    unsigned wait_states = 0;
    std::vector<uint8_t> mem;
    FILE *trace = nullptr;

    Bench(int argc, char **argv)
    {
        if (argc != 8 && argc != 9) {
            std::fprintf(stderr, "usage: %s IMAGE BASE SIZE RESULT_ADDR MAX_CYCLES comb|registered WAIT_STATES [TRACE]\n", argv[0]);
            std::exit(2);
        }
        base = std::strtoul(argv[2], nullptr, 0);
        size = std::strtoul(argv[3], nullptr, 0);
        result_addr = std::strtoul(argv[4], nullptr, 0);
        max_cycles = std::strtoull(argv[5], nullptr, 0);
        registered = std::strcmp(argv[6], "registered") == 0;
        wait_states = std::strtoul(argv[7], nullptr, 0);
        if (!registered && std::strcmp(argv[6], "comb") != 0) {
            std::fprintf(stderr, "memory must be comb or registered, not %s\n", argv[6]);
            std::exit(2);
        }
        mem.assign(size, 0);
        FILE *f = std::fopen(argv[1], "rb");
        if (!f || std::fread(mem.data(), 1, size, f) == 0) {
            std::fprintf(stderr, "cannot read %s\n", argv[1]);
            std::exit(2);
        }
        std::fclose(f);
        if (argc == 9 && !(trace = std::fopen(argv[8], "w"))) {
            std::fprintf(stderr, "cannot write %s\n", argv[8]);
            std::exit(2);
        }
    }

    bool contains(uint32_t addr) const { return (addr & ~3u) - base <= size - 4; }

    // One word transfer: returns the word at addr and applies the byte-enabled write.
    uint32_t access(uint32_t addr, bool write, uint32_t wdata, uint32_t be)
    {
        uint32_t off = (addr & ~3u) - base;
        uint32_t data = mem[off] | mem[off + 1] << 8 | mem[off + 2] << 16 | (uint32_t)mem[off + 3] << 24;
        for (int b = 0; write && b < 4; b++)
            if (be >> b & 1)
                mem[off + b] = wdata >> (8 * b);
        return data;
    }

    void retired(uint32_t pc, uint64_t cycle) const
    {
        if (trace)
            std::fprintf(trace, "%08x %llu\n", pc, (unsigned long long)cycle);
    }

    int report(int trap, uint32_t bad_addr = 0)
    {
        if (trace)
            std::fclose(trace);
        uint32_t result = contains(result_addr) ? access(result_addr, false, 0, 0) : 0;
        std::printf("cycles %llu trap %d result %u", (unsigned long long)cycles, trap, result);
        if (trap == 2)
            std::printf(" bad-address 0x%08x", bad_addr);
        std::printf("\n");
        return trap == 1 ? 0 : 1;
    }
};
