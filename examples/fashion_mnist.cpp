// Fashion-MNIST with a 784-256-128-10 MLP: real data, the PyTorch training
// loop (cross-entropy, shuffled mini-batches, an optimizer and a learning-rate
// schedule of torch's), one line per epoch. It leaves behind a training
// checkpoint after every epoch (--checkpoint; --resume continues from it),
// the final weights as a PyTorch state_dict (--save-model) and, with
// --metrics, one row of metrics per epoch. --help lists every flag.
//
// --distributed trains data-parallel on MPI: mpirun -np 2 fashion_mnist
// --distributed. Every rank runs this program; --batch-size is the global
// batch; rank 0 prints and writes the files.
#include <cstdio>
#include <ingot/ingot.hpp>
#include <optional>

#include "common/flags.hpp"
#include "common/training.hpp"
#ifdef INGOT_HAVE_MPI
#include <ingot/dist/mpi.hpp>
#endif

using namespace ingot;

using Net = nn::Sequential<nn::Dense<784, 256>, nn::ReLU,
                           nn::Dense<256, 128>, nn::ReLU,
                           nn::Dense<128, 10>>;
// With --dropout: inverted dropout after each hidden activation (training
// form only; evaluation sees the plain network).
using NetWithDropout = nn::Sequential<nn::Dense<784, 256>, nn::ReLU, nn::Dropout<0.2>,
                                      nn::Dense<256, 128>, nn::ReLU, nn::Dropout<0.2>,
                                      nn::Dense<128, 10>>;

struct settings : examples::common_settings {
  std::size_t warmup_epochs = 1, validation = 0, patience = 0;
  double clip_grad_norm = 0;
  std::string optimizer = "adam", schedule = "none";
  bool dropout = false, distributed = false;
};

// The learning rate at each step, torch's way; stepped after every batch.
sched::SequentialLR make_schedule(const settings& s, std::size_t steps_per_epoch) {
  const std::size_t total = s.epochs * steps_per_epoch, warmup = std::min(s.warmup_epochs, s.epochs) * steps_per_epoch;
  if (s.schedule == "step") return sched::SequentialLR::of({}, sched::StepLR{.step_size = 2 * steps_per_epoch, .gamma = 0.5});
  if (s.schedule == "cosine") return sched::SequentialLR::of({}, sched::CosineAnnealingLR{.T_max = total});
  if (s.schedule == "warmup-cosine")
    return sched::SequentialLR::of({warmup}, sched::LinearLR{.start_factor = 0.1, .total_iters = warmup},
                                   sched::CosineAnnealingLR{.T_max = total - warmup});
  if (s.schedule == "onecycle")
    return sched::SequentialLR::of({}, sched::OneCycleLR{.max_lr = s.lr, .total_steps = total, .cycle_momentum = false});
  return sched::SequentialLR::of({}, sched::ConstantLR{.factor = 1.0, .total_iters = 0});
}

