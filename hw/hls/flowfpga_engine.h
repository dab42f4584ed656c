// flowfpga quantized convolution engine: public interface shared by the HLS kernel, the g++ testbench and the
// virtual board. Command word, status codes and register semantics are documented in docs/engine.md and
// docs/registers.md; hw/hls/registers.json is the machine-readable copy (the testbench checks it against this file).
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__has_include)
#if __has_include(<ap_int.h>) && !defined(FF_USE_COMPAT)
#include <ap_int.h>
#else
#include "compat/ap_int.h"
#endif
#else
#include "compat/ap_int.h"
#endif

// ---- compile-time configuration (override with -D) -------------------------------------------------------------
#ifndef FF_TM
#define FF_TM 8  // output channels computed in parallel (PE rows)
#endif
#ifndef FF_TN
#define FF_TN 8  // input channels reduced in parallel (PE columns)
#endif
#ifndef FF_IBUF
#define FF_IBUF 4096  // input tile buffer, pixels per channel (tile input window incl. halo), x2 ping-pong
#endif
#ifndef FF_OBUF
#define FF_OBUF 1024  // output tile buffer, pixels per channel (int32 accumulators), x2 ping-pong (or one, ACCFULL)
#endif
#ifndef FF_SBUF
#define FF_SBUF 2048  // upsampling source staging buffer, pixels (one channel)
#endif
#ifndef FF_WR_BYTES
#define FF_WR_BYTES 1  // write port bytes per beat (1, 2, 4, 8): the requantize/store and UPSAMPLE output width
#endif
#ifndef FF_UP_PAR
#define FF_UP_PAR 1  // pixels per cycle of the fused up2 interpolation into the input buffer (1, 2, 4, 8)
#endif
#ifndef FF_PACK2
#define FF_PACK2 1  // two MACs per DSP: output lanes (2p, 2p+1) share one multiply of x by a packed weight pair
#endif
#ifndef FF_ACC_URAM
#define FF_ACC_URAM 0  // accumulators in UltraRAM (ZynqMP EV/EG parts with URAM) instead of block RAM
#endif
#ifndef FF_CLOCK_MHZ
#define FF_CLOCK_MHZ 100  // target clock, reported in the capability block
#endif
// Cycle-model constants (docs/engine.md "Cycle model"). They describe the generated pipeline, not tunables.
#ifndef FF_MAC_DEPTH
#define FF_MAC_DEPTH 8  // MAC pipeline depth; also the minimum inner trip count (accumulator RAW distance)
#endif
#ifndef FF_RD_OVH
#define FF_RD_OVH 12  // cycles per AXI read burst before the first beat (address + DDR latency)
#endif
#ifndef FF_WR_OVH
#define FF_WR_OVH 4  // cycles per AXI write burst (address phase + response, overlapped with data)
#endif
#ifndef FF_RQ_DEPTH
#define FF_RQ_DEPTH 6  // requantize pipeline depth (64-bit multiply-add, shift, clamp)
#endif
#ifndef FF_UP_DEPTH
#define FF_UP_DEPTH 5  // bilinear interpolation pipeline depth
#endif
#ifndef FF_CHECK_CYC
#define FF_CHECK_CYC 8  // command decode and range checks
#endif

#if FF_WR_BYTES != 1 && FF_WR_BYTES != 2 && FF_WR_BYTES != 4 && FF_WR_BYTES != 8
#error "FF_WR_BYTES must be 1, 2, 4 or 8"
#endif
#if FF_UP_PAR != 1 && FF_UP_PAR != 2 && FF_UP_PAR != 4 && FF_UP_PAR != 8
#error "FF_UP_PAR must be 1, 2, 4 or 8"
#endif

// sbuf banks (cyclic) so the widest interpolation (FF_UP_PAR pixels into ibuf, or FF_WR_BYTES output bytes of an
// UPSAMPLE) reads its 2x2 taps per pixel in one cycle; a literal for the ARRAY_PARTITION pragma. FF_WR_BITS likewise.
#if FF_UP_PAR >= 8 || FF_WR_BYTES >= 8
#define FF_SBUF_BANKS 16
#elif FF_UP_PAR >= 4 || FF_WR_BYTES >= 4
#define FF_SBUF_BANKS 8
#elif FF_UP_PAR >= 2 || FF_WR_BYTES >= 2
#define FF_SBUF_BANKS 4
#else
#define FF_SBUF_BANKS 1
#endif
#if FF_WR_BYTES == 8
#define FF_WR_BITS 64
#elif FF_WR_BYTES == 4
#define FF_WR_BITS 32
#elif FF_WR_BYTES == 2
#define FF_WR_BITS 16
#else
#define FF_WR_BITS 8
#endif

#ifndef FF_BUS_BYTES
#define FF_BUS_BYTES 8  // read port width in bytes (8 or 16: a 128-bit port on ZynqMP HP); cmd_addr must be aligned to it
#endif
#if FF_BUS_BYTES == 8
#define FF_BUS_SHIFT 3
#elif FF_BUS_BYTES == 16
#define FF_BUS_SHIFT 4
#else
#error "FF_BUS_BYTES must be 8 or 16"
#endif
#define FF_CMD_BYTES 128
#define FF_MAX_K 7

