#pragma once
// Losses as expression builders, each with the target leaf it reads. Their
// gradients come from expr::grad. Every loss takes PyTorch's reduction:
// mean (the default) or sum. Options that change the expression's structure
// (label smoothing, probability targets) are template arguments; tensors a
// loss holds at run time (class weights, pos_weight) live in the loss object
// and are bound to the plan by the Trainer.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ingot/expr/operators.hpp"

namespace ingot::loss {

enum class reduction { mean, sum };
inline constexpr reduction mean = reduction::mean;
inline constexpr reduction sum = reduction::sum;

namespace detail {
template <reduction R, expr::node E>
constexpr auto reduce(E e) {
  if constexpr (R == reduction::mean) return expr::mean(e);
  else return expr::sum(e);
}
template <std::size_t C, class Labels>
using onehot = expr::ew<expr::onehot_op<C>, Labels>;
// Run-time tensors of a loss: a [1, C] leaf the Trainer points at the
// loss object's values.
template <fixed_string Name, std::size_t C>
using loss_tensor = expr::param_leaf<Name, 1, C, false>;

// What every loss of float targets (one per output column) states.
template <reduction R>
struct float_target {
  static constexpr reduction reduce_mode = R;
  template <class Y>
  using target_leaf = expr::data_leaf<"target", Y::shape::cols>;
  using target_value = float;
};

template <class Plan, class Leaf>
void bind_tensor(Plan& plan, const std::vector<float>& values, std::size_t classes, const char* what) {
  static_assert(std::is_same_v<typename Plan::value_type, float>,
                "ingot: a loss with run-time weights takes a float model");
  if (values.size() != classes)
    throw std::invalid_argument(std::string(what) + " has " + std::to_string(values.size()) +
                                " values; the model has " + std::to_string(classes) + " outputs");
  plan.template bind<Leaf>(values.data());
}
}  // namespace detail

// nn.MSELoss: (y - t)^2, reduced.
template <reduction R = mean>
struct MSE : detail::float_target<R> {
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) { return detail::reduce<R>(expr::square(y - t)); }
};

// nn.L1Loss: |y - t|, reduced (the gradient at y == t is 0, as torch's).
template <reduction R = mean>
struct L1 : detail::float_target<R> {
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) { return detail::reduce<R>(expr::abs(y - t)); }
};

// nn.SmoothL1Loss(beta): 0.5 d^2 / beta where |d| < beta, else |d| - beta / 2
// (beta = 0 is L1, as in torch).
template <double Beta = 1.0, reduction R = mean>
struct SmoothL1 : detail::float_target<R> {
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    if constexpr (Beta == 0) return detail::reduce<R>(expr::abs(y - t));
    else return detail::reduce<R>(expr::smooth_l1<Beta>(y - t));
  }
};

// nn.HuberLoss(delta): 0.5 d^2 where |d| < delta, else delta (|d| - delta / 2).
template <double Delta = 1.0, reduction R = mean>
struct Huber : detail::float_target<R> {
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) { return detail::reduce<R>(expr::huber<Delta>(y - t)); }
};

// nn.BCELoss on probabilities: -(t log y + (1 - t) log(1 - y)). Unlike
// PyTorch it does not clamp the logarithms at -100 (BCEWithLogits is the
// stable form).
template <reduction R = mean>
struct BCE : detail::float_target<R> {
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    using expr::lit;
    return detail::reduce<R>(-(t * expr::log(y) + (lit<1.0> - t) * expr::log(lit<1.0> - y)));
  }
};

// nn.BCEWithLogitsLoss on logits x, stable for any x:
//   softplus(x) - t x                                  (no pos_weight)
//   (1 - t) x + ((p - 1) t + 1) softplus(-x)           (pos_weight p, one per output)
// The gradient is sigmoid(x) - t (weighted), with no overflow.
template <reduction R = mean, bool PosWeight = false>
struct BCEWithLogits : detail::float_target<R> {
  std::vector<float> pos_weight;  // with PosWeight: one per output column

  BCEWithLogits() = default;
  BCEWithLogits(std::vector<float> weights) : pos_weight(std::move(weights)) {}  // as {pos_weight}, like the other losses

