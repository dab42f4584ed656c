/*
 * Self-check of ffcache.c for the architecture it is compiled for (also aarch64 under qemu-aarch64, where the
 * DC CIVAC path runs): ff_flush_window / ff_flush_ranges must maintain exactly the lines a brute-force walk over
 * every byte of the rows touches (at least those lines where rows go backwards and may be maintained twice), leave
 * memory unchanged, and reject bad arguments. Prints "N passed, N failed"; exit 1 on any failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ff_cache_line(void);
int64_t ff_flush_ranges(uint64_t base, const uint32_t *r, uint32_t count);
int64_t ff_flush_window(uint64_t base, uint32_t off, uint32_t planes, uint32_t ps, uint32_t rows, uint32_t rs,
                        uint32_t rb);

#define MEM (1u << 16)
static unsigned char mark[MEM];
static int passed, failed;

static void check(int ok, const char *what, long long a, long long b) {
  if (ok) passed++;
  else {
    failed++;
    fprintf(stderr, "FAIL %s: got %lld, want %lld\n", what, a, b);
  }
}

static uint32_t rnd(uint32_t *s, uint32_t lo, uint32_t hi) {
  *s = *s * 1664525u + 1013904223u;
  return lo + (*s >> 8) % (hi - lo + 1);
}

int main(void) {
  const int L = ff_cache_line();
  check(L == 32 || L == 64 || L == 128, "line size", L, 64);
  if (L <= 0) goto done;
  unsigned char *raw = malloc(MEM + (size_t)L);
  uint64_t base = ((uint64_t)(uintptr_t)raw + (uint64_t)L - 1) & ~(uint64_t)(L - 1);
  unsigned char *mem = (unsigned char *)(uintptr_t)base;
  memset(mem, 5, MEM);
  uint32_t s = 12345;
  for (int k = 0; k < 2000; k++) {
    uint32_t rb = rnd(&s, 1, 90), rows = rnd(&s, 1, 6), rs = rnd(&s, 0, 300), planes = rnd(&s, 1, 64);
    uint32_t ps = rnd(&s, 0, 900), off = rnd(&s, 0, 2000);
    uint64_t span = (uint64_t)(planes - 1) * ps + (uint64_t)(rows - 1) * rs + rb;
    if (off + span > MEM) continue;
    memset(mark, 0, sizeof mark / (size_t)L + 1);
    long long want = 0;
    for (uint32_t p = 0; p < planes; p++)
      for (uint32_t r = 0; r < rows; r++)
        for (uint32_t b = 0; b < rb; b++) {
          uint32_t line = (off + p * ps + r * rs + b) / (uint32_t)L;
          if (!mark[line]) mark[line] = 1, want++;
        }
    long long got = ff_flush_window(base, off, planes, ps, rows, rs, rb);
    int forward = ps >= (rows - 1) * rs + rb && rs >= rb;
    check(forward ? got == want : got >= want, "window lines", got, want);
  }
  /* Ranges: [0,1) one line; [L-1, L+1) two; [4L, 7L) three; an empty range none. */
  uint32_t r[8] = {0, 1, (uint32_t)L - 1, 2, 4u * L, 3u * L, 10u * L, 0};
  check(ff_flush_ranges(base, r, 4) == 6, "range lines", ff_flush_ranges(base, r, 4), 6);
  check(ff_flush_ranges(base, r, 0) == 0, "empty list", 0, 0);
  check(ff_flush_ranges(0, r, 1) == -EINVAL, "zero base", ff_flush_ranges(0, r, 1), -EINVAL);
  uint32_t wrap[2] = {0x100, 0x100};
  check(ff_flush_ranges(0xffffffffffffff00ull, wrap, 1) == -EINVAL, "wrapping range", 0, -EINVAL);
  check(ff_flush_window(0, 0, 1, 0, 1, 0, 1) == -EINVAL, "zero window base", 0, -EINVAL);
  check(ff_flush_window(0xffffffffffffff00ull, 0, 1, 0, 2, 0x100, 1) == -EINVAL, "wrapping window", 0, -EINVAL);
  int same = 1;
  for (uint32_t i = 0; i < MEM; i++) same &= mem[i] == 5;
  check(same, "memory unchanged", same, 1);
  free(raw);
done:
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