#define FF_MAGIC 0x31514646u  // "FFQ1" little-endian
#define FF_ENGINE_VERSION 1
#define FF_CONTRACT_VERSION 1
#define FF_VERSION_WORD ((FF_CONTRACT_VERSION << 16) | FF_ENGINE_VERSION)

typedef ap_uint<FF_BUS_BYTES * 8> ff_bus_t;

// ---- packed multiply (FF_PACK2) --------------------------------------------------------------------------
// Activations are unsigned codes (0..255) and weights signed (-128..127), so |x*w| <= 255*128 = 32640 fits a signed
// 16-bit field: p = x * (w_hi * 2^16 + w_lo) holds x*w_lo in p[15:0] (two's complement) and x*w_hi above it.
// The packed weight needs 25 bits signed (w_hi = -128 with w_lo < 0 is below -2^23): exactly the DSP48E1 multiplier's
// A input (25 bits; 27 on DSP48E2); x is 9 bits signed (B: 18), the product 34 bits (P: 48).
// lo = sext(p[15:0]); hi = (p - lo) >> 16, exact.
#define FF_PACK_S 16
inline void ff_mul2(uint8_t x, int8_t w_lo, int8_t w_hi, int32_t &lo, int32_t &hi) {
#pragma HLS INLINE
  const ap_int<9 + FF_PACK_S> wp = (int32_t)w_hi * (1 << FF_PACK_S) + (int32_t)w_lo;
  const ap_int<9> xs = (int32_t)x;
  ap_int<9 + FF_PACK_S + 9> p;
#pragma HLS BIND_OP variable = p op = mul impl = dsp
  p = wp * xs;
  const ap_int<FF_PACK_S> l = p.range(FF_PACK_S - 1, 0).to_uint64();
  lo = (int32_t)(int64_t)l;
  hi = (int32_t)(((int64_t)p - (int64_t)lo) >> FF_PACK_S);
}

// ---- command word (128 bytes, little-endian; all addresses are byte addresses relative to the mem base) --------
enum ff_opcode : uint8_t { FF_OP_CONV = 1, FF_OP_UPSAMPLE = 2 };
enum ff_flags : uint8_t {
  FF_FLAG_UP2_IN = 1u << 0,  // CONV: the conv reads up2(input), i.e. runs on a 2*in_h x 2*in_w input (upsample-conv)
  FF_FLAG_LINEAR = 1u << 1,  // CONV: flow head, clamp to int16 and store int16; UPSAMPLE: int16 data (up4 of flow)
  FF_FLAG_WPACK = 1u << 2,   // CONV: weights packed per FF_TN input block, [ci_block][cout][tn][k][k] (docs/engine.md)
  FF_FLAG_KPACK = 1u << 3,     // CONV, in_c <= FF_TN: idle PE columns take further kernel columns (docs/engine.md)
  FF_FLAG_PIXLANES = 1u << 4,  // CONV: few output channels; idle PE rows compute neighbouring pixels (docs/engine.md)
  FF_FLAG_ACCFULL = 1u << 5,   // CONV: both accumulator halves hold one group (2*FF_OBUF words/lane), no store overlap
};

struct ff_cmd {
  uint8_t opcode;         // 0x00 ff_opcode
  uint8_t flags;          // 0x01 ff_flags
  uint8_t bits;           // 0x02 output bits n (2..8); 16 with FF_FLAG_LINEAR
  uint8_t k;              // 0x03 CONV: kernel 1,3,5,7; UPSAMPLE: factor 2 or 4
  uint8_t stride;         // 0x04 CONV: 1 or 2; UPSAMPLE: 1
  uint8_t rsv0[3];        // 0x05 write 0
  uint16_t in_c;          // 0x08 input tensor channels (CONV: Cin, the whole reduction)
  uint16_t in_h;          // 0x0A input tensor height as stored (before a fused up2)
  uint16_t in_w;          // 0x0C
  uint16_t out_h;         // 0x0E output tensor height (whole tensor, not the tile)
  uint16_t out_w;         // 0x10
  uint16_t out_c_total;   // 0x12 channels of the output buffer (concatenation)
  uint16_t out_c_offset;  // 0x14 this layer's first channel in the output buffer
  uint16_t cout;          // 0x16 CONV: layer Cout (rows of weights / params); UPSAMPLE: = in_c
  uint16_t co_begin;      // 0x18 first layer output channel this command computes
  uint16_t co_end;        // 0x1A one past the last
  uint16_t tile_y;        // 0x1C tile origin in output coordinates
  uint16_t tile_x;        // 0x1E
  uint16_t tile_h;        // 0x20 tile size in output pixels
  uint16_t tile_w;        // 0x22
  uint32_t rsv1;          // 0x24 write 0
  uint64_t in_addr;       // 0x28 input tensor (planar CHW uint8, or int16 for LINEAR UPSAMPLE)
  uint64_t w_addr;        // 0x30 weights [cout][in_c][k][k] int8, or packed with FF_FLAG_WPACK (CONV)
  uint64_t q_addr;        // 0x38 requant block: B int64[cout], M int16[cout], S uint8[cout] (model-file order)
  uint64_t out_addr;      // 0x40 output buffer (out_c_total x out_h x out_w, uint8 or int16)
  uint32_t in_len;        // 0x48 declared extents: the command may touch only [addr, addr + len) of each buffer
  uint32_t w_len;         // 0x4C
  uint32_t q_len;         // 0x50
  uint32_t out_len;       // 0x54
  uint32_t tag;           // 0x58 free for the scheduler (e.g. layer index); the engine ignores it
  uint8_t rsv2[36];       // 0x5C write 0
};

