#pragma once
// A persistent pool of worker threads for the loops of a training step.
// run(f) calls f(t, n) on each of the n threads (the caller is thread 0) and
// returns when all are done; callers split their work statically by t, so
// which thread computes which element never depends on timing, and results
// do not depend on scheduling. A run allocates nothing: the job is a
// function pointer and a pointer to the caller's callable.
//
// Workers spin briefly between runs (the GEMMs of a step follow each other
// within microseconds), then sleep on an atomic wait. A run from inside a
// run (a parallel loop inside a parallel loop) executes serially.
//
// Workers take the caller's floating-point control word (MXCSR on x86) for
// each run, so a flush-to-zero scope set by the caller holds on every thread
// (without it, the workers' share of the Adam pass ran on denormals).
//
// INGOT_POOL_STATS=1 makes the pool account for its runs and print where
// the time went when it goes (core/pool_stats.hpp).
//
// ingot::set_num_threads(n) sizes the process-wide pool, as
// torch.set_num_threads does; the default is the number of cores the
// process may run on (sched_getaffinity), so no more threads are busy than
// there are cores.
#include <sched.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define INGOT_POOL_HAVE_MXCSR 1
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/pool_stats.hpp"

namespace ingot {

class thread_pool {
 public:
  // keep_stats: account for the runs (pool_stats); from the environment,
  // the report is also printed when the pool goes.
  explicit thread_pool(std::size_t threads, bool keep_stats = false);
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool();

  std::size_t size() const { return size_; }
  // The runs' accounting, or nullptr when it is off.
  const pool_stats* stats() const { return stats_.get(); }

  // f(thread, threads) on every thread of the pool; returns when all are done.
  template <class F>
  void run(F&& f) {
    using Fn = std::remove_reference_t<F>;
    run_job([](void* c, std::size_t t, std::size_t n) { (*static_cast<Fn*>(c))(t, n); },
            const_cast<void*>(static_cast<const void*>(&f)), typeid(Fn).name());
  }

  // What run does, once for every kind of job: f's body is compiled only in
  // its small trampoline, not again in each caller with the dispatch around it.
  // job names the kind of job for the accounting.
  void run_job(void (*fn)(void*, std::size_t, std::size_t), void* ctx, const char* job = "");

 private:
  static constexpr int spin_limit = 1 << 14;
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  static unsigned read_float_env() {
#ifdef INGOT_POOL_HAVE_MXCSR
    return _mm_getcsr();
#else
    return 0;
#endif
  }
  static void write_float_env([[maybe_unused]] unsigned env) {
#ifdef INGOT_POOL_HAVE_MXCSR
    _mm_setcsr(env);
#endif
  }
  static bool& inside_run() {
    thread_local bool inside = false;
    return inside;
  }

  void work(std::size_t t);

  std::size_t size_;
  std::vector<std::thread> workers_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stop_{false};
  void (*job_fn_)(void*, std::size_t, std::size_t) = nullptr;
  void* job_ctx_ = nullptr;
  unsigned float_env_ = 0;
  std::unique_ptr<pool_stats> stats_;
  bool print_stats_ = false;
};

// The cores this process may run on.
INGOT_DECL std::size_t available_cores();

namespace detail {
inline std::unique_ptr<thread_pool>& pool_slot() {
  static std::unique_ptr<thread_pool> pool;
  return pool;
}
// Makes the pool on first use (out of line: the threads' start-up code is
// compiled once).
INGOT_DECL thread_pool& make_pool();
}  // namespace detail

// The process-wide pool that ingot's loops use (made on first use).
inline thread_pool& pool() {
  auto& p = detail::pool_slot();
  return p ? *p : detail::make_pool();
}

// Threads for training from now on (torch.set_num_threads); 0 means the
// available cores. Not to be called while a step runs.
INGOT_DECL void set_num_threads(std::size_t n);
inline std::size_t get_num_threads() { return pool().size(); }

// The static share of [0, n) of thread t of `threads`, in whole units of `grain`.
struct thread_range {
  std::size_t begin, end;
};
inline thread_range share(std::size_t n, std::size_t t, std::size_t threads, std::size_t grain = 1) {
  const std::size_t units = (n + grain - 1) / grain;
  const std::size_t b = units * t / threads * grain, e = units * (t + 1) / threads * grain;
  return {b < n ? b : n, e < n ? e : n};
}

#if INGOT_DEFINE_BODIES
INGOT_DECL thread_pool::thread_pool(std::size_t threads, bool keep_stats) : size_(threads == 0 ? 1 : threads) {
  print_stats_ = pool_stats_requested();
  if (keep_stats || print_stats_) stats_ = std::make_unique<pool_stats>(size_);
  for (std::size_t t = 1; t < size_; ++t) workers_.emplace_back([this, t] { work(t); });
}

INGOT_DECL thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
  if (print_stats_ && stats_) std::fputs(stats_->report().c_str(), stderr);
}

INGOT_DECL void thread_pool::run_job(void (*fn)(void*, std::size_t, std::size_t), void* ctx, const char* job) {
  if (size_ == 1 || inside_run()) {
    fn(ctx, 0, 1);
    return;
  }
  const pool_stats::ns t0 = stats_ ? pool_stats::now() : 0;
  job_fn_ = fn;
  job_ctx_ = ctx;
  float_env_ = read_float_env();
  pending_.store(size_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  inside_run() = true;
  fn(ctx, 0, size_);
  const pool_stats::ns t1 = stats_ ? pool_stats::now() : 0;
  inside_run() = false;
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < spin_limit) {
      pause();
    } else {
      const std::size_t left = pending_.load(std::memory_order_acquire);
      if (left != 0) pending_.wait(left, std::memory_order_acquire);
    }
  }
  if (stats_) stats_->record(job, t0, t1, pool_stats::now());
}

INGOT_DECL void thread_pool::work(std::size_t t) {
  inside_run() = true;
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < spin_limit; ++spin) {
      pause();
      g = generation_.load(std::memory_order_acquire);
    }
    while (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    if (read_float_env() != float_env_) write_float_env(float_env_);
    if (stats_) stats_->worker[t].start = pool_stats::now();
    job_fn_(job_ctx_, t, size_);
    if (stats_) stats_->worker[t].end = pool_stats::now();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

INGOT_DECL std::size_t available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  const unsigned h = std::thread::hardware_concurrency();
  return h ? h : 1;
}

INGOT_DECL void set_num_threads(std::size_t n) {
  detail::pool_slot() = std::make_unique<thread_pool>(n == 0 ? available_cores() : n);
}

INGOT_DECL thread_pool& detail::make_pool() {
  auto& p = pool_slot();
  if (!p) p = std::make_unique<thread_pool>(available_cores());
  return *p;
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot
