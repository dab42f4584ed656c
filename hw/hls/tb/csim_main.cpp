// C simulation testbench for flowfpga_engine: runs every golden vector (docs/golden-vectors.md) through the engine
// in a simulated DDR with several tilings each, then the fault cases. Prints "N passed, N failed"; exit 1 on failure.
//   csim <dir-or-.gv>...      golden vectors + fault tests
//   csim --layout             command/register layout as JSON (checked against hw/hls/registers.json)
//   csim --cycles             per-command cycle counts of a fixed command set (checked against src/scheduler/cycles.ts)
#include <dirent.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "flowfpga_engine.h"

namespace {

struct Tensor {
  std::string type;
  std::vector<int64_t> v;
};
struct Case {
  std::string file, id, op;
  std::map<std::string, int64_t> p;
  std::map<std::string, Tensor> t;
};

bool parse_gv(const std::string &path, std::vector<Case> &out, std::string &err) {
  std::ifstream f(path);
  if (!f) {
    err = "cannot open " + path;
    return false;
  }
  std::string line;
  bool header = false;
  Case cur;
  bool in_case = false;
  int lineno = 0;
  while (std::getline(f, line)) {
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string tok;
    if (!(ss >> tok)) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    if (!header) {
      int fv = 0, cv = 0;
      if (tok != "flowfpga-golden" || !(ss >> fv >> cv) || fv != 1 || cv != FF_CONTRACT_VERSION) {
        err = where + ": not a version-1 golden vector file for contract " + std::to_string(FF_CONTRACT_VERSION);
        return false;
      }
      header = true;
    } else if (tok == "case") {
      cur = Case();
      cur.file = path;
      if (!(ss >> cur.id >> cur.op)) {
        err = where + ": bad case line";
        return false;
      }
      in_case = true;
    } else if (tok == "end") {
      if (!in_case) {
        err = where + ": end without case";
        return false;
      }
      out.push_back(cur);
      in_case = false;
    } else if (tok == "tensor") {
      std::string name;
      Tensor t;
      size_t n = 0;
      if (!in_case || !(ss >> name >> t.type >> n)) {
        err = where + ": bad tensor line";
        return false;
      }
      t.v.resize(n);
      for (size_t i = 0; i < n; i++)
        if (!(ss >> t.v[i])) {
          err = where + ": tensor " + name + " has fewer than " + std::to_string(n) + " values";
          return false;
        }
      cur.t[name] = std::move(t);
    } else {
      int64_t v;
      if (!in_case || !(ss >> v)) {
        err = where + ": bad parameter line '" + line + "'";
        return false;
      }
      cur.p[tok] = v;
    }
  }
  if (in_case) {
    err = path + ": last case has no end";
    return false;
  }
  return true;
}

// ---- simulated DDR -----------------------------------------------------------------------------------------
const uint8_t CANARY = 0xA5;

struct Ddr {
  std::vector<ff_bus_t> words;  // bus-word aligned backing store
  uint64_t size = 0, top = 0;
  explicit Ddr(uint64_t n) : words((n + FF_BUS_BYTES - 1) / FF_BUS_BYTES), size(words.size() * FF_BUS_BYTES) {
    memset(bytes(), CANARY, size);
    top = 64;  // keep a canary gap at the bottom
  }
  uint8_t *bytes() { return reinterpret_cast<uint8_t *>(words.data()); }
  // Reserves n bytes, bus-word aligned, followed by a 64-byte canary gap.
  uint64_t alloc(uint64_t n) {
    const uint64_t a = (top + FF_BUS_BYTES - 1) & ~(uint64_t)(FF_BUS_BYTES - 1);
    top = a + n + 64;
    if (top > size) {
      fprintf(stderr, "testbench DDR too small\n");
      exit(2);
    }
    return a;
  }
  void put(uint64_t a, int64_t v, int bytes_) {
    for (int i = 0; i < bytes_; i++) bytes()[a + i] = (uint8_t)((uint64_t)v >> (8 * i));
  }
  int64_t get(uint64_t a, int bytes_, bool sign) {
    uint64_t v = 0;
    for (int i = 0; i < bytes_; i++) v |= (uint64_t)bytes()[a + i] << (8 * i);
    if (sign && bytes_ < 8) {
      const uint64_t s = 1ull << (8 * bytes_ - 1);
      v = (v ^ s) - s;
    }
    return (int64_t)v;
  }
};

int type_bytes(const std::string &t) { return t == "u8" || t == "i8" ? 1 : t == "i16" ? 2 : t == "i32" ? 4 : 8; }

uint64_t put_tensor(Ddr &d, const Tensor &t) {
  const int b = type_bytes(t.type);
  const uint64_t a = d.alloc(t.v.size() * b);
  for (size_t i = 0; i < t.v.size(); i++) d.put(a + i * b, t.v[i], b);
  return a;
}

void encode(const ff_cmd &c, Ddr &d, uint64_t a) { memcpy(d.bytes() + a, &c, sizeof c); }

struct Tiling {
  int th, tw, cb;  // tile size in output pixels, output channels per command (0 = all)
  bool pack;       // CONV: weights in the packed layout, FF_FLAG_WPACK
  bool lanes = false;  // CONV: FF_FLAG_PIXLANES (needs cb <= FF_TM / 2, stride 1)
  bool kpack = false;  // CONV: FF_FLAG_KPACK (needs cin <= FF_TN, no up2)
  bool accfull = false;  // CONV: FF_FLAG_ACCFULL (accumulator capacity 2 * FF_OBUF)
};

// PE-row groups of FF_FLAG_PIXLANES for n output channels (mirrors check(): groups of n rounded up to even lanes).
int lane_gs(int n) { return n + (n & 1); }
int lane_e(int n) { return std::min(FF_TM / lane_gs(n), FF_BUS_BYTES); }

// Contract layout [cout][cin][kk] -> packed [ci_block][cout][tn][kk] (docs/engine.md "Data in DDR").
void pack_weights(Ddr &d, uint64_t at, const Tensor &wt, int cout, int cin, int kk) {
  uint64_t o = at;
  for (int ci0 = 0; ci0 < cin; ci0 += FF_TN) {
    const int n = std::min(FF_TN, cin - ci0) * kk;
    for (int co = 0; co < cout; co++)
      for (int i = 0; i < n; i++) d.put(o++, wt.v[((size_t)co * cin + ci0) * kk + i], 1);
  }
}

// Mirrors the engine's buffer checks so the testbench only emits tiles that fit (the fault tests cover the rest).
bool conv_fits(int th, int tw, int k, int s, bool up2, int in_h, int in_w, int E = 1, int obuf = FF_OBUF) {
  const int ih = (th - 1) * s + k, iw = (tw - 1) * s + k;
  if (th * ((tw + E - 1) / E) > obuf || ih * iw > FF_IBUF) return false;
  if (up2 && ((ih / 2 + 3) * (iw / 2 + 3) > FF_SBUF) && (std::min(ih / 2 + 3, in_h) * std::min(iw / 2 + 3, in_w) > FF_SBUF))
    return false;
  return true;
}
bool up_fits(int th, int tw, int f, int pix, int in_h, int in_w) {
  const int sh = std::min(th / f + 3, in_h), sw = std::min(tw / f + 3, in_w);
  return sh * sw * pix <= FF_SBUF;
}

struct RunResult {
  ff_result r;
  bool ok;
};

// Builds the command list for one case and tiling, runs it, checks output and memory. Returns an error text or "".
std::string run_case(const Case &cs, const Tiling &tl, uint64_t *cycles_out) {
  auto P = [&](const char *n) -> int64_t {
    auto it = cs.p.find(n);
    if (it == cs.p.end()) throw std::string("missing parameter ") + n;
    return it->second;
  };
  auto T = [&](const char *n) -> const Tensor & {
    auto it = cs.t.find(n);
    if (it == cs.t.end()) throw std::string("missing tensor ") + n;
    return it->second;
  };
  const bool conv = cs.op == "conv" || cs.op == "flow" || cs.op == "upconv";
  const bool up = cs.op == "up2" || cs.op == "up4";
  if (!conv && !up) throw std::string("unknown op ") + cs.op;
  const Tensor &in = T("input"), &expect = T("out");
  uint64_t need = 4096 + in.v.size() * 2 + expect.v.size() * 2 + 64 * 8;
  if (conv) need += T("weights").v.size() + T("mult").v.size() * 11 + T("out_init").v.size() * 2;
  ff_cmd base{};
  int out_h, out_w, C, esize;
  if (conv) {
    const int cin = (int)P("cin"), h = (int)P("h"), w = (int)P("w"), cout = (int)P("cout"), k = (int)P("k"),
              s = (int)P("stride"), mode = (int)P("mode");
    const bool up2 = cs.op == "upconv";
    const int hv = up2 ? 2 * h : h, wv = up2 ? 2 * w : w, p = (k - 1) / 2;
    out_h = (hv + 2 * p - k) / s + 1;
    out_w = (wv + 2 * p - k) / s + 1;
    C = cout;
    esize = mode == 1 ? 2 : 1;
    base.opcode = FF_OP_CONV;
    base.flags = (up2 ? FF_FLAG_UP2_IN : 0) | (mode == 1 ? FF_FLAG_LINEAR : 0);
    base.bits = mode == 1 ? 16 : (uint8_t)P("bits_out");
    base.k = (uint8_t)k;
    base.stride = (uint8_t)s;
    base.in_c = (uint16_t)cin;
    base.in_h = (uint16_t)h;
    base.in_w = (uint16_t)w;
    base.out_c_total = (uint16_t)P("out_c_total");
    base.out_c_offset = (uint16_t)P("out_c_offset");
    base.cout = (uint16_t)cout;
  } else {
    const int c = (int)P("c"), h = (int)P("h"), w = (int)P("w"), f = cs.op == "up2" ? 2 : 4;
    out_h = f * h;
    out_w = f * w;
    C = c;
    esize = f == 4 ? 2 : 1;
    base.opcode = FF_OP_UPSAMPLE;
    base.flags = f == 4 ? FF_FLAG_LINEAR : 0;
    base.bits = f == 4 ? 16 : (uint8_t)P("bits");
    base.k = (uint8_t)f;
    base.stride = 1;
    base.in_c = base.cout = base.out_c_total = (uint16_t)c;
    base.in_h = (uint16_t)h;
    base.in_w = (uint16_t)w;
  }
  base.out_h = (uint16_t)out_h;
  base.out_w = (uint16_t)out_w;
  const int ntiles = ((out_h + tl.th - 1) / tl.th) * ((out_w + tl.tw - 1) / tl.tw);
  const int cb = tl.cb > 0 ? tl.cb : C;
  const int ncmd = ntiles * ((C + cb - 1) / cb);
  need += (uint64_t)ncmd * FF_CMD_BYTES;

  Ddr d(need);
  const uint64_t cmds = d.alloc((uint64_t)ncmd * FF_CMD_BYTES);
  base.in_addr = put_tensor(d, in);
  base.in_len = (uint32_t)(in.v.size() * type_bytes(in.type));
  const Tensor &init = conv ? T("out_init") : expect;
  if (conv) {
    const Tensor &wt = T("weights"), &m = T("mult"), &sh = T("shift"), &b = T("bias");
    base.w_addr = put_tensor(d, wt);
    base.w_len = (uint32_t)wt.v.size();
    if (tl.pack) {
      base.flags |= FF_FLAG_WPACK;
      pack_weights(d, base.w_addr, wt, C, (int)P("cin"), (int)(P("k") * P("k")));
    }
    if (tl.lanes) base.flags |= FF_FLAG_PIXLANES;
    if (tl.kpack) base.flags |= FF_FLAG_KPACK;
    if (tl.accfull) base.flags |= FF_FLAG_ACCFULL;
    // Requant block in model-file order: B int64[cout], M int16[cout], S uint8[cout].
    base.q_addr = d.alloc(11 * (uint64_t)C);
    for (int i = 0; i < C; i++) {
      d.put(base.q_addr + 8 * i, b.v[i], 8);
      d.put(base.q_addr + 8ull * C + 2 * i, m.v[i], 2);
      d.put(base.q_addr + 10ull * C + i, sh.v[i], 1);
    }
    base.q_len = 11 * C;
    base.out_addr = put_tensor(d, init);
  } else {
    base.out_addr = d.alloc(expect.v.size() * esize);  // canary-filled: every element must be written
  }
  base.out_len = (uint32_t)(init.v.size() * esize);
  if (init.v.size() != expect.v.size()) throw std::string("out_init and out differ in size");
  int n = 0;
  for (int c0 = 0; c0 < C; c0 += cb)
    for (int y = 0; y < out_h; y += tl.th)
      for (int x = 0; x < out_w; x += tl.tw) {
        ff_cmd c = base;
        c.co_begin = (uint16_t)c0;
        c.co_end = (uint16_t)std::min(C, c0 + cb);
        c.tile_y = (uint16_t)y;
        c.tile_x = (uint16_t)x;
        c.tile_h = (uint16_t)std::min(tl.th, out_h - y);
        c.tile_w = (uint16_t)std::min(tl.tw, out_w - x);
        c.tag = (uint32_t)n;
        encode(c, d, cmds + (uint64_t)n * FF_CMD_BYTES);
        n++;
      }
  std::vector<uint8_t> before(d.bytes(), d.bytes() + d.size);
  ff_result r{};
  if (ff_engine_run(d.bytes(), d.size, cmds, (uint32_t)ncmd, 0, d.size, &r) != 0) return "ff_engine_run refused";
  if (cycles_out) *cycles_out = r.cycles;
  if (r.status != FF_OK)
    return "status " + std::to_string(r.status) + " at command " + std::to_string(r.err_index);
  if (r.cmds_done != (uint32_t)ncmd) return "cmds_done " + std::to_string(r.cmds_done);
  const bool sign = esize == 2;
  for (size_t i = 0; i < expect.v.size(); i++) {
    const int64_t got = d.get(base.out_addr + i * esize, esize, sign);
    if (got != expect.v[i]) {
      char buf[160];
      snprintf(buf, sizeof buf, "out[%zu] (c %zu y %zu x %zu) = %lld, expected %lld", i,
               i / ((size_t)out_h * out_w), i / out_w % out_h, i % out_w, (long long)got, (long long)expect.v[i]);
      return buf;
    }
  }
  const uint64_t o0 = base.out_addr, o1 = base.out_addr + expect.v.size() * esize;
  for (uint64_t a = 0; a < d.size; a++)
    if ((a < o0 || a >= o1) && d.bytes()[a] != before[a]) return "wrote byte " + std::to_string(a) + " outside the output";
  return "";
}

std::vector<Tiling> tilings_for(const Case &cs) {
  const bool conv = cs.op == "conv" || cs.op == "flow" || cs.op == "upconv";
  int oh, ow, k = 1, s = 1, f = 2, pix = 1;
  const int h = (int)cs.p.at(conv ? "h" : "h"), w = (int)cs.p.at("w");
  bool up2 = cs.op == "upconv";
  if (conv) {
    k = (int)cs.p.at("k");
    s = (int)cs.p.at("stride");
    const int hv = up2 ? 2 * h : h, wv = up2 ? 2 * w : w, p = (k - 1) / 2;
    oh = (hv + 2 * p - k) / s + 1;
    ow = (wv + 2 * p - k) / s + 1;
  } else {
    f = cs.op == "up2" ? 2 : 4;
    pix = f == 4 ? 2 : 1;
    oh = f * h;
    ow = f * w;
  }
  auto fits = [&](int th, int tw) {
    return conv ? conv_fits(th, tw, k, s, up2, h, w) : up_fits(th, tw, f, pix, h, w);
  };
  std::vector<Tiling> v;
  // Largest tile that fits (halving), then small odd tiles with split channel blocks.
  int th = oh, tw = ow;
  while (!fits(th, tw)) {
    if (th >= tw && th > 1) th = (th + 1) / 2;
    else if (tw > 1) tw = (tw + 1) / 2;
    else break;
  }
  v.push_back({th, tw, 0, false});
  if (fits(3, 5)) v.push_back({std::min(3, oh), std::min(5, ow), 3, false});
  v.push_back({1, std::min(7, ow), 1, false});
  // The same three with packed weights (CONV only).
  if (conv)
    for (size_t i = 0, n = v.size(); i < n; i++) v.push_back({v[i].th, v[i].tw, v[i].cb, true});
  // Kernel-column packing (cin <= FF_TN, no up2): the three base tilings, alternately packed weights, and the
  // largest one combined with pixel lanes where those apply.
  if (conv && !up2 && (int)cs.p.at("cin") <= FF_TN) {
    for (size_t i = 0; i < 3; i++) v.push_back({v[i].th, v[i].tw, v[i].cb, i % 2 == 0, false, true});
    if (s == 1 && 2 * lane_gs(1) <= FF_TM) {
      const int E = lane_e(1);
      if (conv_fits(std::min(3, oh), std::min(ow, 2 * E + 1), k, s, up2, h, w, E))
        v.push_back({std::min(3, oh), std::min(ow, 2 * E + 1), 1, true, true, true});
    }
  }
  // Pixel lanes (stride 1): n = 1..3 output channels per command, the largest lane tile and odd tile widths
  // (partial last pixel group, borders on both sides).
  if (conv && s == 1) {
    const int C = (int)cs.p.at("cout");
    for (int n = 1; n <= 3 && n <= C && 2 * lane_gs(n) <= FF_TM; n++) {
      const int E = lane_e(n);
      int lh = oh, lw = ow;
      while (!conv_fits(lh, lw, k, s, up2, h, w, E)) {
        if (lh >= lw / E && lh > 1) lh = (lh + 1) / 2;
        else if (lw > 1) lw = (lw + 1) / 2;
        else break;
      }
      v.push_back({lh, lw, n, n % 2 == 1, true});
      const int ow2 = std::min(ow, 2 * E + 1);
      if (conv_fits(3, ow2, k, s, up2, h, w, E)) v.push_back({std::min(3, oh), ow2, n, true, true});
      if (conv_fits(2, E - 1 > 0 ? E - 1 : 1, k, s, up2, h, w, E))
        v.push_back({std::min(2, oh), std::min(ow, std::max(E - 1, 1)), n, false, true});
    }
  }
  // Full accumulator (both halves, one group buffer): the largest tile for 2 * FF_OBUF, the 3x5 and 1x7 tiles with
  // all channels per command (many blocks per group, several groups), and combined with the lane modes.
  if (conv) {
    const int C = (int)cs.p.at("cout");
    auto fits2 = [&](int a, int b) { return conv_fits(a, b, k, s, up2, h, w, 1, 2 * FF_OBUF); };
    int fh = oh, fw = ow;
    while (!fits2(fh, fw)) {
      if (fh >= fw && fh > 1) fh = (fh + 1) / 2;
      else if (fw > 1) fw = (fw + 1) / 2;
      else break;
    }
    v.push_back({fh, fw, 0, true, false, false, true});
    if (fits2(3, 5)) v.push_back({std::min(3, oh), std::min(5, ow), 0, false, false, false, true});
    v.push_back({1, std::min(7, ow), 0, true, false, false, true});
    if (C > 1) v.push_back({std::min(2, oh), std::min(3, ow), (C + 1) / 2, true, false, false, true});
    if (s == 1 && 2 * lane_gs(1) <= FF_TM) {
      const int E = lane_e(1);
      if (conv_fits(std::min(3, oh), std::min(ow, 2 * E + 1), k, s, up2, h, w, E, 2 * FF_OBUF))
        v.push_back({std::min(3, oh), std::min(ow, 2 * E + 1), 1, true, true, !up2 && (int)cs.p.at("cin") <= FF_TN, true});
    }
  }
  return v;
}

// ---- fault tests -------------------------------------------------------------------------------------------
struct FaultEnv {
  Ddr d{1 << 16};
  ff_cmd c{};
  uint64_t cmds = 0;
};

// A valid 3x3 conv: 5 -> 4 channels, 9x11 input, output into channels 2..5 of an 8-channel buffer.
void make_valid(FaultEnv &e, int in_h = 9, int in_w = 11, int k = 3, int stride = 1, bool full_tile = false) {
  std::mt19937 rng(7);
  ff_cmd &c = e.c;
  c = ff_cmd{};
  c.opcode = FF_OP_CONV;
  c.bits = 6;
  c.k = (uint8_t)k;
  c.stride = (uint8_t)stride;
  c.in_c = 5;
  c.in_h = (uint16_t)in_h;
  c.in_w = (uint16_t)in_w;
  c.out_h = (uint16_t)((in_h - 1) / stride + 1);
  c.out_w = (uint16_t)((in_w - 1) / stride + 1);
  c.out_c_total = 8;
  c.out_c_offset = 2;
  c.cout = 4;
  c.co_begin = 0;
  c.co_end = 4;
  // A small tile at an inner position (fits every buffer configuration); the tile faults use the whole output.
  c.tile_y = full_tile ? 0 : 1;
  c.tile_x = full_tile ? 0 : 2;
  c.tile_h = full_tile ? c.out_h : 4;
  c.tile_w = full_tile ? c.out_w : 4;
  e.cmds = e.d.alloc(2 * FF_CMD_BYTES);
  c.in_len = 5u * in_h * in_w;
  c.in_addr = e.d.alloc(c.in_len);
  for (uint32_t i = 0; i < c.in_len; i++) e.d.bytes()[c.in_addr + i] = rng() % 64;
  c.w_len = 4u * 5 * k * k;
  c.w_addr = e.d.alloc(c.w_len);
  for (uint32_t i = 0; i < c.w_len; i++) e.d.bytes()[c.w_addr + i] = (uint8_t)(rng() % 15 - 7);
  c.q_len = 44;
  c.q_addr = e.d.alloc(c.q_len);
  for (int i = 0; i < 4; i++) {
    e.d.put(c.q_addr + 8 * i, 1 << 9, 8);
    e.d.put(c.q_addr + 32 + 2 * i, 300 + i, 2);
    e.d.put(c.q_addr + 40 + i, 10, 1);
  }
  c.out_len = 8u * c.out_h * c.out_w;
  c.out_addr = e.d.alloc(c.out_len);
}

struct Fault {
  const char *name;
  uint32_t expect;
  void (*mutate)(FaultEnv &);
};

const Fault FAULTS[] = {
    {"bad opcode", FF_ERR_OPCODE, [](FaultEnv &e) { e.c.opcode = 9; }},
    {"opcode 0", FF_ERR_OPCODE, [](FaultEnv &e) { e.c.opcode = 0; }},
    {"bits 9", FF_ERR_BITS, [](FaultEnv &e) { e.c.bits = 9; }},
    {"bits 1", FF_ERR_BITS, [](FaultEnv &e) { e.c.bits = 1; }},
    {"bits 16 without linear", FF_ERR_BITS, [](FaultEnv &e) { e.c.bits = 16; }},
    {"kernel 4", FF_ERR_PARAM, [](FaultEnv &e) { e.c.k = 4; }},
    {"stride 3", FF_ERR_PARAM, [](FaultEnv &e) { e.c.stride = 3; }},
    {"unknown flag", FF_ERR_PARAM, [](FaultEnv &e) { e.c.flags = 0x80; }},
    {"tile outside output", FF_ERR_GEOMETRY, [](FaultEnv &e) { e.c.tile_y = (uint16_t)(e.c.out_h - 3); }},
    {"channel block past cout", FF_ERR_GEOMETRY, [](FaultEnv &e) { e.c.co_end = 5; }},
    {"concat offset past total", FF_ERR_GEOMETRY, [](FaultEnv &e) { e.c.out_c_offset = 5; }},
    {"wrong output dims", FF_ERR_GEOMETRY, [](FaultEnv &e) { e.c.out_w = 10; }},
    {"oversize tile (output buffer)", FF_ERR_TILE,
     [](FaultEnv &e) {
       e.d = Ddr(1 << 22);
       int side = 1;
       while (side * side <= FF_OBUF) side++;
       make_valid(e, side, side, 1, 1, true);
     }},
    {"oversize tile (input window)", FF_ERR_TILE,
     [](FaultEnv &e) {
       e.d = Ddr(1 << 22);
       // Output tile that fits FF_OBUF but whose 7x7 stride-2 window does not fit FF_IBUF.
       int side = 1;
       while ((side + 1) * (side + 1) <= FF_OBUF && (2 * side + 5) * (2 * side + 5) <= FF_IBUF) side++;
       if ((2 * side + 5) * (2 * side + 5) > FF_IBUF) {
         make_valid(e, 2 * side, 2 * side, 7, 2, true);
       } else {
         // A large FF_IBUF: one output row as wide as FF_OBUF (window 7 x (2*FF_OBUF + 5)).
         make_valid(e, 2, 2 * FF_OBUF, 7, 2, true);
         if (7 * (2 * FF_OBUF + 5) <= FF_IBUF) e.c.opcode = 0xEE;  // buffers cannot express it: fail loudly
       }
     }},
    {"output extent one byte short", FF_ERR_RANGE,
     [](FaultEnv &e) {
       const ff_cmd &c = e.c;  // one byte short of the last byte the tile writes
       e.c.out_len = (uint32_t)(((c.out_c_offset + c.co_end - 1) * c.out_h + c.tile_y + c.tile_h - 1) * c.out_w +
                                c.tile_x + c.tile_w) - 1;
     }},
    {"input extent short", FF_ERR_RANGE,
     [](FaultEnv &e) {
       const ff_cmd &c = e.c;  // one byte short of the last byte the tile's input window reads
       const int p = (c.k - 1) / 2;
       const int y = std::min(c.in_h - 1, (c.tile_y + c.tile_h - 1) * c.stride - p + c.k - 1);
       const int x = std::min(c.in_w - 1, (c.tile_x + c.tile_w - 1) * c.stride - p + c.k - 1);
       e.c.in_len = (uint32_t)(((c.in_c - 1) * c.in_h + y) * c.in_w + x + 1) - 1;
     }},
    {"weights extent short", FF_ERR_RANGE, [](FaultEnv &e) { e.c.w_len -= 1; }},
    {"packed weights extent short", FF_ERR_RANGE,
     [](FaultEnv &e) {
       const ff_cmd &c = e.c;  // packed: the last byte read is row co_end - 1 of the last input block
       const int ci0 = (c.in_c - 1) / FF_TN * FF_TN;
       e.c.flags |= FF_FLAG_WPACK;
       e.c.w_len = (uint32_t)((c.cout * ci0 + c.co_end * (c.in_c - ci0)) * c.k * c.k) - 1;
     }},
    {"pixel lanes with stride 2", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.flags = FF_FLAG_PIXLANES;
       e.c.co_end = 1;
       e.c.stride = 2;
       e.c.out_h = (uint16_t)((e.c.in_h - 1) / 2 + 1);
       e.c.out_w = (uint16_t)((e.c.in_w - 1) / 2 + 1);
       e.c.tile_y = e.c.tile_x = 0;
     }},
    {"pixel lanes with more than FF_TM/2 channels", FF_ERR_PARAM,
     [](FaultEnv &e) {
       // FF_TM / 2 + 1 channels leave no second PE-row group (the extents are checked after the flags).
       e.c.flags = FF_FLAG_PIXLANES;
       e.c.cout = e.c.co_end = e.c.out_c_total = (uint16_t)(FF_TM / 2 + 1);
       e.c.out_c_offset = 0;
     }},
    {"kernel packing with in_c > FF_TN", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.flags = FF_FLAG_KPACK;
       e.c.in_c = FF_TN + 1;  // extents are checked after the flags
     }},
    {"kernel packing with up2 input", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.flags = FF_FLAG_KPACK | FF_FLAG_UP2_IN;
       e.c.in_h = (uint16_t)((e.c.in_h + 1) / 2);
       e.c.in_w = (uint16_t)((e.c.in_w + 1) / 2);
       e.c.out_h = (uint16_t)(2 * e.c.in_h);
       e.c.out_w = (uint16_t)(2 * e.c.in_w);
     }},
    {"kernel packing on upsample", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.opcode = FF_OP_UPSAMPLE;
       e.c.k = 2;
       e.c.flags = FF_FLAG_KPACK;
     }},
    {"pixel lanes on upsample", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.opcode = FF_OP_UPSAMPLE;
       e.c.k = 2;
       e.c.flags = FF_FLAG_PIXLANES;
     }},
    {"packed weights on upsample", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.opcode = FF_OP_UPSAMPLE;
       e.c.k = 2;
       e.c.flags = FF_FLAG_WPACK;
     }},
    {"full accumulator on upsample", FF_ERR_PARAM,
     [](FaultEnv &e) {
       e.c.opcode = FF_OP_UPSAMPLE;
       e.c.k = 2;
       e.c.flags = FF_FLAG_ACCFULL;
     }},
    {"full accumulator, tile over 2*FF_OBUF", FF_ERR_TILE,
     [](FaultEnv &e) {
       e.d = Ddr(1 << 22);
       int side = 1;
       while (side * side <= 2 * FF_OBUF) side++;
       make_valid(e, side, side, 1, 1, true);
       e.c.flags = FF_FLAG_ACCFULL;
     }},
    {"requant extent short", FF_ERR_RANGE, [](FaultEnv &e) { e.c.q_len -= 1; }},
    {"output outside window", FF_ERR_RANGE, [](FaultEnv &e) { e.c.out_addr = e.d.size - 64; }},
    {"address wraps 2^64", FF_ERR_RANGE, [](FaultEnv &e) { e.c.in_addr = ~7ull; }},
    {"misaligned output", FF_ERR_ALIGN, [](FaultEnv &e) { e.c.out_addr += 1; }},
    {"misaligned weights", FF_ERR_ALIGN, [](FaultEnv &e) { e.c.w_addr += 4; }},
};

