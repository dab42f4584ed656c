// flowfpga virtual board: the HLS engine (hw/hls/flowfpga_engine.cpp, linked as is) behind a platform model of the
// Zynq side: the engine's AXI-Lite register block in a shared-memory file mapped like /dev/uioN map0, DDR as a
// shared-memory file at a physical base, the interrupt line as a UIO-like fd (Unix stream socket), a fake
// /sys/class/uio tree, and fault switches. docs/emu.md is the user documentation; this file is the model.
//
// Register ownership: this process owns the "hardware" side of every register (ap_start handshake, ap_done/ap_idle/
// ap_ready, ISR set, output scalars and their ap_vld bits); the host's bus accessor (src/emu/bus.ts) performs the
// side effects of AXI reads and writes (clear-on-read, toggle-on-write, read-only bits). Both sides use atomic
// read-modify-write on the shared words, so neither can lose the other's update.
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "flowfpga_engine.h"

namespace {

// ---- register map (docs/registers.md; hw/hls/registers.json) ------------------------------------------------
constexpr uint32_t R_AP_CTRL = 0x00, R_GIE = 0x04, R_IER = 0x08, R_ISR = 0x0C;
constexpr uint32_t R_MEM = 0x10, R_MEM_WR = 0x1C, R_CMD_ADDR = 0x28, R_CMD_COUNT = 0x34, R_WIN_BASE = 0x3C,
                   R_WIN_SIZE = 0x48;
constexpr uint32_t R_MAGIC = 0x54, R_VERSION = 0x5C, R_CAP_PE = 0x64, R_CAP_IBUF = 0x6C, R_CAP_OBUF = 0x74,
                   R_CAP_SBUF = 0x7C, R_CAP_FEAT = 0x84, R_CAP_CLOCK = 0x8C, R_STATUS = 0x94, R_ERR_INDEX = 0x9C,
                   R_CMDS_DONE = 0xA4, R_CYCLES = 0xAC, R_CYCLES_VLD = 0xB4;
constexpr uint32_t OUT32[] = {R_MAGIC,  R_VERSION, R_CAP_PE,    R_CAP_IBUF,  R_CAP_OBUF, R_CAP_SBUF,
                              R_CAP_FEAT, R_CAP_CLOCK, R_STATUS, R_ERR_INDEX, R_CMDS_DONE};
constexpr uint32_t AP_START = 1u << 0, AP_DONE = 1u << 1, AP_IDLE = 1u << 2, AP_READY = 1u << 3,
                   AUTO_RESTART = 1u << 7;
constexpr uint32_t REG_FILE_BYTES = 0x10000;  // the board's assign_bd_address range (src/driver/boards.ts)

// ---- control file (src/emu/control.ts mirrors this layout) --------------------------------------------------
constexpr uint32_t CTL_MAGIC = 0x43454646;  // "FFEC"
enum CtlWord : uint32_t {
  C_MAGIC = 0,
  C_LAYOUT = 1,
  C_FAULTS = 2,      // F_* bits
  C_LATE_MS = 3,     // completion delay with F_LATE
  C_FLIP_MASK = 4,   // XOR mask for the first output byte of each command with F_FLIP
  C_BUS_LO = 5,      // F_BUSERR: physical address of the unmapped hole (lo/hi); C_BUS_ANY=1: every command 0
  C_BUS_HI = 6,
  C_BUS_ANY = 7,
  C_RESET_REQ = 8,   // host increments to pulse the PL reset
  C_RESET_ACK = 9,   // model echoes C_RESET_REQ once the reset is done
  C_ISR_MODE = 10,   // 0 TOW, 1 COR (read by the host bus accessor)
  C_JOBS_STARTED = 11,
  C_JOBS_DONE = 12,
  C_STATE = 13,      // 0 idle, 1 running, 2 completion withheld (late / never), 3 held in reset
  C_PID = 14,
  C_IRQ_EVENTS = 15,
  C_CORRUPT_MASK = 16,  // XOR mask for every output byte of each command's tile with F_CORRUPT
  C_WORDS = 17,
};
constexpr uint32_t F_HANG = 1, F_LATE = 2, F_FLIP = 4, F_BUSERR = 8, F_RESET = 16, F_CORRUPT = 32;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char *fmt, const char *a = "", const char *b = "") {
  fprintf(stderr, "flowfpga-emu: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(2);
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct Shared {
  uint32_t *w = nullptr;  // 32-bit words
  uint32_t ld(uint32_t off) const { return __atomic_load_n(&w[off >> 2], __ATOMIC_ACQUIRE); }
  void st(uint32_t off, uint32_t v) { __atomic_store_n(&w[off >> 2], v, __ATOMIC_RELEASE); }
  uint32_t or_(uint32_t off, uint32_t v) { return __atomic_fetch_or(&w[off >> 2], v, __ATOMIC_SEQ_CST); }
  uint32_t and_(uint32_t off, uint32_t v) { return __atomic_fetch_and(&w[off >> 2], v, __ATOMIC_SEQ_CST); }
  uint64_t ld64(uint32_t off) const { return (uint64_t)ld(off) | ((uint64_t)ld(off + 4) << 32); }
};

void *map_file(const std::string &path, size_t size) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die("cannot create %s: %s", path.c_str(), strerror(errno));
  if (ftruncate(fd, (off_t)size) != 0) die("cannot size %s: %s", path.c_str(), strerror(errno));
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) die("cannot map %s: %s", path.c_str(), strerror(errno));
  return p;
}

