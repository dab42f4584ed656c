// Stand-in for the subset of Xilinx ap_int.h that flowfpga_engine uses, for plain g++ builds (no Vitis install).
// Faithful for W <= 64: values wrap modulo 2^W like the real types; range(hi, lo) reads and writes bit slices.
// ap_uint<128> (the 16-byte read bus word) supports construction and range(hi, lo) reads of up to 64 bits only.
// Not a copy of any Xilinx header; only what the engine needs.
#pragma once
#include <cstdint>
#include <type_traits>

template <int W, bool S> class ff_ap_base {
  static_assert(W >= 1 && W <= 64, "compat ap_int supports 1..64 bits");
  using U = uint64_t;
  static constexpr U mask() { return W == 64 ? ~U(0) : ((U(1) << W) - 1); }
  U v_ = 0;
  void set(U x) { v_ = x & mask(); }

 public:
  class range_ref {
    ff_ap_base &o_;
    int hi_, lo_;

   public:
    range_ref(ff_ap_base &o, int hi, int lo) : o_(o), hi_(hi), lo_(lo) {}
    operator uint64_t() const { return o_.get_range(hi_, lo_); }
    range_ref &operator=(uint64_t x) {
      o_.set_range(hi_, lo_, x);
      return *this;
    }
    uint64_t to_uint64() const { return o_.get_range(hi_, lo_); }
  };

  ff_ap_base() = default;
  template <typename T, typename = std::enable_if_t<std::is_integral<T>::value>>
  ff_ap_base(T x) { set(static_cast<U>(x)); }

  uint64_t get_range(int hi, int lo) const {
    const int n = hi - lo + 1;
    const U m = n >= 64 ? ~U(0) : ((U(1) << n) - 1);
    return (v_ >> lo) & m;
  }
  void set_range(int hi, int lo, uint64_t x) {
    const int n = hi - lo + 1;
    const U m = (n >= 64 ? ~U(0) : ((U(1) << n) - 1)) << lo;
    set((v_ & ~m) | ((x << lo) & m));
  }
  range_ref range(int hi, int lo) { return range_ref(*this, hi, lo); }
  uint64_t range(int hi, int lo) const { return get_range(hi, lo); }
  bool operator[](int i) const { return (v_ >> i) & 1; }

  uint64_t to_uint64() const { return v_; }
  int64_t to_int64() const {
    if (!S || W == 64) return static_cast<int64_t>(v_);
    const U sign = U(1) << (W - 1);
    return static_cast<int64_t>((v_ ^ sign) - sign);
  }
  // Implicit conversion to the natural C++ type, as the real ap_(u)int does for W <= 64.
  operator typename std::conditional<S, int64_t, uint64_t>::type() const {
    return static_cast<typename std::conditional<S, int64_t, uint64_t>::type>(S ? U(to_int64()) : v_);
  }
};

// The 128-bit unsigned word of a 16-byte read bus (FF_BUS_BYTES = 16): read-only slices of at most 64 bits, as the
// engine uses it (it only reads bus words from memory). Two little-endian 64-bit halves, so it has the memory layout
// of 16 consecutive bytes.
template <> class ff_ap_base<128, false> {
  uint64_t w_[2] = {0, 0};

 public:
  ff_ap_base() = default;
  template <typename T, typename = std::enable_if_t<std::is_integral<T>::value>>
  ff_ap_base(T x) : w_{static_cast<uint64_t>(x), 0} {}
  // Bits hi..lo (hi - lo < 64), as ap_uint<128>::range(hi, lo).to_uint64() returns them.
  struct slice {
    uint64_t v;
    uint64_t to_uint64() const { return v; }
    operator uint64_t() const { return v; }
  };
  slice range(int hi, int lo) const {
    const int n = hi - lo + 1;
    const uint64_t m = n >= 64 ? ~uint64_t(0) : ((uint64_t(1) << n) - 1);
    uint64_t v = lo >= 64 ? w_[1] >> (lo - 64) : (w_[0] >> lo) | (lo ? w_[1] << (64 - lo) : 0);
    return slice{v & m};
  }
  uint64_t to_uint64() const { return w_[0]; }
};
static_assert(sizeof(ff_ap_base<128, false>) == 16, "bus word is 16 bytes");

template <int W> using ap_uint = ff_ap_base<W, false>;
template <int W> using ap_int = ff_ap_base<W, true>;
