# Recording stand-in for the Vivado commands hw/bd uses, for tclsh (no Vivado needed).
#   tclsh vivado_stub.tcl <state.json> <script.tcl> [args...]
# Defines each command as a strict model: unknown commands or options, pins that no created cell has, ports that
# the PS configuration has not enabled, nets with zero or two drivers, unreachable address segments and
# validation failures all raise errors. The script runs with argv = args; at the end (also on error) the stand-in
# writes the recorded calls and the resulting design to <state.json> and exits 0 on success, 1 on error.
# Engine IP interfaces: env FF_STUB_ENGINE_MASTERS (comma-separated m_axi bundle names, default "gmem").

namespace eval stub {
  variable calls {}
  variable project {}
  variable props {}
  variable bd ""
  variable cells {}
  variable nets {}
  variable intf_nets {}
  variable addr {}
  variable auto_addr 0
  variable validated 0
  variable saved 0
  variable files {}
  variable runs {}
  variable catalog_repo ""
  variable opened {}
  variable tmp ""
  variable catalog [dict create \
    processing_system7 xilinx.com:ip:processing_system7:5.5 \
    zynq_ultra_ps_e xilinx.com:ip:zynq_ultra_ps_e:3.5 \
    smartconnect xilinx.com:ip:smartconnect:1.0 \
    proc_sys_reset xilinx.com:ip:proc_sys_reset:5.0]
  variable engine_vlnv xilinx.com:hls:flowfpga_engine:1.0
  variable board_parts {tul.com.tw:pynq-z2:part0:1.0 avnet.com:ultra96v2:part0:1.2 xilinx.com:zcu104:part0:1.1}
}

proc stub::fail {msg} { error "stub: $msg" }

# Parses options against spec {-name takes_value ...}; returns {opts positional}.
proc stub::parse {cmd spec arglist} {
  set opts [dict create]
  set pos {}
  for {set i 0} {$i < [llength $arglist]} {incr i} {
    set a [lindex $arglist $i]
    if {[string match -* $a] && ![string is double -strict $a]} {
      if {![dict exists $spec $a]} { stub::fail "$cmd: unknown option $a" }
      if {[dict get $spec $a]} {
        incr i
        if {$i >= [llength $arglist]} { stub::fail "$cmd: option $a needs a value" }
        dict set opts $a [lindex $arglist $i]
      } else {
        dict set opts $a 1
      }
    } else {
      lappend pos $a
    }
  }
  return [list $opts $pos]
}

proc stub::record {cmd arglist} {
  variable calls
  lappend calls [concat [list $cmd] $arglist]
}

proc stub::norm {path} { return /[string trimleft $path /] }
proc stub::need_bd {cmd} {
  variable bd
  if {$bd eq ""} { stub::fail "$cmd: no block design is open (create_bd_design first)" }
}

# ---- cell models: pins as dict name -> {kind intf|pin, dir I|O, type clk|rst|intr|aximm|ext, req 0|1} -------

proc stub::cfg {cell key default} {
  variable cells
  set p [dict get $cells $cell props]
  if {[dict exists $p CONFIG.$key]} { return [dict get $p CONFIG.$key] }
  return $default
}

