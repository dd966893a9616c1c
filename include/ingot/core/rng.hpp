#pragma once
// Seeded random numbers for initialisation, shuffling and synthetic data.
// std::mt19937_64 is specified bit-for-bit by the standard; the uniform and
// normal draws below are written out so results do not depend on the
// standard library's distribution code.
#include <cmath>
#include <cstdint>
#include <random>
#include <span>

namespace ingot {

class rng {
 public:
  explicit rng(std::uint64_t seed = 0) : engine_(seed) {}
  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // Standard normal (Box-Muller).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 == 0) u1 = uniform01();
    const double u2 = uniform01();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t v;
    do v = engine_();
    while (v >= limit);
    return v % n;
  }
  // Out of line: every layer's initialisation calls these, and a model of
  // many layers would otherwise compile one inlined copy per layer.
  template <class T>
  [[gnu::noinline]] void fill_uniform(std::span<T> out, double lo, double hi) {
    for (auto& v : out) v = static_cast<T>(uniform(lo, hi));
  }
  template <class T>
  [[gnu::noinline]] void fill_normal(std::span<T> out, double mean = 0, double stddev = 1) {
    for (auto& v : out) v = static_cast<T>(mean + stddev * normal());
  }
  // Fisher-Yates.
  template <class T>
  void shuffle(std::span<T> v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

namespace init {
struct seed {
  std::uint64_t value = 0;
};
}  // namespace init

}  // namespace ingot

namespace ingot {

// A counter-based random stream (SplitMix64 over a key): the k-th value
// depends only on (seed, step, lane, k). The trainer opens one per random
// leaf and step, so a step's masks are reproducible from the seed alone,
// need no stored generator state, and any block of them can be drawn by
// any thread.
class random_stream {
 public:
  random_stream(std::uint64_t seed, std::uint64_t step, std::uint64_t lane)
      : state_(mix(mix(mix(seed) ^ step) ^ (lane * 0x9e3779b97f4a7c15ull))) {}
  std::uint64_t next() { return mix(state_ += 0x9e3779b97f4a7c15ull); }
  // Skips n draws in O(1) (the state is a counter), so that a process can
  // draw its slice of a stream that is defined for a whole batch.
  void discard(std::uint64_t n) { state_ += n * 0x9e3779b97f4a7c15ull; }

 private:
  static constexpr std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

}  // namespace ingot
