#pragma once
// The runtime driver: ordinary C++ that walks epochs and mini-batches and
// calls one compiled step per batch. The step is a plan (forward, loss and
// every gradient, derived at compile time) followed by one optimizer pass
// over the arena; after the first step it allocates nothing.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "ingot/core/rng.hpp"
#include "ingot/data/dataset.hpp"
#include "ingot/expr/plan.hpp"

namespace ingot::train {

struct fit_options {
  std::size_t epochs = 1;
  std::size_t batch_size = 32;
  bool shuffle = false;
  std::uint64_t seed = 0;
};

struct epoch_result {
  std::size_t epoch = 0;  // 1-based
  std::size_t epochs = 0;
  double loss = 0;        // mean training loss over the epoch's samples
  double seconds = 0;
};

struct eval_result {
  double loss = 0;
  double accuracy = 0;  // fraction of rows whose arg-max is the label (classification only)
  std::size_t rows = 0;
};

namespace detail {
template <class Loss, class Params>
struct loss_and_gradients;
template <class Loss, class... P>
struct loss_and_gradients<Loss, type_list<P...>> {
  using type = type_list<Loss, expr::grad_t<Loss, P>...>;
};
}  // namespace detail

template <class Model, class Loss, class Optimizer>
class Trainer {
 public:
  using T = typename Model::value_type;
  using input = typename Model::input;
  using output = typename Model::output;
  using target = typename Loss::template target_leaf<output>;
  using target_value = typename Loss::target_value;
  using loss_expr = decltype(Loss::apply(output{}, target{}));
  using params = typename Model::params;
  using arena_type = typename Model::arena_type;
  // Short-named root descriptors (see expr::basic_plan).
  struct train_roots {
    using type = typename detail::loss_and_gradients<loss_expr, params>::type;
  };
  struct eval_roots {
    using type = type_list<loss_expr, output>;
  };
  struct predict_roots {
    using type = type_list<output>;
  };
  using train_plan_type = expr::basic_plan<T, train_roots>;
  using eval_plan_type = expr::basic_plan<T, eval_roots>;
  using predict_plan_type = expr::basic_plan<T, predict_roots>;
  static constexpr bool classification = std::is_integral_v<target_value>;
  static constexpr std::size_t in_features = input::shape::cols;
  static constexpr std::size_t out_features = output::shape::cols;
  static constexpr std::size_t target_cols = classification ? 1 : out_features;

  Trainer(Model& model, Loss, Optimizer optimizer)
      : model_(model), optimizer_(std::move(optimizer)), grads_(arena_type::flat_size) {
    optimizer_.attach(arena_type::flat_size);
  }

  Model& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }
  // Gradients of the last step, laid out like the parameter arena.
  std::span<const T> gradients() const { return grads_.span(); }
  template <class P>
  std::span<const T> gradient() const {
    return {grads_.data() + arena_type::template offset_of<P>(), P::shape::size(0)};
  }

  // Sizes the step's buffers for batches of up to `batch` rows. step() calls
  // it when a batch is larger than any before; calling it up front keeps
  // every step allocation-free.
  void reserve(std::size_t batch) {
    if (train_ && train_->capacity() >= batch) return;
    train_.emplace(batch);
    bind_params(*train_);
    bind_gradients(std::make_index_sequence<params::size>{});
  }

  // Forward, loss, backward and one optimizer update on n rows; returns the loss.
  T step(const T* x, const target_value* y, std::size_t n) {
    compute_gradients(x, y, n);
    optimizer_.step(model_.arena().flat(), grads_.span());
    return train_->template output<0>()[0];
  }

  // Forward, loss and backward without an update (gradients() holds them).
  T compute_gradients(const T* x, const target_value* y, std::size_t n) {
    reserve(n);
    train_->template bind<input>(x);
    train_->template bind<target>(y);
    train_->run(n);
    return train_->template output<0>()[0];
  }

