#pragma once
// How far apart the first two threads' cores are: the round trip of one
// cache line bounced between them (ns), and the rate at which thread 0
// reads 4 MB that thread 1 has just written against 4 MB it wrote itself
// (GB/s, median of 9). On a virtual machine two vCPUs may share one
// last-level cache or sit apart on the host, and the placement can change
// while the machine runs: on the 2-vCPU Zen 4 machine of the README the
// round trip read 53-76 ns at some times and 348-453 ns at others, and a
// two-thread MLP epoch, whose threads hand data to each other, took 1.5x
// as long in the second case. The bench programs print it beside their
// two-thread times so that a table says which case it was measured in.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ingot/ingot.hpp>
#include <vector>

namespace ingot_bench {

struct core_link {
  double round_trip_ns = 0, remote_gbs = 0, local_gbs = 0;
};

// Zeros when the pool has fewer than two threads.
inline core_link measure_core_link() {
  using clock_type = std::chrono::steady_clock;
  auto seconds_since = [](clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
  };
  core_link link;
  if (ingot::get_num_threads() < 2) return link;
  std::atomic<int> flag{0};
  constexpr int rounds = 100000;
  ingot::pool().run([&](std::size_t t, std::size_t n) {
    if (n < 2) return;
    if (t == 1) {
      for (int i = 0; i < rounds; ++i) {
        while (flag.load(std::memory_order_acquire) != 1) {}
        flag.store(0, std::memory_order_release);
      }
    } else if (t == 0) {
      const auto start = clock_type::now();
      for (int i = 0; i < rounds; ++i) {
        flag.store(1, std::memory_order_release);
        while (flag.load(std::memory_order_acquire) != 0) {}
      }
      link.round_trip_ns = seconds_since(start) / rounds * 1e9;
    }
  });
  std::vector<float> buf(std::size_t{1} << 20);
  auto read_after = [&](std::size_t writer) {
    std::vector<double> rates;
    for (int r = 0; r < 9; ++r) {
      ingot::pool().run([&](std::size_t t, std::size_t) {
        if (t == writer)
          for (float& v : buf) v += 1.0f;
      });
      double seconds = 0;
      float total = 0;
      ingot::pool().run([&](std::size_t t, std::size_t) {
        if (t != 0) return;
        using V = ingot::simd::vec<float>;
        const auto start = clock_type::now();
        V acc(0.0f);
        for (std::size_t i = 0; i < buf.size(); i += ingot::simd::width<float>) acc += V::load_unaligned(buf.data() + i);
        total = ingot::simd::hsum(acc);
        seconds = seconds_since(start);
      });
      if (!std::isfinite(total)) std::printf("(non-finite sum)\n");
      rates.push_back(static_cast<double>(buf.size() * sizeof(float)) / seconds * 1e-9);
    }
    std::nth_element(rates.begin(), rates.begin() + 4, rates.end());
    return rates[4];
  };
  link.remote_gbs = read_after(1);
  link.local_gbs = read_after(0);
  return link;
}

// ", \"core_round_trip_ns\": ..., ..." for a JSON record.
inline void print_core_link(const core_link& link) {
  std::printf(", \"core_round_trip_ns\": %.1f, \"remote_read_gbs\": %.1f, \"local_read_gbs\": %.1f", link.round_trip_ns,
              link.remote_gbs, link.local_gbs);
}

}  // namespace ingot_bench
