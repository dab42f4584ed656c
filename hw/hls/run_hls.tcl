# Vitis HLS flow for the flowfpga engine: csim, csynth, cosim, export_design (Vivado IP catalog).
#   vitis_hls -f run_hls.tcl -tclargs <part> [<golden-dir>] [<steps>]
#   parts: xc7z020clg400-1 (PYNQ-Z1/Z2), xczu3eg-sbva484-1-e (Ultra96), xczu7ev-ffvc1156-2-e (ZCU104)
#   steps: comma list of csim,csynth,cosim,export (default all)
# The PE array and buffers per part are the hls_defines of hw/bd/boards/<board>.tcl (= src/driver/boards.ts); the
# same source builds with g++ (make -C hw csim).
set part [expr {[llength $argv] > 0 ? [lindex $argv 0] : "xc7z020clg400-1"}]
set golden [expr {[llength $argv] > 1 ? [lindex $argv 1] : [file normalize ../../test/golden]}]
set steps [split [expr {[llength $argv] > 2 ? [lindex $argv 2] : "csim,csynth,cosim,export"}] ,]

# The engine macros come from the board data files (the single Tcl copy of src/driver/boards.ts, which
# test/bd-blockdesign.test.ts checks): the board whose part is $part.
set defs ""
foreach f [lsort [glob -directory [file normalize ../bd/boards] *.tcl]] {
  source $f
  if {[dict get $ff_board part] eq $part} {
    foreach {k v} [dict get $ff_board hls_defines] { append defs " -D$k=$v" }
    set period [format %.3f [expr {1000.0 / [dict get $ff_board pl_clk_mhz]}]]
  }
}
if {$defs eq ""} { puts stderr "run_hls.tcl: unknown part '$part' (xc7z020clg400-1, xczu3eg-sbva484-1-e, xczu7ev-ffvc1156-2-e)"; exit 2 }
set cflags "-std=c++14 $defs"

open_project -reset [string map {- _} "proj_$part"]
set_top flowfpga_engine
add_files flowfpga_engine.cpp -cflags $cflags
add_files -tb tb/csim_main.cpp -cflags "$cflags -I[pwd]"
open_solution -reset sol -flow_target vivado
set_part $part
create_clock -period $period -name default
# 64-bit pointer registers (facts 2.1: Vitis default), and no automatic burst widening beyond the declared ports.
config_interface -m_axi_addr64=true
config_export -format ip_catalog -vendor flowfpga.org -library hls -version 1.0 -display_name "flowfpga engine"

if {"csim" in $steps}   { csim_design -argv $golden }
if {"csynth" in $steps} { csynth_design }
if {"cosim" in $steps}  { cosim_design -argv $golden -trace_level none }
if {"export" in $steps} { export_design -rtl verilog -format ip_catalog }
exit