void write_text(const std::string &path, const std::string &text) {
  FILE *f = fopen(path.c_str(), "w");
  if (!f) die("cannot write %s: %s", path.c_str(), strerror(errno));
  fputs(text.c_str(), f);
  fclose(f);
}

void mkdirs(const std::string &path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      const std::string p = path.substr(0, i);
      if (mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) die("cannot create %s: %s", p.c_str(), strerror(errno));
    }
  }
}

int rm_entry(const char *p, const struct stat *, int, struct FTW *) { return remove(p); }

std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

bool parse_u64(const char *s, uint64_t &out) {
  if (!s || !*s) return false;
  char *end = nullptr;
  errno = 0;
  out = strtoull(s, &end, 0);
  return errno == 0 && end && *end == 0;
}

struct Options {
  std::string dir;
  bool own_dir = false;  // created here (mkdtemp): removed on exit
  bool cleanup = false;  // --cleanup: remove --dir on exit too (the parent may die without cleaning up)
  uint64_t ddr_mb = 64, ddr_base = 0x10000000, reg_base = 0xA0000000;
  uint32_t uio_index = 0;
  std::string name = "flowfpga_engine";
  uint32_t isr_cor = 0;
  uint32_t faults = 0, late_ms = 0, flip_mask = 0x01, corrupt_mask = 0x01, bus_any = 0;
  uint64_t bus_addr = 0;
};

void usage() {
  fputs(
      "usage: flowfpga-emu [--dir DIR] [--ddr-mb N] [--ddr-base ADDR] [--isr tow|cor] [--uio-index N] [--name NAME]\n"
      "                    [--fault hang|late=MS|flip[=MASK]|corrupt[=MASK]|bus-error[=ADDR]|reset]... [--cleanup]\n"
      "Prints one line 'FLOWFPGA-EMU READY {json}' when the board is up; SIGTERM/SIGINT stop it.\n",
      stderr);
}

