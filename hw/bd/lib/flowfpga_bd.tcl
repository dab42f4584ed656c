# flowfpga block design library (Vivado 2020.2 or newer, batch mode). One flow for every board; the board files in
# hw/bd/boards/ only hold data. Design:
#
#   PS master (M_AXI_GP0 | M_AXI_HPM0_FPD) -> smartconnect ctrl_ic -> flowfpga_engine_0/s_axi_control
#   flowfpga_engine_0/m_axi_* (all masters) -> smartconnect mem_ic -> PS slave (S_AXI_HP0 | S_AXI_HP0_FPD) -> DDR
#   flowfpga_engine_0/interrupt -> IRQ_F2P[0] | pl_ps_irq0[0]
#   one clock (FCLK_CLK0 | pl_clk0) for everything, reset through proc_sys_reset rst_pl
#
# Errors are one line: "flowfpga: <what> (hint: <how to fix>)".

namespace eval ff {
  variable bd_name flowfpga
  variable engine_name flowfpga_engine
  variable engine_cell flowfpga_engine_0
  # Per PS type: IP name, master/slave clock pins, PL clock and reset outputs, automation rule, enable properties.
  variable ps_info [dict create \
    ps7 [dict create ip processing_system7 cell ps7 rule xilinx.com:bd_rule:processing_system7 \
      automation {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} \
      master_aclk M_AXI_GP0_ACLK slave_aclk S_AXI_HP0_ACLK clk FCLK_CLK0 rstn FCLK_RESET0_N] \
    ps8 [dict create ip zynq_ultra_ps_e cell zynq_ultra_ps_e_0 rule xilinx.com:bd_rule:zynq_ultra_ps_e \
      automation {apply_board_preset "1"} \
      master_aclk maxihpm0_fpd_aclk slave_aclk saxihp0_fpd_aclk clk pl_clk0 rstn pl_resetn0] \
  ]
}

proc ff::die {msg hint} {
  error "flowfpga: $msg (hint: $hint)"
}

# Newest catalog VLNV for an IP name (no version pinned: the scripts follow the installed Vivado).
proc ff::vlnv {name} {
  set defs [lsort -dictionary [get_ipdefs -all -filter "NAME == $name"]]
  if {[llength $defs] == 0} {
    ff::die "IP '$name' is not in the IP catalog" "check the Vivado installation, or the IP repository for HLS IP"
  }
  return [lindex $defs end]
}

proc ff::ps {b key} {
  variable ps_info
  return [dict get $ps_info [dict get $b ps] $key]
}

proc ff::check_vivado {} {
  set v [version -short]
  if {![regexp {^(\d+)\.(\d+)} $v -> major minor] || $major < 2020 || ($major == 2020 && $minor < 2)} {
    ff::die "Vivado $v is too old" "use Vivado 2020.2 or newer (the flow relies on assign_bd_address -offset/-range)"
  }
  return $v
}

proc ff::new_project {b dir} {
  set name flowfpga_[dict get $b name]
  create_project -force $name $dir -part [dict get $b part]
  # The PS presets (DDR timing, MIO) come from the board files; FF_BOARD_PART overrides the lookup.
  if {[info exists ::env(FF_BOARD_PART)] && $::env(FF_BOARD_PART) ne ""} {
    set bp $::env(FF_BOARD_PART)
  } else {
    set bp [lindex [lsort -dictionary [get_board_parts -quiet [dict get $b board_part_pattern]]] end]
  }
  if {$bp eq ""} {
    ff::die "no board files for [dict get $b name] ([dict get $b board_part_pattern]) in this Vivado" \
      "install them (PYNQ-Z2: TUL board files; Ultra96-V2: Avnet bdf; ZCU104 ships with Vivado) or set FF_BOARD_PART"
  }
  set_property board_part $bp [current_project]
  return $name
}

