// flowfpga quantized convolution engine (Vitis HLS top + plain g++ model of the same source).
// Semantics: docs/quantization.md (integer contract). Command format, cycle model: docs/engine.md.
//
// Structure per CONV command: the output tile is computed in blocks of FF_TM output channels, in groups of as many
// blocks as one accumulator half holds (FF_OBUF / tile pixels); each group reduces over the input channels in blocks
// of FF_TN, and every input block is loaded once per group and used by all its output blocks. Loads of the next
// step (ping-pong ibuf/wbuf) overlap the MACs of the current one; the requantize+store of group g (ping-pong acc)
// overlaps the compute of group g+1. With FF_FLAG_ACCFULL a group fills both accumulator halves (twice the blocks per
// input load) and its store overlaps only the next group's first loads. The
// C code runs the stages in sequence; the perf counter adds them up with the overlap rules of the cycle model,
// using the trip counts the loops actually executed.
#include "flowfpga_engine.h"

#define FF_KK (FF_MAX_K * FF_MAX_K)

namespace {

struct Cmd {
  uint8_t opcode, flags, bits, k, stride;
  uint16_t in_c, in_h, in_w, out_h, out_w, out_c_total, out_c_offset, cout, co_begin, co_end;
  uint16_t tile_y, tile_x, tile_h, tile_w;
  uint64_t in_addr, w_addr, q_addr, out_addr;
  uint32_t in_len, w_len, q_len, out_len;
};

// Geometry derived once per command (all coordinates signed: the halo starts above/left of the tensor).
struct Geo {
  int up;              // upsampling factor of the input as the conv sees it (1, or 2 with FF_FLAG_UP2_IN); UPSAMPLE: f
  int hv, wv;          // input size as seen by the conv (virtual, after a fused up2)
  int iy0, ix0;        // tile input window origin (virtual coordinates)
  int ih, iw;          // tile input window size
  int vy_lo, vy_hi, vx_lo, vx_hi;  // valid (inside the tensor) part of the window
  int sy_lo, sy_hi, sx_lo, sx_hi;  // source rows/cols an upsampling step reads
  int esize;           // output element bytes
  int E;               // FF_FLAG_PIXLANES: PE-row groups (1 otherwise); lane m = e*gs + c computes pixel x0 + e
  int gs;              // FF_FLAG_PIXLANES: lanes per group, n rounded up to even (a packed lane pair never straddles)
  int wq;              // accumulator words per tile row: ceil(tile_w / E)
  int pa;              // accumulator words per lane: tile_h * wq
  int D;               // FF_FLAG_KPACK: kernel columns per tap step (1 otherwise); input lane t = d*in_c + c
  int kg;              // tap columns per kernel row: ceil(k / D)
};

// 64-bit half h of bus word wi (h = 0 only on the 64-bit bus).
inline uint64_t rd_u64(const ff_bus_t *mem, uint64_t wi, int h) {
#if FF_BUS_BYTES == 8
  (void)h;
  return (uint64_t)mem[wi].to_uint64();
#else
  return (uint64_t)mem[wi].range(64 * h + 63, 64 * h).to_uint64();
#endif
}

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
inline int log2_small(int v) { return v == 1 ? 0 : v == 2 ? 1 : v == 4 ? 2 : v == 8 ? 3 : 4; }

// Number of bus words a burst of n bytes at byte address a spans (n >= 1).
inline uint32_t span_words(uint64_t a, uint32_t n) {
  return (uint32_t)(((a + n - 1) >> FF_BUS_SHIFT) - (a >> FF_BUS_SHIFT) + 1);
}

// Cycles of one stored row of n bytes at byte address a: a write burst of the FF_WR_BYTES beats it spans (the
// first and last beat carry write strobes for the bytes outside the row, so no neighbouring byte is rewritten).
inline uint32_t store_row_cycles(uint64_t a, uint32_t n) {
  return FF_WR_OVH + (uint32_t)((a + n - 1) / FF_WR_BYTES - a / FF_WR_BYTES + 1);
}

// One AXI read burst of n bytes at byte address a into dst[off .. off+n). Returns its cycles.
template <int N>
uint32_t burst_read(const ff_bus_t *mem, uint64_t a, uint32_t n, uint8_t dst[N], uint32_t off) {
  const uint64_t w0 = a >> FF_BUS_SHIFT;
  const uint32_t words = span_words(a, n);
RD:
  for (uint32_t i = 0; i < words; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 64
    for (int h = 0; h < FF_BUS_BYTES / 8; h++) {
#pragma HLS UNROLL
      const uint64_t v = rd_u64(mem, w0 + i, h);
      for (int l = 0; l < 8; l++) {
#pragma HLS UNROLL
        const int64_t pos = (int64_t)((w0 + i) * FF_BUS_BYTES + 8 * h + l) - (int64_t)a;
        if (pos >= 0 && pos < (int64_t)n) dst[off + pos] = (uint8_t)(v >> (8 * l));
      }
    }
  }
  return FF_RD_OVH + words;
}

// Little-endian field extraction from the 16 command words.
uint64_t cmd_bytes(const uint64_t w[16], int off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
#pragma HLS UNROLL
    const int b = off + i;
    v |= ((w[b >> 3] >> (8 * (b & 7))) & 0xFF) << (8 * i);
  }
  return v;
}