// Runs one fault: single command, expects the status and an untouched DDR.
std::string run_fault(const Fault &f) {
  FaultEnv e;
  make_valid(e);
  f.mutate(e);
  encode(e.c, e.d, e.cmds);
  std::vector<uint8_t> before(e.d.bytes(), e.d.bytes() + e.d.size);
  ff_result r{};
  if (ff_engine_run(e.d.bytes(), e.d.size, e.cmds, 1, 0, e.d.size, &r) != 0) return "ff_engine_run refused";
  if (r.status != f.expect) return "status " + std::to_string(r.status) + ", expected " + std::to_string(f.expect);
  if (r.err_index != 0 || r.cmds_done != 0) return "err_index/cmds_done wrong";
  if (memcmp(before.data(), e.d.bytes(), e.d.size) != 0) return "memory changed";
  return "";
}

// A valid command then a faulty one: the first completes, the second stops the list, nothing else is written.
std::string run_fault_midlist() {
  FaultEnv e;
  make_valid(e);
  encode(e.c, e.d, e.cmds);
  ff_cmd bad = e.c;
  bad.bits = 12;
  encode(bad, e.d, e.cmds + FF_CMD_BYTES);
  std::vector<uint8_t> before(e.d.bytes(), e.d.bytes() + e.d.size);
  ff_result r{};
  ff_engine_run(e.d.bytes(), e.d.size, e.cmds, 3, 0, e.d.size, &r);
  if (r.status != FF_ERR_BITS || r.err_index != 1 || r.cmds_done != 1) return "status/err_index/cmds_done wrong";
  // Owned: channels 2..5 of the output buffer.
  const uint64_t hw = (uint64_t)e.c.out_h * e.c.out_w;
  const uint64_t o0 = e.c.out_addr + 2 * hw, o1 = e.c.out_addr + 6 * hw;
  bool wrote = false;
  for (uint64_t a = 0; a < e.d.size; a++) {
    const bool owned = a >= o0 && a < o1;
    if (!owned && e.d.bytes()[a] != before[a]) return "wrote byte " + std::to_string(a) + " outside the output";
    if (owned && e.d.bytes()[a] != before[a]) wrote = true;
  }
  if (!wrote) return "first command wrote nothing";
  // The command list itself must lie inside the window, and be aligned.
  if (ff_engine_run(e.d.bytes(), e.d.size, e.d.size - 64, 1, 0, e.d.size, &r) != 0 || r.status != FF_ERR_RANGE)
    return "command list outside the window accepted";
  if (ff_engine_run(e.d.bytes(), e.d.size, e.cmds + 4, 1, 0, e.d.size, &r) != 0 || r.status != FF_ERR_ALIGN)
    return "misaligned command list accepted";
  // A wide read port fetches commands in whole bus words: the list must be aligned to FF_BUS_BYTES.
  if (FF_BUS_BYTES > 8 &&
      (ff_engine_run(e.d.bytes(), e.d.size, e.cmds + 8, 1, 0, e.d.size, &r) != 0 || r.status != FF_ERR_ALIGN))
    return "command list aligned to 8 but not to FF_BUS_BYTES accepted";
  return "";
}