template <class Model>
double run_training(const settings& s, optim::any_optimizer optimizer, const data::Dataset<std::int32_t>& train_set,
                    const data::Dataset<std::int32_t>& test_set, dist::communicator& comm) {
  const bool main_rank = comm.rank() == 0;
  Model net{init::seed(s.seed)};
  if (main_rank) std::fputs(nn::summary<Model>().c_str(), stdout);
  train::Trainer trainer{net, loss::CrossEntropy{}, std::move(optimizer)};
  trainer.manual_seed(s.seed);  // dropout masks
  if (comm.size() > 1) {
    trainer.distribute(comm);
    if (main_rank)
      std::printf("data parallel: %zu ranks, %zu rows of each batch of %zu per rank, %zu thread(s) each\n", comm.size(),
                  data::part_of(s.batch_size, 0, comm.size()).rows, s.batch_size, get_num_threads());
  }
  const std::size_t steps_per_epoch = (train_set.rows - s.validation + s.batch_size - 1) / s.batch_size;
  sched::scheduler lr(trainer.optimizer(), make_schedule(s, steps_per_epoch));
  // With --validation, N training images chosen at random (from the seed)
  // are held out: they are the validation set that early stopping reads.
  // The test set is only shown, never used for a decision.
  const bool held_out = s.validation > 0;
  std::pair<data::Dataset<std::int32_t>, data::Dataset<std::int32_t>> split;
  if (held_out) split = data::train_validation_split(train_set, s.validation, s.seed);
  const auto& fit_on = held_out ? split.first : train_set;
  const auto& val_set = split.second;
  trainer.validate_on(held_out ? val_set : test_set);
  struct optional_stop {
    std::optional<train::EarlyStopping<Model>> stop;
    void on_epoch_begin(std::size_t e) {
      if (stop) stop->on_epoch_begin(e);
    }
    bool on_epoch_end(const train::epoch_result& r) { return stop ? stop->on_epoch_end(r) : true; }
    void on_fit_end(const std::vector<train::epoch_result>& h) {
      if (stop) stop->on_fit_end(h);
    }
  } early;
  if (s.patience > 0)
    early.stop.emplace(net, train::early_stopping_options{.monitor = "val_loss", .patience = s.patience,
                                                          .restore_best_weights = true});
  if (s.resume) {
    io::load_checkpoint(s.checkpoint, trainer, lr);
    if (main_rank) std::printf("resumed from %s after epoch %zu\n", s.checkpoint.c_str(), trainer.epochs_done());
    if (main_rank && trainer.epochs_done() >= s.epochs)
      std::printf("the checkpoint has done %zu of --epochs %zu already; nothing to train\n", trainer.epochs_done(),
                  s.epochs);
  }
  examples::metrics_log metrics(s.metrics, s.resume);
  auto checkpoint = io::checkpoint_every_epoch(s.checkpoint, trainer, lr);
  examples::optional_progress progress(s.progress);
  trainer.fit(
      fit_on,
      {.epochs = s.epochs, .batch_size = s.batch_size, .shuffle = true, .seed = s.seed, .clip_grad_norm = s.clip_grad_norm,
       .resume = s.resume},
      sched::each_batch(lr), progress, metrics, checkpoint,
      [&](const train::epoch_result& r) {
        const auto test = held_out ? trainer.evaluate(test_set) : *r.validation;
        if (!main_rank) return;
        std::printf("epoch %zu/%zu  train loss %.4f", r.epoch, r.epochs, r.loss);
        if (held_out) std::printf("  val loss %.4f  val accuracy %.2f%%", r.validation->loss, 100.0 * r.validation->accuracy);
        std::printf("  test loss %.4f  test accuracy %.2f%%  lr %.3g  (%.2f s)\n", test.loss, 100.0 * test.accuracy,
                    lr.last_lr(), r.seconds);
        std::fflush(stdout);
      },
      early);
  const auto final_test = trainer.evaluate(test_set);
  if (!main_rank) return 100.0 * final_test.accuracy;
  if (early.stop && early.stop->stopped_epoch())
    std::printf("early stopping at epoch %zu; weights of epoch %zu restored\n", early.stop->stopped_epoch(),
                early.stop->best_epoch());
  io::save_state_dict(net, s.save_model);
  std::printf("final test accuracy %.2f%% after %zu epochs\n", 100.0 * final_test.accuracy, trainer.epochs_done());
  std::printf("model weights:  %s (PyTorch: model.load_state_dict(safetensors.torch.load_file(path)))\n",
              s.save_model.c_str());
  std::printf("checkpoint:     %s (continue with --resume)\n", s.checkpoint.c_str());
  if (!s.metrics.empty()) std::printf("metrics:        %s (tools/plot_metrics.py draws them)\n", s.metrics.c_str());
  return 100.0 * final_test.accuracy;
}