  template <class Y>
  using pos_weight_leaf = detail::loss_tensor<"loss.pos_weight", Y::shape::cols>;
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    using expr::lit;
    if constexpr (!PosWeight) {
      return detail::reduce<R>(expr::softplus(y) - t * y);
    } else {
      const pos_weight_leaf<Y> p{};
      return detail::reduce<R>((lit<1.0> - t) * y + ((p - lit<1.0>) * t + lit<1.0>) * expr::softplus(-y));
    }
  }
  template <class Y, class Plan>
  void bind(Plan& plan) const {
    if constexpr (PosWeight)
      detail::bind_tensor<Plan, pos_weight_leaf<Y>>(plan, pos_weight, Y::shape::cols, "loss::BCEWithLogits pos_weight");
  }
};

// nn.NLLLoss on log-probabilities with integer labels: -y[i, label_i],
// reduced; with Weighted, each row counts w[label_i] and the mean divides by
// the sum of those weights, as torch's.
template <reduction R = mean, bool Weighted = false>
struct NLL {
  static constexpr reduction reduce_mode = R;
  std::vector<float> weight;  // with Weighted: one per class

  template <class Y>
  using target_leaf = expr::labels_leaf<"target">;
  using target_value = std::int32_t;
  template <class Y>
  using weight_leaf = detail::loss_tensor<"loss.weight", Y::shape::cols>;
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    static_assert(Y::shape::batched, "ingot: NLL takes a batch of log-probabilities");
    (void)t;  // the labels enter through the one-hot's type
    const detail::onehot<Y::shape::cols, Tg> hot{};
    const auto picked = expr::sum<1>(expr::hadamard(hot, y));  // y[i, label_i], one per row
    if constexpr (!Weighted) {
      return -detail::reduce<R>(picked);
    } else {
      const auto w = expr::sum<1>(hot * weight_leaf<Y>{});  // w[label_i]
      const auto total = -expr::sum(expr::hadamard(w, picked));
      if constexpr (R == reduction::mean) return total / expr::sum(w);
      else return total;
    }
  }
  template <class Y, class Plan>
  void bind(Plan& plan) const {
    if constexpr (Weighted) detail::bind_tensor<Plan, weight_leaf<Y>>(plan, weight, Y::shape::cols, "loss::NLL weight");
  }
};

// nn.CrossEntropyLoss's options that shape the expression.
struct ce_options {
  double label_smoothing = 0;  // in [0, 1]
  bool probabilities = false;  // float class probabilities as targets instead of labels
  bool weighted = false;       // per-class weights, given at run time
  reduction reduce = mean;
};

// nn.CrossEntropyLoss on logits. With integer labels and no option it is
// one fused log-softmax + NLL kernel. Label smoothing mixes in the uniform
// distribution as torch does: (1 - eps) nll + eps / C * (-sum_j log p_j),
// with weights w_j inside both terms and the mean taken over the weights
// of the labels. Probability targets t give -sum_j w_j t_j log p_j per row
// (smoothed as (1 - eps) t + eps / C), averaged over the rows.
template <ce_options O = ce_options{}>
struct CrossEntropy {
  static_assert(O.label_smoothing >= 0 && O.label_smoothing <= 1, "ingot: label_smoothing must be in [0, 1]");
  static constexpr reduction R = O.reduce;
  static constexpr reduction reduce_mode = R;
  std::vector<float> weight;  // with weighted: one per class

  template <class Y>
  using target_leaf = std::conditional_t<O.probabilities, expr::data_leaf<"target", Y::shape::cols>,
                                         expr::labels_leaf<"target">>;
  using target_value = std::conditional_t<O.probabilities, float, std::int32_t>;
  template <class Y>
  using weight_leaf = detail::loss_tensor<"loss.weight", Y::shape::cols>;

  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    using expr::lit;
    static_assert(Y::shape::batched, "ingot: CrossEntropy takes a batch of logits");
    (void)t;
    constexpr std::size_t C = Y::shape::cols;
    constexpr double eps = O.label_smoothing;
    if constexpr (!O.probabilities && !O.weighted && eps == 0) {
      if constexpr (R == reduction::mean) return expr::cross_entropy(y, t);
      else return expr::sum(expr::softmax_xent_node<Y, Tg>{});
    } else {
      const auto logp = expr::log_softmax(y);
      if constexpr (O.probabilities) {
        const auto target = [&] {
          if constexpr (eps == 0) return t;
          else return t * lit<1.0 - eps> + lit<eps / static_cast<double>(C)>;
        }();
        const auto per_row = [&] {
          if constexpr (O.weighted) return -expr::sum<1>(expr::hadamard(target, logp) * weight_leaf<Y>{});
          else return -expr::sum<1>(expr::hadamard(target, logp));
        }();
        return detail::reduce<R>(per_row);
      } else {
        const detail::onehot<C, Tg> hot{};
        const auto nll_rows = -expr::sum<1>(expr::hadamard(hot, logp));
        // The smoothing term per row: -sum_j (w_j) log p_j.
        const auto smooth_rows = [&] {
          if constexpr (O.weighted) return -expr::sum<1>(logp * weight_leaf<Y>{});
          else return -expr::sum<1>(logp);
        }();
        if constexpr (O.weighted) {
          const auto w = expr::sum<1>(hot * weight_leaf<Y>{});
          const auto nll = expr::sum(expr::hadamard(w, nll_rows));
          const auto smooth = expr::sum(smooth_rows);
          const auto total = [&] {
            if constexpr (eps == 0) return nll;
            else return nll * lit<1.0 - eps> + smooth * lit<eps / static_cast<double>(C)>;
          }();
          if constexpr (R == reduction::mean) return total / expr::sum(w);
          else return total;
        } else {
          return detail::reduce<R>(nll_rows * lit<1.0 - eps> + smooth_rows * lit<eps / static_cast<double>(C)>);
        }
      }
    }
  }
  template <class Y, class Plan>
  void bind(Plan& plan) const {
    if constexpr (O.weighted)
      detail::bind_tensor<Plan, weight_leaf<Y>>(plan, weight, Y::shape::cols, "loss::CrossEntropy weight");
  }
};

