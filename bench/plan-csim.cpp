// Runs a raw command list on the C-simulated engine (hw/hls/flowfpga_engine.cpp): the scheduler's model check
// (test/scheduler-csim.test.ts). Build: g++ -std=c++17 -O2 -I hw/hls [-DFF_TM=…] hw/hls/flowfpga_engine.cpp
// bench/plan-csim.cpp. Usage: plan-csim DDR_IN DDR_OUT CMD_ADDR COUNT — loads the DDR image, runs the list with the
// window = the whole image, writes the image back and prints {"status", "err_index", "cmds_done", "cycles"}.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "flowfpga_engine.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: plan-csim DDR_IN DDR_OUT CMD_ADDR COUNT\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    fprintf(stderr, "plan-csim: cannot open %s\n", argv[1]);
    return 2;
  }
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  std::vector<uint64_t> words((size_t)(n + 7) / 8);  // 8-byte aligned storage, as ff_engine_run requires
  uint8_t *ddr = reinterpret_cast<uint8_t *>(words.data());
  if (fread(ddr, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "plan-csim: short read\n");
    return 2;
  }
  fclose(f);
  ff_result r{};
  if (ff_engine_run(ddr, (uint64_t)n, strtoull(argv[3], nullptr, 0), (uint32_t)strtoul(argv[4], nullptr, 0), 0, (uint64_t)n, &r)) {
    fprintf(stderr, "plan-csim: window outside the image\n");
    return 2;
  }
  FILE *o = fopen(argv[2], "wb");
  if (!o || fwrite(ddr, 1, (size_t)n, o) != (size_t)n) {
    fprintf(stderr, "plan-csim: cannot write %s\n", argv[2]);
    return 2;
  }
  fclose(o);
  printf("{\"status\": %u, \"err_index\": %u, \"cmds_done\": %u, \"cycles\": %llu}\n", r.status, r.err_index, r.cmds_done,
         (unsigned long long)r.cycles);
  return 0;
}
