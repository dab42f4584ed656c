// C++ twin of the TypeScript reference conv kernel (src/reference/conv.ts, convCore), for `flowfpga bench reference`.
// Same algorithm and loop order (c_out -> c_in -> ky -> y -> x with the kx taps fused per (k, stride), int32
// accumulators, precomputed padding bounds, requantization t = acc*M + B, q = t >> S, clamp), same data, so the
// checksums must match the TypeScript run. k = 3 layers take convFlat3 (zero-bordered patch, 9-tap row kernels) under
// the same condition as convCore in conv.ts dispatches to its convFlat3. Compiled at run time with `g++ -O2`.
//
// stdin: one layer per line: name cin h w cout k stride bits_in bits_w bits_out mode seed min_seconds
// stdout: one line per layer: name reps total_seconds best_rep_seconds checksum
#include <algorithm>
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Mulberry32 {
  uint32_t state;
  explicit Mulberry32(uint32_t seed) : state(seed) {}
  uint32_t next() {
    state += 0x6d2b79f5u;
    uint32_t z = state;
    z = (z ^ (z >> 15)) * (z | 1u);
    z ^= z + (z ^ (z >> 7)) * (z | 61u);
    return z ^ (z >> 14);
  }
};

struct Layer {
  std::string name;
  int cin, h, w, cout, k, stride, bitsIn, bitsW, bitsOut, mode;
  uint32_t seed;
  double minSeconds;
};

struct Data {
  std::vector<uint8_t> input;
  std::vector<int8_t> weights;
  std::vector<int16_t> mult;
  std::vector<uint8_t> shift;
  std::vector<int64_t> bias;
};

int log2floor(uint32_t v) { return 31 - __builtin_clz(v); }

Data makeData(const Layer& l) {
  Mulberry32 rng(l.seed);
  Data d;
  const int K = l.cin * l.k * l.k;
  d.input.resize(size_t(l.cin) * l.h * l.w);
  for (auto& v : d.input) v = uint8_t(rng.next() >> (32 - l.bitsIn));
  d.weights.resize(size_t(l.cout) * K);
  for (auto& v : d.weights) v = int8_t(int(rng.next() >> (32 - l.bitsW)) - (1 << (l.bitsW - 1)));
  for (int c = 0; c < l.cout; c++) {
    const int s = 21 + (log2floor(uint32_t(K)) >> 1);
    d.mult.push_back(int16_t(16384 + (rng.next() >> 18)));
    d.shift.push_back(uint8_t(s));
    d.bias.push_back((int64_t(1) << (s - 1)) + (int64_t(l.mode ? 0 : 1 << (l.bitsOut - 1)) << s));
  }
  return d;
}

// Interior row kernels (same as rowK*S* in conv.ts): n outputs, every tap in range, the k taps of one kernel row
// fused into one accumulator update, the input window sliding through locals.
void rowK1S1(int32_t* acc, const uint8_t* in, int n, int32_t w0) {
  int x = 0;
  for (; x + 3 < n; x += 4) {
    acc[x] += in[x] * w0;
    acc[x + 1] += in[x + 1] * w0;
    acc[x + 2] += in[x + 2] * w0;
    acc[x + 3] += in[x + 3] * w0;
  }
  for (; x < n; x++) acc[x] += in[x] * w0;
}

void rowK1S2(int32_t* acc, const uint8_t* in, int n, int32_t w0) {
  int x = 0;
  for (; x + 3 < n; x += 4) {
    acc[x] += in[2 * x] * w0;
    acc[x + 1] += in[2 * x + 2] * w0;
    acc[x + 2] += in[2 * x + 4] * w0;
    acc[x + 3] += in[2 * x + 6] * w0;
  }
  for (; x < n; x++) acc[x] += in[2 * x] * w0;
}

void rowK3S1(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2];
  int32_t a = in[0], b = in[1];
  in += 2;
  for (int x = 0; x < n; x++) {
    const int32_t c = in[x];
    acc[x] += a * w0 + b * w1 + c * w2;
    a = b;
    b = c;
  }
}

void rowK3S2(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2];
  int32_t a = in[0];
  in += 1;
  for (int x = 0; x < n; x++) {
    const int32_t b = in[2 * x], c = in[2 * x + 1];
    acc[x] += a * w0 + b * w1 + c * w2;
    a = c;
  }
}