// Penalties on parameters, added to a loss as expressions so that their
// gradients are derived with the rest: lambda sum(p^2) (L2Penalty) or
// lambda sum(|p|) (L1Penalty) over the parameters named (state_dict names),
// or, with no name, over every weight matrix (torch's p.ndim > 1). They
// enter the training objective (and the training loss fit reports), not
// evaluate's loss.
namespace detail {
template <fixed_string Name, class... P>
constexpr bool has_param(type_list<P...>) {
  return ((P::name.view() == Name.view()) || ...);
}
template <class P, fixed_string... Names>
constexpr bool selected() {
  if constexpr (sizeof...(Names) == 0) return P::is_matrix;
  else return ((P::name.view() == Names.view()) || ...);
}
}  // namespace detail

template <double Lambda, fixed_string... Names>
struct L2Penalty {
  template <class P>
  static constexpr bool selects = detail::selected<P, Names...>();
  template <class Params>
  static constexpr bool names_exist = (detail::has_param<Names>(Params{}) && ...);
  template <class P>
  static constexpr auto term(P p) { return expr::sum(expr::square(p)) * expr::lit<Lambda>; }
};
template <double Lambda, fixed_string... Names>
struct L1Penalty {
  template <class P>
  static constexpr bool selects = detail::selected<P, Names...>();
  template <class Params>
  static constexpr bool names_exist = (detail::has_param<Names>(Params{}) && ...);
  template <class P>
  static constexpr auto term(P p) { return expr::sum(expr::abs(p)) * expr::lit<Lambda>; }
};

namespace detail {
template <class E, class Penalty, class Params>
struct with_penalty {
  using type = E;
};
template <class E, class Penalty, class P, class... Ps>
struct with_penalty<E, Penalty, type_list<P, Ps...>> {
  using next = std::conditional_t<Penalty::template selects<P>, decltype(E{} + Penalty::term(P{})), E>;
  using type = typename with_penalty<next, Penalty, type_list<Ps...>>::type;
};
}  // namespace detail

// Base (any loss) plus the penalties, e.g.
//   loss::Penalized<loss::CrossEntropy<>, loss::L2Penalty<1e-4>, loss::L1Penalty<1e-5, "0.weight">>
template <class Base, class... Penalties>
struct Penalized : Base {
  template <class Params, expr::node E>
  static constexpr auto objective(E) {
    static_assert((Penalties::template names_exist<Params> && ...),
                  "ingot: a penalty names a parameter the model does not have (names are state_dict names, e.g. "
                  "\"0.weight\")");
    return add<E, Penalties...>(Params{});
  }

 private:
  template <class E, class... Ps, class Params>
  static constexpr auto add(Params) {
    if constexpr (sizeof...(Ps) == 0) return E{};
    else return add_each<E, Params, Ps...>();
  }
  template <class E, class Params, class First, class... Rest>
  static constexpr auto add_each() {
    using next = typename detail::with_penalty<E, First, Params>::type;
    if constexpr (sizeof...(Rest) == 0) return next{};
    else return add_each<next, Params, Rest...>();
  }
};

}  // namespace ingot::loss
