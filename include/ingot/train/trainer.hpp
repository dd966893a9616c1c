#pragma once
// The runtime driver: ordinary C++ that walks epochs and mini-batches and
// calls one compiled step per batch. A step runs the model's training form:
// one plan computes the loss, every gradient (derived at compile time) and
// the new state (running statistics); then the state is committed and the
// optimizer updates the arena in one pass. evaluate and predict run the
// evaluation form. After the first step nothing allocates.
#include <boost/hana/fold.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/rng.hpp"
#include "ingot/data/loader.hpp"
#include "ingot/data/dataset.hpp"
#include "ingot/dist/communicator.hpp"
#include "ingot/loss/losses.hpp"
#include "ingot/nn/layer.hpp"
#include "ingot/optim/clip.hpp"
#include "ingot/optim/optimizer.hpp"
#include "ingot/plan/plan.hpp"
#include "ingot/simd/denormals.hpp"
#include "ingot/train/concepts.hpp"
#include "ingot/train/metrics.hpp"

namespace ingot::train {

namespace hana = boost::hana;

struct fit_options {
  std::size_t epochs = 1;
  std::size_t batch_size = 32;
  bool shuffle = false;
  std::uint64_t seed = 0;  // shuffling
  bool drop_last = false;
  // Gradient clipping before each update (0: off): clip_grad_norm_ with the
  // 2-norm, then clip_grad_value_.
  double clip_grad_norm = 0;
  double clip_grad_value = 0;
  // A non-finite loss stops training with an error naming the epoch and the
  // step; with skip_nonfinite the batch is skipped (no update) instead.
  bool skip_nonfinite = false;
  // Continue after the epochs already done (epochs_done(), which a loaded
  // checkpoint sets): train epochs epochs_done() + 1 .. epochs. The shuffled
  // order of an epoch depends only on (seed, epoch), so a resumed run sees
  // the batches an uninterrupted one would.
  bool resume = false;
  // Denormal floats are flushed to zero while fit runs (and the thread's
  // previous mode restored after): see simd/denormals.hpp. PyTorch keeps
  // them by default (torch.set_flush_denormal(False)); false does the same.
  bool flush_denormals = true;
};

struct epoch_result {
  std::size_t epoch = 0;  // 1-based
  std::size_t epochs = 0;
  double loss = 0;        // mean training loss per sample over the epoch
  double seconds = 0;     // training time, without the validation
  std::optional<eval_result> validation;  // with validate_on: the evaluation form on that data set
  // Data-parallel training: this process's rank and the number of ranks
  // (the values above are the same on every rank). Callbacks that print or
  // write files act on rank 0 only.
  std::size_t rank = 0, ranks = 1;
};

// A metric of an epoch by name: "loss" (training), or "val_loss",
// "val_accuracy", "val_top_k_accuracy", "val_macro_f1", "val_mae",
// "val_rmse" (needs validate_on).
inline double metric(const epoch_result& r, std::string_view name) {
  if (name == "loss") return r.loss;
  if (!name.starts_with("val_"))
    throw std::invalid_argument("ingot: unknown metric '" + std::string(name) +
                                "' (loss, val_loss, val_accuracy, val_top_k_accuracy, val_macro_f1, val_mae, val_rmse)");
  if (!r.validation)
    throw std::invalid_argument("ingot: metric '" + std::string(name) + "' needs a validation set (Trainer::validate_on)");
  const eval_result& v = *r.validation;
  if (name == "val_loss") return v.loss;
  if (name == "val_accuracy") return v.accuracy;
  if (name == "val_top_k_accuracy") return v.top_k_accuracy;
  if (name == "val_macro_f1") return v.macro_f1;
  if (name == "val_mae") return v.mae;
  if (name == "val_rmse") return v.rmse;
  throw std::invalid_argument("ingot: unknown metric '" + std::string(name) +
                              "' (loss, val_loss, val_accuracy, val_top_k_accuracy, val_macro_f1, val_mae, val_rmse)");
}

// What a callback's on_batch_end sees after each training step.
struct batch_result {
  std::size_t epoch = 0;  // 1-based
  std::size_t epochs = 0;
  std::size_t step = 0;   // 1-based, within the epoch
  std::size_t steps = 0;  // steps in this epoch
  std::size_t rows = 0;
  double loss = 0;
  double grad_norm = 0;  // before clipping, when clip_grad_norm is set; else 0
  bool skipped = false;  // a non-finite loss under skip_nonfinite
  std::size_t rank = 0, ranks = 1;  // as in epoch_result; rows and loss are the whole batch's
};

// How a distributed trainer reduces its gradients (see Trainer::distribute).
struct distribute_options {
  // With overlap, gradients are summed over the ranks in buckets of about
  // this many bytes of contiguous parameters, the last layers' first.
  std::size_t bucket_bytes = std::size_t{256} << 10;
  // true: start a bucket's non-blocking reduction as soon as the backward
  // pass has finished its gradients, while it computes the earlier layers'.
  // false: one blocking reduction of the whole arena after the backward
  // pass. Off by default: with one core per rank nothing runs the
  // reduction but the rank itself, and Open MPI's non-blocking all-reduce
  // is slower than its tuned blocking one; measured on 2 ranks, overlap
  // made the MLP's epoch slower on shared memory and no faster over TCP
  // (docs/scaling.md). Try it where a network card moves the data.
  bool overlap = false;
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

// The training objective: the loss, plus its penalties on parameters.
template <class Model, class Loss>
struct objective {
  using base = decltype(Loss::apply(typename Model::train_output{},
                                    typename Loss::template target_leaf<typename Model::train_output>{}));
  static constexpr auto make() {
    if constexpr (requires { Loss::template objective<typename Model::params>(base{}); })
      return Loss::template objective<typename Model::params>(base{});
    else return base{};
  }
  using type = decltype(make());
};

template <class Model, class Loss>
struct train_roots {
  using train_loss = typename objective<Model, Loss>::type;
  using type = typename train_root_list<train_loss, typename Model::params, typename Model::updates>::type;
};
template <class Model, class Loss>
struct eval_roots {
  using type = type_list<decltype(Loss::apply(typename Model::eval_output{},
                                              typename Loss::template target_leaf<typename Model::train_output>{})),
                         typename Model::eval_output>;
};
template <class Model>
struct predict_roots {
  using type = type_list<typename Model::eval_output>;
};
}  // namespace detail

namespace detail {
// A contiguous range of the gradient arena reduced as one message in a
// distributed step, and the plan step after which every gradient in it is
// final.
struct gradient_bucket {
  std::size_t begin = 0, end = 0, ready_after = 0;
};
// Buckets of about bucket_values from the last parameters to the first, in
// the order the backward pass finishes them (the same on every rank: MPI
// matches collectives by their order); ready_step[k] is the plan step that
// finishes parameter k's gradient.
INGOT_DECL std::vector<gradient_bucket> gradient_buckets(const std::vector<optim::param_info>& params,
                                                         std::span<const std::size_t> ready_step,
                                                         std::size_t bucket_values);
#if INGOT_DEFINE_BODIES
INGOT_DECL std::vector<gradient_bucket> gradient_buckets(const std::vector<optim::param_info>& params,
                                                         std::span<const std::size_t> ready_step,
                                                         std::size_t bucket_values) {
  std::vector<gradient_bucket> buckets;
  std::vector<std::size_t> order(params.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return params[a].offset > params[b].offset; });
  gradient_bucket current{};
  bool open = false;
  for (std::size_t k : order) {
    const std::size_t ready = ready_step[k];
    if (!open) current = gradient_bucket{params[k].offset, params[k].offset + params[k].size, ready};
    else {
      current.begin = params[k].offset;
      current.ready_after = std::max(current.ready_after, ready);
    }
    open = true;
    if (current.end - current.begin >= bucket_values) {
      buckets.push_back(current);
      open = false;
    }
  }
  if (open) buckets.push_back(current);
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const gradient_bucket& a, const gradient_bucket& b) { return a.ready_after < b.ready_after; });
  return buckets;
}
#endif  // INGOT_DEFINE_BODIES

