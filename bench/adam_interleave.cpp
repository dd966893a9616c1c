// Could Adam's pass hide inside a GEMM on the same core? The micro-kernel
// keeps the FMA pipes busy and leaves the divider, some load and store slots
// and the add pipes idle; Adam's pass needs the divider (a square root and
// a division per value) and streams seven arrays. This program times, on
// one thread:
//   - a run of register-tile products (6 x 2 vectors over k = 256, packed
//     operands in L1 and L2, as simd/gemm.hpp's packed micro-kernel),
//   - Adam's pass over n parameters (the operations of optim/adam.hpp's
//     update: lerp of m, v, square root, the bias correction by
//     simd::exact_divisor, eps, division),
//   - both interleaved: one vector of Adam after every S steps of k in the
//     tiles, S = 1..4, and whatever is left of Adam after the tiles.
// If the interleaved time fell well below the sum, fusing the optimizer
// into the step's products would pay.
//
//   bench_adam_interleave [PARAMETERS] [TILES]
//
// Defaults: the Fashion-MNIST MLP's 235,146 parameters and 400 tiles (about
// four times Adam's time in multiply-adds; every S up to 4 then runs all of
// Adam inside the tiles).
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <string>

#include "timing.hpp"

using namespace ingot;

namespace {

using T = float;
using V = simd::vec<T>;
constexpr std::size_t W = simd::width<T>;
constexpr std::size_t MR = simd::gemm_blocking<T>::MR;
constexpr std::size_t KC = 256;

// Adam's arrays and the next vector to update.
struct adam_stream {
  T *p, *m, *v;
  const T* g;
  std::size_t next, n;
  simd::exact_divisor<T> bc2;
};

// One vector of Adam at step 10 with lr 1e-3, betas (0.9, 0.999), eps 1e-8.
inline void adam_vector(adam_stream& s) {
  const T b1c = T(0.1), b2 = T(0.999), b2c = T(0.001), eps = T(1e-8), step_size = T(1e-3 / (1 - 0.3486784401));
  const std::size_t i = s.next;
  const V gi = V::load_aligned(s.g + i);
  const V pi = V::load_aligned(s.p + i);
  V mi = V::load_aligned(s.m + i);
  mi = xsimd::fma(V(b1c), gi - mi, mi);
  const V vi = xsimd::fma(V(b2), V::load_aligned(s.v + i), V(b2c) * gi * gi);
  mi.store_aligned(s.m + i);
  vi.store_aligned(s.v + i);
  const V denom = s.bc2.divide(xsimd::sqrt(vi)) + V(eps);
  (pi - V(step_size) * (mi / denom)).store_aligned(s.p + i);
  s.next = i + W;
}

// An MR x 2W tile over kc steps of packed A (MR values per k) and packed B
// (2W values per k), added to c; with Every > 0, one Adam vector after
// every Every steps of k while the stream lasts.
template <std::size_t Every>
[[gnu::noinline]] void tile(const T* pa, const T* pb, T* c, adam_stream* side) {
  V acc0[MR], acc1[MR];
  for (std::size_t r = 0; r < MR; ++r) acc0[r] = acc1[r] = V(T(0));
  for (std::size_t k = 0; k < KC; ++k) {
    const V b0 = V::load_aligned(pb + 2 * W * k), b1 = V::load_aligned(pb + 2 * W * k + W);
#pragma GCC unroll 6
    for (std::size_t r = 0; r < MR; ++r) {
      const V a(pa[MR * k + r]);
      acc0[r] = xsimd::fma(a, b0, acc0[r]);
      acc1[r] = xsimd::fma(a, b1, acc1[r]);
    }
    if constexpr (Every > 0) {
      if (k % Every == 0 && side->next < side->n) adam_vector(*side);
    }
  }
  for (std::size_t r = 0; r < MR; ++r) {
    (acc0[r] + V::load_aligned(c + 2 * W * r)).store_aligned(c + 2 * W * r);
    (acc1[r] + V::load_aligned(c + 2 * W * r + W)).store_aligned(c + 2 * W * r + W);
  }
}

[[gnu::noinline]] void adam_rest(adam_stream& s) {
  while (s.next < s.n) adam_vector(s);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = (argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 235146) / W * W;
  const std::size_t tiles = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 400;
  constexpr std::size_t a_panels = 8;
  aligned_buffer<T> pa(a_panels * MR * KC), pb(2 * W * KC), c(MR * 2 * W);
  for (std::size_t i = 0; i < pa.size(); ++i) pa.data()[i] = T(1e-3) * static_cast<T>(i % 7);
  for (std::size_t i = 0; i < pb.size(); ++i) pb.data()[i] = T(1e-3) * static_cast<T>(i % 5);
  aligned_buffer<T> p(n), m(n), v(n), g(n);
  for (std::size_t i = 0; i < n; ++i) {
    p.data()[i] = T(0.5);
    m.data()[i] = T(0.01);
    v.data()[i] = T(1e-4);
    g.data()[i] = T(0.02) * static_cast<T>(1 + i % 3);  // never zero: m and v stay normal over many passes
  }
  const simd::exact_divisor<T> bc2(static_cast<T>(std::sqrt(1 - std::pow(0.999, 10))));
  auto stream = [&] { return adam_stream{p.data(), m.data(), v.data(), g.data(), 0, n, bc2}; };
  auto tiles_with = [&]<std::size_t Every>(adam_stream* side) {
    for (std::size_t t = 0; t < tiles; ++t) tile<Every>(pa.data() + (t % a_panels) * MR * KC, pb.data(), c.data(), side);
  };

  auto time = [](auto&& run) { return ingot_bench::time_calls(run, 11, 0.05); };
  const auto gemm = time([&] { tiles_with.template operator()<0>(nullptr); });
  const auto adam = time([&] {
    adam_stream s = stream();
    adam_rest(s);
  });
  std::printf("\n%zu parameters, %zu tiles of %zu x %zu over k = %zu, one thread; µs (median / fastest of 11)\n\n", n,
              tiles, MR, 2 * W, KC);
  std::printf("| run | µs | saved against the sum |\n|---|---|---|\n");
  std::printf("| tiles alone | %.1f / %.1f | |\n", gemm.median * 1e6, gemm.best * 1e6);
  std::printf("| Adam alone | %.1f / %.1f | |\n", adam.median * 1e6, adam.best * 1e6);
  const double sum = (gemm.median + adam.median) * 1e6;
  std::printf("| sum | %.1f | |\n", sum);
  auto interleaved = [&]<std::size_t Every>() {
    const auto both = time([&] {
      adam_stream s = stream();
      tiles_with.template operator()<Every>(&s);
      adam_rest(s);
    });
    const double saved = sum - both.median * 1e6;
    std::printf("| one Adam vector every %zu k | %.1f / %.1f | %.1f µs (%.0f%% of Adam's time) |\n", Every,
                both.median * 1e6, both.best * 1e6, saved, 100 * saved / (adam.median * 1e6));
  };
  interleaved.template operator()<1>();
  interleaved.template operator()<2>();
  interleaved.template operator()<3>();
  interleaved.template operator()<4>();
  std::printf("\n(checksum %g)\n", static_cast<double>(c.data()[5] + p.data()[7]));
}
