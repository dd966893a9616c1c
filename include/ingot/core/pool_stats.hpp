#pragma once
// Opt-in accounting of the thread pool's runs, to see where a multi-thread
// step loses time against the one-thread work halved: the caller's own
// share of each run, its wait for the workers (load imbalance, a worker
// started late or held up by the host), the workers' idle time at the end
// of a run, and the serial work between runs, in total and per kind of job.
//
// INGOT_POOL_STATS=1 in the environment when the pool is made turns it on
// and prints the report to stderr when the pool goes (at exit, or when
// set_num_threads replaces it); thread_pool(n, true) keeps the figures for
// stats() without printing. Off, the pool only tests a null pointer per run.
// On, a run reads the clock four times per thread and the first run of
// each kind of job allocates its row.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define INGOT_POOL_STATS_DEMANGLE 1
#endif

namespace ingot {

struct pool_stats {
  using ns = std::int64_t;
  static ns now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // The caller's waits by size: below 250 ns, 1 us, 4 us, ... (x4), 1 ms and more.
  static constexpr std::size_t wait_buckets = 8;
  static constexpr ns first_bucket_ns = 250;
  static std::size_t bucket(ns t) {
    std::size_t b = 0;
    for (ns edge = first_bucket_ns; b + 1 < wait_buckets && t >= edge; edge *= 4) ++b;
    return b;
  }

  struct job_row {
    std::size_t runs = 0;
    ns caller = 0;         // the caller's own share
    ns caller_wait = 0;    // the caller waiting for the last worker
    ns workers = 0;        // the workers' shares, summed over workers
    ns workers_idle = 0;   // workers done before the caller, summed
    ns start_latency = 0;  // from the caller's start to each worker's, summed
    ns max_start_latency = 0;
  };
  // One slot per worker, on its own cache line: the worker writes its start
  // and end of each run, the caller reads them after the run.
  struct alignas(64) worker_times {
    ns start = 0, end = 0;
  };

  explicit pool_stats(std::size_t threads) : worker(threads) {}

  // A run that began at t0 (the caller's clock before waking the workers),
  // whose caller's share ended at t1 and which ended at t2 (all workers done).
  void record(const char* job, ns t0, ns t1, ns t2) {
    job_row& r = jobs[job];
    ++r.runs;
    ++runs;
    r.caller += t1 - t0;
    r.caller_wait += t2 - t1;
    ++waits[bucket(t2 - t1)];
    for (std::size_t t = 1; t < worker.size(); ++t) {
      const worker_times& w = worker[t];
      r.workers += w.end - w.start;
      r.workers_idle += std::max<ns>(0, t1 - w.end);
      r.start_latency += w.start - t0;
      r.max_start_latency = std::max(r.max_start_latency, w.start - t0);
    }
    if (last_end != 0) serial += t0 - last_end;
    if (first_start == 0) first_start = t0;
    last_end = t2;
  }

  // "ingot::simd::gemm<false, true, float>::{lambda#1}" from a lambda's
  // type name: the argument lists are dropped.
  static std::string job_name(const char* mangled) {
    std::string name = mangled;
#ifdef INGOT_POOL_STATS_DEMANGLE
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> d(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
    if (status == 0 && d) name = d.get();
#endif
    // Parentheses are dropped with what they hold, except a call operator's,
    // and template arguments nested in template arguments become "<...>"
    // (a fused pass's type spells its whole expression).
    std::string out;
    int parens = 0, angles = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char ch = name[i];
      if (parens == 0 && name.compare(i, 10, "operator()") == 0) {
        if (angles < 2) out.append("operator()");
        i += 9;
        continue;
      }
      if (ch == '(') ++parens;
      if (parens == 0) {
        if (ch == '<' && ++angles == 2) out.append("<...>");
        if (angles < 2 && !(ch == '>' && angles == 0)) out += ch;
        if (ch == '>' && angles > 0) --angles;
      }
      if (ch == ')' && parens > 0) --parens;
    }
    constexpr std::size_t longest = 160;  // a name the demangler gave up on stays mangled
    if (out.size() > longest) out = out.substr(0, longest) + "...";
    return out;
  }

  // printf into the end of s (a line of the report).
  [[gnu::format(printf, 2, 3)]] static void append(std::string& s, const char* fmt, ...) {
    char buf[256];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    s += buf;
  }

  std::string report() const {
    std::string s;
    auto ms = [](ns t) { return static_cast<double>(t) * 1e-6; };
    job_row all;
    for (const auto& [name, r] : jobs) {
      all.caller += r.caller;
      all.caller_wait += r.caller_wait;
      all.workers_idle += r.workers_idle;
      all.start_latency += r.start_latency;
      all.max_start_latency = std::max(all.max_start_latency, r.max_start_latency);
    }
    append(s, "ingot thread pool: %zu threads, %zu runs over %.3f ms (first run to last)\n", worker.size(), runs,
         ms(last_end - first_start));
    append(s, "  caller's own share  %10.3f ms\n", ms(all.caller));
    append(s, "  caller waiting      %10.3f ms; runs by wait:", ms(all.caller_wait));
    ns edge = first_bucket_ns;
    for (std::size_t b = 0; b < wait_buckets; ++b, edge *= 4) {
      if (b + 1 < wait_buckets) append(s, " <%lldns %zu,", static_cast<long long>(edge), waits[b]);
      else append(s, " more %zu\n", waits[b]);
    }
    append(s, "  workers idle at end %10.3f ms\n", ms(all.workers_idle));
    append(s, "  serial between runs %10.3f ms\n", ms(serial));
    if (worker.size() > 1 && runs > 0)
      append(s, "  worker start        %10.1f ns after the caller's on average, %lld ns at most\n",
           static_cast<double>(all.start_latency) / static_cast<double>(runs * (worker.size() - 1)),
           static_cast<long long>(all.max_start_latency));
    std::vector<std::pair<std::string, job_row>> rows;
    for (const auto& [name, r] : jobs) rows.emplace_back(job_name(name), r);
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.caller > b.second.caller; });
    append(s, "  per job, ms: runs | caller's share | caller waiting | workers' shares | workers idle | job\n");
    for (const auto& [name, r] : rows) {
      append(s, "    %8zu | %10.3f | %10.3f | %10.3f | %10.3f | ", r.runs, ms(r.caller), ms(r.caller_wait), ms(r.workers),
           ms(r.workers_idle));
      s += name;
      s += '\n';
    }
    return s;
  }

  std::vector<worker_times> worker;  // index 0 unused (the caller)
  std::map<const char*, job_row> jobs;
  std::array<std::size_t, wait_buckets> waits{};
  std::size_t runs = 0;
  ns serial = 0, first_start = 0, last_end = 0;
};

// Whether INGOT_POOL_STATS asks for the report (set and not "0").
inline bool pool_stats_requested() {
  const char* v = std::getenv("INGOT_POOL_STATS");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

}  // namespace ingot
