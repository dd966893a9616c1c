#pragma once
// The runtime driver: ordinary C++ that walks epochs and mini-batches and
// calls one compiled step per batch. A step runs the model's training form:
// one plan computes the loss, every gradient (derived at compile time) and
// the new state (running statistics); then the state is committed and the
// optimizer updates the arena in one pass. evaluate and predict run the
// evaluation form. After the first step nothing allocates.
#include <boost/hana/fold.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "ingot/core/rng.hpp"
#include "ingot/data/batches.hpp"
#include "ingot/data/dataset.hpp"
#include "ingot/nn/layer.hpp"
#include "ingot/plan/plan.hpp"

namespace ingot::train {

namespace hana = boost::hana;

struct fit_options {
  std::size_t epochs = 1;
  std::size_t batch_size = 32;
  bool shuffle = false;
  std::uint64_t seed = 0;  // shuffling
  bool drop_last = false;
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
// Owns a plan whose type is only named where it is used, so that a program
// that never evaluates does not compile the evaluation plan at all.
class plan_holder {
 public:
  plan_holder() = default;
  plan_holder(const plan_holder&) = delete;
  plan_holder& operator=(const plan_holder&) = delete;
  ~plan_holder() { reset(); }
  template <class Plan>
  Plan* get() const { return static_cast<Plan*>(plan_); }
  template <class Plan>
  Plan& make(std::size_t capacity) {
    reset();
    Plan* p = new Plan(capacity);
    plan_ = p;
    destroy_ = [](void* q) { delete static_cast<Plan*>(q); };
    return *p;
  }
  void reset() {
    if (plan_) destroy_(plan_);
    plan_ = nullptr;
  }

 private:
  void* plan_ = nullptr;
  void (*destroy_)(void*) = nullptr;
};

template <class Loss, class Params, class Updates>
struct train_root_list;
template <class Loss, class... P, class... U>
struct train_root_list<Loss, type_list<P...>, type_list<U...>> {
  using assigns = filter_t<type_list<U...>, nn::is_assign>;
  template <class... A>
  static auto values(type_list<A...>) -> type_list<typename A::value...>;
  using type = concat_t<type_list<Loss, plan::bound_output<expr::grad_t<Loss, P>>...>, decltype(values(assigns{}))>;
};
}  // namespace detail

template <class Model, class Loss, class Optimizer>
class Trainer {
 public:
  using T = typename Model::value_type;
  using input = typename Model::input;
  using train_output = typename Model::train_output;
  using eval_output = typename Model::eval_output;
  using target = typename Loss::template target_leaf<train_output>;
  using target_value = typename Loss::target_value;
  using train_loss = decltype(Loss::apply(train_output{}, target{}));
  using eval_loss = decltype(Loss::apply(eval_output{}, target{}));
  using params = typename Model::params;
  using arena_type = typename Model::arena_type;
  using updates = typename Model::updates;
  using assigns = filter_t<updates, nn::is_assign>;
  // Short-named root descriptors (see plan::basic_plan).
  struct train_roots {
    using type = typename detail::train_root_list<train_loss, params, updates>::type;
  };
  struct eval_roots {
    using type = type_list<eval_loss, eval_output>;
  };
  struct predict_roots {
    using type = type_list<eval_output>;
  };
  using train_plan_type = plan::basic_plan<T, train_roots>;
  using eval_plan_type = plan::basic_plan<T, eval_roots>;
  using predict_plan_type = plan::basic_plan<T, predict_roots>;
  // The random leaves (dropout masks) of a training step.
  using random_leaves = expr::leaves_with_role_t<typename train_plan_type::graph_type, expr::leaf_role::random>;
  static constexpr bool classification = std::is_integral_v<target_value>;
  static constexpr std::size_t in_features = input::shape::cols;
  static constexpr std::size_t out_features = train_output::shape::cols;
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

  // Random masks of step s are drawn from (seed, s): the same seed gives the
  // same masks. Resets the step count.
  void manual_seed(std::uint64_t seed) {
    random_seed_ = seed;
    random_step_ = 0;
  }

  // Sizes the step's buffers for batches of up to `batch` rows. step() calls
  // it when a batch is larger than any before; calling it up front keeps
  // every step allocation-free.
  void reserve(std::size_t batch) {
    if (train_ && train_->capacity() >= batch) return;
    train_.emplace(batch);
    bind_model(*train_);
    for (std::size_t k = 0; k < params::size; ++k) train_->bind_output(1 + k, grads_.data() + arena_type::offset(k));
    [&]<class... R>(type_list<R...>) {
      std::size_t k = 0;
      ((masks_[k] = aligned_buffer<T>(batch * R::shape::cols), train_->template bind<R>(masks_[k].data()), ++k),
       ...);
    }(random_leaves{});
  }

  // Forward, loss, backward and one optimizer update on n rows; returns the loss.
  T step(const T* x, const target_value* y, std::size_t n) {
    const T loss = compute_gradients(x, y, n);
    optimizer_.step(model_.arena().flat(), grads_.span());
    return loss;
  }