// ---- --layout and --cycles ---------------------------------------------------------------------------------
#define FIELD(n) printf("%s\"%s\": [%zu, %zu]", first ? "" : ", ", #n, offsetof(ff_cmd, n), sizeof(((ff_cmd *)0)->n)), first = false
void print_layout() {
  bool first = true;
  printf("{\"cmd_bytes\": %zu, \"fields\": {", sizeof(ff_cmd));
  FIELD(opcode); FIELD(flags); FIELD(bits); FIELD(k); FIELD(stride); FIELD(in_c); FIELD(in_h); FIELD(in_w);
  FIELD(out_h); FIELD(out_w); FIELD(out_c_total); FIELD(out_c_offset); FIELD(cout); FIELD(co_begin); FIELD(co_end);
  FIELD(tile_y); FIELD(tile_x); FIELD(tile_h); FIELD(tile_w); FIELD(in_addr); FIELD(w_addr); FIELD(q_addr);
  FIELD(out_addr); FIELD(in_len); FIELD(w_len); FIELD(q_len); FIELD(out_len); FIELD(tag);
  ff_caps caps;
  ff_engine_caps(&caps);
  printf("}, \"status\": {\"ok\": %d, \"opcode\": %d, \"bits\": %d, \"param\": %d, \"geometry\": %d, \"tile\": %d, "
         "\"range\": %d, \"align\": %d}, \"magic\": %u, \"version\": %u, \"cap_pe\": %u, \"cap_feat\": %u}\n",
         FF_OK, FF_ERR_OPCODE, FF_ERR_BITS, FF_ERR_PARAM, FF_ERR_GEOMETRY, FF_ERR_TILE, FF_ERR_RANGE, FF_ERR_ALIGN,
         caps.magic, caps.version, caps.cap_pe, caps.cap_feat);
}

