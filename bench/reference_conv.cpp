// C++ twin of the TypeScript reference conv kernel (src/reference/conv.ts, convCore), for `flowfpga bench reference`.
// Same algorithm and loop order (c_out -> c_in -> ky -> y -> x with the kx taps fused per (k, stride), int32
// accumulators, precomputed padding bounds, requantization t = acc*M + B, q = t >> S, clamp), same data, so the
// checksums must match the TypeScript run. Compiled at run time with `g++ -O2`.
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

// Loop order c_out -> c_in -> ky -> y -> x (interior: all kx fused; border columns tap by tap), as convCore in conv.ts.
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
          if (nI > 0) {
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
  convCore(l, d, out.data(), acc);  // warm-up
  using Clock = std::chrono::steady_clock;
  // The fastest repetition is the figure least disturbed by other load on the machine.
  const auto t0 = Clock::now();
  long reps = 0;
  double elapsed = 0, best = 1e300;
  do {
    const auto r0 = Clock::now();
    convCore(l, d, out.data(), acc);
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