// k = 3 over all three kernel rows at once (same as rowK3S1R3 / rowK3S2R3 in conv.ts): one accumulator update per
// output for nine taps.
void rowK3S1R3(int32_t* acc, const uint8_t* in, ptrdiff_t pw, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const uint8_t* i1 = in + pw;
  const uint8_t* i2 = in + 2 * pw;
  int32_t a0 = in[0], b0 = in[1], a1 = i1[0], b1 = i1[1], a2 = i2[0], b2 = i2[1];
  for (int x = 0; x < n; x++) {
    const int32_t c0 = in[x + 2], c1 = i1[x + 2], c2 = i2[x + 2];
    acc[x] += a0 * w0 + b0 * w1 + c0 * w2 + a1 * w3 + b1 * w4 + c1 * w5 + a2 * w6 + b2 * w7 + c2 * w8;
    a0 = b0;
    b0 = c0;
    a1 = b1;
    b1 = c1;
    a2 = b2;
    b2 = c2;
  }
}

void rowK3S2R3(int32_t* acc, const uint8_t* in, ptrdiff_t pw, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const uint8_t* i1 = in + pw;
  const uint8_t* i2 = in + 2 * pw;
  int32_t a0 = in[0], a1 = i1[0], a2 = i2[0];
  for (int x = 0; x < n; x++) {
    const int32_t b0 = in[2 * x + 1], c0 = in[2 * x + 2], b1 = i1[2 * x + 1], c1 = i1[2 * x + 2];
    const int32_t b2 = i2[2 * x + 1], c2 = i2[2 * x + 2];
    acc[x] += a0 * w0 + b0 * w1 + c0 * w2 + a1 * w3 + b1 * w4 + c1 * w5 + a2 * w6 + b2 * w7 + c2 * w8;
    a0 = c0;
    a1 = c1;
    a2 = c2;
  }
}

void rowK5S1(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
  int32_t a = in[0], b = in[1], c = in[2], d = in[3];
  in += 4;
  for (int x = 0; x < n; x++) {
    const int32_t e = in[x];
    acc[x] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4;
    a = b;
    b = c;
    c = d;
    d = e;
  }
}

void rowK5S2(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
  int32_t a = in[0], b = in[1], c = in[2];
  in += 3;
  for (int x = 0; x < n; x++) {
    const int32_t d = in[2 * x], e = in[2 * x + 1];
    acc[x] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4;
    a = c;
    b = d;
    c = e;
  }
}

void rowK7S1(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6];
  int32_t a = in[0], b = in[1], c = in[2], d = in[3], e = in[4], f = in[5];
  in += 6;
  for (int x = 0; x < n; x++) {
    const int32_t g = in[x];
    acc[x] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4 + f * w5 + g * w6;
    a = b;
    b = c;
    c = d;
    d = e;
    e = f;
    f = g;
  }
}

void rowK7S2(int32_t* acc, const uint8_t* in, int n, const int8_t* w) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6];
  int32_t a = in[0], b = in[1], c = in[2], d = in[3], e = in[4];
  in += 5;
  for (int x = 0; x < n; x++) {
    const int32_t f = in[2 * x], g = in[2 * x + 1];
    acc[x] += a * w0 + b * w1 + c * w2 + d * w3 + e * w4 + f * w5 + g * w6;
    a = c;
    b = d;
    c = e;
    d = f;
    e = g;
  }
}

