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
