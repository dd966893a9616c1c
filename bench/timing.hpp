#pragma once
// Timing of a short piece of work for the bench programs: repeated enough
// times per sample to last sample_seconds, the median and the fastest of
// the samples. On a shared machine the fastest sample is the steadier
// figure to compare two versions of a kernel by.
#include <algorithm>
#include <chrono>
#include <vector>

namespace ingot_bench {

struct timing {
  double median, best;  // seconds per call
};

template <class F>
timing time_calls(F&& run, int samples, double sample_seconds) {
  using clock_type = std::chrono::steady_clock;
  run();  // warm caches and the pool's threads
  const auto t0 = clock_type::now();
  run();
  const double once = std::chrono::duration<double>(clock_type::now() - t0).count();
  const int reps = std::max(1, static_cast<int>(sample_seconds / std::max(once, 1e-7)));
  std::vector<double> seconds;
  for (int s = 0; s < samples; ++s) {
    const auto start = clock_type::now();
    for (int r = 0; r < reps; ++r) run();
    seconds.push_back(std::chrono::duration<double>(clock_type::now() - start).count() / reps);
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds[seconds.size() / 2], seconds.front()};
}

}  // namespace ingot_bench