// k = 3 (as convFlat3 in conv.ts): the input copied once into a zero-bordered patch per input channel so every tap
// is in range; stride 1 flattens the rows, so each (c_out, c_in) pair is one call of the 3-row kernel over the whole
// map (the 2 positions per row on the border columns are computed and discarded); stride 2: one call per output row.
template <typename Out>
void convFlat3(const Layer& l, const Data& d, Out* out, std::vector<int32_t>& accBuf, std::vector<uint8_t>& flatBuf) {
  const int cin = l.cin, H = l.h, W = l.w, s = l.stride;
  const int Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
  const int fh = (Ho - 1) * s + 3, fw = (Wo - 1) * s + 3;
  const size_t fplane = size_t(fh) * fw;
  flatBuf.assign(size_t(cin) * fplane, 0);
  uint8_t* flat = flatBuf.data();
  const int rows = std::min(H, fh - 1), cols = std::min(W, fw - 1);
  for (int ci = 0; ci < cin; ci++) {
    for (int y = 0; y < rows; y++) {
      const uint8_t* src = d.input.data() + (size_t(ci) * H + y) * W;
      uint8_t* o = flat + ci * fplane + size_t(y + 1) * fw + 1;
      for (int x = 0; x < cols; x++) o[x] = src[x];
    }
  }
  const int aw = s == 1 ? fw : Wo;
  const int nF = (Ho - 1) * aw + Wo;
  if (accBuf.size() < size_t(nF)) accBuf.resize(nF);
  int32_t* acc = accBuf.data();
  const int lo = l.mode ? -32768 : 0;
  const int hi = l.mode ? 32767 : (1 << l.bitsOut) - 1;
  for (int m = 0; m < l.cout; m++) {
    std::fill(acc, acc + nF, 0);
    const int8_t* wb = d.weights.data() + size_t(m) * cin * 9;
    if (s == 1) {
      for (int ci = 0; ci < cin; ci++) rowK3S1R3(acc, flat + ci * fplane, fw, nF, wb + ci * 9);
    } else {
      for (int ci = 0; ci < cin; ci++) {
        for (int y = 0; y < Ho; y++) rowK3S2R3(acc + y * Wo, flat + ci * fplane + size_t(2 * y) * fw, fw, Wo, wb + ci * 9);
      }
    }
    const int64_t M = d.mult[m], B = d.bias[m];
    const int S = d.shift[m];
    Out* o = out + size_t(m) * Ho * Wo;
    for (int y = 0; y < Ho; y++) {
      for (int x = 0; x < Wo; x++) {
        const int64_t q = (int64_t(acc[y * aw + x]) * M + B) >> S;
        o[y * Wo + x] = Out(q < lo ? lo : q > hi ? hi : q);
      }
    }
  }
}

