// Cycle-counting testbench for the OBI cores (Ibex, CV32E40P), compiled by Verilator with the
// core's wrapper tb_top (tb_ibex.sv, tb_cv32e40p.sv). Each bus (instruction, data) is one port:
//   comb: gnt in the cycle of req (combinationally), rvalid with the data the next cycle; a new
//     request is granted every cycle (the fastest OBI allows).
//   registered N: one transfer at a time; a request is granted in the cycle it is made when the
//     port is idle or returns its previous rvalid in that cycle, and rvalid comes N+1 cycles after
//     the grant. N = 0 is the same timing as comb.
// Writes and reads take effect at the grant. A fetch outside the memory reads 0 (prefetching
// past the image is harmless); a data access outside it stops the run (trap 2).
#include "tb_common.h"
#include "Vtb_top.h"
#include <deque>
#include <memory>

struct Port {
    struct Pending { uint64_t due; uint32_t rdata; };
    std::deque<Pending> pending;
    bool rvalid = false;
    uint32_t rdata = 0;

    // Whether a request in this cycle is granted.
    bool grant(const Bench &b) const
    {
        return !b.registered || pending.empty() || (rvalid && pending.size() == 1);
    }
    // At the start of a cycle: the answer due in it, if any.
    void advance(uint64_t cycle)
    {
        rvalid = !pending.empty() && pending.front().due == cycle;
        if (rvalid) {
            rdata = pending.front().rdata;
            pending.pop_front();
        }
    }
};

int main(int argc, char **argv)
{
    Bench b(argc, argv);
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtb_top>(ctx.get());
    top->boot_addr_i = b.base;  // Ibex starts at BASE + 0x80, CV32E40P at BASE (simmcu.validate lays out the image)
    // A falling edge of rst_ni, not a low level from the start: the cores' flops reset
    // asynchronously (negedge rst_ni), and Ibex gates its own clock while not busy, so without the
    // edge its registers keep Verilator's zero init (priv_lvl_q = U-mode, every CSR illegal;
    // CV32E40P's mcountinhibit 0 instead of all ones).
    top->clk_i = 0;
    top->rst_ni = 1;
    top->eval();
    top->rst_ni = 0;
    top->eval();
    for (int i = 0; i < 8; i++) {
        top->clk_i = 0; top->eval();
        top->clk_i = 1; top->eval();
    }
    top->clk_i = 0; top->eval();
    top->rst_ni = 1;
    top->eval();

    Port ifetch, data;
    const uint64_t latency = b.registered ? b.wait_states + 1 : 1;
    while (b.cycles < b.max_cycles) {
        // Low phase: the answers due in this cycle, then the grants for this cycle's requests.
        top->instr_rvalid_i = ifetch.rvalid;
        top->instr_rdata_i = ifetch.rdata;
        top->data_rvalid_i = data.rvalid;
        top->data_rdata_i = data.rdata;
        top->instr_gnt_i = 0;
        top->data_gnt_i = 0;
        top->eval();
        bool igrant = top->instr_req_o && ifetch.grant(b);
        bool dgrant = top->data_req_o && data.grant(b);
        top->instr_gnt_i = igrant;
        top->data_gnt_i = dgrant;
        top->eval();
        if (top->halt_o)
            return b.report(1);
        if (top->retire_o)
            b.retired(top->retire_pc_o, b.cycles);
        if (igrant) {
            uint32_t a = top->instr_addr_o;
            ifetch.pending.push_back({b.cycles + latency, b.contains(a) ? b.access(a, false, 0, 0) : 0});
        }
        if (dgrant) {
            uint32_t a = top->data_addr_o;
            if (!b.contains(a))
                return b.report(2, a);
            data.pending.push_back({b.cycles + latency, b.access(a, top->data_we_o, top->data_wdata_o, top->data_be_o)});
        }
        top->clk_i = 1; top->eval();
        top->clk_i = 0;
        b.cycles++;
        ifetch.advance(b.cycles);
        data.advance(b.cycles);
    }
    return b.report(0);
}