void decode(const uint64_t w[16], Cmd &c) {
  c.opcode = (uint8_t)cmd_bytes(w, 0x00, 1);
  c.flags = (uint8_t)cmd_bytes(w, 0x01, 1);
  c.bits = (uint8_t)cmd_bytes(w, 0x02, 1);
  c.k = (uint8_t)cmd_bytes(w, 0x03, 1);
  c.stride = (uint8_t)cmd_bytes(w, 0x04, 1);
  c.in_c = (uint16_t)cmd_bytes(w, 0x08, 2);
  c.in_h = (uint16_t)cmd_bytes(w, 0x0A, 2);
  c.in_w = (uint16_t)cmd_bytes(w, 0x0C, 2);
  c.out_h = (uint16_t)cmd_bytes(w, 0x0E, 2);
  c.out_w = (uint16_t)cmd_bytes(w, 0x10, 2);
  c.out_c_total = (uint16_t)cmd_bytes(w, 0x12, 2);
  c.out_c_offset = (uint16_t)cmd_bytes(w, 0x14, 2);
  c.cout = (uint16_t)cmd_bytes(w, 0x16, 2);
  c.co_begin = (uint16_t)cmd_bytes(w, 0x18, 2);
  c.co_end = (uint16_t)cmd_bytes(w, 0x1A, 2);
  c.tile_y = (uint16_t)cmd_bytes(w, 0x1C, 2);
  c.tile_x = (uint16_t)cmd_bytes(w, 0x1E, 2);
  c.tile_h = (uint16_t)cmd_bytes(w, 0x20, 2);
  c.tile_w = (uint16_t)cmd_bytes(w, 0x22, 2);
  c.in_addr = cmd_bytes(w, 0x28, 8);
  c.w_addr = cmd_bytes(w, 0x30, 8);
  c.q_addr = cmd_bytes(w, 0x38, 8);
  c.out_addr = cmd_bytes(w, 0x40, 8);
  c.in_len = (uint32_t)cmd_bytes(w, 0x48, 4);
  c.w_len = (uint32_t)cmd_bytes(w, 0x4C, 4);
  c.q_len = (uint32_t)cmd_bytes(w, 0x50, 4);
  c.out_len = (uint32_t)cmd_bytes(w, 0x54, 4);
}

// Source index j0 and weight of tap j0+1 (in units of 1/(2f)) for output coordinate v of an f-times upsampling:
// source position (v + 1/2)/f - 1/2 = (2v + 1 - f) / (2f). Taps j0 (weight 2f - frac) and j0 + 1 (weight frac).
inline void up_tap(int v, int f, int &j0, int &frac) {
  const int num = 2 * v + 1 - f;
  const int sh = log2_small(2 * f);
  j0 = num >> sh;  // arithmetic: floor also below zero
  frac = num & (2 * f - 1);
}

inline bool in_window(uint64_t addr, uint64_t len, uint64_t wb, uint64_t ws) {
  return addr >= wb && addr - wb <= ws && len <= ws - (addr - wb);
}