  // One training-form forward and backward without a parameter update:
  // gradients() holds the gradients, and the model's state (running
  // statistics) moves on as in a step.
  T compute_gradients(const T* x, const target_value* y, std::size_t n) {
    reserve(n);
    draw_masks(n);
    train_->template bind<input>(x);
    train_->template bind<target>(y);
    train_->run(n);
    commit_state();
    return train_->template output<0>()[0];
  }

  // Trains for opts.epochs epochs. Each callback is called after every epoch
  // with the epoch_result; one that returns false stops training.
  template <class... Callbacks>
  std::vector<epoch_result> fit(const data::Dataset<target_value>& ds, fit_options opts, Callbacks&&... callbacks) {
    check(ds);
    if (opts.batch_size == 0) throw std::invalid_argument("ingot: fit needs a batch_size of at least 1");
    data::batches<target_value> loader(
        ds, {.batch_size = opts.batch_size, .shuffle = opts.shuffle, .seed = opts.seed, .drop_last = opts.drop_last});
    reserve(loader.batch_size());
    std::vector<epoch_result> history;
    history.reserve(opts.epochs);
    for (std::size_t epoch = 1; epoch <= opts.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      loader.start_epoch();
      double total = 0;
      std::size_t rows = 0;
      typename data::batches<target_value>::batch b;
      while (loader.next(b)) {
        total += static_cast<double>(step(b.x, b.y, b.rows)) * static_cast<double>(b.rows);
        rows += b.rows;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.push_back({epoch, opts.epochs, rows ? total / static_cast<double>(rows) : 0.0, seconds});
      // Every callback is called (none is skipped because an earlier one
      // asked to stop); training stops if any returned false.
      const bool go_on = hana::fold(hana::make_tuple(std::ref(callbacks)...), true, [&](bool go, auto callback) {
        return notify(callback.get(), history.back()) && go;
      });
      if (!go_on) break;
    }
    return history;
  }

  // Mean loss (and accuracy, for classification) over a dataset in the
  // evaluation form, no update.
  eval_result evaluate(const data::Dataset<target_value>& ds, std::size_t batch_size = 256) {
    check(ds);
    const std::size_t batch = std::max<std::size_t>(1, std::min(batch_size, ds.rows));
    eval_plan_type* plan = eval_.template get<eval_plan_type>();
    if (!plan || plan->capacity() < batch) {
      plan = &eval_.template make<eval_plan_type>(batch);
      bind_model(*plan);
    }
    double total = 0;
    std::size_t correct = 0;
    for (std::size_t first = 0; first < ds.rows; first += batch) {
      const std::size_t rows = std::min(batch, ds.rows - first);
      plan->template bind<input>(ds.x.data() + first * in_features);
      plan->template bind<target>(ds.y.data() + first * target_cols);
      plan->run(rows);
      total += static_cast<double>(plan->template output<0>()[0]) * static_cast<double>(rows);
      if constexpr (classification) {
        const T* out = plan->template output<1>();
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

  // The model's outputs (evaluation form) for n rows of features:
  // n x out_features, row-major.
  std::vector<T> predict(const T* x, std::size_t n, std::size_t batch_size = 256) {
    const std::size_t batch = std::max<std::size_t>(1, std::min(batch_size, n));
    predict_plan_type* plan = predict_.template get<predict_plan_type>();
    if (!plan || plan->capacity() < batch) {
      plan = &predict_.template make<predict_plan_type>(batch);
      bind_model(*plan);
    }
    std::vector<T> out(n * out_features);
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      plan->template bind<input>(x + first * in_features);
      plan->run(rows);
      std::memcpy(out.data() + first * out_features, plan->template output<0>(), rows * out_features * sizeof(T));
    }
    return out;
  }

 private:
  // Points a plan at the model's parameters and state.
  template <class Plan>
  void bind_model(Plan& plan) {
    plan.template bind_by_name<expr::leaf_role::param>(model_.arena());
    plan.template bind_by_name<expr::leaf_role::state>(model_.state());
  }

  void draw_masks(std::size_t n) {
    [&]<class... R>(type_list<R...>) {
      std::uint64_t lane = 0;
      ((draw_mask<R>(masks_[lane], n, lane), ++lane), ...);
    }(random_leaves{});
    ++random_step_;
  }
  template <class R>
  void draw_mask(aligned_buffer<T>& buffer, std::size_t n, std::uint64_t lane) {
    random_stream stream(random_seed_, random_step_, lane);
    R::distribution::fill(std::span<T>(buffer.data(), n * R::shape::cols), stream);
  }

  // The training step's new state values are the roots after the gradients.
  void commit_state() {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (commit<type_at_t<I, assigns>, 1 + params::size + I>(), ...);
    }(std::make_index_sequence<assigns::size>{});
    [&]<class... C>(type_list<C...>) { (++model_.state().template counter<C>(), ...); }(
        typename Model::state_counters{});
  }
  template <class Assign, std::size_t Root>
  void commit() {
    auto dst = model_.state().template get<typename Assign::target>();
    std::memcpy(dst.data(), train_->template output<Root>(), dst.size() * sizeof(T));
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
  std::array<aligned_buffer<T>, random_leaves::size> masks_;
  std::uint64_t random_seed_ = 0, random_step_ = 0;
  std::optional<train_plan_type> train_;
  detail::plan_holder eval_, predict_;
};

}  // namespace ingot::train
