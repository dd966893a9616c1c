#pragma once
// Mini-batches over a Dataset, as PyTorch's DataLoader gives them: a batch
// size, a seeded shuffle per epoch and drop_last. It never copies the data
// set: unshuffled batches point into it, shuffled ones are gathered into a
// buffer allocated once and reused.
//
// The order of epoch e depends only on (seed, e), as with torch's
// DistributedSampler.set_epoch: a run resumed at epoch e sees the batches
// an uninterrupted run would, and every process of a data-parallel job can
// compute the same order without talking to the others.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/aligned.hpp"
#include "ingot/core/prefetch.hpp"
#include "ingot/core/rng.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/data/dataset.hpp"

namespace ingot::data {

struct loader_options {
  std::size_t batch_size = 32;
  bool shuffle = false;
  std::uint64_t seed = 0;
  bool drop_last = false;
  // Data parallelism: this process takes part `shard` of `shards` of every
  // batch (batch_size is the global batch). A batch of n rows is split into
  // contiguous parts, the first n % shards parts one row longer (as
  // numpy.array_split), so that the parts in rank order are the batch one
  // process would see. Unlike torch's DistributedSampler no row is repeated
  // to even out the last batch: a part may be short, or empty.
  std::size_t shard = 0, shards = 1;
};

// Rows [first, first + rows) of a batch of n rows are part k of `parts`.
struct batch_part {
  std::size_t first = 0, rows = 0;
};
inline batch_part part_of(std::size_t n, std::size_t k, std::size_t parts) {
  const std::size_t q = n / parts, extra = n % parts;
  return {k * q + std::min(k, extra), q + (k < extra ? 1 : 0)};
}

// The seed of epoch e's permutation: a SplitMix64 step of (seed, e), so that
// neighbouring seeds and epochs give unrelated orders.
inline std::uint64_t epoch_seed(std::uint64_t seed, std::uint64_t epoch) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <class Target>
class DataLoader {
 public:
  // Shuffled batches of at least this many values are gathered on all the
  // pool's threads (below it, waking them costs more than it saves).
  static constexpr std::size_t parallel_gather_min_values = std::size_t{1} << 14;
  struct batch {
    const float* x = nullptr;
    const Target* y = nullptr;
    std::size_t rows = 0;
    // With shards: the whole batch's rows, and where this part starts in it.
    std::size_t global_rows = 0, first = 0;
  };

  DataLoader(const Dataset<Target>& ds, loader_options opt);

  const Dataset<Target>& dataset() const { return *ds_; }
  // Rows per full batch, and batches per epoch.
  std::size_t batch_size() const { return std::min(opt_.batch_size, ds_->rows); }
  // The most rows this process's part of a batch has.
  std::size_t local_batch_size() const { return part_of(batch_size(), 0, opt_.shards).rows; }
  std::size_t size() const {
    const std::size_t b = opt_.batch_size;
    return opt_.drop_last ? ds_->rows / b : (ds_->rows + b - 1) / b;
  }
  // Row i of epoch e's order is order()[i] after set_epoch(e).
  std::span<const std::size_t> order() const { return order_; }

  // Starts epoch e (0-based): its permutation when shuffling, from
  // (seed, e) alone, then its first batch.
  void set_epoch(std::uint64_t e);

  // The next batch of this epoch, or false at its end. The pointers stay
  // valid until the next call.
  bool next(batch& out);

 private:
  const Dataset<Target>* ds_;
  loader_options opt_;
  // Asks for the first two cache lines of each row of the batch that starts
  // at `first` (this process's part of it): the step that runs before the
  // next call hides the page walk and the first misses of each random row,
  // and the hardware prefetcher follows the row from there. Measured one
  // thread, 64 shuffled rows of 784 floats out of 60,000 with 6 MB touched
  // between batches, alternated: 42-50 us per batch before, 30-34 us after;
  // asking for whole rows gave 44-53 us. With the gather split across the
  // pool, thread t of n asks for the slice of the next batch it will gather
  // (the split depends only on the row count and t), so the lines arrive in
  // the cache of the core that copies them, and no thread asks for all.
  void prefetch_rows(std::size_t first, std::size_t t = 0, std::size_t n = 1) const;