  // Trains for opts.epochs epochs. Each callback is called after every epoch
  // with the epoch_result; one that returns false stops training.
  template <class... Callbacks>
  std::vector<epoch_result> fit(const data::Dataset<target_value>& ds, fit_options opts, Callbacks&&... callbacks) {
    check(ds);
    if (opts.batch_size == 0) throw std::invalid_argument("ingot: fit needs a batch_size of at least 1");
    const std::size_t n = ds.rows;
    const std::size_t batch = std::min(opts.batch_size, n);
    reserve(batch);
    std::vector<epoch_result> history;
    history.reserve(opts.epochs);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    aligned_buffer<T> xb(opts.shuffle ? batch * in_features : 0);
    std::vector<target_value> yb(opts.shuffle ? batch * target_cols : 0);
    rng shuffler(opts.seed);
    for (std::size_t epoch = 1; epoch <= opts.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      if (opts.shuffle) shuffler.shuffle(std::span<std::size_t>(order));
      double total = 0;
      for (std::size_t first = 0; first < n; first += batch) {
        const std::size_t rows = std::min(batch, n - first);
        const T* x = ds.x.data() + first * in_features;
        const target_value* y = ds.y.data() + first * target_cols;
        if (opts.shuffle) {
          for (std::size_t r = 0; r < rows; ++r) {
            std::memcpy(xb.data() + r * in_features, ds.x.data() + order[first + r] * in_features,
                        in_features * sizeof(T));
            std::memcpy(yb.data() + r * target_cols, ds.y.data() + order[first + r] * target_cols,
                        target_cols * sizeof(target_value));
          }
          x = xb.data();
          y = yb.data();
        }
        total += static_cast<double>(step(x, y, rows)) * static_cast<double>(rows);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.push_back({epoch, opts.epochs, total / static_cast<double>(n), seconds});
      bool go_on = true;
      ((go_on = notify(callbacks, history.back()) && go_on), ...);
      if (!go_on) break;
    }
    return history;
  }

  // Mean loss (and accuracy, for classification) over a dataset, no update.
  eval_result evaluate(const data::Dataset<target_value>& ds, std::size_t batch_size = 256) {
    check(ds);
    const std::size_t batch = std::max<std::size_t>(1, std::min(batch_size, ds.rows));
    if (!eval_ || eval_->capacity() < batch) {
      eval_.emplace(batch);
      bind_params(*eval_);
    }
    double total = 0;
    std::size_t correct = 0;
    for (std::size_t first = 0; first < ds.rows; first += batch) {
      const std::size_t rows = std::min(batch, ds.rows - first);
      eval_->template bind<input>(ds.x.data() + first * in_features);
      eval_->template bind<target>(ds.y.data() + first * target_cols);
      eval_->run(rows);
      total += static_cast<double>(eval_->template output<0>()[0]) * static_cast<double>(rows);
      if constexpr (classification) {
        const T* out = eval_->template output<1>();
        for (std::size_t r = 0; r < rows; ++r) {
          const T* row = out + r * out_features;
          const auto best = static_cast<std::size_t>(std::max_element(row, row + out_features) - row);
          correct += best == static_cast<std::size_t>(ds.y[first + r]);
        }
      }
    }
    return {total / static_cast<double>(ds.rows),
            classification ? static_cast<double>(correct) / static_cast<double>(ds.rows) : 0.0, ds.rows};
  }

  // The model's outputs for n rows of features: n x out_features, row-major.
  std::vector<T> predict(const T* x, std::size_t n, std::size_t batch_size = 256) {
    const std::size_t batch = std::max<std::size_t>(1, std::min(batch_size, n));
    if (!predict_ || predict_->capacity() < batch) {
      predict_.emplace(batch);
      bind_params(*predict_);
    }
    std::vector<T> out(n * out_features);
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      predict_->template bind<input>(x + first * in_features);
      predict_->run(rows);
      std::memcpy(out.data() + first * out_features, predict_->template output<0>(), rows * out_features * sizeof(T));
    }
    return out;
  }

 private:
  template <class Plan>
  void bind_params(Plan& plan) {
    [&]<class... P>(type_list<P...>) {
      (plan.template bind<P>(model_.arena().template get<P>().data()), ...);
    }(params{});
  }
  template <std::size_t... K>
  void bind_gradients(std::index_sequence<K...>) {
    (train_->template bind_output<K + 1>(grads_.data() + arena_type::offset(K)), ...);
  }

  void check(const data::Dataset<target_value>& ds) const {
    if (ds.features != in_features)
      throw std::invalid_argument(ds.source + ": rows have " + std::to_string(ds.features) +
                                  " features; the model takes " + std::to_string(in_features));
    if (ds.target_cols != target_cols)
      throw std::invalid_argument(ds.source + ": targets have " + std::to_string(ds.target_cols) +
                                  " columns; the loss takes " + std::to_string(target_cols));
    if (ds.rows == 0) throw std::invalid_argument(ds.source + ": no rows");
    ds.check_labels(out_features);
  }

  template <class F>
  static bool notify(F& f, const epoch_result& r) {
    if constexpr (std::is_same_v<std::invoke_result_t<F&, const epoch_result&>, bool>) return f(r);
    else {
      f(r);
      return true;
    }
  }

  Model& model_;
  Optimizer optimizer_;
  aligned_buffer<T> grads_;
  std::optional<train_plan_type> train_;
  std::optional<eval_plan_type> eval_;
  std::optional<predict_plan_type> predict_;
};

}  // namespace ingot::train
