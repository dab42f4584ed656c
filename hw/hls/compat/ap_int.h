// Stand-in for the subset of Xilinx ap_int.h that flowfpga_engine uses, for plain g++ builds (no Vitis install).
// Faithful for W <= 64: values wrap modulo 2^W like the real types; range(hi, lo) reads and writes bit slices.
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

template <int W> using ap_uint = ff_ap_base<W, false>;
template <int W> using ap_int = ff_ap_base<W, true>;