// Validates a command and derives its geometry. Nothing is read or written before this returns FF_OK.
uint32_t check(const Cmd &c, Geo &g, uint64_t wb, uint64_t ws) {
  if (c.opcode != FF_OP_CONV && c.opcode != FF_OP_UPSAMPLE) return FF_ERR_OPCODE;
  const bool linear = (c.flags & FF_FLAG_LINEAR) != 0;
  if (linear ? c.bits != 16 : (c.bits < 2 || c.bits > 8)) return FF_ERR_BITS;
  if (c.flags & ~(FF_FLAG_UP2_IN | FF_FLAG_LINEAR | FF_FLAG_WPACK | FF_FLAG_KPACK | FF_FLAG_PIXLANES | FF_FLAG_ACCFULL))
    return FF_ERR_PARAM;
  g.esize = linear ? 2 : 1;
  const bool conv = c.opcode == FF_OP_CONV;
  if (conv) {
    if (c.k != 1 && c.k != 3 && c.k != 5 && c.k != 7) return FF_ERR_PARAM;
    if (c.stride != 1 && c.stride != 2) return FF_ERR_PARAM;
    if (linear && (c.flags & FF_FLAG_UP2_IN)) return FF_ERR_PARAM;
  } else {
    if (c.k != 2 && c.k != 4) return FF_ERR_PARAM;
    if (c.stride != 1 || (c.flags & (FF_FLAG_UP2_IN | FF_FLAG_WPACK | FF_FLAG_KPACK | FF_FLAG_PIXLANES | FF_FLAG_ACCFULL)))
      return FF_ERR_PARAM;
  }
  // Geometry.
  if (c.in_c == 0 || c.in_h == 0 || c.in_w == 0 || c.cout == 0 || c.tile_h == 0 || c.tile_w == 0)
    return FF_ERR_GEOMETRY;
  if (c.co_begin >= c.co_end || c.co_end > c.cout) return FF_ERR_GEOMETRY;
  if ((uint32_t)c.out_c_offset + c.cout > c.out_c_total) return FF_ERR_GEOMETRY;
  if ((uint32_t)c.tile_y + c.tile_h > c.out_h || (uint32_t)c.tile_x + c.tile_w > c.out_w) return FF_ERR_GEOMETRY;
  const int k = c.k, s = c.stride, p = (k - 1) / 2;
  if (conv) {
    g.up = (c.flags & FF_FLAG_UP2_IN) ? 2 : 1;
    g.hv = c.in_h * g.up;
    g.wv = c.in_w * g.up;
    if (c.out_h != (g.hv + 2 * p - k) / s + 1 || c.out_w != (g.wv + 2 * p - k) / s + 1) return FF_ERR_GEOMETRY;
    g.iy0 = c.tile_y * s - p;
    g.ix0 = c.tile_x * s - p;
    g.ih = (c.tile_h - 1) * s + k;
    g.iw = (c.tile_w - 1) * s + k;
    g.vy_lo = g.iy0 < 0 ? 0 : g.iy0;
    g.vx_lo = g.ix0 < 0 ? 0 : g.ix0;
    g.vy_hi = g.iy0 + g.ih - 1 > g.hv - 1 ? g.hv - 1 : g.iy0 + g.ih - 1;
    g.vx_hi = g.ix0 + g.iw - 1 > g.wv - 1 ? g.wv - 1 : g.ix0 + g.iw - 1;
  } else {
    if (c.cout != c.in_c || c.out_h != c.in_h * c.k || c.out_w != c.in_w * c.k) return FF_ERR_GEOMETRY;
    g.up = c.k;
    g.vy_lo = c.tile_y;
    g.vy_hi = c.tile_y + c.tile_h - 1;
    g.vx_lo = c.tile_x;
    g.vx_hi = c.tile_x + c.tile_w - 1;
  }
  if (g.up > 1) {
    int j, fr;
    up_tap(g.vy_lo, g.up, j, fr);
    g.sy_lo = clampi(j, 0, c.in_h - 1);
    up_tap(g.vy_hi, g.up, j, fr);
    g.sy_hi = clampi(j + 1, 0, c.in_h - 1);
    up_tap(g.vx_lo, g.up, j, fr);
    g.sx_lo = clampi(j, 0, c.in_w - 1);
    up_tap(g.vx_hi, g.up, j, fr);
    g.sx_hi = clampi(j + 1, 0, c.in_w - 1);
  } else {
    g.sy_lo = g.vy_lo;
    g.sy_hi = g.vy_hi;
    g.sx_lo = g.vx_lo;
    g.sx_hi = g.vx_hi;
  }
  // Pixel lanes: n output channels replicated over E = min(FF_TM / gs, FF_BUS_BYTES) PE-row groups (E >= 2), groups
  // gs = n + (n & 1) lanes apart so that both lanes of a packed pair (2p, 2p+1) read the same pixel.
  g.E = 1;
  g.gs = 1;
  if (c.flags & FF_FLAG_PIXLANES) {
    const int n = c.co_end - c.co_begin;
    g.gs = n + (n & 1);
    const int e = FF_TM / g.gs;
    if (c.stride != 1 || e < 2) return FF_ERR_PARAM;
    g.E = e < FF_BUS_BYTES ? e : FF_BUS_BYTES;
  }
  // Kernel-column packing: D = floor(FF_TN / in_c) shifted copies of the input fill the idle PE columns.
  g.D = 1;
  if (c.flags & FF_FLAG_KPACK) {
    if (c.in_c > FF_TN || (c.flags & FF_FLAG_UP2_IN)) return FF_ERR_PARAM;
    g.D = FF_TN / c.in_c;
  }
  g.kg = (c.k + g.D - 1) / g.D;
  g.wq = (c.tile_w + g.E - 1) / g.E;
  g.pa = c.tile_h * g.wq;
  // Buffers.
  if (conv) {
    if ((uint32_t)g.pa > ((c.flags & FF_FLAG_ACCFULL) ? 2u * FF_OBUF : (uint32_t)FF_OBUF)) return FF_ERR_TILE;
    if ((uint32_t)g.ih * g.iw > FF_IBUF) return FF_ERR_TILE;
  }
  const uint32_t in_es = (!conv && linear) ? 2 : 1;
  if (g.up > 1 && (uint32_t)(g.sy_hi - g.sy_lo + 1) * (g.sx_hi - g.sx_lo + 1) * in_es > FF_SBUF) return FF_ERR_TILE;
  // Alignment of every buffer the command uses.
  if ((c.in_addr | c.out_addr) & 7) return FF_ERR_ALIGN;
  if (conv && ((c.w_addr | c.q_addr) & 7)) return FF_ERR_ALIGN;
  // Declared extents inside the window, touched bytes inside the declared extents.
  if (!in_window(c.in_addr, c.in_len, wb, ws) || !in_window(c.out_addr, c.out_len, wb, ws)) return FF_ERR_RANGE;
  const uint64_t in_end =
      ((((uint64_t)c.in_c - 1) * c.in_h + g.sy_hi) * c.in_w + g.sx_hi + 1) * in_es;  // one past the last input byte
  const uint64_t out_end =
      ((((uint64_t)c.out_c_offset + c.co_end - 1) * c.out_h + c.tile_y + c.tile_h - 1) * c.out_w + c.tile_x +
       c.tile_w) * g.esize;
  if (in_end > c.in_len || out_end > c.out_len) return FF_ERR_RANGE;
  if (conv) {
    if (!in_window(c.w_addr, c.w_len, wb, ws) || !in_window(c.q_addr, c.q_len, wb, ws)) return FF_ERR_RANGE;
    if (c.flags & FF_FLAG_WPACK) {
      // Packed: the last byte touched is in the last input block, row co_end - 1.
      const uint64_t ci0 = (uint64_t)((c.in_c - 1) / FF_TN) * FF_TN, tn = c.in_c - ci0;
      if (((uint64_t)c.cout * ci0 + (uint64_t)c.co_end * tn) * k * k > c.w_len) return FF_ERR_RANGE;
    } else if ((uint64_t)c.co_end * c.in_c * k * k > c.w_len) {
      return FF_ERR_RANGE;
    }
    if ((uint64_t)c.cout * 10 + c.co_end > c.q_len) return FF_ERR_RANGE;
  }
  return FF_OK;
}

