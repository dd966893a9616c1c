#pragma once
// The communicator on MPI (tested with Open MPI 4.1): what a program that
// trains on several processes includes, and links with MPI (meson:
// dependency('mpi', language : 'cpp')). The rest of the library never
// includes MPI.
//
//   int main(int argc, char** argv) {
//     ingot::dist::mpi_environment mpi(argc, argv);
//     ingot::dist::mpi_communicator comm;
//     trainer.distribute(comm);
//     trainer.fit(train, {...});   // every rank calls fit
//   }
//
// Only the main thread calls MPI (MPI_THREAD_FUNNELED); the thread pool's
// workers never do.
// The C API only: Open MPI's and MPICH's deprecated C++ bindings stay out.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include "ingot/core/thread_pool.hpp"
#include "ingot/dist/communicator.hpp"

namespace ingot::dist {

// MPI for the lifetime of the object. Its destructor finalises MPI, unless
// an exception is leaving the scope: then the job is aborted, because the
// other processes may be waiting in a collective that this one will never
// join, and would hang instead of stopping.
class mpi_environment {
 public:
  mpi_environment(int& argc, char**& argv) : uncaught_(std::uncaught_exceptions()) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw std::runtime_error("ingot: MPI_Init_thread failed");
    owner_ = true;
  }
  mpi_environment(const mpi_environment&) = delete;
  mpi_environment& operator=(const mpi_environment&) = delete;
  ~mpi_environment() {
    if (!owner_) return;
    if (std::uncaught_exceptions() > uncaught_) {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      std::fprintf(stderr, "ingot: rank %d is leaving with an exception; aborting the job\n", rank);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
  }

 private:
  int uncaught_;
  bool owner_ = false;
};

class mpi_communicator final : public communicator {
 public:
  // A duplicate of comm, so that ingot's collectives never match a caller's.
  // Caps the thread pool so that the ranks on one machine together use no
  // more threads than its cores (Open MPI binds each of two ranks to a core
  // of its own, and the pool then sees one core; unbound ranks would each
  // see them all).
  explicit mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD) {
    MPI_Comm_dup(comm, &comm_);
    int r = 0, n = 0;
    MPI_Comm_rank(comm_, &r);
    MPI_Comm_size(comm_, &n);
    rank_ = static_cast<std::size_t>(r);
    size_ = static_cast<std::size_t>(n);
    MPI_Comm local;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, r, MPI_INFO_NULL, &local);
    int ln = 1;
    MPI_Comm_size(local, &ln);
    MPI_Comm_free(&local);
    local_size_ = static_cast<std::size_t>(ln);
    const std::size_t cores = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    const std::size_t fair = std::max<std::size_t>(1, cores / local_size_);
    if (get_num_threads() > fair) set_num_threads(fair);
  }
  mpi_communicator(const mpi_communicator&) = delete;
  mpi_communicator& operator=(const mpi_communicator&) = delete;
  ~mpi_communicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  using communicator::broadcast;
  using communicator::start_sum;
  using communicator::sum;
  std::size_t rank() const override { return rank_; }
  std::size_t size() const override { return size_; }
  // Processes on this machine (sharing its memory).
  std::size_t local_size() const { return local_size_; }
  MPI_Comm native() const { return comm_; }

  void broadcast(void* data, std::size_t bytes, std::size_t root) override {
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min<std::size_t>(bytes - done, chunk);
      check(MPI_Bcast(p + done, static_cast<int>(n), MPI_BYTE, static_cast<int>(root), comm_), "MPI_Bcast");
      done += n;
    }
  }
  void sum(void* data, std::size_t count, value_type type) override {
    for_chunks(data, count, type, [&](void* p, int n, MPI_Datatype t) {
      check(MPI_Allreduce(MPI_IN_PLACE, p, n, t, MPI_SUM, comm_), "MPI_Allreduce");
    });
  }
  void start_sum(void* data, std::size_t count, value_type type) override {
    for_chunks(data, count, type, [&](void* p, int n, MPI_Datatype t) {
      if (pending_ == requests_.size()) wait_all();
      check(MPI_Iallreduce(MPI_IN_PLACE, p, n, t, MPI_SUM, comm_, &requests_[pending_]), "MPI_Iallreduce");
      ++pending_;
    });
  }
  void test_all() override {
    if (pending_ == 0) return;
    int done = 0;
    check(MPI_Testall(static_cast<int>(pending_), requests_.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done) pending_ = 0;
  }
  void wait_all() override {
    if (pending_ == 0) return;
    check(MPI_Waitall(static_cast<int>(pending_), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    pending_ = 0;
  }
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "ingot: rank %zu of %zu: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(comm_, 1);
    std::abort();  // MPI_Abort does not return; this is for the compiler
  }

 private:
  // MPI counts are ints: larger buffers go in chunks.
  static constexpr std::size_t chunk = std::size_t{1} << 30;

  static MPI_Datatype mpi_type(value_type t) {
    switch (t) {
      case value_type::f32: return MPI_FLOAT;
      case value_type::f64: return MPI_DOUBLE;
      case value_type::u64: return MPI_UINT64_T;
    }
    return MPI_DATATYPE_NULL;
  }
  static std::size_t size_of(value_type t) { return t == value_type::f32 ? 4 : 8; }
  template <class F>
  static void for_chunks(void* data, std::size_t count, value_type type, F&& f) {
    const std::size_t per = chunk / size_of(type);
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < count;) {
      const std::size_t n = std::min(count - done, per);
      f(p + done * size_of(type), static_cast<int>(n), mpi_type(type));
      done += n;
    }
  }
  void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    abort(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::size_t rank_ = 0, size_ = 1, local_size_ = 1, pending_ = 0;
  std::array<MPI_Request, max_pending> requests_{};
};

}  // namespace ingot::dist
