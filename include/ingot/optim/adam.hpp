#pragma once
// torch.optim.Adam and torch.optim.AdamW, same update, one pass over each
// parameter:
//   AdamW: p = p (1 - lr weight_decay)          (decoupled weight decay)
//   Adam:  g = grad + weight_decay * p          (L2 in the gradient)
//   m = m + (1 - beta1) (g - m)                 (PyTorch's lerp form)
//   v = beta2 v + (1 - beta2) g^2
//   amsgrad: v_max = max(v_max, v), used for v below
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections are computed in double, as PyTorch does in Python.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/optim/optimizer.hpp"
#include "ingot/simd/math.hpp"
#include "ingot/simd/divide.hpp"

namespace ingot::optim {

struct adam_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};
// AdamW's defaults differ from Adam's only in weight_decay (1e-2).
struct adamw_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

namespace detail {
template <class Derived, bool Decoupled>
class adam_family : public optimizer<Derived> {
  using base = optimizer<Derived>;

 public:
  adam_options opt;

  adam_family(const char* name, adam_options o, std::vector<param_group> groups)
      : base(name, o.lr, o.weight_decay, std::move(groups)), opt(o) {
    if (!(opt.beta1 >= 0 && opt.beta1 < 1) || !(opt.beta2 >= 0 && opt.beta2 < 1))
      throw std::invalid_argument(std::string(name) + ": betas must be in [0, 1)");
    if (!(opt.eps >= 0)) throw std::invalid_argument(std::string(name) + ": invalid eps");
    this->set_default_momentum(opt.beta1);
  }

  std::vector<std::string> state_keys() const {
    if (opt.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
  }

  template <class T>
  void update(const segment<T>& s, const group_state& g) {
    const double t = static_cast<double>(this->steps());
    const double beta1 = g.momentum;  // a schedule may cycle it (OneCycleLR)
    const T step_size = static_cast<T>(g.lr / (1.0 - std::pow(beta1, t)));
    const simd::exact_divisor<T> bc2(static_cast<T>(std::sqrt(1.0 - std::pow(opt.beta2, t))));
    const T b1c = static_cast<T>(1 - beta1), b2 = static_cast<T>(opt.beta2), b2c = static_cast<T>(1 - opt.beta2),
            eps = static_cast<T>(opt.eps), wd = static_cast<T>(g.weight_decay);
    const T shrink = static_cast<T>(1 - g.lr * g.weight_decay);
    const bool decay = g.weight_decay != 0, amsgrad = opt.amsgrad;
    T *p = s.param, *m = s.state[0], *v = s.state[1], *vmax = s.state[2];
    const T* gr = s.grad;
    simd::for_each_batch<T>(s.size, [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(gr + i);
      U pi = simd::load<U>(p + i);
      if constexpr (Decoupled) {
        if (decay) pi = pi * U(shrink);
      } else {
        if (decay) gi = simd::fma(U(wd), pi, gi);
      }
      U mi = simd::load<U>(m + i);
      mi = simd::fma(U(b1c), gi - mi, mi);
      U vi = simd::fma(U(b2), simd::load<U>(v + i), U(b2c) * gi * gi);
      simd::store(m + i, mi);
      simd::store(v + i, vi);
      if (amsgrad) {
        vi = simd::max(simd::load<U>(vmax + i), vi);
        simd::store(vmax + i, vi);
      }
      // sqrt(v) / sqrt(1 - beta2^t) as torch divides, without a division.
      const U denom = bc2.divide(simd::sqrt(vi)) + U(eps);
      simd::store(p + i, pi - U(step_size) * (mi / denom));
    });
  }
};
}  // namespace detail

class Adam : public detail::adam_family<Adam, false> {
 public:
  using options = adam_options;
  explicit Adam(options o = {}, std::vector<param_group> groups = {})
      : adam_family("ingot::optim::Adam", o, std::move(groups)) {}
};

class AdamW : public detail::adam_family<AdamW, true> {
 public:
  using options = adamw_options;
  explicit AdamW(options o = {}, std::vector<param_group> groups = {})
      : adam_family("ingot::optim::AdamW",
                    {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
                     .amsgrad = o.amsgrad},
                    std::move(groups)) {}
};

INGOT_INSTANTIATE_OPTIMIZER(Adam)
INGOT_INSTANTIATE_OPTIMIZER(AdamW)

}  // namespace ingot::optim