// ---- on-chip buffers ---------------------------------------------------------------------------------------
uint8_t ibuf[2][FF_TN][FF_IBUF];
int8_t wbuf[2][FF_TM][FF_TN][FF_KK];
// Accumulators: two halves of FF_OBUF words per lane (the ping-pong pair), one address space of 2*FF_OBUF for
// FF_FLAG_ACCFULL groups (a block may straddle the halves).
int32_t acc[FF_TM][2 * FF_OBUF];
// Requant params of the block being stored (the store stage fetches them; one block at a time).
int64_t qb[1][FF_TM];
int16_t qm[1][FF_TM];
uint8_t qs[1][FF_TM];
uint8_t sbuf[2][FF_SBUF];

// Interpolates the valid part of an upsampled window from the staging buffer. The source holds rows
// sy_lo..sy_hi, cols sx_lo..sx_hi of one channel; `pix` is the element type (1 = uint8 codes, 2 = int16 LE).
inline int32_t up_value(const uint8_t src[FF_SBUF], const Geo &g, int f, int vy, int vx, int in_h, int in_w, int pix) {
  int jy, fy, jx, fx;
  up_tap(vy, f, jy, fy);
  up_tap(vx, f, jx, fx);
  const int ty[2] = {clampi(jy, 0, in_h - 1), clampi(jy + 1, 0, in_h - 1)};
  const int tx[2] = {clampi(jx, 0, in_w - 1), clampi(jx + 1, 0, in_w - 1)};
  const int wy[2] = {2 * f - fy, fy};
  const int wx[2] = {2 * f - fx, fx};
  const int sw = g.sx_hi - g.sx_lo + 1;
  int32_t sum = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      const int i = ((ty[a] - g.sy_lo) * sw + (tx[b] - g.sx_lo)) * pix;
      const int32_t v = pix == 1 ? (int32_t)src[i] : (int32_t)(int16_t)(src[i] | (src[i + 1] << 8));
      sum += wy[a] * wx[b] * v;
    }
  const int sh = 2 * log2_small(2 * f);
  return (sum + (1 << (sh - 1))) >> sh;
}

// Reads rows sy_lo..sy_hi (cols sx_lo..sx_hi) of channel ch into a staging slot. Returns cycles.
uint32_t load_source(const ff_bus_t *mem, const Cmd &c, const Geo &g, int ch, int pix, uint8_t dst[FF_SBUF]) {
  uint32_t cyc = 0;
  const uint32_t sw = (uint32_t)(g.sx_hi - g.sx_lo + 1) * pix;
SRC_ROWS:
  for (int y = g.sy_lo; y <= g.sy_hi; y++) {
    const uint64_t a = c.in_addr + (((uint64_t)ch * c.in_h + y) * c.in_w + g.sx_lo) * pix;
    cyc += burst_read<FF_SBUF>(mem, a, sw, dst, (uint32_t)(y - g.sy_lo) * sw);
  }
  return cyc;
}

// Load stage of a CONV, input part: channels ci0..ci0+tn-1 of the tile's input window. Returns cycles.
uint32_t load_input(const ff_bus_t *mem, const Cmd &c, const Geo &g, int ci0, int tn, uint8_t ib[FF_TN][FF_IBUF]) {
  uint32_t cyc = 0;
LD_CH:
  for (int t = 0; t < tn; t++) {
    const int ch = ci0 + t;
    if (g.up == 1) {
      const uint32_t n = (uint32_t)(g.vx_hi - g.vx_lo + 1);
    LD_ROWS:
      for (int y = g.vy_lo; y <= g.vy_hi; y++) {
        const uint64_t a = c.in_addr + ((uint64_t)ch * c.in_h + y) * c.in_w + g.vx_lo;
        const uint32_t o = (uint32_t)((y - g.iy0) * g.iw + (g.vx_lo - g.ix0));
        cyc += burst_read<FF_IBUF>(mem, a, n, ib[t], o);
        // KPACK: the same burst bytes also go to lane d*in_c + t, shifted left by d columns (written beside lane 0).
      LD_KP:
        for (int d = 1; d < g.D; d++)
          for (uint32_t i = 0; i < n; i++)
            if (g.vx_lo - g.ix0 + (int)i - d >= 0) ib[d * c.in_c + t][o + i - d] = ib[t][o + i];
      }
    } else {
      cyc += load_source(mem, c, g, ch, 1, sbuf[0]);
      const int vw = g.vx_hi - g.vx_lo + 1, vh = g.vy_hi - g.vy_lo + 1;
    UP_IN_ROWS:
      for (int vy = g.vy_lo; vy <= g.vy_hi; vy++) {
      UP_IN:
        for (int vx = g.vx_lo; vx <= g.vx_hi; vx++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = FF_UP_PAR
          ib[t][(vy - g.iy0) * g.iw + (vx - g.ix0)] = (uint8_t)up_value(sbuf[0], g, 2, vy, vx, c.in_h, c.in_w, 1);
        }
      }
      cyc += (uint32_t)(vh * ((vw + FF_UP_PAR - 1) / FF_UP_PAR)) + FF_UP_DEPTH;
    }
  }
  return cyc;
}

