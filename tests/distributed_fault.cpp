// A distributed fit in which rank 1 fails at its third step, in one of
// three ways (the first argument): "throw" (an exception in a callback),
// "exit" (the process ends without finalising MPI) or "kill" (SIGKILL).
// Rank 0 is then waiting in the gradients' all-reduce; the job must end,
// non-zero, instead of hanging. distributed_fault.sh checks how it ends.
#include <ingot/dist/mpi.hpp>
#include <ingot/ingot.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ingot;

int main(int argc, char** argv) {
  dist::mpi_environment mpi(argc, argv);
  dist::mpi_communicator comm;
  const std::string mode = argc > 1 ? argv[1] : "throw";
  using Net = nn::Sequential<nn::Dense<8, 16>, nn::ReLU, nn::Dense<16, 3>>;
  Net net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.1f}}};
  trainer.distribute(comm);
  const std::size_t rows = 4096;
  std::vector<float> x(rows * 8);
  rng g(2);
  g.fill_normal(std::span<float>(x));
  std::vector<std::int32_t> y(rows);
  for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<std::int32_t>(i % 3);
  const data::Dataset<std::int32_t> ds(rows, 8, 1, std::move(x), std::move(y), "synthetic");
  struct fail_at_step_3 {
    const dist::communicator* comm;
    std::string mode;
    void on_batch_end(const train::batch_result& r) {
      if (comm->rank() != 1 || r.step != 3) return;
      if (mode == "throw") throw std::runtime_error("injected failure at step 3");
      if (mode == "exit") std::_Exit(3);
      std::raise(SIGKILL);
    }
  };
  trainer.fit(ds, {.epochs = 50, .batch_size = 32}, fail_at_step_3{&comm, mode});
  if (comm.rank() == 0) std::printf("finished: rank 1 did not fail\n");
  return 0;
}