// ---- packed products (FF_PACK2) ---------------------------------------------------------------------------
// ff_mul2 exhaustively for every n = 2..8 (x 0..2^n-1 unsigned, both weights -2^(n-1)..2^(n-1)-1; n = 8 covers all
// smaller codes, the loop over n names a failing width), then the engine datapath end to end on the extremes: a
// LINEAR 1x1 conv (M = 1, B = 0, S = 0: the int16 output is the accumulator) of x in {0, 1, 2^n-1, 255} with
// weights -128 / 127 (and -2^(n-1) / 2^(n-1)-1) over FF_TM + 1 output channels in all four sign combinations of a
// lane pair (and the unpaired lane of an odd FF_TM). Returns failures; prints one summary line.
int run_packed_products() {
  int passed = 0, failed = 0;
  for (int n = 2; n <= 8; n++) {
    const int xmax = (1 << n) - 1, wlo = -(1 << (n - 1)), whi = (1 << (n - 1)) - 1;
    long bad = 0;
    for (int x = 0; x <= xmax; x++)
      for (int a = wlo; a <= whi; a++)
        for (int b = wlo; b <= whi; b++) {
          int32_t lo, hi;
          ff_mul2((uint8_t)x, (int8_t)a, (int8_t)b, lo, hi);
          if (lo != x * a || hi != x * b) {
            if (!bad) printf("FAIL ff_mul2 n=%d: x=%d w_lo=%d w_hi=%d -> %d %d\n", n, x, a, b, lo, hi);
            bad++;
          }
        }
    bad ? failed++ : passed++;
  }
  for (int v = 0; v < 4; v++) {
    const int n = v < 2 ? 8 : 2 + (v - 2) * 3;  // 8, 8, 2, 5
    const int wl = -(1 << (n - 1)), wh = (1 << (n - 1)) - 1;
    const int xs[4] = {0, 1, (1 << n) - 1, 255};
    const int C = FF_TM + 1, W = 4;  // one output block and one lane of the next
    Ddr d(1 << 16);
    ff_cmd c{};
    c.opcode = FF_OP_CONV;
    c.flags = FF_FLAG_LINEAR;
    c.bits = 16;
    c.k = 1;
    c.stride = 1;
    c.in_c = 2;
    c.in_h = 1;
    c.in_w = W;
    c.out_h = 1;
    c.out_w = W;
    c.cout = c.co_end = c.out_c_total = (uint16_t)C;
    c.tile_h = 1;
    c.tile_w = W;
    const uint64_t cmds = d.alloc(FF_CMD_BYTES);
    c.in_len = 2 * W;
    c.in_addr = d.alloc(c.in_len);
    for (int i = 0; i < W; i++) {
      d.bytes()[c.in_addr + i] = (uint8_t)xs[i];           // channel 0: the extremes
      d.bytes()[c.in_addr + W + i] = (uint8_t)xs[3 - i];   // channel 1: reversed
    }
    c.w_len = 2u * C;
    c.w_addr = d.alloc(c.w_len);
    int8_t w[FF_TM + 1][2];
    for (int m = 0; m < C; m++) {
      // Pairs (2p, 2p+1) get (lo, hi) = (-,-), (+,+) [v even] or (+,-), (-,+) [v odd]: 8-bit extremes on channel 0,
      // the n-bit ones on channel 1.
      const int ph = v % 2 ? (m + 3) % 4 : m % 4;  // v odd: pattern + - - + instead of - - + +
      w[m][0] = (int8_t)(ph < 2 ? -128 : 127);
      w[m][1] = (int8_t)(ph < 2 ? wl : wh);
      d.bytes()[c.w_addr + 2 * m] = (uint8_t)w[m][0];
      d.bytes()[c.w_addr + 2 * m + 1] = (uint8_t)w[m][1];
    }
    c.q_len = 11u * C;
    c.q_addr = d.alloc(c.q_len);
    for (int m = 0; m < C; m++) {
      d.put(c.q_addr + 8 * m, 0, 8);
      d.put(c.q_addr + 8 * C + 2 * m, 1, 2);
      d.put(c.q_addr + 10 * C + m, 0, 1);
    }
    c.out_len = 2u * C * W;
    c.out_addr = d.alloc(c.out_len);
    encode(c, d, cmds);
    ff_result r{};
    ff_engine_run(d.bytes(), d.size, cmds, 1, 0, d.size, &r);
    int bad = r.status != FF_OK;
    for (int m = 0; m < C && !bad; m++)
      for (int i = 0; i < W && !bad; i++) {
        const int want = xs[i] * w[m][0] + xs[3 - i] * w[m][1];
        const int got = (int16_t)(d.bytes()[c.out_addr + 2 * (m * W + i)] | (d.bytes()[c.out_addr + 2 * (m * W + i) + 1] << 8));
        if (got != want) {
          printf("FAIL packed extremes n=%d: channel %d x=(%d,%d) = %d, expected %d\n", n, m, xs[i], xs[3 - i], got, want);
          bad = 1;
        }
      }
    if (r.status != FF_OK) printf("FAIL packed extremes n=%d: status %u\n", n, r.status);
    bad ? failed++ : passed++;
  }
  printf("packed products (FF_PACK2=%d): %d passed, %d failed\n", FF_PACK2, passed, failed);
  return failed;
}

