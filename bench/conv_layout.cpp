// Channels-last (NHWC, ingot's layout) against channels-first (NCHW,
// PyTorch's) for the two convolutions of the Fashion-MNIST CNN at batch 64,
// on one thread, with the same GEMM on both sides:
//   - forward: NHWC is ingot's conv_forward (im2col of blocks of pixels,
//     col[pixels, K] W^T; for the one-channel layer the few-tap loop that
//     reads a padded sample in place); NCHW is per sample an im2col into [K, pixels]
//     (each row a shifted copy of an image row) and W col, as Caffe and
//     PyTorch's slow path do;
//   - weight gradient: NHWC is ingot's conv_weight_grad (dY^T col over the
//     batch, or the few-tap loop); NCHW is per sample dY_s col_s^T added into dW;
//   - per-channel statistics (BatchNorm2d's forward): NHWC is column moments
//     over [batch pixels, channels], NCHW row moments over [batch channels,
//     pixels] (the per-sample rows' combination is left out, in NCHW's favour).
// The NCHW forward is checked against the NHWC one before timing.
//   bench_conv_layout [REPS]     medians of REPS repetitions (default 15)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

namespace {

using clock_type = std::chrono::steady_clock;

template <class F>
double median_seconds(int reps, F&& f) {
  f();  // warm-up: buffers touched, code in cache
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = clock_type::now();
    f();
    t.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

// col[(c KH + kh) KW + kw, oh OW + ow] of one CHW image, stride 1: each
// (tap, output row) is a shifted copy of an input row with zeros where the
// tap falls in the padding.
void im2col_chw(const simd::conv_geometry& g, const float* x, float* col) {
  const std::size_t OH = g.OH(), OW = g.OW(), P = OH * OW;
  for (std::size_t c = 0; c < g.C; ++c)
    for (std::size_t kh = 0; kh < g.KH; ++kh)
      for (std::size_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * P;
        const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(kw) - static_cast<std::ptrdiff_t>(g.PW);
        const std::size_t lo = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, -shift));
        const std::size_t hi = static_cast<std::size_t>(
            std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(g.W) - shift, 0, static_cast<std::ptrdiff_t>(OW)));
        for (std::size_t oh = 0; oh < OH; ++oh) {
          float* out = row + oh * OW;
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh + kh) - static_cast<std::ptrdiff_t>(g.PH);
          if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.H) || lo >= hi) {
            std::fill_n(out, OW, 0.0f);
            continue;
          }
          const float* in = x + (c * g.H + static_cast<std::size_t>(ih)) * g.W;
          std::fill_n(out, lo, 0.0f);
          std::copy_n(in + static_cast<std::ptrdiff_t>(lo) + shift, hi - lo, out + lo);
          std::fill_n(out + hi, OW - hi, 0.0f);
        }
      }
}

struct layer_times {
  double forward, weight_grad, moments;
};

