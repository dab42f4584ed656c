# Avnet Ultra96-V2 (Zynq UltraScale+ ZU3EG). Pure data: sourced by hw/bd/build.tcl and by HLS scripts.
# Must equal src/driver/boards.ts (test/bd-blockdesign.test.ts checks every value).
set ff_board [dict create \
  name ultra96v2 \
  part xczu3eg-sbva484-1-e \
  board_part_pattern {*:ultra96v2:part0:*} \
  ps ps8 \
  ps_master M_AXI_HPM0_FPD \
  ps_slave S_AXI_HP0_FPD \
  hp_data_width 128 \
  pl_clk_mhz 200 \
  engine_base 0xA0000000 \
  engine_range 0x00010000 \
  irq_pin pl_ps_irq0 \
  irq_index 0 \
  irq_gic 121 \
  hls_defines {FF_TM 64 FF_TN 6 FF_IBUF 8192 FF_OBUF 1280 FF_SBUF 4096 FF_BUS_BYTES 8 FF_WR_BYTES 4 FF_UP_PAR 4 FF_PACK2 1 FF_ACC_URAM 0 FF_CLOCK_MHZ 200} \
]