// Load stage, weight part: output channels co0..co0+tm-1 x input channels ci0..ci0+tn-1. Contract layout
// [co][ci][k][k]: the block is tm runs of tn*k*k bytes, one burst each. Packed (FF_FLAG_WPACK,
// [ci_block][cout][tn][k][k]): the block is one contiguous run at (cout*ci0 + co0*tn)*k*k, one burst.
uint32_t load_weights(const ff_bus_t *mem, const Cmd &c, int ci0, int tn, int co0, int tm, int E,
                      int8_t wb[FF_TM][FF_TN][FF_KK]) {
  uint32_t cyc = 0;
  const int kk = c.k * c.k;
  if (c.flags & FF_FLAG_WPACK) {
    uint8_t wblk[FF_TM * FF_TN * FF_KK];
    const uint64_t a = c.w_addr + ((uint64_t)c.cout * ci0 + (uint64_t)co0 * tn) * kk;
    cyc += burst_read<FF_TM * FF_TN * FF_KK>(mem, a, (uint32_t)(tm * tn * kk), wblk, 0);
  LD_WP:
    for (int m = 0; m < tm; m++)
      for (int t = 0; t < FF_TN; t++)
        for (int j = 0; j < kk; j++) wb[m][t][j] = t < tn ? (int8_t)wblk[(m * tn + t) * kk + j] : 0;
  } else {
    uint8_t wrow[FF_TN * FF_KK];
  LD_W:
    for (int m = 0; m < tm; m++) {
      const uint64_t a = c.w_addr + ((uint64_t)(co0 + m) * c.in_c + ci0) * kk;
      cyc += burst_read<FF_TN * FF_KK>(mem, a, (uint32_t)(tn * kk), wrow, 0);
      for (int t = 0; t < FF_TN; t++)
        for (int j = 0; j < kk; j++) wb[m][t][j] = t < tn ? (int8_t)wrow[t * kk + j] : 0;
    }
  }
  if (c.flags & FF_FLAG_KPACK) {
    // Kernel-column packing: wb[m][d*tn + c][ky*kg + g] = w[m][c][ky][g*D + d] (0 past the kernel); same burst.
    const int k = c.k, D = FF_TN / tn, kg = (k + D - 1) / D;
  LD_WKP:
    for (int m = 0; m < tm; m++) {
      int8_t row[FF_TN][FF_KK];
      for (int t = 0; t < FF_TN; t++)
        for (int j = 0; j < FF_KK; j++) {
          const int d = t / tn, ch = t % tn, ky = j / kg, gg = j % kg, kx = gg * D + d;
          row[t][j] = (d < D && j < k * kg && kx < k) ? wb[m][ch][ky * k + kx] : 0;
        }
      for (int t = 0; t < FF_TN; t++)
        for (int j = 0; j < FF_KK; j++) wb[m][t][j] = row[t][j];
    }
  }
  if (c.flags & FF_FLAG_PIXLANES) {
    // Pixel lanes: row group e (rows e*gs ..) repeats the tm channel rows (same burst, rearranged on chip); the
    // padding row of an odd tm and the rows >= E*gs stay zero.
    const int gs = tm + (tm & 1);
  LD_WREP:
    for (int m = tm; m < FF_TM; m++)
      for (int t = 0; t < FF_TN; t++)
        for (int j = 0; j < kk; j++) wb[m][t][j] = m < E * gs && m % gs < tm ? wb[m % gs][t][j] : 0;
  }
  return cyc;
}

// Requant parameters of output channels co0..co0+tm-1 (three bursts: B, M, S). Returns cycles.
uint32_t load_params(const ff_bus_t *mem, const Cmd &c, int co0, int tm, int slot) {
  uint8_t raw[FF_TM * 8];
  uint32_t cyc = burst_read<FF_TM * 8>(mem, c.q_addr + 8ull * co0, 8u * tm, raw, 0);
  for (int m = 0; m < tm; m++) {
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= (uint64_t)raw[8 * m + b] << (8 * b);
    qb[slot][m] = (int64_t)v;
  }
  cyc += burst_read<FF_TM * 8>(mem, c.q_addr + 8ull * c.cout + 2ull * co0, 2u * tm, raw, 0);
  for (int m = 0; m < tm; m++) qm[slot][m] = (int16_t)(raw[2 * m] | (raw[2 * m + 1] << 8));
  cyc += burst_read<FF_TM * 8>(mem, c.q_addr + 10ull * c.cout + co0, (uint32_t)tm, raw, 0);
  for (int m = 0; m < tm; m++) qs[slot][m] = raw[m];
  return cyc;
}

