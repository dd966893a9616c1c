#pragma once
// torch.optim.SGD, same update, one pass over each parameter:
//   g = grad + weight_decay * p
//   buf = g the first time momentum is used, else momentum * buf + (1 - dampening) * g
//   g = g + momentum * buf (nesterov) or buf (momentum != 0)
//   p = p - lr * g
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/optim/optimizer.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::optim {

struct sgd_options {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public optimizer<SGD> {
 public:
  using options = sgd_options;
  options opt;

  explicit SGD(options o = {}, std::vector<param_group> groups = {})
      : optimizer<SGD>("ingot::optim::SGD", o.lr, o.weight_decay, std::move(groups)), opt(o) {
    if (!(opt.momentum >= 0)) throw std::invalid_argument("ingot::optim::SGD: invalid momentum");
    if (opt.nesterov && (opt.momentum <= 0 || opt.dampening != 0))
      throw std::invalid_argument("ingot::optim::SGD: nesterov needs momentum > 0 and dampening = 0");
    set_default_momentum(opt.momentum);
  }

  // The buffer always exists, so that a schedule may turn momentum on later
  // (OneCycleLR does); torch's first use of it copies the gradient.
  std::vector<std::string> state_keys() const { return {"momentum_buffer"}; }
  template <class T>
  void on_attach_values(T*) {
    started_.assign(params().size(), false);
  }
  // Marks the buffers as holding momentum (after loading them from a checkpoint).
  void set_momentum_started(bool started) { started_.assign(params().size(), started); }
  // A parameter's buffer holds momentum once a step with momentum updated it
  // (marked after the pass: its slices may run on several threads).
  void after_step() {
    for (std::size_t p = 0; p < params().size(); ++p)
      if (groups_[group_of_[p]].momentum != 0) started_[p] = true;
  }

  template <class T>
  void update(const segment<T>& s, const group_state& g) {
    T* p = s.param;
    const T* gr = s.grad;
    T* b = s.state[0];
    const bool use_momentum = g.momentum != 0;
    const bool first = use_momentum && !started_[s.index];
    const T lr = static_cast<T>(g.lr), wd = static_cast<T>(g.weight_decay), mom = static_cast<T>(g.momentum),
            keep = static_cast<T>(1 - opt.dampening);
    const bool decay = g.weight_decay != 0, nesterov = opt.nesterov;
    simd::for_each_batch<T>(s.size, [&]<class U>(std::size_t i) {
      U gi = simd::load<U>(gr + i);
      if (decay) gi = simd::fma(U(wd), simd::load<U>(p + i), gi);
      if (use_momentum) {
        const U bi = first ? gi : simd::fma(U(mom), simd::load<U>(b + i), U(keep) * gi);
        simd::store(b + i, bi);
        gi = nesterov ? simd::fma(U(mom), bi, gi) : bi;
      }
      simd::store(p + i, simd::fma(U(-lr), gi, simd::load<U>(p + i)));
    });
  }

 private:
  std::vector<bool> started_;
};

INGOT_INSTANTIATE_OPTIMIZER(SGD)

}  // namespace ingot::optim
