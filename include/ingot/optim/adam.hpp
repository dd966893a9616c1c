#pragma once
// torch.optim.Adam (amsgrad off), same update, one pass over the arena:
//   g = grad + weight_decay * p
//   m = m + (1 - beta1) (g - m)          (PyTorch's lerp form)
//   v = beta2 v + (1 - beta2) g^2
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in double, as PyTorch does in Python.
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>

#include "ingot/core/aligned.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::optim {

struct adam_options {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

class Adam {
 public:
  using options = adam_options;
  options opt;

  explicit Adam(options o = {}) : opt(o) {
    if (opt.lr < 0) throw std::invalid_argument("ingot::optim::Adam: negative learning rate");
    if (opt.beta1 < 0 || opt.beta1 >= 1 || opt.beta2 < 0 || opt.beta2 >= 1)
      throw std::invalid_argument("ingot::optim::Adam: betas must be in [0, 1)");
  }

  void attach(std::size_t n) {
    m_ = aligned_buffer<float>(n);
    v_ = aligned_buffer<float>(n);
    steps_ = 0;
  }

  void step(std::span<float> params, std::span<const float> grads) {
    ++steps_;
    const double t = static_cast<double>(steps_);
    const float step_size = static_cast<float>(opt.lr / (1.0 - std::pow(static_cast<double>(opt.beta1), t)));
    const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(opt.beta2), t)));
    const std::size_t n = params.size();
    float* p = params.data();
    const float* g = grads.data();
    float* m = m_.data();
    float* v = v_.data();
    auto update = [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(g + i);
      const U pi = simd::load<U>(p + i);
      if (opt.weight_decay != 0) gi = simd::fma(U(opt.weight_decay), pi, gi);
      U mi = simd::load<U>(m + i);
      mi = simd::fma(U(1 - opt.beta1), gi - mi, mi);
      const U vi = simd::fma(U(opt.beta2), simd::load<U>(v + i), U(1 - opt.beta2) * gi * gi);
      simd::store(m + i, mi);
      simd::store(v + i, vi);
      const U denom = simd::sqrt(vi) / U(bc2_sqrt) + U(opt.eps);
      simd::store(p + i, pi - U(step_size) * (mi / denom));
    };
    simd::for_each_batch<float>(n, update);
  }

  std::size_t steps() const { return steps_; }

 private:
  aligned_buffer<float> m_, v_;
  std::size_t steps_ = 0;
};

}  // namespace ingot::optim