Options parse_args(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto val = [&](const char *what) -> const char * {
      if (i + 1 >= argc) die("%s needs a value", what);
      return argv[++i];
    };
    uint64_t v = 0;
    if (a == "--dir") {
      o.dir = val("--dir");
    } else if (a == "--ddr-mb") {
      if (!parse_u64(val("--ddr-mb"), v) || v < 1 || v > 4096) die("--ddr-mb must be 1..4096");
      o.ddr_mb = v;
    } else if (a == "--ddr-base") {
      if (!parse_u64(val("--ddr-base"), v) || (v & 0xFFF)) die("--ddr-base must be a page-aligned address");
      o.ddr_base = v;
    } else if (a == "--isr") {
      const std::string m = val("--isr");
      if (m == "tow") o.isr_cor = 0;
      else if (m == "cor") o.isr_cor = 1;
      else die("--isr must be tow or cor, not '%s'", m.c_str());
    } else if (a == "--uio-index") {
      if (!parse_u64(val("--uio-index"), v) || v > 255) die("--uio-index must be 0..255");
      o.uio_index = (uint32_t)v;
    } else if (a == "--name") {
      o.name = val("--name");
    } else if (a == "--cleanup") {
      o.cleanup = true;
    } else if (a == "--fault") {
      const std::string f = val("--fault");
      const size_t eq = f.find('=');
      const std::string k = f.substr(0, eq), arg = eq == std::string::npos ? "" : f.substr(eq + 1);
      if (k == "hang" && arg.empty()) o.faults |= F_HANG;
      else if (k == "reset" && arg.empty()) o.faults |= F_RESET;
      else if (k == "late") {
        if (!parse_u64(arg.c_str(), v) || v > 3600000) die("--fault late=MS needs a delay in ms, got '%s'", arg.c_str());
        o.faults |= F_LATE;
        o.late_ms = (uint32_t)v;
      } else if (k == "flip") {
        if (!arg.empty() && (!parse_u64(arg.c_str(), v) || v == 0 || v > 255)) die("--fault flip=MASK needs a byte mask 1..255");
        o.faults |= F_FLIP;
        if (!arg.empty()) o.flip_mask = (uint32_t)v;
      } else if (k == "corrupt") {
        if (!arg.empty() && (!parse_u64(arg.c_str(), v) || v == 0 || v > 255)) die("--fault corrupt=MASK needs a byte mask 1..255");
        o.faults |= F_CORRUPT;
        if (!arg.empty()) o.corrupt_mask = (uint32_t)v;
      } else if (k == "bus-error") {
        o.faults |= F_BUSERR;
        if (arg.empty()) o.bus_any = 1;
        else if (!parse_u64(arg.c_str(), o.bus_addr)) die("--fault bus-error=ADDR needs an address, got '%s'", arg.c_str());
      } else {
        die("unknown fault '%s' (hang, late=MS, flip[=MASK], corrupt[=MASK], bus-error[=ADDR], reset)", f.c_str());
      }
    } else if (a == "--help" || a == "-h") {
      usage();
      exit(0);
    } else {
      usage();
      die("unknown argument '%s'", a.c_str());
    }
  }
  return o;
}

// ---- the board ------------------------------------------------------------------------------------------------

struct Client {
  int fd;
  uint8_t in[4];
  int have;
};

struct Pending {
  bool active = false;
  bool never = false;
  uint64_t due_ns = 0;
  uint32_t status = 0, err_index = 0, cmds_done = 0;
  uint64_t cycles = 0;
};

class Board {
 public:
  explicit Board(const Options &o) : o_(o) {}

  void setup();
  void loop();
  void teardown();

 private:
  Options o_;
  Shared regs_, ctl_;
  uint8_t *ddr_ = nullptr;
  uint64_t ddr_size_ = 0;
  std::string sys_root_, dev_root_, regs_path_, irq_path_, ddr_path_, ctl_path_;
  int listen_fd_ = -1;
  std::vector<Client> clients_;
  bool irq_enabled_ = true;  // uio_pdrv_genirq: enabled at probe, disabled by the handler, re-enabled by write(1)
  int32_t irq_count_ = 0;
  Pending pend_;
  uint64_t hot_until_ = 0;

  void reset_registers();
  void start_job();
  void complete_job();
  bool irq_pin() const { return (regs_.ld(R_GIE) & 1) && (regs_.ld(R_ISR) & 3); }
  void fire_irq();
  void service_sockets(const pollfd *pfds, size_t n);
  uint32_t bus_error_index(uint64_t mem, uint64_t cmd_addr, uint32_t count) const;
  bool phys_in_ddr(uint64_t a, uint64_t len) const {
    return a >= o_.ddr_base && a - o_.ddr_base <= ddr_size_ && len <= ddr_size_ - (a - o_.ddr_base);
  }
};

