# PYNQ-Z2 (Zynq-7000). Pure data: sourced by hw/bd/build.tcl and by HLS scripts that need the engine macros.
# Must equal src/driver/boards.ts (test/bd-blockdesign.test.ts checks every value).
set ff_board [dict create \
  name pynq-z2 \
  part xc7z020clg400-1 \
  board_part_pattern {*:pynq-z2:part0:*} \
  ps ps7 \
  ps_master M_AXI_GP0 \
  ps_slave S_AXI_HP0 \
  hp_data_width 64 \
  pl_clk_mhz 125 \
  engine_base 0x43C00000 \
  engine_range 0x00010000 \
  irq_pin IRQ_F2P \
  irq_index 0 \
  irq_gic 61 \
  hls_defines {FF_TM 32 FF_TN 8 FF_IBUF 8192 FF_OBUF 1280 FF_SBUF 4096 FF_BUS_BYTES 8 FF_WR_BYTES 2 FF_UP_PAR 2 FF_PACK2 1 FF_ACC_URAM 0 FF_CLOCK_MHZ 125} \
]