// Runs a fixed, varied set of single commands and prints each command word (hex) with the engine's cycle count.
void print_cycles() {
  struct Spec {
    int op, flags, k, s, cin, h, w, cout, cb, ce, ty, tx, th, tw, ctot, coff;
  };
  const Spec specs[] = {
      {FF_OP_CONV, 0, 3, 1, 5, 9, 11, 4, 0, 4, 0, 0, 9, 11, 4, 0},
      {FF_OP_CONV, 0, 7, 2, 6, 20, 24, 16, 0, 16, 2, 3, 5, 7, 16, 0},
      {FF_OP_CONV, 0, 5, 2, 19, 16, 16, 11, 3, 11, 0, 4, 8, 4, 20, 9},
      {FF_OP_CONV, 0, 1, 1, 33, 6, 6, 3, 0, 3, 0, 0, 1, 1, 3, 0},
      {FF_OP_CONV, FF_FLAG_UP2_IN, 3, 1, 10, 7, 9, 6, 0, 6, 3, 5, 8, 9, 6, 0},
      {FF_OP_CONV, FF_FLAG_LINEAR, 3, 1, 12, 8, 8, 2, 0, 2, 0, 0, 8, 8, 2, 0},
      // Several output blocks: grouped in one accumulator half (small tile) or one group per block (large tile).
      {FF_OP_CONV, 0, 3, 1, 9, 12, 12, 40, 0, 40, 0, 0, 12, 12, 40, 0},
      {FF_OP_CONV, 0, 3, 1, 4, 30, 30, 20, 0, 20, 0, 0, 30, 30, 20, 0},
      {FF_OP_CONV, 0, 1, 1, 7, 20, 21, 24, 0, 24, 0, 1, 20, 20, 24, 0},
      // Packed weights: one burst per (output block, input block), incl. partial blocks and an odd co_begin.
      {FF_OP_CONV, FF_FLAG_WPACK, 3, 1, 19, 9, 11, 20, 3, 20, 0, 0, 9, 11, 20, 0},
      {FF_OP_CONV, FF_FLAG_WPACK, 7, 2, 6, 20, 24, 16, 0, 16, 2, 3, 5, 7, 16, 0},
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_UP2_IN, 3, 1, 10, 7, 9, 6, 1, 5, 3, 5, 8, 9, 6, 0},
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_LINEAR, 3, 1, 12, 8, 8, 2, 0, 2, 0, 0, 8, 8, 2, 0},
      // Pixel lanes: the flow head (n = 2) and n = 1 / 3 with odd tile widths (partial last pixel group).
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_LINEAR | FF_FLAG_PIXLANES, 3, 1, 12, 8, 8, 2, 0, 2, 0, 0, 8, 8, 2, 0},
      {FF_OP_CONV, FF_FLAG_PIXLANES, 3, 1, 5, 9, 13, 4, 1, 4, 1, 2, 7, 11, 4, 0},
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_PIXLANES, 5, 1, 3, 10, 19, 3, 2, 3, 0, 1, 10, 17, 3, 0},
      // Kernel-column packing: conv1-like (Cin 3, k 7, stride 2), Cin 2 k 5 with pixel lanes, k 3 odd tile.
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_KPACK, 7, 2, 3, 20, 24, 16, 0, 16, 2, 3, 5, 7, 16, 0},
      {FF_OP_CONV, FF_FLAG_KPACK | FF_FLAG_PIXLANES, 5, 1, 2, 9, 13, 3, 1, 2, 0, 1, 9, 11, 3, 0},
      {FF_OP_CONV, FF_FLAG_KPACK, 3, 1, 3, 9, 11, 4, 0, 4, 1, 2, 7, 9, 4, 0},
      // Full accumulator: a tile over FF_OBUF (one block per group, sequential), several blocks per group over
      // several groups, one group (= the ping-pong cycles), with up2 input and an odd co_begin, with pixel lanes.
      {FF_OP_CONV, FF_FLAG_ACCFULL, 3, 1, 9, 40, 40, 20, 0, 20, 0, 0, 40, 32, 20, 0},
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_ACCFULL, 3, 1, 4, 30, 30, 40, 0, 40, 0, 0, 30, 30, 40, 0},
      {FF_OP_CONV, FF_FLAG_ACCFULL, 3, 1, 9, 12, 12, 40, 0, 40, 0, 0, 12, 12, 40, 0},
      {FF_OP_CONV, FF_FLAG_WPACK | FF_FLAG_UP2_IN | FF_FLAG_ACCFULL, 3, 1, 10, 7, 9, 6, 1, 5, 3, 5, 8, 9, 6, 0},
      {FF_OP_CONV, FF_FLAG_PIXLANES | FF_FLAG_ACCFULL, 3, 1, 5, 9, 13, 4, 1, 4, 1, 2, 7, 11, 4, 0},
      {FF_OP_UPSAMPLE, 0, 2, 1, 5, 6, 7, 5, 1, 4, 2, 3, 7, 9, 5, 0},
      {FF_OP_UPSAMPLE, FF_FLAG_LINEAR, 4, 1, 2, 5, 6, 2, 0, 2, 0, 4, 20, 13, 2, 0},
  };
  printf("{\"config\": {\"tm\": %d, \"tn\": %d, \"mac_depth\": %d, \"rd_ovh\": %d, \"wr_ovh\": %d, \"rq_depth\": %d, "
         "\"up_depth\": %d, \"check_cyc\": %d, \"obuf\": %d, \"bus_bytes\": %d, \"wr_bytes\": %d, \"up_par\": %d, "
         "\"pix_lanes\": %d, \"acc_full\": %d}, \"commands\": [",
         FF_TM, FF_TN, FF_MAC_DEPTH, FF_RD_OVH, FF_WR_OVH, FF_RQ_DEPTH, FF_UP_DEPTH, FF_CHECK_CYC, FF_OBUF, FF_BUS_BYTES,
         FF_WR_BYTES, FF_UP_PAR, (FF_CAP_FEAT & FF_CAP_PIXLANES) ? 1 : 0, (FF_CAP_FEAT & FF_CAP_ACCFULL) ? 1 : 0);
  bool first = true;
  for (const Spec &sp : specs) {
    Ddr d(1 << 18);
    ff_cmd c{};
    c.opcode = (uint8_t)sp.op;
    c.flags = (uint8_t)sp.flags;
    if (2 * lane_gs(sp.ce - sp.cb) > FF_TM) c.flags &= (uint8_t)~FF_FLAG_PIXLANES;  // no second PE-row group in this build
    if (sp.cin > FF_TN) c.flags &= (uint8_t)~FF_FLAG_KPACK;
    c.bits = (sp.flags & FF_FLAG_LINEAR) ? 16 : 5;
    c.k = (uint8_t)sp.k;
    c.stride = (uint8_t)sp.s;
    c.in_c = (uint16_t)sp.cin;
    c.in_h = (uint16_t)sp.h;
    c.in_w = (uint16_t)sp.w;
    if (sp.op == FF_OP_CONV) {
      const int up = (sp.flags & FF_FLAG_UP2_IN) ? 2 : 1, p = (sp.k - 1) / 2;
      c.out_h = (uint16_t)((sp.h * up + 2 * p - sp.k) / sp.s + 1);
      c.out_w = (uint16_t)((sp.w * up + 2 * p - sp.k) / sp.s + 1);
    } else {
      c.out_h = (uint16_t)(sp.h * sp.k);
      c.out_w = (uint16_t)(sp.w * sp.k);
    }
    c.cout = (uint16_t)sp.cout;
    c.co_begin = (uint16_t)sp.cb;
    c.co_end = (uint16_t)sp.ce;
    c.tile_y = (uint16_t)sp.ty;
    c.tile_x = (uint16_t)sp.tx;
    c.tile_h = (uint16_t)sp.th;
    c.tile_w = (uint16_t)sp.tw;
    c.out_c_total = (uint16_t)sp.ctot;
    c.out_c_offset = (uint16_t)sp.coff;
    const int ies = (sp.op == FF_OP_UPSAMPLE && (sp.flags & FF_FLAG_LINEAR)) ? 2 : 1;
    const int oes = (sp.flags & FF_FLAG_LINEAR) ? 2 : 1;
    const uint64_t cmds = d.alloc(FF_CMD_BYTES);
    // Tiles start at x offsets that are not multiples of 8, which exercises the burst word-span term.
    c.in_len = (uint32_t)(sp.cin * sp.h * sp.w * ies);
    c.in_addr = d.alloc(c.in_len);
    c.w_len = (uint32_t)(sp.cout * sp.cin * sp.k * sp.k);
    c.w_addr = d.alloc(c.w_len);
    c.q_len = 11u * sp.cout;
    c.q_addr = d.alloc(c.q_len);
    c.out_len = (uint32_t)(sp.ctot * c.out_h * c.out_w * oes);
    c.out_addr = d.alloc(c.out_len);
    if (sp.op == FF_OP_UPSAMPLE) c.w_addr = c.q_addr = c.w_len = c.q_len = 0;
    encode(c, d, cmds);
    ff_result r{};
    ff_engine_run(d.bytes(), d.size, cmds, 1, 0, d.size, &r);
    printf("%s{\"status\": %u, \"cycles\": %llu, \"cmd\": \"", first ? "" : ", ", r.status,
           (unsigned long long)r.cycles);
    for (size_t i = 0; i < sizeof c; i++) printf("%02x", ((const uint8_t *)&c)[i]);
    printf("\"}");
    first = false;
  }
  printf("]}\n");
}

}  // namespace