// Each check stands alone, so that only the broken argument is reported.
template <class Model>
constexpr bool check_model() {
  static_assert(model<Model>,
                "ingot::train::Trainer: the first argument must be a model (nn::Sequential, nn::from_expression, or a "
                "type with value_type, input, train_output, eval_output, params, updates, arena() and state())");
  return model<Model>;
}

template <class Model, class Loss>
struct loss_check {
  static_assert(loss_for<Loss, typename Model::train_output>,
                "ingot::train::Trainer: the second argument must be a loss for the model's output (loss::MSE, "
                "loss::CrossEntropy, ...: a type with target_leaf, target_value and a static apply(output, target))");
  static constexpr bool ok = loss_for<Loss, typename Model::train_output>;
};
template <class Model, class Optimizer>
struct optimizer_check {
  static_assert(optimizer_for<Optimizer, typename Model::value_type>,
                "ingot::train::Trainer: the third argument must be an optimizer of the model's values (optim::SGD, "
                "optim::Adam, ...: a type with attach<T>(params) and step(values, gradients))");
  static constexpr bool ok = optimizer_for<Optimizer, typename Model::value_type>;
};
template <class Model, class Loss>
constexpr bool check_loss() {
  if constexpr (model<Model>) return loss_check<Model, Loss>::ok;
  else return true;
}