void Board::setup() {
  ddr_size_ = o_.ddr_mb << 20;
  sys_root_ = o_.dir + "/sys/class/uio";
  dev_root_ = o_.dir + "/dev";
  const std::string uio = "uio" + std::to_string(o_.uio_index);
  regs_path_ = dev_root_ + "/" + uio;
  irq_path_ = dev_root_ + "/" + uio + ".irq";
  ddr_path_ = o_.dir + "/ddr";
  ctl_path_ = o_.dir + "/control";
  mkdirs(dev_root_);
  const std::string ud = sys_root_ + "/" + uio;
  mkdirs(ud + "/maps/map0");
  write_text(ud + "/name", o_.name + "\n");
  write_text(ud + "/version", "flowfpga-emu\n");
  write_text(ud + "/event", "0\n");
  write_text(ud + "/maps/map0/name", "s_axi_control\n");
  write_text(ud + "/maps/map0/addr", hex(o_.reg_base) + "\n");
  write_text(ud + "/maps/map0/size", hex(REG_FILE_BYTES) + "\n");
  write_text(ud + "/maps/map0/offset", "0x0\n");

  regs_.w = static_cast<uint32_t *>(map_file(regs_path_, REG_FILE_BYTES));
  ctl_.w = static_cast<uint32_t *>(map_file(ctl_path_, 4096));
  ddr_ = static_cast<uint8_t *>(map_file(ddr_path_, ddr_size_));
  reset_registers();
  auto c = [&](uint32_t word, uint32_t v) { ctl_.st(word * 4, v); };
  c(C_LAYOUT, 1);
  c(C_FAULTS, o_.faults);
  c(C_LATE_MS, o_.late_ms);
  c(C_FLIP_MASK, o_.flip_mask);
  c(C_CORRUPT_MASK, o_.corrupt_mask);
  c(C_BUS_LO, (uint32_t)o_.bus_addr);
  c(C_BUS_HI, (uint32_t)(o_.bus_addr >> 32));
  c(C_BUS_ANY, o_.bus_any);
  c(C_ISR_MODE, o_.isr_cor);
  c(C_PID, (uint32_t)getpid());
  c(C_MAGIC, CTL_MAGIC);  // last: the host checks it to know the file is initialised

  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) die("socket: %s", strerror(errno));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (irq_path_.size() >= sizeof sa.sun_path) die("interrupt socket path too long: %s (use a shorter --dir)", irq_path_.c_str());
  memcpy(sa.sun_path, irq_path_.c_str(), irq_path_.size() + 1);
  unlink(irq_path_.c_str());
  if (bind(listen_fd_, (sockaddr *)&sa, sizeof sa) != 0) die("bind %s: %s", irq_path_.c_str(), strerror(errno));
  if (listen(listen_fd_, 16) != 0) die("listen: %s", strerror(errno));

  ff_caps caps;
  ff_engine_caps(&caps);
  char json[2048];
  snprintf(json, sizeof json,
      "{\"pid\":%d,\"dir\":\"%s\",\"sysfsRoot\":\"%s\",\"devRoot\":\"%s\",\"uioName\":\"%s\","
      "\"uioIndex\":%u,\"regs\":\"%s\",\"regsPhys\":\"%s\",\"regsSize\":%u,\"irq\":\"%s\",\"ddr\":\"%s\","
      "\"ddrBase\":\"%s\",\"ddrSize\":%llu,\"control\":\"%s\",\"isr\":\"%s\",\"faults\":%u,"
      "\"caps\":{\"magic\":%u,\"version\":%u,\"pe\":%u,\"ibuf\":%u,\"obuf\":%u,\"sbuf\":%u,\"feat\":%u,\"mhz\":%u}}",
      (int)getpid(), o_.dir.c_str(), sys_root_.c_str(), dev_root_.c_str(), o_.name.c_str(), o_.uio_index,
      regs_path_.c_str(), hex(o_.reg_base).c_str(), REG_FILE_BYTES, irq_path_.c_str(), ddr_path_.c_str(),
      hex(o_.ddr_base).c_str(), (unsigned long long)ddr_size_, ctl_path_.c_str(), o_.isr_cor ? "cor" : "tow",
      o_.faults, caps.magic, caps.version, caps.cap_pe, caps.cap_ibuf, caps.cap_obuf, caps.cap_sbuf, caps.cap_feat,
      caps.cap_clock_mhz);
  // board.json lets another process attach to a standalone board (flowfpga emu); the ready line is for the parent.
  write_text(o_.dir + "/board.json", std::string(json) + "\n");
  printf("FLOWFPGA-EMU READY %s\n", json);
  fflush(stdout);
}

// Power-on / PL-reset values: everything 0 except ap_idle.
void Board::reset_registers() {
  for (uint32_t off = 4; off < 0x100; off += 4) regs_.st(off, 0);
  regs_.st(R_AP_CTRL, AP_IDLE);
  pend_ = Pending();
}