// ---- status codes (register `status`) ----------------------------------------------------------------------
enum ff_status : uint32_t {
  FF_OK = 0,
  FF_ERR_OPCODE = 1,    // unknown opcode
  FF_ERR_BITS = 2,      // bits outside 2..8 (16 only with FF_FLAG_LINEAR)
  FF_ERR_PARAM = 3,     // unsupported k, stride, upsampling factor or flag combination
  FF_ERR_GEOMETRY = 4,  // inconsistent dims, tile outside the output, empty or out-of-range channel block
  FF_ERR_TILE = 5,      // tile (or its input window) larger than an on-chip buffer
  FF_ERR_RANGE = 6,     // an access outside the declared extent, or an extent/command list outside the window
  FF_ERR_ALIGN = 7,     // buffer address not 8-byte aligned, or command list not FF_BUS_BYTES-aligned
};

// Capability words (output scalars; valid after any run, including cmd_count = 0).
#define FF_CAP_PE ((uint32_t)FF_TM | ((uint32_t)FF_TN << 16))
#define FF_CAP_BITS_MASK 0x1FCu  // bit n set: n-bit activations supported (2..8)
#define FF_CAP_K_MASK 0xAAu      // bit k set: kernel k supported (1,3,5,7)
#define FF_CAP_OPS_MASK 0x6u     // bit opcode set
#define FF_CAP_PIXLANES (1u << 11)  // lane packing implemented: FF_FLAG_KPACK and FF_FLAG_PIXLANES
#define FF_CAP_ACCFULL (1u << 0)    // FF_FLAG_ACCFULL implemented (bit 0 of the bits mask: no 0-bit activations)
#define FF_LOG2_SMALL(v) ((v) >= 8 ? 3 : (v) >= 4 ? 2 : (v) >= 2 ? 1 : 0)
// [0] FF_FLAG_ACCFULL, [8:2] bits mask, [10:9] log2 FF_BUS_BYTES - 3, [11] FF_FLAG_KPACK + FF_FLAG_PIXLANES, [13:12] log2 FF_WR_BYTES, [15:14] log2 FF_UP_PAR, [23:16] kernel mask, [31:24] opcode mask.
#define FF_CAP_FEAT                                                                                       \
  (FF_CAP_ACCFULL | FF_CAP_BITS_MASK | ((uint32_t)(FF_BUS_SHIFT - 3) << 9) | FF_CAP_PIXLANES | ((uint32_t)FF_LOG2_SMALL(FF_WR_BYTES) << 12) | ((uint32_t)FF_LOG2_SMALL(FF_UP_PAR) << 14) | \
   (FF_CAP_K_MASK << 16) | (FF_CAP_OPS_MASK << 24))

// ---- kernel top (Vitis HLS top function) -------------------------------------------------------------------
// mem: FF_BUS_BYTES-wide AXI master used for all reads; mem_wr: FF_WR_BYTES-wide AXI master for all writes. On hardware the
// driver writes the same base (normally 0: command addresses are physical) into both pointer registers.
void flowfpga_engine(const ff_bus_t *mem, uint8_t *mem_wr, uint64_t cmd_addr, uint32_t cmd_count, uint64_t win_base,
                     uint64_t win_size, uint32_t &magic, uint32_t &version, uint32_t &cap_pe, uint32_t &cap_ibuf,
                     uint32_t &cap_obuf, uint32_t &cap_sbuf, uint32_t &cap_feat, uint32_t &cap_clock_mhz,
                     uint32_t &status, uint32_t &err_index, uint32_t &cmds_done, uint64_t &cycles);

// ---- host-side convenience API (not synthesized): C linkage for the virtual board and FFI ------------------
extern "C" {
struct ff_result {
  uint32_t status;
  uint32_t err_index;
  uint32_t cmds_done;
  uint32_t rsv;
  uint64_t cycles;
};
struct ff_caps {
  uint32_t magic, version, cap_pe, cap_ibuf, cap_obuf, cap_sbuf, cap_feat, cap_clock_mhz;
};
// Runs a command list in a simulated DDR of `ddr_size` bytes at `ddr` (FF_BUS_BYTES-aligned). Addresses are offsets
// into `ddr`; the window is [win_base, win_base + win_size) and must lie inside the array.
int ff_engine_run(uint8_t *ddr, uint64_t ddr_size, uint64_t cmd_addr, uint32_t cmd_count, uint64_t win_base,
                  uint64_t win_size, ff_result *out);
void ff_engine_caps(ff_caps *out);
}