int main(int argc, char** argv) {
  settings s;
  s.checkpoint = "fashion_mnist.ckpt.safetensors";
  s.save_model = "fashion_mnist.safetensors";
  examples::flags f("Train a 784-256-128-10 MLP on Fashion-MNIST");
  examples::add_common_flags(f, s);
  f.option("--optimizer", s.optimizer, "adam, adamw, sgd (with --momentum), rmsprop or adagrad",
           {"adam", "adamw", "sgd", "rmsprop", "adagrad"});
  f.option("--schedule", s.schedule, "learning-rate schedule, stepped every batch",
           {"none", "step", "cosine", "warmup-cosine", "onecycle"});
  f.option("--warmup-epochs", s.warmup_epochs, "linear warmup of warmup-cosine");
  f.option("--clip-grad-norm", s.clip_grad_norm, "clip the gradients' 2-norm (0: off)");
  f.flag("--dropout", s.dropout, "Dropout(p=0.2) after each hidden ReLU");
  f.option("--validation", s.validation,
           "hold out N training images, chosen at random from --seed, as a validation set");
  f.option("--early-stopping", s.patience,
           "stop after this many epochs without a lower validation loss, and restore the best weights "
           "(needs --validation)");
  f.flag("--distributed", s.distributed,
         "data-parallel training on MPI: start with mpirun -np N; --batch-size is the global batch");
  if (const auto status = f.parse(argc, argv)) return *status;
  examples::apply_matmul_precision(s);

#ifdef INGOT_HAVE_MPI
  std::optional<dist::mpi_environment> mpi;
  std::optional<dist::mpi_communicator> mpi_comm;
  if (s.distributed) {
    mpi.emplace(argc, argv);
    mpi_comm.emplace();
  }
  dist::single_process one_process;
  dist::communicator& comm = s.distributed ? static_cast<dist::communicator&>(*mpi_comm) : one_process;
#else
  if (s.distributed) {
    std::fprintf(stderr, "fashion_mnist: --distributed: this build has no MPI (install libopenmpi-dev and "
                         "reconfigure)\n");
    return 1;
  }
  dist::single_process comm;
#endif
  const bool main_rank = comm.rank() == 0;
  try {
    const auto train_set = data::fashion_mnist("train", s.data_dir);
    const auto test_set = data::fashion_mnist("t10k", s.data_dir);
    if (s.validation >= train_set.rows) throw std::invalid_argument("--validation must leave training images");
    if (s.patience > 0 && s.validation == 0) throw std::invalid_argument("--early-stopping needs --validation N");
    if (s.batch_size > train_set.rows - s.validation)
      throw std::invalid_argument("--batch-size is larger than the training set");
    if (main_rank) {
      std::printf("Fashion-MNIST: %zu training and %zu test images of %zu pixels\n", train_set.size(),
                  test_set.size(), train_set.features);
      std::printf("%s lr %g, weight decay %g, schedule %s, batch %zu%s\n", s.optimizer.c_str(), s.lr, s.weight_decay,
                  s.schedule.c_str(), s.batch_size,
                  get_matmul_precision() == matmul_precision::bfloat16 ? ", bfloat16 products" : "");
    }
    optim::any_optimizer opt = examples::make_optimizer(s.optimizer, s);
    const double accuracy = s.dropout ? run_training<NetWithDropout>(s, std::move(opt), train_set, test_set, comm)
                                      : run_training<Net>(s, std::move(opt), train_set, test_set, comm);
    if (accuracy < s.require_accuracy && main_rank) {
      std::fprintf(stderr, "fashion_mnist: test accuracy %.2f%% is below the required %.2f%%\n", accuracy,
                   s.require_accuracy);
      return 2;
    }
  } catch (const std::exception& e) {
    // Distributed, the other ranks may wait for this one: stop them all.
    if (comm.size() > 1) comm.abort(std::string("fashion_mnist: ") + e.what());
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