// MAC stage: all FF_TM x FF_TN products of one kernel tap per cycle. Loop order tap-outer / pixel-inner makes
// consecutive iterations update different accumulators; the pixel loop runs at least FF_MAC_DEPTH times so the
// read-after-write distance on acc always covers the pipeline. Returns cycles.
uint32_t compute_block(const Cmd &c, const Geo &g, int tn, bool first, const uint8_t ib[FF_TN][FF_IBUF],
                       const int8_t wb[FF_TM][FF_TN][FF_KK], int32_t ac[FF_TM][2 * FF_OBUF], int ob) {
  // With pixel lanes (E > 1) one pipeline step covers E neighbouring pixels: lane m = e*tm + c takes pixel ox*E + e
  // (tm = co_end - co_begin); the input window is read at E consecutive columns (E <= FF_BUS_BYTES ibuf banks).
  // With KPACK (D > 1) tap step (ky, gg) covers kernel columns gg*D + d in input lane d*in_c + c, whose copy of
  // the window is shifted by d columns: all lanes read the same index, each masks its own padding column.
  const int k = c.k, s = c.stride, P = g.pa, E = g.E, D = g.D, kg = g.kg;
  const int tl = D * tn;  // live input lanes
  const int PP = P > FF_MAC_DEPTH ? P : FF_MAC_DEPTH;
  int ky = 0, kx = 0;  // kx: first kernel column of the tap step (gg * D)
MAC_TAP:
  for (int kk = 0; kk < k * kg; kk++) {
    int oy = 0, ox = 0;  // pixel counters instead of a divider in the pipeline
  MAC_PIX:
    for (int pp = 0; pp < PP; pp++) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = ac inter false
      if (pp < P) {
        const int iy = oy * s + ky, vy = g.iy0 + iy;
        // Lanes (2p, 2p+1) read the same x: pixel-lane groups are an even number of lanes apart (Geo::gs).
        for (int m = 0; m < FF_TM; m += 1 + FF_PACK2) {
#pragma HLS UNROLL
          const int e = E > 1 ? m / g.gs : 0;
          const int px = ox * E + e;  // output column in the tile
          const int ix = px * s + kx, vx = g.ix0 + ix;
          const bool inb = vy >= 0 && vy < g.hv && e < E && px < c.tile_w;  // zero padding (rows), pixel lanes
          const int idx = iy * g.iw + ix;
          const bool pair = FF_PACK2 && m + 1 < FF_TM;  // odd FF_TM: the last lane multiplies alone
          const int m1 = pair ? m + 1 : m;
          int32_t sum = (first && kk == 0) ? 0 : ac[m][ob + pp];
          int32_t sum1 = (first && kk == 0) ? 0 : ac[m1][ob + pp];
          for (int t = 0; t < FF_TN; t++) {
#pragma HLS UNROLL
            const int d = D > 1 ? t / tn : 0;  // kernel column kx + d, input column vx + d
            const bool ok = inb && t < tl && kx + d < k && vx + d >= 0 && vx + d < g.wv;
            const uint8_t x = ok ? ib[t][idx] : 0;
            if (pair) {
              int32_t lo, hi;
              ff_mul2(x, wb[m][t][kk], wb[m1][t][kk], lo, hi);
              sum += lo;
              sum1 += hi;
            } else {
              int32_t p;
#pragma HLS BIND_OP variable = p op = mul impl = dsp
              p = (int32_t)x * (int32_t)wb[m][t][kk];
              sum += p;
            }
          }
          ac[m][ob + pp] = sum;
          if (pair) ac[m1][ob + pp] = sum1;
        }
        if (++ox == g.wq) {
          ox = 0;
          oy++;
        }
      }
    }
    kx += D;
    if (kx >= kg * D) {
      kx = 0;
      ky++;
    }
  }
  return (uint32_t)(k * kg * PP) + FF_MAC_DEPTH;
}

// Requantize + ReLU/clip (or int16 clamp) and store output channels co0..co0+tm-1 of the tile. Returns cycles.
uint32_t store_block(uint8_t *mem_wr, const Cmd &c, const Geo &g, int co0, int tm, int slot,
                     const int32_t ac[FF_TM][2 * FF_OBUF], int ob) {
  const bool linear = (c.flags & FF_FLAG_LINEAR) != 0;
  const int64_t hi = linear ? 32767 : (1 << c.bits) - 1, lo = linear ? -32768 : 0;
  uint32_t cyc = FF_RQ_DEPTH;
ST_CH:
  for (int m = 0; m < tm; m++) {
    const int sh = qs[slot][m] > 63 ? 63 : qs[slot][m];  // the contract allows 0..50; keep the shift defined
  ST_ROWS:
    for (int y = 0; y < c.tile_h; y++) {
      const uint64_t row = (((uint64_t)c.out_c_offset + co0 + m) * c.out_h + c.tile_y + y) * c.out_w + c.tile_x;
    ST_PIX:
      for (int x = 0; x < c.tile_w; x++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = FF_WR_BYTES
        const int64_t t = (int64_t)ac[(x % g.E) * g.gs + m][ob + y * g.wq + x / g.E] * qm[slot][m] + qb[slot][m];
        int64_t q = t >> sh;
        q = q < lo ? lo : (q > hi ? hi : q);
        const uint64_t a = c.out_addr + (row + x) * g.esize;
        mem_wr[a] = (uint8_t)q;
        if (linear) mem_wr[a + 1] = (uint8_t)((uint64_t)q >> 8);
      }
      cyc += store_row_cycles(c.out_addr + row * g.esize, (uint32_t)c.tile_w * g.esize);
    }
  }
  return cyc;
}

// Cycle model of a two-stage ping-pong pipeline over stages 0..n-1 (docs/engine.md): step j costs
// max(first stage of j, second stage of j-1), the first step only the first stage, a last step only the drain.
inline uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

