#pragma once
// What data-parallel training needs from the processes it runs on: their
// number and this one's rank, a broadcast, sum all-reduces (blocking, and
// started now and waited for later so that a gradient's reduction overlaps
// the backward pass) and an abort that stops every process.
//
// The library itself never includes MPI: a trainer talks to this interface.
// dist/mpi.hpp implements it on MPI; single_process is the one-process case
// (every collective is a no-op), which is also what a trainer uses when it
// is not distributed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <type_traits>

namespace ingot::dist {

enum class value_type { f32, f64, u64 };

template <class T>
constexpr value_type value_type_of() {
  if constexpr (std::is_same_v<T, float>) return value_type::f32;
  else if constexpr (std::is_same_v<T, double>) return value_type::f64;
  else {
    static_assert(std::is_same_v<T, std::uint64_t>, "ingot::dist: reductions take float, double or uint64_t");
    return value_type::u64;
  }
}

class communicator {
 public:
  virtual ~communicator() = default;
  virtual std::size_t rank() const = 0;
  virtual std::size_t size() const = 0;

  // Every process gets root's bytes.
  virtual void broadcast(void* data, std::size_t bytes, std::size_t root) = 0;
  // data becomes the element-wise sum over the processes, on every process.
  virtual void sum(void* data, std::size_t count, value_type type) = 0;
  // The same, started now: done once wait_all returns. test_all lets the
  // transport move pending reductions on (MPI progresses a non-blocking
  // collective only inside MPI calls). At most max_pending at a time.
  static constexpr std::size_t max_pending = 64;
  virtual void start_sum(void* data, std::size_t count, value_type type) = 0;
  virtual void test_all() = 0;
  virtual void wait_all() = 0;
  // Stops every process of the job with this message (printed with the
  // rank); does not return.
  [[noreturn]] virtual void abort(const std::string& message) = 0;

  template <class T>
  void sum(std::span<T> values) {
    sum(values.data(), values.size(), value_type_of<T>());
  }
  template <class T>
  void start_sum(std::span<T> values) {
    start_sum(values.data(), values.size(), value_type_of<T>());
  }
  template <class T>
  void broadcast(std::span<T> values, std::size_t root = 0) {
    broadcast(static_cast<void*>(values.data()), values.size_bytes(), root);
  }
};

// One process: rank 0 of 1.
class single_process final : public communicator {
 public:
  using communicator::broadcast;
  using communicator::start_sum;
  using communicator::sum;
  std::size_t rank() const override { return 0; }
  std::size_t size() const override { return 1; }
  void broadcast(void*, std::size_t, std::size_t) override {}
  void sum(void*, std::size_t, value_type) override {}
  void start_sum(void*, std::size_t, value_type) override {}
  void test_all() override {}
  void wait_all() override {}
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "ingot: %s\n", message.c_str());
    std::fflush(stderr);
    std::exit(1);
  }
};

}  // namespace ingot::dist
