// The abstract lowRISC primitives Ibex instantiates, bound to their generic implementations
// (what lowRISC's FuseSoC generator `primgen` emits for the generic technology).
module prim_buf #(parameter int Width = 1) (input [Width-1:0] in_i, output logic [Width-1:0] out_o);
  prim_generic_buf #(.Width(Width)) u_impl (.*);
endmodule

module prim_flop #(parameter int Width = 1, parameter logic [Width-1:0] ResetValue = 0) (
  input clk_i, input rst_ni, input [Width-1:0] d_i, output logic [Width-1:0] q_o);
  prim_generic_flop #(.Width(Width), .ResetValue(ResetValue)) u_impl (.*);
endmodule

module prim_clock_gating #(parameter bit NoFpgaGate = 1'b0, parameter bit FpgaBufGlobal = 1'b1) (
  input clk_i, input en_i, input test_en_i, output logic clk_o);
  prim_generic_clock_gating u_impl (.*);
endmodule

module prim_clock_mux2 #(parameter bit NoFpgaBufG = 1'b0) (
  input clk0_i, input clk1_i, input sel_i, output logic clk_o);
  prim_generic_clock_mux2 u_impl (.*);
endmodule

module prim_and2 #(parameter int Width = 1) (
  input [Width-1:0] in0_i, input [Width-1:0] in1_i, output logic [Width-1:0] out_o);
  prim_generic_and2 #(.Width(Width)) u_impl (.*);
endmodule

module prim_ram_1p import prim_ram_1p_pkg::*; #(
  parameter int Width = 32, parameter int Depth = 128, parameter int DataBitsPerMask = 1,
  parameter MemInitFile = "", localparam int Aw = $clog2(Depth)) (
  input clk_i, input req_i, input write_i, input [Aw-1:0] addr_i, input [Width-1:0] wdata_i,
  input [Width-1:0] wmask_i, output logic [Width-1:0] rdata_o, input ram_1p_cfg_t cfg_i);
  prim_generic_ram_1p #(.Width(Width), .Depth(Depth), .DataBitsPerMask(DataBitsPerMask),
                        .MemInitFile(MemInitFile)) u_impl (.*);
endmodule
