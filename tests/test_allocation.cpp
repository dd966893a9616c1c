// A training step allocates nothing once the first step has sized the
// buffers: every operator new in this program is counted.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <new>

namespace {
std::atomic<std::size_t> allocations{0};
}

namespace {
void* counted_alloc(std::size_t n, std::size_t align) {
  ++allocations;
  n = n ? n : 1;
  return align <= alignof(std::max_align_t) ? std::malloc(n) : std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* counted_alloc_or_throw(std::size_t n, std::size_t align) {
  if (void* p = counted_alloc(n, align)) return p;
  throw std::bad_alloc();
}
}  // namespace

// Every replaceable form, so that nothing reaches another allocator (and
// AddressSanitizer sees matching pairs).
void* operator new(std::size_t n) { return counted_alloc_or_throw(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_or_throw(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_or_throw(n, std::size_t(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, std::size_t(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, std::size_t(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace ingot;

namespace {
template <class Trainer, class Target>
std::size_t allocations_in_steps(Trainer& trainer, const std::vector<float>& x, const std::vector<Target>& y,
                                 std::size_t rows) {
  trainer.step(x.data(), y.data(), rows);  // the first step may size buffers
  const std::size_t before = allocations.load();
  for (int s = 0; s < 50; ++s) {
    trainer.step(x.data(), y.data(), rows);
    trainer.step(x.data(), y.data(), rows - 3);  // a smaller, partial batch too
  }
  return allocations.load() - before;
}

// A batch of `rows` samples of `features` values repeating with `period`
// around zero, labelled 0, 1, ..., classes - 1 in turn.
struct patterned_batch {
  std::vector<float> x;
  std::vector<std::int32_t> y;
  patterned_batch(std::size_t rows, std::size_t features, std::size_t period, std::size_t classes)
      : x(rows * features), y(rows) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % period) * 0.1f - 0.5f;
    for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<std::int32_t>(i % classes);
  }
};
}  // namespace

TEST_CASE("an MLP step under cross-entropy and Adam allocates nothing", "[alloc]") {
  using Net = nn::Sequential<nn::Dense<20, 33>, nn::ReLU, nn::Dense<33, 17>, nn::GELU, nn::Dense<17, 5>>;
  Net model{init::seed(1)};
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{}};
  std::vector<float> x(29 * 20, 0.25f);
  std::vector<std::int32_t> y(29, 3);
  const std::size_t before = allocations.load();
  trainer.step(x.data(), y.data(), 29);
  CHECK(allocations.load() > before);  // the counter sees the first step's buffers
  CHECK(allocations_in_steps(trainer, x, y, 29) == 0);
}

TEST_CASE("a regression step with momentum SGD allocates nothing", "[alloc]") {
  using Net = nn::Sequential<nn::Dense<10, 7>, nn::Tanh, nn::Dense<7, 2>>;
  Net model{init::seed(2)};
  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f, .momentum = 0.9f, .nesterov = true}}};
  std::vector<float> x(16 * 10, 0.5f), y(16 * 2, 1.0f);
  CHECK(allocations_in_steps(trainer, x, y, 16) == 0);
}

TEST_CASE("steps with BatchNorm and Dropout (state updates, fresh masks) allocate nothing", "[alloc]") {
  using Net = nn::Sequential<nn::Dense<12, 16>, nn::BatchNorm1d<16>, nn::ReLU, nn::Dropout<0.25>, nn::Dense<16, 4>,
                             nn::LayerNorm<4>>;
  Net model{init::seed(3)};
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{}};
  std::vector<float> x(24 * 12, 0.25f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.1f;
  std::vector<std::int32_t> y(24, 1);
  CHECK(allocations_in_steps(trainer, x, y, 24) == 0);
  CHECK(model.state().find_counter("1.num_batches_tracked") == 101);
}

TEST_CASE("fit's steps allocate nothing, with clipping, a per-batch scheduler and callbacks", "[alloc]") {
  using Net = nn::Sequential<nn::Dense<6, 9>, nn::ReLU, nn::Dense<9, 3>>;
  Net model{init::seed(4)};
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::AdamW({.lr = 0.01}, {{optim::vectors(), {}, 0.0}})};
  sched::scheduler sch(trainer.optimizer(), sched::CosineAnnealingLR{.T_max = 1000});
  std::size_t batches = 0;
  struct count {
    std::size_t* n;
    void on_batch_end(const train::batch_result&) { ++*n; }
  };
  auto data = [](std::size_t rows) {
    std::vector<float> x(rows * 6);
    std::vector<std::int32_t> y(rows);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) * 0.1f;
    for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<std::int32_t>(i % 3);
    return data::Dataset<std::int32_t>(rows, 6, 1, std::move(x), std::move(y), "generated");
  };
  const auto small = data(2 * 8), large = data(40 * 8);
  const train::fit_options o{.epochs = 1, .batch_size = 8, .shuffle = true, .clip_grad_norm = 1.0, .clip_grad_value = 0.5};
  trainer.fit(small, o, sched::each_batch(sch), count{&batches});  // sizes the step's buffers
  std::size_t before = allocations.load();
  trainer.fit(small, o, sched::each_batch(sch), count{&batches});
  const std::size_t per_fit_small = allocations.load() - before;
  before = allocations.load();
  trainer.fit(large, o, sched::each_batch(sch), count{&batches});
  const std::size_t per_fit_large = allocations.load() - before;
  CHECK(batches == 2 + 2 + 40);
  CHECK(per_fit_large == per_fit_small);  // what fit allocates does not grow with its steps
}

TEST_CASE("a CNN step (convolutions, BatchNorm2d, pooling, Dropout) allocates nothing, on every thread",
          "[alloc][conv]") {
  using Net = nn::Sequential<nn::Unflatten<2, 12, 10>, nn::Conv2d<2, 40, 3, 1, 1>, nn::BatchNorm2d<40>, nn::ReLU,
                             nn::MaxPool2d<2>, nn::Conv2d<40, 33, 3, 2, 1>, nn::ReLU, nn::AvgPool2d<2>, nn::Flatten,
                             nn::Dropout<0.2>, nn::Dense<33, 5>>;
  Net model{init::seed(5)};
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{}};
  // 40 images: the convolutions' blocks of pixels and the pooling loops run
  // on the pool's threads, whose buffers the first step sizes.
  const patterned_batch batch(40, 240, 13, 5);
  CHECK(allocations_in_steps(trainer, batch.x, batch.y, 40) == 0);
}

TEST_CASE("steps with bfloat16 products allocate nothing, on every thread", "[alloc][bf16]") {
  // Products large enough to be split across the pool's threads, whose
  // packing buffers the first step sizes.
  using Net = nn::Sequential<nn::Dense<200, 96>, nn::ReLU, nn::Dense<96, 48>, nn::ReLU, nn::Dense<48, 7>>;
  const matmul_precision_scope bf16{matmul_precision::bfloat16};
  Net model{init::seed(6)};
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{}};
  const patterned_batch batch(70, 200, 11, 7);
  CHECK(allocations_in_steps(trainer, batch.x, batch.y, 70) == 0);
}