proc ff::add_ps {b} {
  set cell [ff::ps $b cell]
  set ps [create_bd_cell -type ip -vlnv [ff::vlnv [ff::ps $b ip]] $cell]
  apply_bd_automation -rule [ff::ps $b rule] -config [ff::ps $b automation] [get_bd_cells $cell]
  set mhz [dict get $b pl_clk_mhz]
  set hpw [dict get $b hp_data_width]
  if {[dict get $b ps] eq "ps7"} {
    # Only GP0 and HP0 stay on: an enabled port with an unclocked ACLK fails validation.
    set_property -dict [list \
      CONFIG.PCW_USE_M_AXI_GP0 {1} CONFIG.PCW_USE_M_AXI_GP1 {0} \
      CONFIG.PCW_USE_S_AXI_HP0 {1} CONFIG.PCW_S_AXI_HP0_DATA_WIDTH $hpw \
      CONFIG.PCW_USE_S_AXI_HP1 {0} CONFIG.PCW_USE_S_AXI_HP2 {0} CONFIG.PCW_USE_S_AXI_HP3 {0} \
      CONFIG.PCW_USE_S_AXI_GP0 {0} CONFIG.PCW_USE_S_AXI_GP1 {0} CONFIG.PCW_USE_S_AXI_ACP {0} \
      CONFIG.PCW_EN_CLK0_PORT {1} CONFIG.PCW_EN_RST0_PORT {1} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $mhz \
      CONFIG.PCW_USE_FABRIC_INTERRUPT {1} CONFIG.PCW_IRQ_F2P_INTR {1} \
    ] [get_bd_cells $cell]
  } else {
    # GP0 = M_AXI_HPM0_FPD, GP1 = M_AXI_HPM1_FPD, GP2 = M_AXI_HPM0_LPD; S_AXI_GP2 = S_AXI_HP0_FPD.
    set_property -dict [list \
      CONFIG.PSU__USE__M_AXI_GP0 {1} CONFIG.PSU__MAXIGP0__DATA_WIDTH {32} \
      CONFIG.PSU__USE__M_AXI_GP1 {0} CONFIG.PSU__USE__M_AXI_GP2 {0} \
      CONFIG.PSU__USE__S_AXI_GP0 {0} CONFIG.PSU__USE__S_AXI_GP1 {0} \
      CONFIG.PSU__USE__S_AXI_GP2 {1} CONFIG.PSU__SAXIGP2__DATA_WIDTH $hpw \
      CONFIG.PSU__USE__S_AXI_GP3 {0} CONFIG.PSU__USE__S_AXI_GP4 {0} CONFIG.PSU__USE__S_AXI_GP5 {0} \
      CONFIG.PSU__USE__S_AXI_GP6 {0} \
      CONFIG.PSU__FPGA_PL0_ENABLE {1} CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $mhz \
      CONFIG.PSU__USE__IRQ0 {1} \
    ] [get_bd_cells $cell]
  }
  return $ps
}

proc ff::add_engine {b ip_repo} {
  variable engine_name
  variable engine_cell
  if {![file isdirectory $ip_repo]} {
    ff::die "engine IP repository '$ip_repo' does not exist" \
      "export the HLS engine first (vitis_hls export_design -format ip_catalog, built with the board's hls_defines) or pass IP_REPO="
  }
  set_property ip_repo_paths [list [file normalize $ip_repo]] [current_project]
  update_ip_catalog -rebuild
  if {[llength [get_ipdefs -all -filter "NAME == $engine_name"]] == 0} {
    ff::die "no $engine_name IP under '$ip_repo'" "export the HLS engine with export_design -format ip_catalog"
  }
  create_bd_cell -type ip -vlnv [ff::vlnv $engine_name] $engine_cell
  set masters [get_bd_intf_pins -of_objects [get_bd_cells $engine_cell] -filter {MODE == Master}]
  if {[llength $masters] == 0} {
    ff::die "$engine_name IP has no AXI master port" "the engine must use m_axi for DDR (hw/hls)"
  }
  return $masters
}

proc ff::wire {b masters} {
  variable engine_cell
  set ps [ff::ps $b cell]
  set e $engine_cell
  create_bd_cell -type ip -vlnv [ff::vlnv smartconnect] ctrl_ic
  set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] [get_bd_cells ctrl_ic]
  create_bd_cell -type ip -vlnv [ff::vlnv smartconnect] mem_ic
  set_property -dict [list CONFIG.NUM_SI [llength $masters] CONFIG.NUM_MI {1}] [get_bd_cells mem_ic]
  create_bd_cell -type ip -vlnv [ff::vlnv proc_sys_reset] rst_pl

  # Control: PS master -> engine AXI-Lite.
  connect_bd_intf_net [get_bd_intf_pins $ps/[dict get $b ps_master]] [get_bd_intf_pins ctrl_ic/S00_AXI]
  connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M00_AXI] [get_bd_intf_pins $e/s_axi_control]
  # Memory: every engine master -> HP slave -> DDR.
  set i 0
  foreach m $masters {
    connect_bd_intf_net $m [get_bd_intf_pins [format mem_ic/S%02d_AXI $i]]
    incr i
  }
  connect_bd_intf_net [get_bd_intf_pins mem_ic/M00_AXI] [get_bd_intf_pins $ps/[dict get $b ps_slave]]

  # One clock domain.
  connect_bd_net [get_bd_pins $ps/[ff::ps $b clk]] \
    [get_bd_pins $ps/[ff::ps $b master_aclk]] [get_bd_pins $ps/[ff::ps $b slave_aclk]] \
    [get_bd_pins $e/ap_clk] [get_bd_pins ctrl_ic/aclk] [get_bd_pins mem_ic/aclk] [get_bd_pins rst_pl/slowest_sync_clk]
  connect_bd_net [get_bd_pins $ps/[ff::ps $b rstn]] [get_bd_pins rst_pl/ext_reset_in]
  connect_bd_net [get_bd_pins rst_pl/interconnect_aresetn] [get_bd_pins ctrl_ic/aresetn] [get_bd_pins mem_ic/aresetn]
  connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $e/ap_rst_n]
  # ap_done/ap_ready interrupt -> bit 0 of the PS fabric interrupt input (the only source, so no concat).
  connect_bd_net [get_bd_pins $e/interrupt] [get_bd_pins $ps/[dict get $b irq_pin]]
}