// Output blocks are computed in groups of G = min(nco, capacity / P) blocks that share the accumulators (block i of a
// group at offset i*P): the loop over input blocks is outside the loop over the group's output blocks, so each input
// block is loaded once per group (not once per output block) and reused by all G blocks. Capacity is one half
// (FF_OBUF: ping-pong, a group's requantize+store, which also fetches its requant params, runs beside the compute
// of the next group) or, with FF_FLAG_ACCFULL, both halves (2*FF_OBUF: the store runs beside only the next
// group's first loads, since that group's MACs overwrite the accumulators it reads).
uint64_t run_conv(const ff_bus_t *mem, uint8_t *mem_wr, const Cmd &c, const Geo &g) {
  const bool full = (c.flags & FF_FLAG_ACCFULL) != 0;
  const int nci = (c.in_c + FF_TN - 1) / FF_TN;
  const int nco = (c.co_end - c.co_begin + FF_TM - 1) / FF_TM;
  const int P = g.pa;                                    // accumulator words per lane and output block
  const int gmax = (full ? 2 * FF_OBUF : FF_OBUF) / P;  // >= 1: check() guarantees P <= capacity
  const int G = gmax < nco ? gmax : nco;
  const int ngr = (nco + G - 1) / G;
  uint64_t total = 0;
CO_GRP:
  for (int gi = 0; gi <= ngr; gi++) {
    // Step gi: requantize+store of group gi-1, loads+MACs of group gi (the C runs the store first).
    uint64_t work = 0, st = 0;
    if (gi > 0) {
      const int b0 = (gi - 1) * G, nb = nco - b0 < G ? nco - b0 : G, ob = full ? 0 : ((gi - 1) & 1) * FF_OBUF;
    ST_GRP:
      for (int i = 0; i < nb; i++) {
        const int co0 = c.co_begin + (b0 + i) * FF_TM, tm = c.co_end - co0 < FF_TM ? c.co_end - co0 : FF_TM;
        st += load_params(mem, c, co0, tm, 0);
        st += store_block(mem_wr, c, g, co0, tm, 0, acc, ob + i * P);
      }
    }
    if (gi < ngr) {
      const int b0 = gi * G, nb = nco - b0 < G ? nco - b0 : G, n = nci * nb, ob = full ? 0 : (gi & 1) * FF_OBUF;
    CI_CO:
      for (int s = 0; s <= n; s++) {
        // Step s = (input block j, output block i of the group): its loads beside the MACs of step s-1
        // (ACCFULL, s = 0: beside the store of group gi-1).
        uint64_t lc = 0, xc = 0;
        if (s < n) {
          const int j = s / nb, i = s % nb;
          const int ci0 = j * FF_TN, tn = c.in_c - ci0 < FF_TN ? c.in_c - ci0 : FF_TN;
          const int co0 = c.co_begin + (b0 + i) * FF_TM, tm = c.co_end - co0 < FF_TM ? c.co_end - co0 : FF_TM;
          if (i == 0) lc = load_input(mem, c, g, ci0, tn, ibuf[j & 1]);
          lc += load_weights(mem, c, ci0, tn, co0, tm, g.E, wbuf[s & 1]);
        }
        if (s > 0) {
          const int j = (s - 1) / nb, i = (s - 1) % nb;
          const int ci0 = j * FF_TN, tn = c.in_c - ci0 < FF_TN ? c.in_c - ci0 : FF_TN;
          xc = compute_block(c, g, tn, j == 0, ibuf[j & 1], wbuf[(s - 1) & 1], acc, ob + i * P);
        } else if (full) {
          xc = st;
        }
        work += max2(lc, xc);
      }
    }
    total += full ? (gi < ngr ? work : st) : max2(work, st);
  }
  return total;
}

uint64_t run_upsample(const ff_bus_t *mem, uint8_t *mem_wr, const Cmd &c, const Geo &g) {
  const int pix = g.esize, f = c.k;
  uint64_t total = 0;
UP_CH:
  for (int ch = c.co_begin; ch <= c.co_end; ch++) {
    // Step: source load of channel ch beside interpolate+store of channel ch-1.
    uint64_t lc = 0, xc = 0;
    if (ch < c.co_end) lc = load_source(mem, c, g, ch, pix, sbuf[ch & 1]);
    if (ch > c.co_begin) {
      const int pc = ch - 1;
      const uint8_t *src = sbuf[pc & 1];
      xc = FF_UP_DEPTH;
    UP_ROWS:
      for (int y = 0; y < c.tile_h; y++) {
        const int vy = c.tile_y + y;
        const uint64_t row = (((uint64_t)c.out_c_offset + pc) * c.out_h + vy) * c.out_w + c.tile_x;
      UP_PIX:
        for (int x = 0; x < c.tile_w; x++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = FF_WR_BYTES
          const int32_t v = up_value(src, g, f, vy, c.tile_x + x, c.in_h, c.in_w, pix);
          const uint64_t a = c.out_addr + (row + x) * pix;
          mem_wr[a] = (uint8_t)v;
          if (pix == 2) mem_wr[a + 1] = (uint8_t)((uint32_t)v >> 8);
        }
        xc += store_row_cycles(c.out_addr + row * pix, (uint32_t)c.tile_w * pix);
      }
    }
    total += max2(lc, xc);
  }
  return total;
}

}  // namespace

