#pragma once
// torch.optim.RMSprop, same update, one pass over each parameter:
//   g = grad + weight_decay * p
//   sq = alpha sq + (1 - alpha) g^2
//   centered: ga = ga + (1 - alpha) (g - ga);  avg = sqrt(sq - ga^2) + eps
//   else:     avg = sqrt(sq) + eps
//   momentum > 0: buf = momentum buf + g / avg;  p = p - lr buf
//   else:         p = p - lr g / avg
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/optim/optimizer.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::optim {

struct rmsprop_options {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

class RMSprop : public optimizer<RMSprop> {
 public:
  using options = rmsprop_options;
  options opt;

  explicit RMSprop(options o = {}, std::vector<param_group> groups = {})
      : optimizer<RMSprop>("ingot::optim::RMSprop", o.lr, o.weight_decay, std::move(groups)), opt(o) {
    if (!(opt.alpha >= 0)) throw std::invalid_argument("ingot::optim::RMSprop: invalid alpha");
    if (!(opt.eps >= 0)) throw std::invalid_argument("ingot::optim::RMSprop: invalid eps");
    if (!(opt.momentum >= 0)) throw std::invalid_argument("ingot::optim::RMSprop: invalid momentum");
    set_default_momentum(opt.momentum);
  }

  std::vector<std::string> state_keys() const { return {"square_avg", "momentum_buffer", "grad_avg"}; }

  template <class T>
  void update(const segment<T>& s, const group_state& g) {
    T *p = s.param, *sq = s.state[0], *buf = s.state[1], *ga = s.state[2];
    const T* gr = s.grad;
    const T lr = static_cast<T>(g.lr), wd = static_cast<T>(g.weight_decay), a = static_cast<T>(opt.alpha),
            ac = static_cast<T>(1 - opt.alpha), eps = static_cast<T>(opt.eps), mom = static_cast<T>(g.momentum);
    const bool decay = g.weight_decay != 0, centered = opt.centered, use_momentum = g.momentum > 0;
    simd::for_each_batch<T>(s.size, [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(gr + i);
      const U pi = simd::load<U>(p + i);
      if (decay) gi = simd::fma(U(wd), pi, gi);
      const U sqi = simd::fma(U(a), simd::load<U>(sq + i), U(ac) * gi * gi);
      simd::store(sq + i, sqi);
      U avg;
      if (centered) {
        U gai = simd::load<U>(ga + i);
        gai = simd::fma(U(ac), gi - gai, gai);
        simd::store(ga + i, gai);
        avg = simd::sqrt(sqi - gai * gai) + U(eps);
      } else {
        avg = simd::sqrt(sqi) + U(eps);
      }
      if (use_momentum) {
        const U bi = simd::fma(U(mom), simd::load<U>(buf + i), gi / avg);
        simd::store(buf + i, bi);
        simd::store(p + i, simd::fma(U(-lr), bi, pi));
      } else {
        simd::store(p + i, simd::fma(U(-lr), gi / avg, pi));
      }
    });
  }
};

INGOT_INSTANTIATE_OPTIMIZER(RMSprop)

}  // namespace ingot::optim
