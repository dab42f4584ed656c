# Vitis HLS flow for the flowfpga engine: csim, csynth, cosim, export_design (Vivado IP catalog).
#   vitis_hls -f run_hls.tcl -tclargs <part> [<golden-dir>] [<steps>]
#   parts: xc7z020clg400-1 (PYNQ-Z1/Z2), xczu3eg-sbva484-1-e (Ultra96), xczu7ev-ffvc1156-2-e (ZCU104)
#   steps: comma list of csim,csynth,cosim,export (default all)
# The PE array and buffers per part are set below (= the board builds of src/driver/boards.ts, hls_defines of
# hw/bd/boards/<board>.tcl); the same source builds with g++ (make -C hw csim).
set part [expr {[llength $argv] > 0 ? [lindex $argv 0] : "xc7z020clg400-1"}]
set golden [expr {[llength $argv] > 1 ? [lindex $argv 1] : [file normalize ../../test/golden]}]
set steps [split [expr {[llength $argv] > 2 ? [lindex $argv 2] : "csim,csynth,cosim,export"}] ,]

switch -- $part {
  xc7z020clg400-1      { set defs "-DFF_TM=16 -DFF_TN=10 -DFF_IBUF=8192 -DFF_OBUF=2560 -DFF_SBUF=4096 -DFF_BUS_BYTES=8 -DFF_WR_BYTES=4 -DFF_UP_PAR=4 -DFF_CLOCK_MHZ=125"; set period 8.0 }
  xczu3eg-sbva484-1-e  { set defs "-DFF_TM=32 -DFF_TN=8 -DFF_IBUF=8192 -DFF_OBUF=2048 -DFF_SBUF=4096 -DFF_BUS_BYTES=8 -DFF_WR_BYTES=8 -DFF_UP_PAR=4 -DFF_CLOCK_MHZ=200"; set period 5.0 }
  xczu7ev-ffvc1156-2-e { set defs "-DFF_TM=64 -DFF_TN=16 -DFF_IBUF=8192 -DFF_OBUF=1024 -DFF_SBUF=4096 -DFF_BUS_BYTES=16 -DFF_WR_BYTES=8 -DFF_UP_PAR=8 -DFF_CLOCK_MHZ=250"; set period 4.0 }
  default { puts stderr "run_hls.tcl: unknown part '$part' (xc7z020clg400-1, xczu3eg-sbva484-1-e, xczu7ev-ffvc1156-2-e)"; exit 2 }
}
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
