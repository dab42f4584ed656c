// Middlebury flow-code colour coding (colorcode.cpp computeColor + color_flow.cpp MotionToColor, D. Scharstein;
// facts.md §6) as C++, for test/flow-colorwheel-fast.test.ts: float arithmetic with the <cmath> float overloads of
// sqrt/atan2, as the original compiles. stdin: u32 n, f32 maxmotion, n x (f32 u, f32 v); stdout: n x RGB
// (the original writes BGR; RGB here to compare with flowToColor directly).
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <vector>

static int ncols = 0;
static int colorwheel[60][3];

static void setcols(int r, int g, int b, int k) { colorwheel[k][0] = r; colorwheel[k][1] = g; colorwheel[k][2] = b; }

static void makecolorwheel() {
  int RY = 15, YG = 6, GC = 4, CB = 11, BM = 13, MR = 6;
  ncols = RY + YG + GC + CB + BM + MR;
  int i, k = 0;
  for (i = 0; i < RY; i++) setcols(255, 255 * i / RY, 0, k++);
  for (i = 0; i < YG; i++) setcols(255 - 255 * i / YG, 255, 0, k++);
  for (i = 0; i < GC; i++) setcols(0, 255, 255 * i / GC, k++);
  for (i = 0; i < CB; i++) setcols(0, 255 - 255 * i / CB, 255, k++);
  for (i = 0; i < BM; i++) setcols(255 * i / BM, 0, 255, k++);
  for (i = 0; i < MR; i++) setcols(255, 0, 255 - 255 * i / MR, k++);
}

static void computeColor(float fx, float fy, unsigned char *pix) {
  if (ncols == 0) makecolorwheel();
  float rad = std::sqrt(fx * fx + fy * fy);
  float a = std::atan2(-fy, -fx) / M_PI;
  float fk = (a + 1.0) / 2.0 * (ncols - 1);
  int k0 = (int)fk;
  int k1 = (k0 + 1) % ncols;
  float f = fk - k0;
  for (int b = 0; b < 3; b++) {
    float col0 = colorwheel[k0][b] / 255.0;
    float col1 = colorwheel[k1][b] / 255.0;
    float col = (1 - f) * col0 + f * col1;
    if (rad <= 1) col = 1 - rad * (1 - col);
    else col *= .75;
    pix[b] = (int)(255.0 * col);
  }
}

static bool unknown(float u, float v) { return std::fabs(u) > 1e9 || std::fabs(v) > 1e9 || std::isnan(u) || std::isnan(v); }

int main() {
  uint32_t n;
  float maxmotion;
  if (fread(&n, 4, 1, stdin) != 1 || fread(&maxmotion, 4, 1, stdin) != 1) return 1;
  std::vector<float> uv(2 * (size_t)n);
  if (fread(uv.data(), 4, uv.size(), stdin) != uv.size()) return 1;
  float maxrad = -1;
  for (uint32_t i = 0; i < n; i++) {
    float fx = uv[2 * i], fy = uv[2 * i + 1];
    if (unknown(fx, fy)) continue;
    float rad = std::sqrt(fx * fx + fy * fy);
    if (rad > maxrad) maxrad = rad;
  }
  if (maxmotion > 0) maxrad = maxmotion;
  if (maxrad == 0) maxrad = 1;
  std::vector<unsigned char> out(3 * (size_t)n, 0);
  for (uint32_t i = 0; i < n; i++) {
    float fx = uv[2 * i], fy = uv[2 * i + 1];
    if (!unknown(fx, fy)) computeColor(fx / maxrad, fy / maxrad, &out[3 * i]);
  }
  fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
