// The three products of a Dense layer at an MLP's shapes (batch x features,
// small M), timed one by one on the pool's threads: where a layer's time
// goes inside the GEMM, without the rest of the training step.
//
//   bench_gemm_shapes [THREADS] [BATCH]
//
// For each layer In -> Out of 784-256-128-10 and of 784-W-W-10 (W = 1024,
// 2048) it prints the median time of many runs of
//   forward  Y[B x Out]  = X[B x In] W^T        gemm<false, true>
//   dgrad    dX[B x In]  = dY[B x Out] W        gemm<false, false>
//   wgrad    dW[Out x In] = dY^T X              gemm<true, false>
// and the GFLOP/s each reaches.
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <span>
#include <vector>

#include "timing.hpp"

using namespace ingot;

namespace {

using ingot_bench::timing;

// Median and fastest of 15 samples of about 20 ms each.
template <class F>
timing time_product(F&& run) {
  return ingot_bench::time_calls(run, 15, 0.02);
}

void layer(std::size_t batch, std::size_t in, std::size_t out) {
  using blk = simd::gemm_blocking<float>;
  aligned_buffer<float> x(batch * in), w(out * in), y(batch * out), dy(batch * out), dx(batch * in), dw(out * in);
  aligned_buffer<float> pa(blk::pack_a_size), pb(blk::pack_b_size);
  rng g(1);
  g.fill_normal(std::span<float>(x.data(), x.size()));
  g.fill_normal(std::span<float>(w.data(), w.size()));
  g.fill_normal(std::span<float>(dy.data(), dy.size()));
  const double flops = 2.0 * static_cast<double>(batch * in * out);
  const timing t[3] = {
      time_product([&] {
        simd::gemm<false, true>(batch, out, in, x.data(), in, w.data(), in, y.data(), out, pa.data(), pb.data());
      }),
      time_product([&] {
        simd::gemm<false, false>(batch, in, out, dy.data(), out, w.data(), in, dx.data(), in, pa.data(), pb.data());
      }),
      time_product([&] {
        simd::gemm<true, false>(out, in, batch, dy.data(), out, x.data(), in, dw.data(), in, pa.data(), pb.data());
      }),
  };
  std::printf("| %zu -> %zu |", in, out);
  for (const timing& p : t)
    std::printf(" %.1f (%.0f) / %.1f (%.0f) |", p.median * 1e6, flops / p.median * 1e-9, p.best * 1e6,
                flops / p.best * 1e-9);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t threads = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1;
  const std::size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  set_num_threads(threads);
  std::printf("batch %zu, %zu thread(s); µs (GFLOP/s): median / fastest of 15 samples\n\n", batch, get_num_threads());
  std::printf("| layer | forward X W^T | dgrad dY W | wgrad dY^T X |\n|---|---|---|---|\n");
  layer(batch, 784, 256);
  layer(batch, 256, 128);
  layer(batch, 784, 1024);
  layer(batch, 1024, 1024);
  layer(batch, 2048, 2048);
  return 0;
}
