# vivado -mode batch -source build.tcl -tclargs <board> <ip_repo> <out_dir> [jobs]   (hw/bd/Makefile runs this)
set here [file dirname [file normalize [info script]]]
if {[llength $argv] < 3} {
  error "flowfpga: usage: build.tcl <board> <ip_repo> <out_dir> \[jobs\] (hint: run make -C hw/bd BOARD=<board>)"
}
lassign $argv board ip_repo out jobs
if {$jobs eq ""} { set jobs 2 }
set board_file [file join $here boards $board.tcl]
if {![file exists $board_file]} {
  set names [lmap f [lsort [glob -directory [file join $here boards] *.tcl]] {file rootname [file tail $f]}]
  error "flowfpga: no block design for board '$board' (hint: one of [join $names {, }])"
}
source $board_file
source [file join $here lib flowfpga_bd.tcl]
ff::main $ff_board $ip_repo $out $jobs