// Loop order c_out -> c_in -> ky -> y -> x (interior: all kx fused; border columns tap by tap), as convCore in conv.ts;
// for k = 3 the interior of rows with all three kernel rows in range is done after the ky loop, all nine taps fused.
template <typename Out>
void convCore(const Layer& l, const Data& d, Out* out, std::vector<int32_t>& accBuf) {
  const int k = l.k, s = l.stride, cin = l.cin, H = l.h, W = l.w, p = (k - 1) / 2;
  const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  const int n = Ho * Wo, kk = k * k, plane = H * W;
  int yLo[8], yHi[8], xLo[8], xHi[8];
  auto ceilDiv = [](int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  auto floorDiv = [](int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  int xIa = 0, xIb = Wo;
  for (int dd = 0; dd < k; dd++) {
    yLo[dd] = std::max(0, ceilDiv(p - dd, s));
    yHi[dd] = std::min(Ho, floorDiv(H - 1 + p - dd, s) + 1);
    xLo[dd] = std::max(0, ceilDiv(p - dd, s));
    xHi[dd] = std::min(Wo, floorDiv(W - 1 + p - dd, s) + 1);
    xIa = std::max(xIa, xLo[dd]);
    xIb = std::min(xIb, xHi[dd]);
  }
  if (xIa >= xIb) xIa = xIb = Wo;
  const int nI = xIb - xIa;
  // k = 3: output rows whose three kernel rows are all in range get the fused 3-row kernel (as in conv.ts).
  int yFa = 0, yFb = 0;
  if (k == 3 && nI > 0) {
    yFa = std::max({yLo[0], yLo[1], yLo[2]});
    yFb = std::max(yFa, std::min({yHi[0], yHi[1], yHi[2]}));
  }
  const int lo = l.mode ? -32768 : 0;
  const int hi = l.mode ? 32767 : (1 << l.bitsOut) - 1;
  int32_t* acc = accBuf.data();
  const uint8_t* src = d.input.data();
  for (int m = 0; m < l.cout; m++) {
    std::fill(acc, acc + n, 0);
    for (int ci = 0; ci < cin; ci++) {
      const uint8_t* inPlane = src + size_t(ci) * plane;
      const int8_t* wBase = d.weights.data() + (size_t(m) * cin + ci) * kk;
      for (int ky = 0; ky < k; ky++) {
        const int8_t* w = wBase + ky * k;
        for (int y = yLo[ky]; y < yHi[ky]; y++) {
          // Tap kx of output col x is inPlane[rowIdx + x * s + kx].
          const ptrdiff_t rowIdx = ptrdiff_t(y * s + ky - p) * W - p;
          int32_t* a = acc + y * Wo;
          if (nI > 0 && !(y >= yFa && y < yFb)) {
            int32_t* ai = a + xIa;
            const uint8_t* ii = inPlane + (rowIdx + xIa * s);
            switch (k * 2 + s) {
              case 3: rowK1S1(ai, ii, nI, w[0]); break;
              case 4: rowK1S2(ai, ii, nI, w[0]); break;
              case 7: rowK3S1(ai, ii, nI, w); break;
              case 8: rowK3S2(ai, ii, nI, w); break;
              case 11: rowK5S1(ai, ii, nI, w); break;
              case 12: rowK5S2(ai, ii, nI, w); break;
              case 15: rowK7S1(ai, ii, nI, w); break;
              default: rowK7S2(ai, ii, nI, w); break;
            }
          }
          if (xIa > 0 || xIb < Wo) {
            for (int kx = 0; kx < k; kx++) {
              const int32_t wv = w[kx];
              for (int x = xLo[kx], e = std::min(xIa, xHi[kx]); x < e; x++) a[x] += inPlane[rowIdx + x * s + kx] * wv;
              for (int x = std::max(xIb, xLo[kx]); x < xHi[kx]; x++) a[x] += inPlane[rowIdx + x * s + kx] * wv;
            }
          }
        }
      }
      for (int y = yFa; y < yFb; y++) {
        const uint8_t* ii = inPlane + (ptrdiff_t(y * s - p) * W - p + xIa * s);
        int32_t* ai = acc + y * Wo + xIa;
        if (s == 1) rowK3S1R3(ai, ii, W, nI, wBase);
        else rowK3S2R3(ai, ii, W, nI, wBase);
      }
    }
    const int64_t M = d.mult[m], B = d.bias[m];
    const int S = d.shift[m];
    Out* o = out + size_t(m) * n;
    for (int i = 0; i < n; i++) {
      const int64_t q = (int64_t(acc[i]) * M + B) >> S;
      o[i] = Out(q < lo ? lo : q > hi ? hi : q);
    }
  }
}

template <typename Out>
uint32_t checksum(const std::vector<Out>& out) {
  uint32_t h = 2166136261u;
  for (Out v : out) h = (h ^ (uint32_t(int32_t(v)) & 0xffffu)) * 16777619u;
  return h;
}

template <typename Out>
void run(const Layer& l) {
  const Data d = makeData(l);
  const int p = (l.k - 1) / 2;
  const int Ho = (l.h + 2 * p - l.k) / l.stride + 1, Wo = (l.w + 2 * p - l.k) / l.stride + 1;
  std::vector<Out> out(size_t(l.cout) * Ho * Wo);
  std::vector<int32_t> acc(size_t(Ho) * Wo);
  std::vector<uint8_t> flat;
  // Same dispatch as convCore in conv.ts for a whole layer (tile = the full map, all output channels).
  const bool useFlat = l.k == 3 && Wo >= 4 && l.cout >= 2;
  auto once = [&] {
    if (useFlat) convFlat3(l, d, out.data(), acc, flat);
    else convCore(l, d, out.data(), acc);
  };
  once();  // warm-up
  using Clock = std::chrono::steady_clock;
  // The fastest repetition is the figure least disturbed by other load on the machine.
  const auto t0 = Clock::now();
  long reps = 0;
  double elapsed = 0, best = 1e300;
  do {
    const auto r0 = Clock::now();
    once();
    const auto r1 = Clock::now();
    best = std::min(best, std::chrono::duration<double>(r1 - r0).count());
    reps++;
    elapsed = std::chrono::duration<double>(r1 - t0).count();
  } while (elapsed < l.minSeconds);
  std::printf("%s %ld %.9f %.9f %u\n", l.name.c_str(), reps, elapsed, best, checksum(out));
  std::fflush(stdout);
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::istringstream ss(line);
    Layer l;
    if (!(ss >> l.name >> l.cin >> l.h >> l.w >> l.cout >> l.k >> l.stride >> l.bitsIn >> l.bitsW >> l.bitsOut >> l.mode >>
          l.seed >> l.minSeconds)) {
      std::fprintf(stderr, "bad layer line: %s\n", line.c_str());
      return 2;
    }
    if (l.mode) run<int16_t>(l); else run<uint8_t>(l);
  }
  return 0;
}
