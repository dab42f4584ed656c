/*
 * ffcache: data-cache maintenance by virtual address over a LIST of ranges, in one call from user space.
 *
 * Why: verifying a frame reads back ~50 strided windows whose rows lie in up to 1024 channel planes. Keeping only
 * the window rows' lines coherent needs thousands of small ranges per frame; one sysfs/ioctl sync per range (or
 * one over each window's covering range) costs far more than the lines themselves.
 *
 * aarch64: DC CIVAC (clean + invalidate to the Point of Coherency) per line, one DSB SY at the end. Linux sets
 * SCTLR_EL1.UCI, so EL0 may execute it (arch/arm64/include/asm/sysreg.h, SCTLR_EL1_SET); DC IVAC is EL1-only, and
 * on a line the CPU did not write CIVAC only invalidates (the DMA ownership rules guarantee that; PYNQ's aarch64
 * libcma uses the same instruction for both directions). Line size from CTR_EL0.DminLine.
 * x86_64: CLFLUSHOPT (CLFLUSH without it) + MFENCE. x86 DMA is cache-coherent, so no backend needs it there; it is
 * the same range walk on the build machine, so the loader, the ABI and the range handling are tested for real.
 * Others (32-bit ARM: CP15 maintenance is privileged): -ENOSYS; those boards sync through their backend.
 *
 * ff_flush_window does the same for a strided window (planes × rows × rowBytes) without a list: the verifier's
 * windows are thousands of 1–3-byte rows, and walking them here costs less than building their list in JS.
 *
 * Build: make -C native (native/build/libffcache.so). Loaded with koffi by src/sys/cache.ts.
 */
#include <errno.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Bytes per data-cache line that the maintenance loop steps by; 0 where unsupported. */
int ff_cache_line(void) {
#if defined(__aarch64__)
  uint64_t ctr;
  __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
  return 4 << ((ctr >> 16) & 0xf);
#elif defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 64;
  return (int)(((b >> 8) & 0xff) * 8);
#else
  return 0;
#endif
}

#if defined(__x86_64__)
static int has_clflushopt(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return (b >> 23) & 1;
}
#endif

static inline void line_op(uint64_t a, int opt) {
  (void)opt;
#if defined(__aarch64__)
  __asm__ volatile("dc civac, %0" : : "r"(a) : "memory");
#elif defined(__x86_64__)
  if (opt) __asm__ volatile(".byte 0x66; clflush %0" : "+m"(*(volatile char *)a));
  else __asm__ volatile("clflush %0" : "+m"(*(volatile char *)a));
#else
  (void)a;
#endif
}

/* Completes the maintenance before the caller reads: the device's data is then what the CPU sees. */
static inline void fence(void) {
#if defined(__aarch64__)
  __asm__ volatile("dsb sy" : : : "memory");
#elif defined(__x86_64__)
  __asm__ volatile("mfence" : : : "memory");
#endif
}

/*
 * Cleans and invalidates [base + r[2i], base + r[2i] + r[2i+1]) for i < count, whole lines. Returns the number of
 * lines maintained, or -errno: -EINVAL (null list, zero base, or a range that wraps), -ENOSYS (no user-space
 * maintenance on this architecture).
 */
int64_t ff_flush_ranges(uint64_t base, const uint32_t *r, uint32_t count) {
  if (count == 0) return 0;
  if (!r || !base) return -EINVAL;
  int line = ff_cache_line();
  if (line <= 0) return -ENOSYS;
  uint64_t mask = ~(uint64_t)(line - 1);
  /* Validate everything first: a bad list maintains nothing. */
  for (uint32_t i = 0; i < count; i++) {
    uint64_t a = base + r[2 * i];
    if (a < base || a + r[2 * i + 1] < a) return -EINVAL;
  }
  int64_t lines = 0;
  int opt = 0;
#if defined(__x86_64__)
  opt = has_clflushopt();
#endif
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = r[2 * i + 1];
    if (len == 0) continue;
    uint64_t a = (base + r[2 * i]) & mask;
    uint64_t end = base + r[2 * i] + len;
    for (; a < end; a += (uint64_t)line, lines++) line_op(a, opt);
  }
  fence();
  return lines;
}


/*
 * Cleans and invalidates the lines of the window rows base + off + p*ps + r*rs + [0, rb), p < planes, r < rows,
 * each line once where rows ascend (touching rows share lines). Returns lines maintained or -errno (-EINVAL for a
 * zero base or a window whose end overflows, -ENOSYS as ff_flush_ranges).
 */
int64_t ff_flush_window(uint64_t base, uint32_t off, uint32_t planes, uint32_t ps, uint32_t rows, uint32_t rs,
                        uint32_t rb) {
  if (planes == 0 || rows == 0 || rb == 0) return 0;
  if (!base) return -EINVAL;
  int line = ff_cache_line();
  if (line <= 0) return -ENOSYS;
  int opt = 0;
#if defined(__x86_64__)
  opt = has_clflushopt();
#endif
  uint64_t last = (uint64_t)(planes - 1) * ps + (uint64_t)(rows - 1) * rs + rb + off, end;
  if (__builtin_add_overflow(base, last, &end)) return -EINVAL;
  uint64_t mask = ~(uint64_t)(line - 1);
  uint64_t prev = 0, done = 0;
  int64_t lines = 0;
  for (uint32_t p = 0; p < planes; p++) {
    uint64_t a = base + off + (uint64_t)p * ps;
    for (uint32_t r = 0; r < rows; r++, a += rs) {
      uint64_t s = a & mask, e = a + rb;
      /* Invariant: the lines in [start of the previous row's line, done) are maintained. */
      int fwd = a >= prev;
      if (fwd && s < done) s = done;
      for (; s < e; s += (uint64_t)line, lines++) line_op(s, opt);
      uint64_t eu = (e + (uint64_t)line - 1) & mask;
      if (!fwd || eu > done) done = eu;
      prev = a;
    }
  }
  fence();
  return lines;
}