void flowfpga_engine(const ff_bus_t *mem, uint8_t *mem_wr, uint64_t cmd_addr, uint32_t cmd_count, uint64_t win_base,
                     uint64_t win_size, uint32_t &magic, uint32_t &version, uint32_t &cap_pe, uint32_t &cap_ibuf,
                     uint32_t &cap_obuf, uint32_t &cap_sbuf, uint32_t &cap_feat, uint32_t &cap_clock_mhz,
                     uint32_t &status, uint32_t &err_index, uint32_t &cmds_done, uint64_t &cycles) {
#pragma HLS INTERFACE m_axi port = mem offset = slave bundle = gmem depth = 262144 max_read_burst_length = 256 latency = 12
#pragma HLS INTERFACE m_axi port = mem_wr offset = slave bundle = gmemw depth = 2097152 max_write_burst_length = 256 max_widen_bitwidth = FF_WR_BITS
#pragma HLS INTERFACE s_axilite port = mem bundle = control
#pragma HLS INTERFACE s_axilite port = mem_wr bundle = control
#pragma HLS INTERFACE s_axilite port = cmd_addr bundle = control
#pragma HLS INTERFACE s_axilite port = cmd_count bundle = control
#pragma HLS INTERFACE s_axilite port = win_base bundle = control
#pragma HLS INTERFACE s_axilite port = win_size bundle = control
#pragma HLS INTERFACE s_axilite port = magic bundle = control
#pragma HLS INTERFACE s_axilite port = version bundle = control
#pragma HLS INTERFACE s_axilite port = cap_pe bundle = control
#pragma HLS INTERFACE s_axilite port = cap_ibuf bundle = control
#pragma HLS INTERFACE s_axilite port = cap_obuf bundle = control
#pragma HLS INTERFACE s_axilite port = cap_sbuf bundle = control
#pragma HLS INTERFACE s_axilite port = cap_feat bundle = control
#pragma HLS INTERFACE s_axilite port = cap_clock_mhz bundle = control
#pragma HLS INTERFACE s_axilite port = status bundle = control
#pragma HLS INTERFACE s_axilite port = err_index bundle = control
#pragma HLS INTERFACE s_axilite port = cmds_done bundle = control
#pragma HLS INTERFACE s_axilite port = cycles bundle = control
#pragma HLS INTERFACE ap_ctrl_hs port = return bundle = control
#pragma HLS ARRAY_PARTITION variable = ibuf complete dim = 2
#pragma HLS ARRAY_PARTITION variable = ibuf cyclic factor = FF_BUS_BYTES dim = 3
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 2
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 3
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 1
#if FF_ACC_URAM
  // One URAM288 (4K x 72) per accumulator lane: frees the block RAM for input buffers on parts with UltraRAM.
#pragma HLS BIND_STORAGE variable = acc type = ram_2p impl = uram
#endif
#pragma HLS ARRAY_PARTITION variable = qb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = qm complete dim = 0
#pragma HLS ARRAY_PARTITION variable = qs complete dim = 0
#pragma HLS ARRAY_PARTITION variable = sbuf cyclic factor = FF_SBUF_BANKS dim = 2
  uint32_t st = FF_OK, done = 0, bad = 0;
  uint64_t cyc = 0;
CMDS:
  for (uint32_t i = 0; i < cmd_count; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 4096
    const uint64_t ca = cmd_addr + (uint64_t)i * FF_CMD_BYTES;
    if (cmd_addr & (FF_BUS_BYTES - 1)) st = FF_ERR_ALIGN;
    else if (!in_window(ca, FF_CMD_BYTES, win_base, win_size)) st = FF_ERR_RANGE;
    if (st != FF_OK) {
      bad = i;
      break;
    }
    uint64_t w[16];
    for (int j = 0; j < FF_CMD_BYTES / FF_BUS_BYTES; j++) {
#pragma HLS PIPELINE II = 1
      for (int h = 0; h < FF_BUS_BYTES / 8; h++) w[j * (FF_BUS_BYTES / 8) + h] = rd_u64(mem, (ca >> FF_BUS_SHIFT) + j, h);
    }
    cyc += FF_RD_OVH + FF_CMD_BYTES / FF_BUS_BYTES + FF_CHECK_CYC;
    Cmd c;
    Geo g;
    decode(w, c);
    st = check(c, g, win_base, win_size);
    if (st != FF_OK) {
      bad = i;
      break;
    }
    cyc += c.opcode == FF_OP_CONV ? run_conv(mem, mem_wr, c, g) : run_upsample(mem, mem_wr, c, g);
    done++;
  }
  magic = FF_MAGIC;
  version = FF_VERSION_WORD;
  cap_pe = FF_CAP_PE;
  cap_ibuf = FF_IBUF;
  cap_obuf = FF_OBUF;
  cap_sbuf = FF_SBUF;
  cap_feat = FF_CAP_FEAT;
  cap_clock_mhz = FF_CLOCK_MHZ;
  status = st;
  err_index = st == FF_OK ? 0 : bad;
  cmds_done = done;
  cycles = cyc;
}

#ifndef __SYNTHESIS__
extern "C" int ff_engine_run(uint8_t *ddr, uint64_t ddr_size, uint64_t cmd_addr, uint32_t cmd_count,
                             uint64_t win_base, uint64_t win_size, ff_result *out) {
  // The window is the only thing standing between a bad command and host memory: it must lie inside the array.
  if (ddr == nullptr || out == nullptr || ((uintptr_t)ddr & (FF_BUS_BYTES - 1)) || win_base > ddr_size || win_size > ddr_size - win_base)
    return -1;
  uint32_t magic, version, pe, ib, ob, sb, feat, mhz, st, ei, cd;
  uint64_t cyc;
  flowfpga_engine(reinterpret_cast<const ff_bus_t *>(ddr), ddr, cmd_addr, cmd_count, win_base, win_size, magic,
                  version, pe, ib, ob, sb, feat, mhz, st, ei, cd, cyc);
  out->status = st;
  out->err_index = ei;
  out->cmds_done = cd;
  out->rsv = 0;
  out->cycles = cyc;
  return 0;
}

extern "C" void ff_engine_caps(ff_caps *out) {
  *out = ff_caps{FF_MAGIC, FF_VERSION_WORD, FF_CAP_PE, FF_IBUF, FF_OBUF, FF_SBUF, FF_CAP_FEAT, FF_CLOCK_MHZ};
}
#endif