template <class Model, class Optimizer>
constexpr bool check_optimizer() {
  if constexpr (model<Model>) return optimizer_check<Model, Optimizer>::ok;
  else return true;
}

template <class Model, class Loss, class Optimizer>
struct trainer_arguments {
  static constexpr bool ok =
      check_model<Model>() && check_loss<Model, Loss>() && check_optimizer<Model, Optimizer>();
};
}  // namespace detail

template <class Model, class Loss, class Optimizer>
class Trainer {
  static_assert(detail::trainer_arguments<Model, Loss, Optimizer>::ok);

 public:
  using T = typename Model::value_type;
  using input = typename Model::input;
  using train_output = typename Model::train_output;
  using eval_output = typename Model::eval_output;
  using target = typename Loss::template target_leaf<train_output>;
  using target_value = typename Loss::target_value;
  using train_loss = typename detail::objective<Model, Loss>::type;
  using eval_loss = decltype(Loss::apply(eval_output{}, target{}));
  using params = typename Model::params;
  using arena_type = typename Model::arena_type;
  using updates = typename Model::updates;
  using assigns = filter_t<updates, nn::is_assign>;
  // Short-named root descriptors (see plan::basic_plan), shared by every
  // optimizer: trainers of one model and loss compile their plans once.
  using train_plan_type = plan::basic_plan<T, detail::train_roots<Model, Loss>>;
  using eval_plan_type = plan::basic_plan<T, detail::eval_roots<Model, Loss>>;
  using predict_plan_type = plan::basic_plan<T, detail::predict_roots<Model>>;
  // The random leaves (dropout masks) of a training step.
  using random_leaves = expr::leaves_with_role_t<typename train_plan_type::graph_type, expr::leaf_role::random>;
  static constexpr bool classification = std::is_integral_v<target_value>;
  static constexpr std::size_t in_features = input::shape::cols;
  static constexpr std::size_t out_features = train_output::shape::cols;
  static constexpr std::size_t target_cols = classification ? 1 : out_features;
  // A sum-reduced loss: its per-sample value is the batch value over the rows.
  static constexpr bool summed_loss = [] {
    if constexpr (requires { Loss::reduce_mode; }) return Loss::reduce_mode == loss::reduction::sum;
    else return false;
  }();