proc stub::pins_of {cell} {
  variable cells
  set ip [dict get $cells $cell ip]
  set p [dict create]
  switch -- $ip {
    processing_system7 {
      dict set p DDR {kind intf dir O type ext req 1}
      dict set p FIXED_IO {kind intf dir O type ext req 1}
      foreach {n d} {0 1 1 0} {
        if {[stub::cfg $cell PCW_USE_M_AXI_GP$n $d]} {
          dict set p M_AXI_GP$n {kind intf dir O type aximm req 0}
          dict set p M_AXI_GP${n}_ACLK {kind pin dir I type clk req 1}
        }
      }
      foreach n {0 1 2 3} {
        if {[stub::cfg $cell PCW_USE_S_AXI_HP$n 0]} {
          dict set p S_AXI_HP$n {kind intf dir I type aximm req 0}
          dict set p S_AXI_HP${n}_ACLK {kind pin dir I type clk req 1}
        }
      }
      foreach s {S_AXI_GP0 S_AXI_GP1 S_AXI_ACP} {
        if {[stub::cfg $cell PCW_USE_$s 0]} { dict set p ${s}_ACLK {kind pin dir I type clk req 1} }
      }
      if {[stub::cfg $cell PCW_EN_CLK0_PORT 1]} { dict set p FCLK_CLK0 {kind pin dir O type clk req 0} }
      if {[stub::cfg $cell PCW_EN_RST0_PORT 1]} { dict set p FCLK_RESET0_N {kind pin dir O type rst req 0} }
      if {[stub::cfg $cell PCW_USE_FABRIC_INTERRUPT 0] && [stub::cfg $cell PCW_IRQ_F2P_INTR 0]} {
        dict set p IRQ_F2P {kind pin dir I type intr req 0}
      }
    }
    zynq_ultra_ps_e {
      foreach {gp intf clk d} {0 M_AXI_HPM0_FPD maxihpm0_fpd_aclk 1 1 M_AXI_HPM1_FPD maxihpm1_fpd_aclk 1
                               2 M_AXI_HPM0_LPD maxihpm0_lpd_aclk 0} {
        if {[stub::cfg $cell PSU__USE__M_AXI_GP$gp $d]} {
          dict set p $intf {kind intf dir O type aximm req 0}
          dict set p $clk {kind pin dir I type clk req 1}
        }
      }
      foreach {gp intf clk} {0 S_AXI_HPC0_FPD saxihpc0_fpd_aclk 1 S_AXI_HPC1_FPD saxihpc1_fpd_aclk
                             2 S_AXI_HP0_FPD saxihp0_fpd_aclk 3 S_AXI_HP1_FPD saxihp1_fpd_aclk
                             4 S_AXI_HP2_FPD saxihp2_fpd_aclk 5 S_AXI_HP3_FPD saxihp3_fpd_aclk
                             6 S_AXI_LPD saxi_lpd_aclk} {
        if {[stub::cfg $cell PSU__USE__S_AXI_GP$gp 0]} {
          dict set p $intf {kind intf dir I type aximm req 0}
          dict set p $clk {kind pin dir I type clk req 1}
        }
      }
      if {[stub::cfg $cell PSU__FPGA_PL0_ENABLE 1]} { dict set p pl_clk0 {kind pin dir O type clk req 0} }
      dict set p pl_resetn0 {kind pin dir O type rst req 0}
      if {[stub::cfg $cell PSU__USE__IRQ0 0]} { dict set p pl_ps_irq0 {kind pin dir I type intr req 0} }
    }
    smartconnect {
      for {set i 0} {$i < [stub::cfg $cell NUM_SI 1]} {incr i} {
        dict set p [format S%02d_AXI $i] {kind intf dir I type aximm req 1}
      }
      for {set i 0} {$i < [stub::cfg $cell NUM_MI 2]} {incr i} {
        dict set p [format M%02d_AXI $i] {kind intf dir O type aximm req 1}
      }
      dict set p aclk {kind pin dir I type clk req 1}
      dict set p aresetn {kind pin dir I type rst req 1}
    }
    proc_sys_reset {
      dict set p slowest_sync_clk {kind pin dir I type clk req 1}
      dict set p ext_reset_in {kind pin dir I type rst req 1}
      foreach n {aux_reset_in mb_debug_sys_rst dcm_locked} { dict set p $n {kind pin dir I type rst req 0} }
      foreach n {mb_reset bus_struct_reset peripheral_reset interconnect_aresetn peripheral_aresetn} {
        dict set p $n {kind pin dir O type rst req 0}
      }
    }
    flowfpga_engine {
      dict set p s_axi_control {kind intf dir I type aximm req 1}
      foreach m [stub::engine_masters] { dict set p m_axi_$m {kind intf dir O type aximm req 1} }
      dict set p ap_clk {kind pin dir I type clk req 1}
      dict set p ap_rst_n {kind pin dir I type rst req 1}
      dict set p interrupt {kind pin dir O type intr req 1}
    }
    default { stub::fail "no pin model for IP $ip" }
  }
  return $p
}

proc stub::engine_masters {} {
  if {[info exists ::env(FF_STUB_ENGINE_MASTERS)] && $::env(FF_STUB_ENGINE_MASTERS) ne ""} {
    return [split $::env(FF_STUB_ENGINE_MASTERS) ,]
  }
  return gmem
}

# Resolves "cell/pin" (leading slash optional) to {cell pin spec}; fails if the cell or pin does not exist.
proc stub::pin {path kind} {
  variable cells
  set p [string trimleft $path /]
  set parts [split $p /]
  if {[llength $parts] != 2} { stub::fail "'$path' is not a cell/pin path" }
  lassign $parts cell name
  if {![dict exists $cells $cell]} { stub::fail "no cell '$cell' (pin $path)" }
  set pins [stub::pins_of $cell]
  if {![dict exists $pins $name]} { stub::fail "cell '$cell' has no pin '$name' with its current configuration" }
  set spec [dict get $pins $name]
  if {[dict get $spec kind] ne $kind} { stub::fail "'$path' is not a [expr {$kind eq {intf} ? {interface pin} : {pin}}]" }
  return [list $cell $name $spec]
}

proc stub::connected {path} {
  variable nets
  variable intf_nets
  foreach n [concat $nets $intf_nets] { if {[lsearch -exact $n $path] >= 0} { return 1 } }
  return 0
}