int compare(const char* name, const simd::conv_geometry& g, std::size_t batch, int reps) {
  using blk = simd::gemm_blocking<float>;
  const std::size_t P = g.out_pixels(), K = g.K(), OC = g.OC, HWC = g.H * g.W * g.C;
  std::vector<float> x_hwc(batch * HWC), x_chw(batch * HWC), w_patch(OC * K), w_chw(OC * K);
  std::vector<float> y_hwc(batch * P * OC), y_chw(batch * P * OC), dw(OC * K), dw_tmp(OC * K);
  std::vector<float> mean(std::max(OC, batch * OC)), var(std::max(OC, batch * OC));
  aligned_buffer<float> scratch(simd::conv_scratch_size<float>(g)), col(K * P), pa(blk::pack_a_size),
      pb(blk::pack_b_size);
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
  };
  for (std::size_t s = 0; s < batch; ++s)
    for (std::size_t c = 0; c < g.C; ++c)
      for (std::size_t p = 0; p < g.H * g.W; ++p) {
        const float v = next();
        x_chw[(s * g.C + c) * g.H * g.W + p] = v;
        x_hwc[(s * g.H * g.W + p) * g.C + c] = v;
      }
  // The same weights in both patch orders: [OC, KH, KW, C] and [OC, C, KH, KW].
  for (std::size_t o = 0; o < OC; ++o)
    for (std::size_t c = 0; c < g.C; ++c)
      for (std::size_t t = 0; t < g.KH * g.KW; ++t) {
        const float v = next();
        w_chw[(o * g.C + c) * g.KH * g.KW + t] = v;
        w_patch[(o * g.KH * g.KW + t) * g.C + c] = v;
      }

  auto nhwc_forward = [&] { simd::conv_forward(g, batch, x_hwc.data(), w_patch.data(), y_hwc.data(), scratch.data(), {}); };
  auto nchw_forward = [&] {
    for (std::size_t s = 0; s < batch; ++s) {
      im2col_chw(g, x_chw.data() + s * HWC, col.data());
      simd::gemm<false, false>(OC, P, K, w_chw.data(), K, col.data(), P, y_chw.data() + s * OC * P, P, pa.data(),
                               pb.data());
    }
  };
  nhwc_forward();
  nchw_forward();
  double worst = 0;
  for (std::size_t s = 0; s < batch; ++s)
    for (std::size_t p = 0; p < P; ++p)
      for (std::size_t o = 0; o < OC; ++o)
        worst = std::max(worst, static_cast<double>(
                                    std::abs(y_hwc[(s * P + p) * OC + o] - y_chw[(s * OC + o) * P + p])));
  if (worst > 1e-4) {
    std::fprintf(stderr, "bench_conv_layout: %s: NCHW and NHWC forward differ by %g\n", name, worst);
    return 1;
  }
  // The forward outputs stand in for dY: the same shapes, the same values in both layouts.
  auto nhwc_wgrad = [&] { simd::conv_weight_grad(g, batch, x_hwc.data(), y_hwc.data(), dw.data(), scratch.data()); };
  auto nchw_wgrad = [&] {
    std::fill(dw.begin(), dw.end(), 0.0f);
    for (std::size_t s = 0; s < batch; ++s) {
      im2col_chw(g, x_chw.data() + s * HWC, col.data());
      simd::gemm<false, true>(OC, K, P, y_chw.data() + s * OC * P, P, col.data(), P, dw_tmp.data(), K, pa.data(),
                              pb.data());
      for (std::size_t i = 0; i < OC * K; ++i) dw[i] += dw_tmp[i];
    }
  };
  auto nhwc_moments = [&] { simd::column_moments(y_hwc.data(), batch * P, OC, mean.data(), var.data()); };
  auto nchw_moments = [&] { simd::row_moments(y_chw.data(), batch * OC, P, mean.data(), var.data()); };

  const layer_times nhwc{median_seconds(reps, nhwc_forward), median_seconds(reps, nhwc_wgrad),
                         median_seconds(reps, nhwc_moments)};
  const layer_times nchw{median_seconds(reps, nchw_forward), median_seconds(reps, nchw_wgrad),
                         median_seconds(reps, nchw_moments)};
  auto row = [&](const char* what, double a, double b) {
    std::printf("| %s | %s | %.3f | %.3f | %.2f |\n", name, what, a * 1e3, b * 1e3, b / a);
  };
  row("forward (im2col + GEMM)", nhwc.forward, nchw.forward);
  row("weight gradient", nhwc.weight_grad, nchw.weight_grad);
  row("per-channel mean and variance", nhwc.moments, nchw.moments);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  set_num_threads(1);
  const std::size_t batch = 64;
  std::printf("batch %zu, 1 thread, median of %d repetitions, ms\n\n", batch, reps);
  std::printf("| layer | pass | NHWC (ingot) | NCHW | NCHW / NHWC |\n|---|---|---|---|---|\n");
  const simd::conv_geometry conv1{1, 28, 28, 32, 3, 3, 1, 1, 1, 1};
  const simd::conv_geometry conv2{32, 14, 14, 64, 3, 3, 1, 1, 1, 1};
  if (compare("conv1 1→32, 28×28", conv1, batch, reps) != 0) return 1;
  return compare("conv2 32→64, 14×14", conv2, batch, reps);
}