  Trainer(Model& model, Loss loss, Optimizer optimizer)
      : model_(model), loss_(std::move(loss)), optimizer_(std::move(optimizer)), grads_(arena_type::flat_size) {
    std::vector<optim::param_info> infos;
    for (std::size_t k = 0; k < arena_type::count; ++k)
      infos.push_back({std::string(arena_type::name(k)), arena_type::offset(k), arena_type::torch_shape(k)[0] *
                       arena_type::torch_shape(k)[1], arena_type::kernel_dims(k)[0] != 0 ? std::size_t{4} : arena_type::is_matrix(k) ? std::size_t{2} : std::size_t{1}});
    optimizer_.template attach<T>(std::move(infos));
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
  // The whole random state of training (checkpoints carry it): the seed and
  // the number of steps that drew masks.
  std::array<std::uint64_t, 2> random_state() const { return {random_seed_, random_step_}; }
  void set_random_state(std::array<std::uint64_t, 2> s) {
    random_seed_ = s[0];
    random_step_ = s[1];
  }
  // Epochs completed by fit (a loaded checkpoint sets it); fit with
  // .resume = true continues after them.
  std::size_t epochs_done() const { return epochs_done_; }
  void set_epochs_done(std::size_t e) { epochs_done_ = e; }

  // Data-parallel training, as PyTorch's DistributedDataParallel: every
  // rank holds the same model and calls fit (and evaluate) with the same
  // data set and options. From now on:
  //   - fit and distribute start by giving every rank rank 0's parameters,
  //     state, optimizer state, random state and epoch count;
  //   - each rank trains on its contiguous part of every batch (batch_size
  //     is the global batch; see data::loader_options::shard);
  //   - the gradients are summed over the ranks in buckets, each rank's
  //     weighted by its share of the batch's rows, so that a step equals
  //     one process's step on the whole batch, ragged last batch included
  //     (torch averages equally, and pads the data instead);
  //   - every rank applies the same update; losses and metrics are the
  //     whole batch's and the whole data set's on every rank;
  //   - running statistics (BatchNorm) stay per rank; evaluate uses rank
  //     0's, which are the ones a checkpoint saves;
  //   - an exception on any rank inside fit or evaluate aborts the job
  //     (comm.abort), so that no rank waits forever in a collective.
  // comm must outlive the trainer. A single_process communicator (or
  // distribute never called) is ordinary training.
  void distribute(dist::communicator& comm, distribute_options opts = {}) {
    comm_ = &comm;
    dist_opts_ = opts;
    buckets_.clear();
    collective([&] { sync_from_root(); });
  }
  bool distributed() const { return comm_ && comm_->size() > 1; }
  std::size_t rank() const { return comm_ ? comm_->rank() : 0; }
  std::size_t ranks() const { return comm_ ? comm_->size() : 1; }

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
      ((masks_[k] = aligned_buffer<T>(R::shape::size(batch)), train_->template bind<R>(masks_[k].data()), ++k),
       ...);
    }(random_leaves{});
  }

  // Forward, loss, backward and one optimizer update on n rows; returns the loss.
  T step(const T* x, const target_value* y, std::size_t n) {
    const T loss = compute_gradients(x, y, n);
    apply_update();
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

  // Trains for opts.epochs epochs. A callback is a function of the
  // epoch_result (returning void or bool), or an object with any of
  //   on_epoch_begin(std::size_t epoch)
  //   on_batch_end(const batch_result&)
  //   on_epoch_end(const epoch_result&)      (void or bool)
  //   on_fit_end(const std::vector<epoch_result>&)
  // A callback that returns false at an epoch's end stops training; every
  // callback still sees that epoch.
  template <class... Callbacks>
  std::vector<epoch_result> fit(const data::Dataset<target_value>& ds, fit_options opts, Callbacks&&... callbacks) {
    if (!distributed()) return fit_epochs(ds, opts, callbacks...);
    std::vector<epoch_result> history;
    collective([&] {
      sync_from_root();
      history = fit_epochs(ds, opts, callbacks...);
    });
    return history;
  }

 private:
  template <class... Callbacks>
  std::vector<epoch_result> fit_epochs(const data::Dataset<target_value>& ds, fit_options opts,
                                       Callbacks&... callbacks) {
    check(ds);
    if (opts.batch_size == 0) throw std::invalid_argument("ingot: fit needs a batch_size of at least 1");
    data::DataLoader<target_value> loader(ds, {.batch_size = opts.batch_size,
                                               .shuffle = opts.shuffle,
                                               .seed = opts.seed,
                                               .drop_last = opts.drop_last,
                                               .shard = rank(),
                                               .shards = ranks()});
    reserve(std::max<std::size_t>(1, loader.local_batch_size()));
    // The history is kept in place (history() reads it while fit runs).
    std::vector<epoch_result>& history = history_;
    history.clear();
    history.reserve(opts.epochs);
    auto all = hana::make_tuple(std::ref(callbacks)...);
    const simd::flush_denormals_scope denormals(opts.flush_denormals);
    if (!opts.resume) epochs_done_ = 0;
    for (std::size_t epoch = epochs_done_ + 1; epoch <= opts.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      hana::for_each(all, [&](auto c) { begin_epoch(c.get(), epoch); });
      loader.set_epoch(epoch - 1);
      double total = 0;
      std::size_t rows = 0, step_in_epoch = 0;
      const std::size_t steps = loader.size();
      typename data::DataLoader<target_value>::batch b;
      while (loader.next(b)) {
        batch_result r{epoch, opts.epochs, ++step_in_epoch, steps, b.global_rows, 0, 0, false, rank(), ranks()};
        r.loss = distributed() ? reduce_gradients(b) : static_cast<double>(compute_gradients(b.x, b.y, b.rows));
        if (!std::isfinite(r.loss)) {
          if (!opts.skip_nonfinite)
            throw std::runtime_error("ingot: the training loss is " + std::to_string(r.loss) + " at epoch " +
                                     std::to_string(epoch) + ", step " + std::to_string(step_in_epoch) + " of " +
                                     std::to_string(steps) +
                                     "; training diverged (a lower learning rate, or gradient clipping, may help)");
          r.skipped = true;
        } else {
          if (opts.clip_grad_norm > 0) r.grad_norm = optim::clip_grad_norm(grads_.span(), opts.clip_grad_norm);
          if (opts.clip_grad_value > 0) optim::clip_grad_value(grads_.span(), opts.clip_grad_value);
          apply_update();
          total += summed_loss ? r.loss : r.loss * static_cast<double>(b.global_rows);
          rows += b.global_rows;
        }
        hana::for_each(all, [&](auto c) { end_batch(c.get(), r); });
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.push_back(
          {epoch, opts.epochs, rows ? total / static_cast<double>(rows) : 0.0, seconds, std::nullopt, rank(), ranks()});
      if (validation_) history.back().validation = evaluate(*validation_, validation_options_);
      epochs_done_ = epoch;
      const bool go_on = hana::fold(all, true, [&](bool go, auto c) { return end_epoch(c.get(), history.back()) && go; });
      if (!go_on) break;
    }
    hana::for_each(all, [&](auto c) { end_fit(c.get(), history); });
    return history;
  }

 public:

  // Evaluates ds after every epoch of fit (epoch_result::validation). The
  // data set must outlive the fits; nullptr stops validating.
  void validate_on(const data::Dataset<target_value>& ds, eval_options opts = {}) {
    check(ds);
    validation_ = &ds;
    validation_options_ = opts;
  }
  void validate_on(std::nullptr_t) { validation_ = nullptr; }
  // The epochs of the last fit, as it returned them (also while it runs).
  const std::vector<epoch_result>& history() const { return history_; }

  // A dataset whose targets the loss does not take: stopped here, in words.
  template <class Other, class... Callbacks>
    requires(!std::is_same_v<Other, target_value>)
  std::vector<epoch_result> fit(const data::Dataset<Other>&, fit_options, Callbacks&&...) {
    reject_targets<Other>();
    return {};
  }
  template <class Other>
    requires(!std::is_same_v<Other, target_value>)
  eval_result evaluate(const data::Dataset<Other>&, std::size_t = 256) {
    reject_targets<Other>();
    return {};
  }

  // Mean loss (and accuracy, for classification) over a dataset in the
  // evaluation form, no update.
  eval_result evaluate(const data::Dataset<target_value>& ds, std::size_t batch_size = 256) {
    return evaluate(ds, eval_options{.batch_size = batch_size});
  }
  // The loss per sample and the metrics of the task (see eval_result).
  // Distributed, each rank evaluates its part of the rows with rank 0's
  // running statistics and the sums are reduced: every rank must call it.
  eval_result evaluate(const data::Dataset<target_value>& ds, eval_options opts) {
    if (!distributed()) return evaluate_rows(ds, opts, 0, ds.rows);
    eval_result r;
    collective([&] {
      const data::batch_part part = data::part_of(ds.rows, rank(), ranks());
      with_root_state([&] { r = evaluate_rows(ds, opts, part.first, part.first + part.rows); });
      reduce_metrics(r, ds.rows);
    });
    return r;
  }

 private:
  // Rows [begin, end) of ds; the metrics are still unfinished sums when
  // distributed (reduce_metrics finishes them).
  eval_result evaluate_rows(const data::Dataset<target_value>& ds, eval_options opts, std::size_t begin,
                            std::size_t end) {
    check(ds);
    const std::size_t batch = std::max<std::size_t>(1, std::min(opts.batch_size, ds.rows));
    eval_plan_type* plan = eval_.template get<eval_plan_type>();
    if (!plan || plan->capacity() < batch) {
      plan = &eval_.template make<eval_plan_type>(batch);
      bind_model(*plan);
    }
    eval_result r;
    r.rows = ds.rows;
    // Metrics of the other task are NaN (not applicable), not 0.
    constexpr double not_applicable = std::numeric_limits<double>::quiet_NaN();
    if constexpr (classification) r.mae = r.rmse = not_applicable;
    else r.accuracy = r.top_k_accuracy = r.macro_f1 = not_applicable;
    if constexpr (classification) {
      r.classes = out_features;
      r.k = std::max<std::size_t>(1, std::min(opts.top_k, out_features));
      r.confusion.assign(out_features * out_features, 0);
    }
    double total = 0;
    for (std::size_t first = begin; first < end; first += batch) {
      const std::size_t rows = std::min(batch, end - first);
      plan->template bind<input>(ds.x.data() + first * in_features);
      plan->template bind<target>(ds.y.data() + first * target_cols);
      plan->run(rows);
      const double value = static_cast<double>(plan->template output<0>()[0]);
      total += summed_loss ? value : value * static_cast<double>(rows);
      const T* out = plan->template output<1>();
      if constexpr (classification) detail::add_classification(r, out, ds.y.data() + first, rows);
      else if constexpr (out_features == target_cols)
        detail::add_regression(r, out, ds.y.data() + first * target_cols, rows * out_features);
    }
    r.loss = total;
    if (!distributed()) finish_metrics(r, ds.rows);
    return r;
  }
  void finish_metrics(eval_result& r, std::size_t rows) {
    r.loss /= static_cast<double>(rows);
    if constexpr (classification) detail::finish_classification(r);
    else detail::finish_regression(r, rows * out_features);
  }
  // Sums the ranks' loss, counts and errors, then finishes the metrics.
  void reduce_metrics(eval_result& r, std::size_t rows) {
    std::vector<double> sums = {r.loss, r.accuracy, r.top_k_accuracy, r.mae, r.rmse};
    for (std::size_t c : r.confusion) sums.push_back(static_cast<double>(c));
    comm_->sum(std::span<double>(sums));
    r.loss = sums[0];
    r.accuracy = sums[1];
    r.top_k_accuracy = sums[2];
    r.mae = sums[3];
    r.rmse = sums[4];
    for (std::size_t i = 0; i < r.confusion.size(); ++i) r.confusion[i] = static_cast<std::size_t>(sums[5 + i]);
    r.rows = rows;
    finish_metrics(r, rows);
  }

 public:

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
    if constexpr (requires { loss_.template bind<train_output>(plan); }) loss_.template bind<train_output>(plan);
  }

  // The masks of rows [first, first + n) of the step's batch: a rank draws
  // its rows of the masks one process would draw for the whole batch.
  void draw_masks(std::size_t n, std::size_t first = 0) {
    [&]<class... R>(type_list<R...>) {
      std::uint64_t lane = 0;
      ((draw_mask<R>(masks_[lane], n, first, lane), ++lane), ...);
    }(random_leaves{});
    ++random_step_;
  }
  template <class R>
  void draw_mask(aligned_buffer<T>& buffer, std::size_t n, std::size_t first, std::uint64_t lane) {
    random_stream stream(random_seed_, random_step_, lane);
    const std::span<T> out(buffer.data(), R::shape::size(n));
    if (first == 0) R::distribution::fill(out, stream);
    else R::distribution::fill(out, stream, R::shape::size(first));
  }

  // Runs f; on a distributed trainer an exception from f on this rank
  // aborts the job, since the other ranks would wait for it in a
  // collective.
  template <class F>
  void collective(F&& f) {
    if (!distributed()) return f();
    try {
      f();
    } catch (const std::exception& e) {
      comm_->abort(e.what());
    } catch (...) {
      comm_->abort("an exception that is not a std::exception");
    }
  }

  // Rank 0's parameters, model state, optimizer state, random state and
  // epoch count on every rank.
  void sync_from_root() {
    if (!distributed()) return;
    comm_->broadcast(model_.arena().flat());
    auto& state = model_.state();
    for (std::size_t k = 0; k < std::remove_reference_t<decltype(state)>::value_count; ++k)
      comm_->broadcast(state.value(k));
    for (std::size_t k = 0; k < std::remove_reference_t<decltype(state)>::counter_count; ++k)
      comm_->broadcast(std::span<std::int64_t>(&state.counter_at(k), 1));
    optim::optimizer_core& opt = optimizer_;
    for (const std::string& key : opt.state_keys())
      for (const auto& p : opt.params()) comm_->broadcast(opt.template state<T>(p.name, key));
    std::vector<double> groups;
    for (std::size_t g = 0; g < opt.num_groups(); ++g) {
      const auto& s = opt.group(g);
      groups.insert(groups.end(), {s.lr, s.initial_lr, s.weight_decay, s.momentum});
    }
    comm_->broadcast(std::span<double>(groups));
    for (std::size_t g = 0; g < opt.num_groups(); ++g)
      opt.set_group(g, {groups[4 * g], groups[4 * g + 1], groups[4 * g + 2], groups[4 * g + 3]});
    std::array<std::uint64_t, 4> counts = {random_seed_, random_step_, epochs_done_, opt.steps()};
    comm_->broadcast(std::span<std::uint64_t>(counts));
    random_seed_ = counts[0];
    random_step_ = counts[1];
    epochs_done_ = counts[2];
    opt.set_steps(counts[3]);
  }

  // Runs f with rank 0's model state (running statistics) in place of this
  // rank's, which is restored after.
  template <class F>
  void with_root_state(F&& f) {
    auto& state = model_.state();
    using state_type = std::remove_reference_t<decltype(state)>;
    if constexpr (state_type::value_count == 0) {
      f();
    } else {
      std::vector<std::vector<T>> own;
      for (std::size_t k = 0; k < state_type::value_count; ++k) {
        own.emplace_back(state.value(k).begin(), state.value(k).end());
        comm_->broadcast(state.value(k));
      }
      f();
      for (std::size_t k = 0; k < state_type::value_count; ++k)
        std::copy(own[k].begin(), own[k].end(), state.value(k).begin());
    }
  }

  using bucket = detail::gradient_bucket;
  void make_buckets() {
    buckets_ = detail::gradient_buckets(static_cast<const optim::optimizer_core&>(optimizer_).params(),
                                        std::span<const std::size_t>(train_plan_type::root_ready_step).subspan(1),
                                        std::max<std::size_t>(1, dist_opts_.bucket_bytes / sizeof(T)));
  }
  void start_bucket(const bucket& b, T weight) {
    T* g = grads_.data() + b.begin;
    if (weight != T(1))
      for (std::size_t i = 0; i < b.end - b.begin; ++i) g[i] *= weight;
    comm_->start_sum(std::span<T>(g, b.end - b.begin));
  }

  // A distributed step's forward and backward on this rank's part of the
  // batch, then the gradients and the loss summed over the ranks, each
  // rank's weighted by its share of the rows (a sum-reduced loss: by 1).
  // Returns the batch's loss.
  double reduce_gradients(const typename data::DataLoader<target_value>::batch& b) {
    if (dist_opts_.overlap && buckets_.empty()) make_buckets();
    const T weight = summed_loss ? T(1) : static_cast<T>(static_cast<double>(b.rows) / static_cast<double>(b.global_rows));
    std::size_t started = 0;
    double local = 0;
    if (b.rows > 0) {
      reserve(b.rows);
      draw_masks(b.rows, b.first);
      train_->template bind<input>(b.x);
      train_->template bind<target>(b.y);
      if (dist_opts_.overlap) {
        train_->run(b.rows, [&](std::size_t step) {
          while (started < buckets_.size() && buckets_[started].ready_after <= step)
            start_bucket(buckets_[started++], weight);
          comm_->test_all();
        });
      } else {
        train_->run(b.rows);
      }
      commit_state();
      local = static_cast<double>(train_->template output<0>()[0]);
    } else {
      // No rows here (a last batch with fewer rows than ranks): this rank
      // adds nothing, but joins every reduction.
      ++random_step_;
      std::fill(grads_.data(), grads_.data() + grads_.size(), T(0));
    }
    loss_sum_ = local * static_cast<double>(weight);
    if (dist_opts_.overlap) {
      while (started < buckets_.size()) start_bucket(buckets_[started++], weight);
      comm_->start_sum(std::span<double>(&loss_sum_, 1));
      comm_->wait_all();
    } else {
      // After the backward pass: the whole gradient arena (its alignment
      // padding stays zero) in one blocking reduction, which Open MPI runs
      // with its tuned algorithms (on shared memory, 0.94 MB took 164 us
      // this way and 264 us as four started buckets).
      if (weight != T(1))
        for (T& g : grads_.span()) g *= weight;
      comm_->sum(grads_.span());
      comm_->sum(std::span<double>(&loss_sum_, 1));
    }
    return loss_sum_;
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

  template <class Other>
  static void reject_targets() {
    static_assert(!(classification && std::is_floating_point_v<Other>),
                  "ingot: this loss takes integer class labels, and the dataset has float targets "
                  "(float targets go with loss::MSE, L1, SmoothL1, Huber, BCE, BCEWithLogits, or "
                  "CrossEntropy<{.probabilities = true}>)");
    static_assert(!(!classification && std::is_integral_v<Other>),
                  "ingot: this loss takes float targets, and the dataset has integer class labels "
                  "(labels go with loss::CrossEntropy or loss::NLL)");
  }

  void apply_update() { optimizer_.template step<T>(model_.arena().flat(), std::span<const T>(grads_.span())); }

  template <class C>
  static void begin_epoch(C& c, std::size_t epoch) {
    if constexpr (requires { c.on_epoch_begin(epoch); }) c.on_epoch_begin(epoch);
  }
  template <class C>
  static void end_fit(C& c, const std::vector<epoch_result>& h) {
    if constexpr (requires { c.on_fit_end(h); }) c.on_fit_end(h);
  }
  template <class C>
  static void end_batch(C& c, const batch_result& r) {
    if constexpr (requires { c.on_batch_end(r); }) c.on_batch_end(r);
  }
  template <class C>
  static bool end_epoch(C& c, const epoch_result& r) {
    if constexpr (requires { c.on_epoch_end(r); }) {
      if constexpr (std::is_same_v<decltype(c.on_epoch_end(r)), bool>) return c.on_epoch_end(r);
      else c.on_epoch_end(r);
    } else if constexpr (std::is_invocable_v<C&, const epoch_result&>) {
      if constexpr (std::is_same_v<std::invoke_result_t<C&, const epoch_result&>, bool>) return c(r);
      else c(r);
    } else {
      static_assert(requires { c.on_epoch_begin(std::size_t{}); } || requires { c.on_batch_end(batch_result{}); } ||
                        requires { c.on_fit_end(std::vector<epoch_result>{}); },
                    "ingot: a fit callback is a function of the epoch_result, or has on_epoch_begin, on_batch_end or "
                    "on_epoch_end");
    }
    return true;
  }

  Model& model_;
  Loss loss_;
  Optimizer optimizer_;
  dist::communicator* comm_ = nullptr;
  distribute_options dist_opts_;
  std::vector<bucket> buckets_;
  double loss_sum_ = 0;
  aligned_buffer<T> grads_;
  std::array<aligned_buffer<T>, random_leaves::size> masks_;
  std::uint64_t random_seed_ = 0, random_step_ = 0;
  std::size_t epochs_done_ = 0;
  std::optional<train_plan_type> train_;
  const data::Dataset<target_value>* validation_ = nullptr;
  eval_options validation_options_;
  std::vector<epoch_result> history_;
  detail::plan_holder eval_, predict_;
};

}  // namespace ingot::train
