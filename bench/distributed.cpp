// Data-parallel scaling of the Fashion-MNIST MLP (784-256-128-10, Adam 1e-3,
// shuffled): run it with mpirun -np R. Each rank trains its part of every
// global batch; the communicator is wrapped so that the time spent inside
// the reductions (starting them, polling between plan steps, waiting at the
// end) is counted. The wait is the communication the backward pass did not
// hide. One JSON line per epoch from rank 0:
//   {"ranks":2,"threads":1,"batch":64,"overlap":1,"bucket_kb":256,"epoch":1,
//    "seconds":…,"comm_seconds":…,"steps":938,"loss":…}
//   mpirun -np 2 bench_distributed [epochs] [global batch] [overlap 0/1] [bucket KiB]
// With "allreduce" as the first argument it times the reduction alone: the
// MLP's gradient arena (235,146 floats) summed over the ranks, whole and in
// buckets, median of 200 after 20 warm-up rounds, one JSON line:
//   mpirun -np 2 bench_distributed allreduce [bucket KiB]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <ingot/dist/mpi.hpp>
#include <ingot/ingot.hpp>

using namespace ingot;

namespace {
// Forwards to another communicator and adds up the time spent in it.
class timed_communicator final : public dist::communicator {
 public:
  explicit timed_communicator(dist::communicator& inner) : inner_(inner) {}
  using communicator::broadcast;
  using communicator::start_sum;
  using communicator::sum;
  std::size_t rank() const override { return inner_.rank(); }
  std::size_t size() const override { return inner_.size(); }
  void broadcast(void* d, std::size_t b, std::size_t root) override { timed([&] { inner_.broadcast(d, b, root); }); }
  void sum(void* d, std::size_t n, dist::value_type t) override { timed([&] { inner_.sum(d, n, t); }); }
  void start_sum(void* d, std::size_t n, dist::value_type t) override { timed([&] { inner_.start_sum(d, n, t); }); }
  void test_all() override { timed([&] { inner_.test_all(); }); }
  void wait_all() override { timed([&] { inner_.wait_all(); }); }
  void abort(const std::string& m) override { inner_.abort(m); }
  double seconds = 0;

 private:
  template <class F>
  void timed(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  dist::communicator& inner_;
};

using Net = nn::Sequential<nn::Dense<784, 256>, nn::ReLU, nn::Dense<256, 128>, nn::ReLU, nn::Dense<128, 10>>;

// Median microseconds of one sum over the ranks of n floats: one blocking
// call, or buckets of `bucket` floats started together and waited for.
template <class Reduce>
double median_us(dist::communicator& comm, Reduce&& reduce) {
  std::vector<double> us;
  float line_up = 0;
  for (int round = 0; round < 220; ++round) {
    comm.sum(std::span<float>(&line_up, 1));  // so that one rank's lateness is not timed
    const auto t0 = std::chrono::steady_clock::now();
    reduce();
    if (round >= 20) us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

int time_allreduce(dist::communicator& comm, std::size_t bucket_kb) {
  std::vector<float> arena(Net::parameter_count, 1.0f);
  const std::size_t bucket = std::max<std::size_t>(1, (bucket_kb << 10) / sizeof(float));
  const double whole = median_us(comm, [&] { comm.sum(std::span<float>(arena)); });
  const double buckets = median_us(comm, [&] {
    for (std::size_t at = 0; at < arena.size(); at += bucket)
      comm.start_sum(std::span<float>(arena.data() + at, std::min(bucket, arena.size() - at)));
    comm.wait_all();
  });
  if (comm.rank() == 0)
    std::printf("{\"ranks\":%zu,\"floats\":%zu,\"bucket_kb\":%zu,\"whole_us\":%.1f,\"buckets_us\":%.1f}\n", comm.size(),
                arena.size(), bucket_kb, whole, buckets);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  dist::mpi_environment mpi(argc, argv);
  dist::mpi_communicator world;
  if (argc > 1 && std::strcmp(argv[1], "allreduce") == 0)
    return time_allreduce(world, argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 256);
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2;
  const std::size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  const bool overlap = argc > 3 ? std::atoi(argv[3]) != 0 : train::distribute_options{}.overlap;
  const std::size_t bucket_kb = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 256;
  try {
    const auto train_set = data::fashion_mnist("train");
    timed_communicator comm(world);
    Net net{init::seed(1)};
    train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
    trainer.distribute(comm, {.bucket_bytes = bucket_kb << 10, .overlap = overlap});
    double at_start = 0;
    trainer.fit(train_set, {.epochs = epochs, .batch_size = batch, .shuffle = true, .seed = 3},
                [&](const train::epoch_result& r) {
                  if (r.rank == 0)
                    std::printf("{\"ranks\":%zu,\"threads\":%zu,\"batch\":%zu,\"overlap\":%d,\"bucket_kb\":%zu,"
                                "\"epoch\":%zu,\"seconds\":%.4f,\"comm_seconds\":%.4f,\"steps\":%zu,\"loss\":%.6f}\n",
                                comm.size(), get_num_threads(), batch, overlap ? 1 : 0, bucket_kb, r.epoch, r.seconds,
                                comm.seconds - at_start, (train_set.rows + batch - 1) / batch, r.loss);
                  std::fflush(stdout);
                  at_start = comm.seconds;
                });
  } catch (const std::exception& e) {
    world.abort(e.what());
  }
}