proc ff::address {b} {
  variable engine_cell
  set ps [ff::ps $b cell]
  assign_bd_address -offset [dict get $b engine_base] -range [dict get $b engine_range] \
    -target_address_space [get_bd_addr_spaces $ps/Data] [get_bd_addr_segs $engine_cell/s_axi_control/Reg] -force
  # The engine's masters see all of DDR through the HP port (the runtime passes physical addresses).
  assign_bd_address
}

# Finds the hardware handoff Vivado generated for the block design (.gen/ since 2020.2, .srcs/ before).
proc ff::find_hwh {proj_dir proj bd} {
  set bd_file [get_files $bd.bd]
  set hwh [lsearch -inline -glob [get_files -quiet -all -of_objects $bd_file] "*/hw_handoff/$bd.hwh"]
  if {$hwh ne ""} { return $hwh }
  foreach d [list $proj.gen $proj.srcs] {
    set p [file join $proj_dir $d sources_1 bd $bd hw_handoff $bd.hwh]
    if {[file exists $p]} { return $p }
  }
  ff::die "no $bd.hwh was generated" "see the Vivado log; generate_target all must run before synthesis"
}

proc ff::run_ok {run} {
  if {[get_property PROGRESS [get_runs $run]] ne "100%"} {
    ff::die "$run failed ([get_property STATUS [get_runs $run]])" "see [get_property DIRECTORY [get_runs $run]]/runme.log"
  }
}

proc ff::json_str {s} {
  return "\"[string map {\\ \\\\ \" \\\"} $s]\""
}

# Synthesis, implementation, bitstream; copies flowfpga.bit + flowfpga.hwh (PYNQ wants the same stem) to out.
proc ff::build {b proj proj_dir out jobs} {
  variable bd_name
  set bd_file [get_files $bd_name.bd]
  generate_target all $bd_file
  add_files -norecurse [make_wrapper -files $bd_file -top]
  set_property top ${bd_name}_wrapper [current_fileset]
  update_compile_order -fileset sources_1

  launch_runs synth_1 -jobs $jobs
  wait_on_run synth_1
  ff::run_ok synth_1
  launch_runs impl_1 -to_step write_bitstream -jobs $jobs
  wait_on_run impl_1
  ff::run_ok impl_1

  open_run impl_1
  report_utilization -file [file join $out utilization.rpt]
  report_timing_summary -file [file join $out timing.rpt]
  set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
  if {$wns eq "" || $wns < 0} {
    ff::die "timing not met at [dict get $b pl_clk_mhz] MHz (WNS $wns ns)" \
      "lower pl_clk_mhz in hw/bd/boards/[dict get $b name].tcl and FF_CLOCK_MHZ/src/driver/boards.ts together, see $out/timing.rpt"
  }
  set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd_name}_wrapper.bit]
  if {![file exists $bit]} { ff::die "no bitstream at $bit" "see the impl_1 run log" }
  file copy -force $bit [file join $out flowfpga.bit]
  file copy -force [ff::find_hwh $proj_dir $proj $bd_name] [file join $out flowfpga.hwh]

  set f [open [file join $out flowfpga.json] w]
  puts $f "{"
  puts $f "  \"board\": [ff::json_str [dict get $b name]],"
  puts $f "  \"part\": [ff::json_str [dict get $b part]],"
  puts $f "  \"vivado\": [ff::json_str [version -short]],"
  puts $f "  \"plClockMHz\": [dict get $b pl_clk_mhz],"
  puts $f "  \"wnsNs\": $wns,"
  puts $f "  \"engineBase\": [ff::json_str [dict get $b engine_base]],"
  puts $f "  \"engineRange\": [ff::json_str [dict get $b engine_range]],"
  puts $f "  \"irqGic\": [dict get $b irq_gic]"
  puts $f "}"
  close $f
  return $wns
}

# Entry: board dict, IP repository, output directory, parallel jobs. Builds in <out>/vivado.
proc ff::main {b ip_repo out jobs} {
  variable bd_name
  ff::check_vivado
  file mkdir $out
  set proj_dir [file join [file normalize $out] vivado]
  set proj [ff::new_project $b $proj_dir]
  create_bd_design $bd_name
  ff::add_ps $b
  set masters [ff::add_engine $b $ip_repo]
  ff::wire $b $masters
  ff::address $b
  validate_bd_design
  save_bd_design
  set wns [ff::build $b $proj $proj_dir [file normalize $out] $jobs]
  puts "flowfpga: [dict get $b name] bitstream in [file normalize $out]/flowfpga.bit (WNS $wns ns)"
}