proc stub::filter_match {filter dict} {
  if {$filter eq ""} { return 1 }
  if {![regexp {^\s*(\w+)\s*(==|=~|!=)\s*"?([^"]*)"?\s*$} $filter -> key op val]} {
    stub::fail "unsupported -filter expression '$filter'"
  }
  if {![dict exists $dict $key]} { return 0 }
  set v [dict get $dict $key]
  switch -- $op {
    == { return [expr {$v eq $val}] }
    != { return [expr {$v ne $val}] }
    =~ { return [string match $val $v] }
  }
}

# ---- project ----------------------------------------------------------------------------------------------

proc version {args} {
  stub::record version $args
  lassign [stub::parse version {-short 0} $args] o
  return 2023.2
}

proc create_project {args} {
  stub::record create_project $args
  lassign [stub::parse create_project {-force 0 -part 1 -in_memory 0} $args] o pos
  if {[llength $pos] != 2} { stub::fail "create_project: expected <name> <dir>" }
  if {![dict exists $o -part]} { stub::fail "create_project: -part is required here" }
  set stub::project [dict create name [lindex $pos 0] dir [lindex $pos 1] part [dict get $o -part]]
  return [lindex $pos 0]
}

proc current_project {args} {
  stub::record current_project $args
  if {$stub::project eq ""} { stub::fail "current_project: no project" }
  return [dict get $stub::project name]
}

proc current_fileset {args} {
  stub::record current_fileset $args
  return sources_1
}

proc get_board_parts {args} {
  stub::record get_board_parts $args
  lassign [stub::parse get_board_parts {-quiet 0 -latest_file_version 0} $args] o pos
  set out {}
  foreach bp $stub::board_parts { if {[string match [lindex $pos 0] $bp]} { lappend out $bp } }
  return $out
}

proc set_property {args} {
  stub::record set_property $args
  lassign [stub::parse set_property {-dict 1} $args] o pos
  if {[dict exists $o -dict]} {
    set kv [dict get $o -dict]
    set objs $pos
  } else {
    if {[llength $pos] < 3} { stub::fail "set_property: expected <name> <value> <objects>" }
    set kv [lrange $pos 0 1]
    set objs [lrange $pos 2 end]
  }
  if {[llength $kv] % 2} { stub::fail "set_property: odd -dict list" }
  if {[llength $objs] == 0} { stub::fail "set_property: no object" }
  foreach obj $objs {
    set obj [string trimleft $obj /]
    if {[dict exists $stub::cells $obj]} {
      foreach {k v} $kv {
        if {![string match CONFIG.* $k]} { stub::fail "set_property: cell property $k is not a CONFIG.* parameter" }
        dict set stub::cells $obj props $k $v
      }
    } elseif {$stub::project ne "" && $obj eq [dict get $stub::project name]} {
      foreach {k v} $kv {
        if {$k ni {board_part ip_repo_paths}} { stub::fail "set_property: unexpected project property $k" }
        if {$k eq "board_part" && $v ni $stub::board_parts} { stub::fail "set_property: unknown board part $v" }
        dict set stub::props project $k $v
      }
    } elseif {$obj eq "sources_1"} {
      foreach {k v} $kv { dict set stub::props fileset $k $v }
    } else {
      stub::fail "set_property: unknown object '$obj'"
    }
  }
  return ""
}

proc get_property {args} {
  stub::record get_property $args
  lassign [stub::parse get_property {-quiet 0} $args] o pos
  lassign $pos name obj
  set obj [string trimleft $obj /]
  if {[dict exists $stub::runs $obj]} {
    if {![dict exists $stub::runs $obj $name]} { stub::fail "get_property: run has no property $name" }
    return [dict get $stub::runs $obj $name]
  }
  if {[dict exists $stub::cells $obj]} { return [stub::cfg $obj [string range $name 7 end] ""] }
  if {[string match timing_path* $obj] && $name eq "SLACK"} { return 0.412 }
  stub::fail "get_property: unknown object '$obj'"
}

