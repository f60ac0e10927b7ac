// CV32E40P (cv32e40p_top) with the testbench's port list (tb_obi.cc): both OBI buses, the reset
// address and a retire stream. The packaged CV32E40P has RVFI only as a bound behavioural model
// (bhv/cv32e40p_rvfi.sv), so an instruction is taken as retired when it leaves the ID stage, the
// event that counts minstret (cv32e40p_id_stage.sv: id_valid_o && is_decoding_o). No PULP
// extensions, no cluster interface, no FPU.
module tb_top (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] boot_addr_i,   // reset PC
  output logic        instr_req_o,
  input  logic        instr_gnt_i,
  input  logic        instr_rvalid_i,
  output logic [31:0] instr_addr_o,
  input  logic [31:0] instr_rdata_i,
  output logic        data_req_o,
  input  logic        data_gnt_i,
  input  logic        data_rvalid_i,
  output logic        data_we_o,
  output logic [3:0]  data_be_o,
  output logic [31:0] data_addr_o,
  output logic [31:0] data_wdata_o,
  input  logic [31:0] data_rdata_i,
  output logic        retire_o,      // an instruction left ID at this clock edge
  output logic [31:0] retire_pc_o,
  output logic        halt_o         // it is an EBREAK (the semihosting exit)
);
  cv32e40p_top #(.COREV_PULP(0), .COREV_CLUSTER(0), .FPU(0), .ZFINX(0), .NUM_MHPMCOUNTERS(1)) u_top (
    .clk_i, .rst_ni,
    .pulp_clock_en_i    (1'b1),
    .scan_cg_en_i       (1'b0),
    .boot_addr_i,
    .mtvec_addr_i       (boot_addr_i),
    .dm_halt_addr_i     (32'h1A11_0800),
    .hart_id_i          (32'd0),
    .dm_exception_addr_i(32'h1A11_0808),
    .instr_req_o, .instr_gnt_i, .instr_rvalid_i, .instr_addr_o, .instr_rdata_i,
    .data_req_o, .data_gnt_i, .data_rvalid_i, .data_we_o, .data_be_o, .data_addr_o, .data_wdata_o,
    .data_rdata_i,
    .irq_i              (32'd0),
    .irq_ack_o          (),
    .irq_id_o           (),
    .debug_req_i        (1'b0),
    .debug_havereset_o  (),
    .debug_running_o    (),
    .debug_halted_o     (),
    .fetch_enable_i     (1'b1),
    .core_sleep_o       ()
  );

  wire leaves_id = u_top.core_i.id_stage_i.id_valid_o && u_top.core_i.id_stage_i.is_decoding_o
                   && u_top.core_i.id_stage_i.instr_valid_i;
  assign retire_o    = leaves_id && !u_top.core_i.id_stage_i.ebrk_insn_dec;
  assign retire_pc_o = u_top.core_i.pc_id;
  assign halt_o      = u_top.core_i.id_stage_i.instr_valid_i && u_top.core_i.id_stage_i.is_decoding_o
                       && u_top.core_i.id_stage_i.ebrk_insn_dec;
endmodule