// First command (index) whose declared extents cover the bus-error hole; count when none does.
uint32_t Board::bus_error_index(uint64_t mem, uint64_t cmd_addr, uint32_t count) const {
  if (ctl_.ld(C_BUS_ANY * 4)) return 0;
  const uint64_t hole = (uint64_t)ctl_.ld(C_BUS_LO * 4) | ((uint64_t)ctl_.ld(C_BUS_HI * 4) << 32);
  for (uint32_t i = 0; i < count; i++) {
    const uint64_t ca = mem + cmd_addr + (uint64_t)i * FF_CMD_BYTES;
    if (hole >= ca && hole < ca + FF_CMD_BYTES) return i;
    if (!phys_in_ddr(ca, FF_CMD_BYTES)) return i;
    ff_cmd c;
    memcpy(&c, ddr_ + (ca - o_.ddr_base), sizeof c);
    const uint64_t a[4] = {c.in_addr, c.w_addr, c.q_addr, c.out_addr};
    const uint64_t n[4] = {c.in_len, c.w_len, c.q_len, c.out_len};
    for (int j = 0; j < 4; j++)
      if (n[j] && hole >= mem + a[j] && hole - (mem + a[j]) < n[j]) return i;
  }
  return count;
}

void Board::start_job() {
  // ap_start seen: the block leaves idle; ap_start stays set until the ap_ready handshake at the end.
  regs_.and_(R_AP_CTRL, ~AP_IDLE);
  ctl_.st(C_STATE * 4, 1);
  ctl_.st(C_JOBS_STARTED * 4, ctl_.ld(C_JOBS_STARTED * 4) + 1);
  const uint64_t mem = regs_.ld64(R_MEM), mem_wr = regs_.ld64(R_MEM_WR);
  const uint64_t cmd_addr = regs_.ld64(R_CMD_ADDR), win_base = regs_.ld64(R_WIN_BASE), win_size = regs_.ld64(R_WIN_SIZE);
  uint32_t count = regs_.ld(R_CMD_COUNT);
  const uint32_t faults = ctl_.ld(C_FAULTS * 4);

  Pending p;
  p.active = true;
  uint32_t forced = FF_OK;
  if (count > 0) {
    // Address decode of the platform: the engine may only be given a window that is backed by the virtual DDR
    // (on a board an access outside mapped memory is a DECERR or a hang); report it as a RANGE bus error.
    const bool ok = win_size > 0 && phys_in_ddr(mem + win_base, win_size) && phys_in_ddr(mem_wr + win_base, win_size);
    if (!ok) {
      forced = FF_ERR_RANGE;
      count = 0;
    } else if (faults & F_BUSERR) {
      const uint32_t bad = bus_error_index(mem, cmd_addr, count);
      if (bad < count) {
        forced = FF_ERR_RANGE;
        p.err_index = bad;
        count = bad;
      }
    }
  }
  uint32_t magic, version, pe, ib, ob, sb, feat, mhz, st = FF_OK, ei = 0, cd = 0;
  uint64_t cyc = 0;
  // Addresses in commands are physical (mem = 0): the engine's base pointer is the DDR mapping minus its base.
  const uintptr_t rd = (uintptr_t)ddr_ - (uintptr_t)o_.ddr_base + (uintptr_t)mem;
  const uintptr_t wr = (uintptr_t)ddr_ - (uintptr_t)o_.ddr_base + (uintptr_t)mem_wr;
  flowfpga_engine(reinterpret_cast<const ff_bus_t *>(rd), reinterpret_cast<uint8_t *>(wr), cmd_addr, count, win_base,
                  win_size, magic, version, pe, ib, ob, sb, feat, mhz, st, ei, cd, cyc);
  if (forced != FF_OK && st == FF_OK) {
    st = forced;
    ei = p.err_index;
  }
  p.status = st;
  p.err_index = ei;
  p.cmds_done = cd;
  p.cycles = cyc;
  if ((faults & (F_FLIP | F_CORRUPT)) && cd > 0) {
    // Output faults on every completed command. flip: the first output element (channel co_begin, tile origin);
    // corrupt (a corrupted tile): every element the command wrote, all its channels, rows and columns.
    const uint8_t flip = (uint8_t)ctl_.ld(C_FLIP_MASK * 4), corrupt = (uint8_t)ctl_.ld(C_CORRUPT_MASK * 4);
    for (uint32_t i = 0; i < cd; i++) {
      ff_cmd c;
      memcpy(&c, ddr_ + (mem + cmd_addr + (uint64_t)i * FF_CMD_BYTES - o_.ddr_base), sizeof c);
      const uint64_t e = (c.flags & FF_FLAG_LINEAR) ? 2 : 1;
      // Byte address of output element (layer channel ch, row y, column tile_x) of this command.
      auto row_at = [&](uint32_t ch, uint32_t y) {
        return mem_wr + c.out_addr + (((uint64_t)(c.out_c_offset + ch) * c.out_h + y) * c.out_w + c.tile_x) * e;
      };
      if (faults & F_FLIP) {
        const uint64_t a = row_at(c.co_begin, c.tile_y);
        if (phys_in_ddr(a, 1)) ddr_[a - o_.ddr_base] ^= flip;
      }
      if (faults & F_CORRUPT) {
        const bool up = c.opcode == FF_OP_UPSAMPLE;
        const uint32_t c0 = up ? 0 : c.co_begin, c1 = up ? c.cout : c.co_end;
        const uint64_t n = (uint64_t)c.tile_w * e;
        for (uint32_t ch = c0; ch < c1; ch++)
          for (uint32_t y = c.tile_y; y < (uint32_t)c.tile_y + c.tile_h; y++) {
            const uint64_t a = row_at(ch, y);
            if (!phys_in_ddr(a, n)) continue;
            uint8_t *q = ddr_ + (a - o_.ddr_base);
            for (uint64_t k = 0; k < n; k += e) q[k] ^= corrupt;
          }
      }
    }
  }
  const uint64_t t = now_ns();
  p.never = (faults & F_HANG) != 0;
  p.due_ns = t + ((faults & F_LATE) ? (uint64_t)ctl_.ld(C_LATE_MS * 4) * 1000000ull : 0);
  if (p.never || p.due_ns > t) ctl_.st(C_STATE * 4, 2);
  pend_ = p;
}

