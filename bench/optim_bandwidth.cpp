// The optimizer passes against the machine's memory bandwidth: each
// optimizer's step over n float parameters, as GB/s of the arrays it reads
// and writes, beside a STREAM-style triad (a = b + s c) over the same
// number of bytes per array.
//
//   bench_optim_bandwidth [THREADS]
//
// Bytes are counted as STREAM counts them: every array element read or
// written once, 4 bytes each (write-allocate traffic not counted), so the
// triad moves 12 bytes per element and Adam 28 (reads p, g, m, v; writes p,
// m, v). The triad writes an array it does not read, which costs a read of
// each line before it is written; an optimizer updates its arrays in place
// and does not pay it, so it can pass 100% of the triad figure (a triad
// written in place is the second reference row). Two sizes: the Fashion-MNIST MLP's 235,146 parameters (its arrays
// live in L3) and 16M parameters (in DRAM).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <span>
#include <string>
#include <vector>

#include "timing.hpp"

using namespace ingot;

namespace {

using ingot_bench::timing;

// Median and fastest of 11 samples of at least 50 ms of repeated calls.
template <class F>
timing time_pass(F&& run) {
  return ingot_bench::time_calls(run, 11, 0.05);
}

void row(const std::string& name, std::size_t arrays, std::size_t n, timing t, double triad_gbs) {
  const double bytes = 4.0 * static_cast<double>(arrays * n);
  const double gbs = bytes / t.median * 1e-9;
  std::printf("| %s | %zu | %.1f | %.1f | %.0f%% |\n", name.c_str(), arrays, t.median * 1e6, gbs,
              triad_gbs > 0 ? 100.0 * gbs / triad_gbs : 100.0);
}

// a = b + s c (STREAM's triad) over the pool's threads, each thread its own contiguous slice
// (as the optimizer's step splits its parameters).
double triad(std::size_t n) {
  aligned_buffer<float> a(n), b(n), c(n);
  std::fill(b.data(), b.data() + n, 1.0f);
  std::fill(c.data(), c.data() + n, 2.0f);
  const float s = 0.5f;
  const timing t = time_pass([&] {
    pool().run([&](std::size_t th, std::size_t all) {
      const thread_range r = share(n, th, all, 64);
      float* pa = a.data();
      const float *pb = b.data(), *pc = c.data();
      for (std::size_t i = r.begin; i < r.end; ++i) pa[i] = pb[i] + s * pc[i];
    });
  });
  const double gbs = 12.0 * static_cast<double>(n) / t.median * 1e-9;
  std::printf("| triad a = b + s c | 3 | %.1f | %.1f | 100%% |\n", t.median * 1e6, gbs);
  // The same arithmetic written over one of its inputs, as an optimizer
  // writes its parameters and state: no line is fetched only to be
  // overwritten, so it moves 3/4 of the triad's real traffic.
  const timing u = time_pass([&] {
    pool().run([&](std::size_t th, std::size_t all) {
      const thread_range r = share(n, th, all, 64);
      float* pb = b.data();
      const float* pc = c.data();
      for (std::size_t i = r.begin; i < r.end; ++i) pb[i] = pb[i] + s * pc[i];
    });
  });
  row("in place b = b + s c", 3, n, u, gbs);
  return gbs;
}

template <class O>
void optimizer_row(const std::string& name, O opt, std::size_t arrays, std::size_t n, double triad_gbs) {
  opt.template attach<float>(n);
  std::vector<float> p(n), g(n);
  rng r(3);
  r.fill_uniform(std::span<float>(p), -0.1, 0.1);
  r.fill_uniform(std::span<float>(g), -1e-2, 1e-2);
  row(name, arrays, n, time_pass([&] { opt.template step<float>(p, g); }), triad_gbs);
}

void sizes(std::size_t n) {
  std::printf("\n%zu parameters (%.1f MB per array), %zu thread(s); µs per step (median of 11)\n\n", n,
              4.0 * static_cast<double>(n) * 1e-6, get_num_threads());
  std::printf("| pass | arrays | µs | GB/s | of triad |\n|---|---|---|---|---|\n");
  const double t = triad(n);
  optimizer_row("SGD", optim::SGD{{.lr = 0.01}}, 3, n, t);
  optimizer_row("SGD momentum 0.9", optim::SGD{{.lr = 0.01, .momentum = 0.9}}, 5, n, t);
  optimizer_row("Adam", optim::Adam{{.lr = 1e-3}}, 7, n, t);
  optimizer_row("AdamW", optim::AdamW{{.lr = 1e-3}}, 7, n, t);
  optimizer_row("Adam amsgrad", optim::Adam{{.lr = 1e-3, .amsgrad = true}}, 9, n, t);
  optimizer_row("RMSprop", optim::RMSprop{{.lr = 1e-2}}, 5, n, t);
  optimizer_row("RMSprop momentum centered", optim::RMSprop{{.lr = 1e-2, .momentum = 0.9, .centered = true}}, 9, n, t);
  optimizer_row("Adagrad", optim::Adagrad{{.lr = 1e-2}}, 5, n, t);
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0);
  // The workers' share runs with denormals flushed, like training does.
  simd::flush_denormals_scope flush(true);
  sizes(235146);
  sizes(std::size_t{16} << 20);
  return 0;
}