proc update_ip_catalog {args} {
  stub::record update_ip_catalog $args
  stub::parse update_ip_catalog {-rebuild 0} $args
  set repos {}
  if {[dict exists $stub::props project ip_repo_paths]} { set repos [dict get $stub::props project ip_repo_paths] }
  set stub::catalog_repo ""
  foreach r $repos {
    if {[file exists [file join $r component.xml]] || [llength [glob -nocomplain -directory $r */component.xml */*/component.xml]]} {
      set stub::catalog_repo $r
    }
  }
  return ""
}

proc get_ipdefs {args} {
  stub::record get_ipdefs $args
  lassign [stub::parse get_ipdefs {-all 0 -filter 1 -quiet 0} $args] o pos
  set defs {}
  dict for {name vlnv} $stub::catalog { lappend defs [dict create NAME $name VLNV $vlnv] }
  if {$stub::catalog_repo ne ""} { lappend defs [dict create NAME flowfpga_engine VLNV $stub::engine_vlnv] }
  set out {}
  foreach d $defs {
    if {[stub::filter_match [expr {[dict exists $o -filter] ? [dict get $o -filter] : ""}] $d]} { lappend out [dict get $d VLNV] }
  }
  return $out
}

# ---- block design -----------------------------------------------------------------------------------------

proc create_bd_design {args} {
  stub::record create_bd_design $args
  lassign [stub::parse create_bd_design {} $args] o pos
  if {$stub::project eq ""} { stub::fail "create_bd_design: no project" }
  if {$stub::bd ne ""} { stub::fail "create_bd_design: a design is already open" }
  set stub::bd [lindex $pos 0]
  lappend stub::files [file join [dict get $stub::project dir] [dict get $stub::project name].srcs sources_1 bd $stub::bd $stub::bd.bd]
  return $stub::bd
}

proc create_bd_cell {args} {
  stub::record create_bd_cell $args
  stub::need_bd create_bd_cell
  lassign [stub::parse create_bd_cell {-type 1 -vlnv 1} $args] o pos
  if {[llength $pos] != 1} { stub::fail "create_bd_cell: expected one cell name" }
  if {![dict exists $o -type] || [dict get $o -type] ne "ip"} { stub::fail "create_bd_cell: -type ip expected" }
  set name [lindex $pos 0]
  if {[dict exists $stub::cells $name]} { stub::fail "create_bd_cell: cell '$name' exists" }
  set vlnv [dict get $o -vlnv]
  set ip ""
  dict for {n v} $stub::catalog { if {$v eq $vlnv} { set ip $n } }
  if {$stub::catalog_repo ne "" && $vlnv eq $stub::engine_vlnv} { set ip flowfpga_engine }
  if {$ip eq ""} { stub::fail "create_bd_cell: VLNV '$vlnv' is not in the IP catalog" }
  dict set stub::cells $name [dict create vlnv $vlnv ip $ip props {} automation {}]
  return /$name
}

proc get_bd_cells {args} {
  stub::record get_bd_cells $args
  stub::need_bd get_bd_cells
  lassign [stub::parse get_bd_cells {-quiet 0 -filter 1 -hierarchical 0} $args] o pos
  set out {}
  foreach c $pos {
    set c [string trimleft $c /]
    if {![dict exists $stub::cells $c]} {
      if {[dict exists $o -quiet]} { continue }
      stub::fail "get_bd_cells: no cell '$c'"
    }
    lappend out /$c
  }
  return $out
}

proc apply_bd_automation {args} {
  stub::record apply_bd_automation $args
  stub::need_bd apply_bd_automation
  lassign [stub::parse apply_bd_automation {-rule 1 -config 1} $args] o pos
  set cell [string trimleft [lindex $pos 0] /]
  if {![dict exists $stub::cells $cell]} { stub::fail "apply_bd_automation: no cell '$cell'" }
  set ip [dict get $stub::cells $cell ip]
  set rule [dict get $o -rule]
  if {$rule ne "xilinx.com:bd_rule:$ip"} { stub::fail "apply_bd_automation: rule $rule does not apply to $ip" }
  if {![dict exists $stub::props project board_part]} { stub::fail "apply_bd_automation: board preset without a board_part" }
  set cfg [dict get $o -config]
  if {![dict exists $cfg apply_board_preset] || [dict get $cfg apply_board_preset] ne "1"} {
    stub::fail "apply_bd_automation: the PS needs apply_board_preset 1 (DDR and MIO settings)"
  }
  dict set stub::cells $cell automation $cfg
  return ""
}

proc stub::pins_cmd {cmd kind arglist} {
  stub::need_bd $cmd
  lassign [stub::parse $cmd {-of_objects 1 -filter 1 -quiet 0} $arglist] o pos
  set out {}
  if {[dict exists $o -of_objects]} {
    foreach c [dict get $o -of_objects] {
      set c [string trimleft $c /]
      if {![dict exists $stub::cells $c]} { stub::fail "$cmd: no cell '$c'" }
      dict for {n spec} [stub::pins_of $c] {
        if {[dict get $spec kind] ne $kind} { continue }
        set attrs [dict create NAME $n MODE [expr {[dict get $spec dir] eq "O" ? "Master" : "Slave"}] DIR [dict get $spec dir]]
        set f [expr {[dict exists $o -filter] ? [dict get $o -filter] : ""}]
        if {[stub::filter_match $f $attrs]} { lappend out /$c/$n }
      }
    }
  }
  foreach p $pos {
    if {[catch {stub::pin $p $kind} err]} {
      if {[dict exists $o -quiet]} { continue }
      error $err
    }
    lappend out [stub::norm $p]
  }
  return $out
}

proc get_bd_pins {args} { stub::record get_bd_pins $args; return [stub::pins_cmd get_bd_pins pin $args] }
proc get_bd_intf_pins {args} { stub::record get_bd_intf_pins $args; return [stub::pins_cmd get_bd_intf_pins intf $args] }

proc connect_bd_net {args} {
  stub::record connect_bd_net $args
  stub::need_bd connect_bd_net
  lassign [stub::parse connect_bd_net {-net 1} $args] o pos
  set pins {}
  foreach a $pos { foreach p $a { lappend pins $p } }
  if {[llength $pins] < 2} { stub::fail "connect_bd_net: needs at least two pins" }
  set drivers 0
  set type ""
  set norm {}
  foreach p $pins {
    lassign [stub::pin $p pin] cell name spec
    set np /$cell/$name
    if {[stub::connected $np]} { stub::fail "connect_bd_net: $np is already connected" }
    if {[dict get $spec dir] eq "O"} { incr drivers }
    if {$type eq ""} { set type [dict get $spec type] } elseif {$type ne [dict get $spec type]} {
      stub::fail "connect_bd_net: $np is a [dict get $spec type] pin on a $type net"
    }
    lappend norm $np
  }
  if {$drivers != 1} { stub::fail "connect_bd_net: $drivers drivers on net [join $norm { }] (need exactly one)" }
  lappend stub::nets $norm
  return ""
}

proc connect_bd_intf_net {args} {
  stub::record connect_bd_intf_net $args
  stub::need_bd connect_bd_intf_net
  lassign [stub::parse connect_bd_intf_net {} $args] o pos
  set pins {}
  foreach a $pos { foreach p $a { lappend pins $p } }
  if {[llength $pins] != 2} { stub::fail "connect_bd_intf_net: needs exactly two interface pins" }
  set dirs {}
  set norm {}
  foreach p $pins {
    lassign [stub::pin $p intf] cell name spec
    set np /$cell/$name
    if {[stub::connected $np]} { stub::fail "connect_bd_intf_net: $np is already connected" }
    if {[dict get $spec type] ne "aximm"} { stub::fail "connect_bd_intf_net: $np is not an AXI interface" }
    lappend dirs [dict get $spec dir]
    lappend norm $np
  }
  if {[lsort $dirs] ne {I O}} { stub::fail "connect_bd_intf_net: [join $norm { - }] is not master to slave" }
  # Keep master first.
  if {[lindex $dirs 0] eq "I"} { set norm [lreverse $norm] }
  lappend stub::intf_nets $norm
  return ""
}

# ---- addresses --------------------------------------------------------------------------------------------

proc stub::ps_cell {} {
  dict for {n c} $stub::cells { if {[dict get $c ip] in {processing_system7 zynq_ultra_ps_e}} { return $n } }
  return ""
}

# Master windows of PS ports (UG585, UG1085).
proc stub::windows {intf} {
  switch -- $intf {
    M_AXI_GP0 { return {{0x40000000 0x7FFFFFFF}} }
    M_AXI_GP1 { return {{0x80000000 0xBFFFFFFF}} }
    M_AXI_HPM0_FPD { return {{0xA0000000 0xAFFFFFFF} {0x400000000 0x4FFFFFFFF}} }
    M_AXI_HPM1_FPD { return {{0xB0000000 0xBFFFFFFF} {0x500000000 0x5FFFFFFFF}} }
    M_AXI_HPM0_LPD { return {{0x80000000 0x9FFFFFFF}} }
  }
  return {}
}

# Interface pins reachable downstream of a master interface pin (through smartconnects).
proc stub::reach {from} {
  set out {}
  foreach n $stub::intf_nets {
    if {[lindex $n 0] ne $from} { continue }
    set to [lindex $n 1]
    lappend out $to
    set cell [lindex [split [string trimleft $to /] /] 0]
    if {[dict get $stub::cells $cell ip] eq "smartconnect"} {
      for {set i 0} {$i < [stub::cfg $cell NUM_MI 2]} {incr i} {
        set out [concat $out [stub::reach [format /%s/M%02d_AXI $cell $i]]]
      }
    }
  }
  return $out
}

proc get_bd_addr_spaces {args} {
  stub::record get_bd_addr_spaces $args
  stub::need_bd get_bd_addr_spaces
  lassign [stub::parse get_bd_addr_spaces {-of_objects 1 -quiet 0} $args] o pos
  set out {}
  foreach s $pos {
    set s [string trimleft $s /]
    lassign [split $s /] cell space
    if {![dict exists $stub::cells $cell]} { stub::fail "get_bd_addr_spaces: no cell '$cell'" }
    set ip [dict get $stub::cells $cell ip]
    if {$ip in {processing_system7 zynq_ultra_ps_e} && $space eq "Data"} {
      lappend out /$s
    } elseif {$ip eq "flowfpga_engine" && [string match Data_m_axi_* $space] &&
              [string range $space 12 end] in [stub::engine_masters]} {
      lappend out /$s
    } else {
      stub::fail "get_bd_addr_spaces: no address space '$s'"
    }
  }
  return $out
}

proc get_bd_addr_segs {args} {
  stub::record get_bd_addr_segs $args
  stub::need_bd get_bd_addr_segs
  lassign [stub::parse get_bd_addr_segs {-of_objects 1 -quiet 0 -excluded 0} $args] o pos
  set out {}
  foreach s $pos {
    set parts [split [string trimleft $s /] /]
    if {[llength $parts] != 3} { stub::fail "get_bd_addr_segs: '$s' is not cell/interface/segment" }
    lassign $parts cell intf seg
    lassign [stub::pin $cell/$intf intf] c n spec
    if {[dict get $spec dir] ne "I"} { stub::fail "get_bd_addr_segs: $cell/$intf is not a slave interface" }
    if {[dict get $stub::cells $cell ip] eq "flowfpga_engine" && $seg ne "Reg"} {
      stub::fail "get_bd_addr_segs: $cell/$intf has segment Reg, not $seg"
    }
    lappend out /$cell/$intf/$seg
  }
  return $out
}

proc assign_bd_address {args} {
  stub::record assign_bd_address $args
  stub::need_bd assign_bd_address
  lassign [stub::parse assign_bd_address {-offset 1 -range 1 -target_address_space 1 -force 0 -export_to_file 1} $args] o pos
  if {[llength $pos] == 0 && ![dict exists $o -offset]} {
    # Auto-assignment: every engine master must reach a PS slave port (DDR).
    set ps [stub::ps_cell]
    foreach m [stub::engine_masters] {
      set ok 0
      foreach t [stub::reach /flowfpga_engine_0/m_axi_$m] {
        if {[string match /$ps/S_AXI_* $t]} { set ok 1 }
      }
      if {!$ok} { stub::fail "assign_bd_address: m_axi_$m reaches no PS slave port, so it has no DDR segment" }
    }
    set stub::auto_addr 1
    return ""
  }
  foreach k {-offset -range -target_address_space} {
    if {![dict exists $o $k]} { stub::fail "assign_bd_address: $k is required with an explicit segment" }
  }
  if {[llength $pos] != 1} { stub::fail "assign_bd_address: expected one segment" }
  set seg [lindex $pos 0]
  set space [dict get $o -target_address_space]
  set off [dict get $o -offset]
  set rng [dict get $o -range]
  if {![string is wideinteger -strict $off] || ![string is wideinteger -strict $rng]} {
    stub::fail "assign_bd_address: offset/range must be numbers ($off, $rng)"
  }
  if {$rng <= 0 || ($rng & ($rng - 1)) || ($off % $rng)} {
    stub::fail "assign_bd_address: range $rng must be a power of two and the offset aligned to it"
  }
  # The segment's interface must be reachable from a PS master whose window contains [off, off+rng).
  set ps [string trimleft [lindex [split [string trimleft $space /] /] 0] /]
  set slave /[join [lrange [split [string trimleft $seg /] /] 0 1] /]
  set ok 0
  foreach intf {M_AXI_GP0 M_AXI_GP1 M_AXI_HPM0_FPD M_AXI_HPM1_FPD M_AXI_HPM0_LPD} {
    if {[lsearch -exact [stub::reach /$ps/$intf] $slave] < 0} { continue }
    foreach w [stub::windows $intf] {
      lassign $w lo hi
      if {$off >= $lo && $off + $rng - 1 <= $hi} { set ok 1 }
    }
    if {!$ok} { stub::fail "assign_bd_address: [format 0x%X $off] +[format 0x%X $rng] is outside the $intf window" }
  }
  if {!$ok} { stub::fail "assign_bd_address: $slave is not reachable from any master of $ps" }
  lappend stub::addr [dict create space $space seg $seg offset $off range $rng]
  return ""
}

# ---- validate, outputs, runs ------------------------------------------------------------------------------

proc validate_bd_design {args} {
  stub::record validate_bd_design $args
  stub::need_bd validate_bd_design
  stub::parse validate_bd_design {-force 0} $args
  set problems {}
  dict for {cell c} $stub::cells {
    dict for {n spec} [stub::pins_of $cell] {
      if {[dict get $spec req] && ![stub::connected /$cell/$n]} {
        if {[dict get $spec type] eq "ext"} {
          if {[dict get $c automation] eq ""} { lappend problems "/$cell/$n is not made external" }
        } else {
          lappend problems "/$cell/$n is not connected"
        }
      }
    }
  }
  if {[llength $stub::addr] == 0} { lappend problems "the engine's register block has no address" }
  if {!$stub::auto_addr} { lappend problems "engine masters have unassigned address segments" }
  if {[llength $problems]} { stub::fail "validate_bd_design: [join $problems {; }]" }
  set stub::validated 1
  return ""
}

proc save_bd_design {args} {
  stub::record save_bd_design $args
  stub::need_bd save_bd_design
  set stub::saved 1
  return ""
}

proc stub::scratch {} {
  if {$stub::tmp eq ""} {
    set stub::tmp [file join [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}] vivado_stub_[pid]_[clock clicks]]
    file mkdir $stub::tmp
  }
  return $stub::tmp
}

proc get_files {args} {
  stub::record get_files $args
  lassign [stub::parse get_files {-all 0 -of_objects 1 -quiet 0 -filter 1} $args] o pos
  set out {}
  if {[dict exists $o -of_objects]} {
    foreach f $stub::files { if {[string match *.hwh $f]} { lappend out $f } }
    return $out
  }
  foreach p $pos {
    set hit [lsearch -inline -glob $stub::files */$p]
    if {$hit eq ""} {
      if {[dict exists $o -quiet]} { continue }
      stub::fail "get_files: no file '$p'"
    }
    lappend out $hit
  }
  return $out
}

proc generate_target {args} {
  stub::record generate_target $args
  lassign [stub::parse generate_target {-force 0} $args] o pos
  if {[lindex $pos 0] ne "all"} { stub::fail "generate_target: expected 'all'" }
  if {!$stub::validated || !$stub::saved} { stub::fail "generate_target: design not validated and saved" }
  set hwh [file join [stub::scratch] hw_handoff $stub::bd.hwh]
  file mkdir [file dirname $hwh]
  set f [open $hwh w]; puts $f "<!-- stub hwh -->"; close $f
  lappend stub::files $hwh
  return ""
}

proc make_wrapper {args} {
  stub::record make_wrapper $args
  lassign [stub::parse make_wrapper {-files 1 -top 0 -fileset 1} $args] o pos
  if {![dict exists $o -top]} { stub::fail "make_wrapper: -top expected" }
  return [file join [stub::scratch] hdl ${stub::bd}_wrapper.v]
}

proc add_files {args} {
  stub::record add_files $args
  lassign [stub::parse add_files {-norecurse 0 -fileset 1} $args] o pos
  foreach f $pos { lappend stub::files $f }
  return ""
}

proc update_compile_order {args} {
  stub::record update_compile_order $args
  stub::parse update_compile_order {-fileset 1} $args
  return ""
}

proc launch_runs {args} {
  stub::record launch_runs $args
  lassign [stub::parse launch_runs {-jobs 1 -to_step 1} $args] o pos
  set run [lindex $pos 0]
  if {$run ni {synth_1 impl_1}} { stub::fail "launch_runs: unknown run $run" }
  if {$run eq "impl_1"} {
    if {![dict exists $stub::runs synth_1 PROGRESS] || [dict get $stub::runs synth_1 PROGRESS] ne "100%"} {
      stub::fail "launch_runs: impl_1 before synth_1 completed"
    }
    if {![dict exists $o -to_step] || [dict get $o -to_step] ne "write_bitstream"} {
      stub::fail "launch_runs: impl_1 without -to_step write_bitstream makes no bitstream"
    }
  }
  if {![dict exists $stub::props fileset top]} { stub::fail "launch_runs: no top set" }
  dict set stub::runs $run [dict create PROGRESS 0% STATUS Running DIRECTORY [file join [stub::scratch] runs $run] launched 1]
  return $run
}

proc wait_on_run {args} {
  stub::record wait_on_run $args
  lassign [stub::parse wait_on_run {-timeout 1} $args] o pos
  set run [lindex $pos 0]
  if {![dict exists $stub::runs $run launched]} { stub::fail "wait_on_run: $run was not launched" }
  dict set stub::runs $run PROGRESS 100%
  dict set stub::runs $run STATUS Complete
  if {$run eq "impl_1"} {
    set d [dict get $stub::runs $run DIRECTORY]
    file mkdir $d
    set f [open [file join $d [dict get $stub::props fileset top].bit] w]; puts $f "stub bitstream"; close $f
  }
  return ""
}

proc get_runs {args} {
  stub::record get_runs $args
  lassign [stub::parse get_runs {-quiet 0} $args] o pos
  foreach r $pos { if {![dict exists $stub::runs $r]} { stub::fail "get_runs: no run $r" } }
  return $pos
}

proc open_run {args} {
  stub::record open_run $args
  lassign [stub::parse open_run {-name 1} $args] o pos
  if {[dict get $stub::runs [lindex $pos 0] PROGRESS] ne "100%"} { stub::fail "open_run: run not complete" }
  set stub::opened [lindex $pos 0]
  return ""
}

proc stub::need_open {cmd} { if {$stub::opened eq ""} { stub::fail "$cmd: no implemented design is open" } }

proc get_timing_paths {args} {
  stub::record get_timing_paths $args
  stub::need_open get_timing_paths
  stub::parse get_timing_paths {-max_paths 1 -nworst 1 -setup 0 -hold 0} $args
  return timing_path_1
}

proc report_utilization {args} {
  stub::record report_utilization $args
  stub::need_open report_utilization
  lassign [stub::parse report_utilization {-file 1} $args] o
  set f [open [dict get $o -file] w]; puts $f "stub utilization"; close $f
  return ""
}

proc report_timing_summary {args} {
  stub::record report_timing_summary $args
  stub::need_open report_timing_summary
  lassign [stub::parse report_timing_summary {-file 1} $args] o
  set f [open [dict get $o -file] w]; puts $f "stub timing"; close $f
  return ""
}

# Anything else the script calls is a command this stand-in does not know, so the test must fail.
rename unknown stub::tcl_unknown
proc unknown {args} {
  stub::record UNKNOWN $args
  error "stub: unknown command '[lindex $args 0]'"
}

# ---- state dump -------------------------------------------------------------------------------------------

proc stub::j {s} {
  set m {}
  for {set i 0} {$i < 32} {incr i} { lappend m [format %c $i] [format \\u%04x $i] }
  return "\"[string map [concat [list \\ \\\\ \" \\\"] $m] $s]\""
}
proc stub::jlist {l} { return "\[[join [lmap x $l {stub::j $x}] ,]\]" }
proc stub::jdict {d} {
  set parts {}
  dict for {k v} $d { lappend parts "[stub::j $k]:[stub::j $v]" }
  return "{[join $parts ,]}"
}

proc stub::dump {file err} {
  set o {}
  lappend o "\"error\":[expr {$err eq "" ? "null" : [stub::j $err]}]"
  lappend o "\"calls\":\[[join [lmap c $stub::calls {stub::jlist $c}] ,]\]"
  lappend o "\"project\":[expr {$stub::project eq "" ? "null" : [stub::jdict $stub::project]}]"
  set pp [expr {[dict exists $stub::props project] ? [dict get $stub::props project] : {}}]
  lappend o "\"projectProps\":[stub::jdict $pp]"
  lappend o "\"bd\":[stub::j $stub::bd]"
  set cs {}
  dict for {n c} $stub::cells {
    set pins {}
    if {[catch {stub::pins_of $n} pd] == 0} { set pins [dict keys $pd] }
    lappend cs "[stub::j $n]:{\"vlnv\":[stub::j [dict get $c vlnv]],\"ip\":[stub::j [dict get $c ip]],\"props\":[stub::jdict [dict get $c props]],\"automation\":[stub::jdict [dict get $c automation]],\"pins\":[stub::jlist $pins]}"
  }
  lappend o "\"cells\":{[join $cs ,]}"
  lappend o "\"nets\":\[[join [lmap n $stub::nets {stub::jlist $n}] ,]\]"
  lappend o "\"intfNets\":\[[join [lmap n $stub::intf_nets {stub::jlist $n}] ,]\]"
  lappend o "\"addresses\":\[[join [lmap a $stub::addr {
    format {{"space":%s,"seg":%s,"offset":%s,"range":%s}} [stub::j [dict get $a space]] [stub::j [dict get $a seg]] \
      [expr {wide([dict get $a offset])}] [expr {wide([dict get $a range])}]}] ,]\]"
  lappend o "\"autoAddress\":[expr {$stub::auto_addr ? "true" : "false"}]"
  lappend o "\"validated\":[expr {$stub::validated ? "true" : "false"}]"
  set rs {}
  dict for {r v} $stub::runs { lappend rs "[stub::j $r]:[stub::j [dict get $v PROGRESS]]" }
  lappend o "\"runs\":{[join $rs ,]}"
  set f [open $file w]
  puts $f "{[join $o ,\n]}"
  close $f
}

if {[llength $argv] < 2} {
  puts stderr "usage: tclsh vivado_stub.tcl <state.json> <script.tcl> \[args...\]"
  exit 2
}
set stub_state [lindex $argv 0]
set stub_script [lindex $argv 1]
set argv [lrange $argv 2 end]
set argc [llength $argv]
set stub_rc [catch {uplevel #0 [list source $stub_script]} stub_err]
if {$stub_rc == 1} {
  stub::dump $stub_state $stub_err
  puts stderr $stub_err
  if {$stub::tmp ne ""} { file delete -force $stub::tmp }
  exit 1
}
stub::dump $stub_state ""
if {$stub::tmp ne ""} { file delete -force $stub::tmp }
exit 0
