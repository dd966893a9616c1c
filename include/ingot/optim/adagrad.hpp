#pragma once
// torch.optim.Adagrad, same update, one pass over each parameter:
//   g = grad + weight_decay * p
//   clr = lr / (1 + (t - 1) lr_decay)
//   sum = sum + g^2                      (starts at initial_accumulator_value)
//   p = p - clr g / (sqrt(sum) + eps)
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/optim/optimizer.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::optim {

struct adagrad_options {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};

class Adagrad : public optimizer<Adagrad> {
 public:
  using options = adagrad_options;
  options opt;

  explicit Adagrad(options o = {}, std::vector<param_group> groups = {})
      : optimizer<Adagrad>("ingot::optim::Adagrad", o.lr, o.weight_decay, std::move(groups)), opt(o) {
    if (!(opt.lr_decay >= 0)) throw std::invalid_argument("ingot::optim::Adagrad: invalid lr_decay");
    if (!(opt.initial_accumulator_value >= 0))
      throw std::invalid_argument("ingot::optim::Adagrad: invalid initial_accumulator_value");
    if (!(opt.eps >= 0)) throw std::invalid_argument("ingot::optim::Adagrad: invalid eps");
  }

  std::vector<std::string> state_keys() const { return {"sum"}; }
  template <class T>
  void on_attach_values(T*) {
    fill_state<T>(0, static_cast<T>(opt.initial_accumulator_value));
  }

  template <class T>
  void update(const segment<T>& s, const group_state& g) {
    T *p = s.param, *sum = s.state[0];
    const T* gr = s.grad;
    const double t = static_cast<double>(steps());
    const T clr = static_cast<T>(g.lr / (1 + (t - 1) * opt.lr_decay));
    const T wd = static_cast<T>(g.weight_decay), eps = static_cast<T>(opt.eps);
    const bool decay = g.weight_decay != 0;
    simd::for_each_batch<T>(s.size, [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(gr + i);
      const U pi = simd::load<U>(p + i);
      if (decay) gi = simd::fma(U(wd), pi, gi);
      const U si = simd::fma(gi, gi, simd::load<U>(sum + i));
      simd::store(sum + i, si);
      simd::store(p + i, simd::fma(U(-clr), gi / (simd::sqrt(si) + U(eps)), pi));
    });
  }
};

INGOT_INSTANTIATE_OPTIMIZER(Adagrad)

}  // namespace ingot::optim