void Board::complete_job() {
  ff_caps caps;
  ff_engine_caps(&caps);
  const uint32_t vals[] = {caps.magic,    caps.version,  caps.cap_pe,  caps.cap_ibuf,  caps.cap_obuf, caps.cap_sbuf,
                           caps.cap_feat, caps.cap_clock_mhz, pend_.status, pend_.err_index, pend_.cmds_done};
  for (size_t i = 0; i < sizeof OUT32 / sizeof OUT32[0]; i++) {
    regs_.st(OUT32[i], vals[i]);
    regs_.st(OUT32[i] + 4, 1);  // <name>_ap_vld
  }
  regs_.st(R_CYCLES, (uint32_t)pend_.cycles);
  regs_.st(R_CYCLES + 4, (uint32_t)(pend_.cycles >> 32));
  regs_.st(R_CYCLES_VLD, 1);
  // ISR bits latch only for enabled sources (RTL: int_isr[0] <= int_ier[0] & ap_done).
  const uint32_t ier = regs_.ld(R_IER) & 3;
  if (ier) regs_.or_(R_ISR, ier);
  // ap_ready handshake clears ap_start unless auto_restart; done/ready/idle rise together (non-pipelined top).
  uint32_t old = regs_.ld(R_AP_CTRL), nv;
  do {
    nv = (old & ~AP_START) | AP_DONE | AP_READY | AP_IDLE | ((old & AUTO_RESTART) ? AP_START : 0);
  } while (!__atomic_compare_exchange_n(&regs_.w[R_AP_CTRL >> 2], &old, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
  pend_ = Pending();
  ctl_.st(C_STATE * 4, 0);
  ctl_.st(C_JOBS_DONE * 4, ctl_.ld(C_JOBS_DONE * 4) + 1);
}

void Board::fire_irq() {
  irq_enabled_ = false;  // the genirq handler disables the line until user space writes 1
  irq_count_++;
  ctl_.st(C_IRQ_EVENTS * 4, (uint32_t)irq_count_);
  uint8_t msg[4];
  memcpy(msg, &irq_count_, 4);
  for (auto &c : clients_) {
    // A reader that let 16 KiB of events pile up loses some; UIO readers see gaps in the count the same way.
    (void)!send(c.fd, msg, 4, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

void Board::service_sockets(const pollfd *pfds, size_t n) {
  if (pfds[0].revents & POLLIN) {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      clients_.push_back(Client{fd, {0, 0, 0, 0}, 0});
    }
  }
  std::vector<int> gone;
  for (size_t i = 1; i < n; i++) {
    if (!pfds[i].revents) continue;
    Client *c = nullptr;
    for (auto &x : clients_)
      if (x.fd == pfds[i].fd) c = &x;
    if (!c) continue;
    for (;;) {
      const ssize_t r = recv(c->fd, c->in + c->have, 4 - c->have, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        gone.push_back(c->fd);
        break;
      }
      if (r < 0) break;
      c->have += (int)r;
      if (c->have == 4) {
        int32_t v;
        memcpy(&v, c->in, 4);
        c->have = 0;
        irq_enabled_ = v != 0;  // irqcontrol(on = value != 0)
        hot_until_ = now_ns() + 5000000ull;
      }
    }
  }
  for (int fd : gone) {
    close(fd);
    for (size_t i = 0; i < clients_.size(); i++)
      if (clients_[i].fd == fd) {
        clients_.erase(clients_.begin() + (long)i);
        break;
      }
  }
}

void Board::loop() {
  std::vector<pollfd> pfds;
  const pid_t parent = getppid();
  while (!g_stop) {
    pfds.clear();
    pfds.push_back(pollfd{listen_fd_, POLLIN, 0});
    for (auto &c : clients_) pfds.push_back(pollfd{c.fd, POLLIN, 0});
    // Polling interval: 20 us for 5 ms after any activity, then 200 us up to 100 ms, then 2 ms (idle CPU ~0).
    const uint64_t t = now_ns();
    uint64_t wait_ns = t < hot_until_ ? 20000 : t < hot_until_ + 100000000ull ? 200000 : 2000000;
    if (pend_.active && !pend_.never && pend_.due_ns > t && pend_.due_ns - t < wait_ns) wait_ns = pend_.due_ns - t;
    timespec ts{(time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull)};
    const int r = ppoll(pfds.data(), pfds.size(), &ts, nullptr);
    if (r > 0) service_sockets(pfds.data(), pfds.size());
    if (getppid() != parent) break;  // parent died before PR_SET_PDEATHSIG could be armed, or reparented

    const uint32_t req = ctl_.ld(C_RESET_REQ * 4);
    if (req != ctl_.ld(C_RESET_ACK * 4)) {
      reset_registers();
      ctl_.st(C_STATE * 4, 0);
      ctl_.st(C_RESET_ACK * 4, req);
      hot_until_ = now_ns() + 5000000ull;
    }
    const uint32_t faults = ctl_.ld(C_FAULTS * 4);
    const uint32_t ctrl = regs_.ld(R_AP_CTRL);
    if (faults & F_RESET) {
      // Held in reset: the block keeps its reset values, so an ap_start write is lost.
      if (ctrl & AP_START) regs_.and_(R_AP_CTRL, ~AP_START);
      if (pend_.active) reset_registers();
      ctl_.st(C_STATE * 4, 3);
    } else {
      if (ctl_.ld(C_STATE * 4) == 3) ctl_.st(C_STATE * 4, 0);
      if (!pend_.active && (ctrl & AP_START) && (ctrl & AP_IDLE)) {
        start_job();
        hot_until_ = now_ns() + 5000000ull;
      }
      if (pend_.active && !pend_.never && now_ns() >= pend_.due_ns) {
        complete_job();
        hot_until_ = now_ns() + 5000000ull;
      }
    }
    // Level-sensitive line (device tree "interrupts = <0 N 4>"): fires whenever high and enabled.
    if (irq_enabled_ && irq_pin()) fire_irq();
  }
}

void Board::teardown() {
  for (auto &c : clients_) close(c.fd);
  clients_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  unlink(irq_path_.c_str());
  if (o_.own_dir || o_.cleanup) nftw(o_.dir.c_str(), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

}  // namespace

int main(int argc, char **argv) {
  Options o = parse_args(argc, argv);
  // Die with the parent (the runtime that started us), so no board outlives its user.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Sub-100 us polling needs a small timer slack (default 50 us).
  prctl(PR_SET_TIMERSLACK, 1000UL);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (o.dir.empty()) {
    const char *tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/flowfpga-emu-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    if (!mkdtemp(buf.data())) die("mkdtemp %s: %s", tmpl.c_str(), strerror(errno));
    o.dir = buf.data();
    o.own_dir = true;
  } else {
    mkdirs(o.dir);
  }
  Board b(o);
  b.setup();
  b.loop();
  b.teardown();
  return 0;
}