int main(int argc, char **argv) {
  static_assert(sizeof(ff_cmd) == FF_CMD_BYTES, "command word must be 128 bytes");
  static_assert(offsetof(ff_cmd, in_addr) == 0x28 && offsetof(ff_cmd, out_len) == 0x54, "command layout");
  if (argc == 2 && !strcmp(argv[1], "--layout")) {
    print_layout();
    return 0;
  }
  if (argc == 2 && !strcmp(argv[1], "--cycles")) {
    print_cycles();
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: csim <dir-or-.gv>... | --layout | --cycles\n");
    return 2;
  }
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.size() > 3 && a.compare(a.size() - 3, 3, ".gv") == 0) {
      files.push_back(a);
      continue;
    }
    DIR *dir = opendir(a.c_str());
    if (!dir) {
      fprintf(stderr, "csim: cannot open %s (expected a directory of .gv files or a .gv file)\n", a.c_str());
      return 2;
    }
    std::vector<std::string> found;
    while (dirent *e = readdir(dir)) {
      std::string n = e->d_name;
      if (n.size() > 3 && n.compare(n.size() - 3, 3, ".gv") == 0) found.push_back(a + "/" + n);
    }
    closedir(dir);
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.empty()) {
    fprintf(stderr, "csim: no golden vectors (*.gv) found; generate them with `flowfpga golden --out test/golden`\n");
    return 2;
  }
  printf("config: FF_TM=%d FF_TN=%d FF_IBUF=%d FF_OBUF=%d FF_SBUF=%d FF_PACK2=%d FF_ACC_URAM=%d\n", FF_TM, FF_TN, FF_IBUF,
         FF_OBUF, FF_SBUF, FF_PACK2, FF_ACC_URAM);
  const int packed_failed = run_packed_products();
  int passed = 0, failed = 0;
  for (const std::string &f : files) {
    std::vector<Case> cases;
    std::string err;
    if (!parse_gv(f, cases, err)) {
      fprintf(stderr, "csim: %s\n", err.c_str());
      failed++;
      continue;
    }
    int fp = 0, ff = 0;
    for (const Case &cs : cases) {
      std::string why;
      try {
        for (const Tiling &tl : tilings_for(cs)) {
          why = run_case(cs, tl, nullptr);
          if (!why.empty()) {
            why = "tile " + std::to_string(tl.th) + "x" + std::to_string(tl.tw) + " cb " + std::to_string(tl.cb) +
                  ": " + why;
            break;
          }
        }
      } catch (const std::string &e) {
        why = e;
      } catch (const std::out_of_range &) {
        why = "missing parameter";
      }
      if (why.empty()) fp++;
      else {
        ff++;
        printf("FAIL %s case %s (%s): %s\n", f.c_str(), cs.id.c_str(), cs.op.c_str(), why.c_str());
      }
    }
    printf("%s: %d passed, %d failed\n", f.c_str(), fp, ff);
    passed += fp;
    failed += ff;
  }
  int fp = 0, ff = 0;
  for (const Fault &f : FAULTS) {
    const std::string why = run_fault(f);
    if (why.empty()) fp++;
    else {
      ff++;
      printf("FAIL fault '%s': %s\n", f.name, why.c_str());
    }
  }
  const std::string why = run_fault_midlist();
  if (why.empty()) fp++;
  else {
    ff++;
    printf("FAIL fault 'error in the middle of a list': %s\n", why.c_str());
  }
  printf("faults: %d passed, %d failed\n", fp, ff);
  passed += fp;
  failed += ff;
  printf("%d passed, %d failed\n", passed, failed);
  return failed || packed_failed ? 1 : 0;
}
