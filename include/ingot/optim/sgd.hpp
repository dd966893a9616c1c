#pragma once
// torch.optim.SGD, same update, one pass over the flat parameter arena:
//   g = grad + weight_decay * p
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = g + momentum * buf (nesterov) or buf (momentum != 0)
//   p = p - lr * g
#include <cstddef>
#include <span>
#include <stdexcept>

#include "ingot/core/aligned.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::optim {

struct sgd_options {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

class SGD {
 public:
  using options = sgd_options;
  options opt;

  explicit SGD(options o = {}) : opt(o) {
    if (opt.lr < 0) throw std::invalid_argument("ingot::optim::SGD: negative learning rate");
    if (opt.nesterov && (opt.momentum <= 0 || opt.dampening != 0))
      throw std::invalid_argument("ingot::optim::SGD: nesterov needs momentum > 0 and dampening = 0");
  }

  // Sizes the state for an arena of n values (called once, not per step).
  void attach(std::size_t n) {
    if (opt.momentum != 0) buf_ = aligned_buffer<float>(n);
    steps_ = 0;
  }

  void step(std::span<float> params, std::span<const float> grads) {
    const std::size_t n = params.size();
    float* p = params.data();
    const float* g = grads.data();
    float* b = buf_.data();
    const bool first = steps_++ == 0;
    const bool use_momentum = opt.momentum != 0;
    auto update = [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(g + i);
      if (opt.weight_decay != 0) gi = simd::fma(U(opt.weight_decay), simd::load<U>(p + i), gi);
      if (use_momentum) {
        U bi = first ? gi : simd::fma(U(opt.momentum), simd::load<U>(b + i), U(1 - opt.dampening) * gi);
        simd::store(b + i, bi);
        gi = opt.nesterov ? simd::fma(U(opt.momentum), bi, gi) : bi;
      }
      simd::store(p + i, simd::fma(U(-opt.lr), gi, simd::load<U>(p + i)));
    };
    simd::for_each_batch<float>(n, update);
  }

  std::size_t steps() const { return steps_; }

 private:
  aligned_buffer<float> buf_;
  std::size_t steps_ = 0;
};

}  // namespace ingot::optim