  std::vector<std::size_t> order_;
  aligned_buffer<float> x_;
  std::vector<Target> y_;
  std::size_t next_ = 0;
};

template <class Target>
DataLoader<Target>::DataLoader(const Dataset<Target>& ds, loader_options opt) : ds_(&ds), opt_(opt), order_(ds.rows) {
  if (opt.batch_size == 0) throw std::invalid_argument(ds.source + ": a batch size of at least 1 is needed");
  if (opt.shards == 0 || opt.shard >= opt.shards)
    throw std::invalid_argument(ds.source + ": shard " + std::to_string(opt.shard) + " of " +
                                std::to_string(opt.shards) + " does not exist");
  for (std::size_t i = 0; i < ds.rows; ++i) order_[i] = i;
  if (opt.shuffle) {
    const std::size_t rows = local_batch_size();
    x_ = aligned_buffer<float>(rows * ds.features);
    y_.resize(rows * ds.target_cols);
  }
}

template <class Target>
void DataLoader<Target>::set_epoch(std::uint64_t e) {
  next_ = 0;
  if (!opt_.shuffle) return;
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  rng g(epoch_seed(opt_.seed, e));
  g.shuffle(std::span<std::size_t>(order_));
}

template <class Target>
void DataLoader<Target>::prefetch_rows(std::size_t first, std::size_t t, std::size_t threads) const {
  const std::size_t n = ds_->rows, f = ds_->features;
  if (first >= n) return;
  const batch_part part = part_of(std::min(opt_.batch_size, n - first), opt_.shard, opt_.shards);
  const std::size_t r0 = part.rows * t / threads, r1 = part.rows * (t + 1) / threads;
  constexpr std::size_t line = 64 / sizeof(float);
  for (std::size_t i = first + part.first + r0; i < first + part.first + r1; ++i) {
    const float* row = ds_->x.data() + order_[i] * f;
    prefetch_for_read(row);
    if (f > line) prefetch_for_read(row + line);
  }
}

template <class Target>
bool DataLoader<Target>::next(batch& out) {
  const std::size_t n = ds_->rows;
  if (next_ >= n) return false;
  const std::size_t global_rows = std::min(opt_.batch_size, n - next_);
  if (opt_.drop_last && global_rows < opt_.batch_size) return false;
  const batch_part part = part_of(global_rows, opt_.shard, opt_.shards);
  const std::size_t rows = part.rows, begin = next_ + part.first;
  const std::size_t f = ds_->features, tc = ds_->target_cols;
  if (opt_.shuffle) {
    // The rows come from anywhere in the data set (misses in cache and
    // TLB: 64 rows of Fashion-MNIST took about 24 us on one thread), so
    // large batches are gathered by the pool's threads, each its own
    // slice of rows.
    auto gather = [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        const std::size_t src = order_[begin + r];
        std::memcpy(x_.data() + r * f, ds_->x.data() + src * f, f * sizeof(float));
        std::memcpy(y_.data() + r * tc, ds_->y.data() + src * tc, tc * sizeof(Target));
      }
    };
    if (rows * f >= parallel_gather_min_values) {
      pool().run([&](std::size_t t, std::size_t n) {
        gather(rows * t / n, rows * (t + 1) / n);
        prefetch_rows(next_ + global_rows, t, n);
      });
    } else {
      gather(0, rows);
      prefetch_rows(next_ + global_rows);
    }
    out = {x_.data(), y_.data(), rows, global_rows, part.first};
  } else {
    out = {ds_->x.data() + begin * f, ds_->y.data() + begin * tc, rows, global_rows, part.first};
  }
  next_ += global_rows;
  return true;
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(class DataLoader<std::int32_t>)
INGOT_INSTANTIATE(class DataLoader<float>)

}  // namespace ingot::data
