// Ibex (ibex_top) with the testbench's port list (tb_obi.cc): both OBI buses, the reset address
// and a retire stream from RVFI (compile with +define+RVFI). The configuration is the one simmcu's
// ibex profile describes; RV32M (ibex_pkg::rv32m_e: 2 Fast, 3 SingleCycle) and BranchTargetALU are
// set by simmcu.validate with -G.
module tb_top #(
  parameter int RV32M = 2,
  parameter bit BranchTargetALU = 1'b0
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] boot_addr_i,   // reset PC = {boot_addr_i[31:8], 8'h80}
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
  output logic        retire_o,      // an instruction retired at this clock edge
  output logic [31:0] retire_pc_o,
  output logic        halt_o         // the retired instruction is an EBREAK (the semihosting exit)
);
  logic        rvfi_valid;
  logic [31:0] rvfi_insn, rvfi_pc_rdata;

  ibex_top #(
    .RV32M          (ibex_pkg::rv32m_e'(RV32M)),
    .RV32B          (ibex_pkg::RV32BNone),
    .RegFile        (ibex_pkg::RegFileFF),
    .BranchTargetALU(BranchTargetALU),
    .WritebackStage (1'b0),
    .ICache         (1'b0),
    .PMPEnable      (1'b0),
    .MHPMCounterNum (0)
  ) u_top (
    .clk_i, .rst_ni,
    .test_en_i            (1'b0),
    .ram_cfg_i            ('0),
    .hart_id_i            (32'd0),
    .boot_addr_i,
    .instr_req_o, .instr_gnt_i, .instr_rvalid_i, .instr_addr_o, .instr_rdata_i,
    .instr_rdata_intg_i   (7'd0),
    .instr_err_i          (1'b0),
    .data_req_o, .data_gnt_i, .data_rvalid_i, .data_we_o, .data_be_o, .data_addr_o, .data_wdata_o,
    .data_wdata_intg_o    (),
    .data_rdata_i,
    .data_rdata_intg_i    (7'd0),
    .data_err_i           (1'b0),
    .irq_software_i       (1'b0),
    .irq_timer_i          (1'b0),
    .irq_external_i       (1'b0),
    .irq_fast_i           (15'd0),
    .irq_nm_i             (1'b0),
    .scramble_key_valid_i (1'b0),
    .scramble_key_i       ('0),
    .scramble_nonce_i     ('0),
    .scramble_req_o       (),
    .debug_req_i          (1'b0),
    .crash_dump_o         (),
    .double_fault_seen_o  (),
    .rvfi_valid, .rvfi_order(), .rvfi_insn, .rvfi_trap(), .rvfi_halt(), .rvfi_intr(), .rvfi_mode(),
    .rvfi_ixl(), .rvfi_rs1_addr(), .rvfi_rs2_addr(), .rvfi_rs3_addr(), .rvfi_rs1_rdata(),
    .rvfi_rs2_rdata(), .rvfi_rs3_rdata(), .rvfi_rd_addr(), .rvfi_rd_wdata(), .rvfi_pc_rdata,
    .rvfi_pc_wdata(), .rvfi_mem_addr(), .rvfi_mem_rmask(), .rvfi_mem_wmask(), .rvfi_mem_rdata(),
    .rvfi_mem_wdata(), .rvfi_ext_pre_mip(), .rvfi_ext_post_mip(), .rvfi_ext_nmi(),
    .rvfi_ext_nmi_int(), .rvfi_ext_debug_req(), .rvfi_ext_debug_mode(),
    .rvfi_ext_rf_wr_suppress(), .rvfi_ext_mcycle(), .rvfi_ext_mhpmcounters(),
    .rvfi_ext_mhpmcountersh(), .rvfi_ext_ic_scr_key_valid(), .rvfi_ext_irq_valid(),
    .fetch_enable_i       (ibex_pkg::IbexMuBiOn),
    .alert_minor_o        (),
    .alert_major_internal_o(),
    .alert_major_bus_o    (),
    .core_sleep_o         (),
    .scan_rst_ni          (1'b1)
  );

  assign retire_o    = rvfi_valid;
  assign retire_pc_o = rvfi_pc_rdata;
  assign halt_o      = rvfi_valid && (rvfi_insn == 32'h0010_0073 || rvfi_insn == 32'h0000_9002);
endmodule
