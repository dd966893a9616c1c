// Checkpoints: safetensors files round-trip bit for bit, a PyTorch-saved
// state_dict loads and reproduces torch's outputs, damaged or foreign files
// are refused before anything changes, an interrupted save keeps the old
// file, and a resumed run is bit-identical to an uninterrupted one.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <ingot/ingot.hpp>
#include <ingot/io/checkpoint.hpp>
#include <ingot/core/paths.hpp>

#include "blobs.hpp"
#include "fixtures.hpp"

using namespace ingot;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
  const fs::path dir = fs::temp_directory_path() / ("ingot_ckpt_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}
std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

using BNNet = nn::Sequential<nn::Dense<7, 16>, nn::BatchNorm1d<16>, nn::ReLU, nn::Dense<16, 3>>;
using Other = nn::Sequential<nn::Dense<7, 12>, nn::BatchNorm1d<12>, nn::ReLU, nn::Dense<12, 3>>;
using DropNet = nn::Sequential<nn::Dense<5, 24>, nn::BatchNorm1d<24>, nn::ReLU, nn::Dropout<0.25>, nn::Dense<24, 3>>;

template <class Net>
bool same_model(const Net& a, const Net& b) {
  const auto fa = a.arena().flat(), fb = b.arena().flat();
  if (std::memcmp(fa.data(), fb.data(), fa.size_bytes()) != 0) return false;
  for (std::size_t k = 0; k < Net::state_type::value_count; ++k) {
    const auto va = a.state().value(k), vb = b.state().value(k);
    if (std::memcmp(va.data(), vb.data(), va.size_bytes()) != 0) return false;
  }
  for (std::size_t k = 0; k < Net::state_type::counter_count; ++k)
    if (a.state().counter_at(k) != b.state().counter_at(k)) return false;
  return true;
}
}  // namespace

TEST_CASE("a state_dict round-trips bit for bit, with PyTorch's names, shapes and dtypes", "[io][checkpoint]") {
  BNNet a{init::seed(1)};
  train::Trainer t{a, loss::CrossEntropy{}, optim::SGD{{.lr = 0.1f}}};
  const auto ds = testdata::blobs(40, 2);
  data::Dataset<std::int32_t> seven(40, 7, 1, std::vector<float>(280, 0.5f), ds.y, "seven");
  for (std::size_t i = 0; i < seven.x.size(); ++i) seven.x[i] = static_cast<float>(i % 13) / 7.0f - 0.8f;
  t.fit(seven, {.epochs = 2, .batch_size = 16});  // running statistics and counters move
  const std::string path = (scratch() / "bn.safetensors").string();
  io::save_state_dict(a, path);

  const auto file = io::load_safetensors(path);
  std::vector<std::string> names;
  for (const auto& tensor : file.tensors) names.push_back(tensor.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias",
                                          "1.running_mean", "1.running_var", "1.num_batches_tracked"});
  CHECK(file.at("0.weight").shape == std::vector<std::size_t>{16, 7});
  CHECK(file.at("0.bias").shape == std::vector<std::size_t>{16});
  CHECK(file.at("1.num_batches_tracked").shape.empty());
  CHECK(file.at("1.num_batches_tracked").dtype == "I64");
  CHECK(file.at("1.num_batches_tracked").values<std::int64_t>()[0] == 6);
  CHECK(file.at("3.weight").dtype == "F32");

  BNNet b{init::seed(99)};
  CHECK_FALSE(same_model(a, b));
  io::load_state_dict(b, path);
  CHECK(same_model(a, b));
  fs::remove_all(scratch());
}

TEST_CASE("a state_dict saved by PyTorch loads and gives torch's outputs", "[io][checkpoint][torch]") {
  const auto fx = fixtures::load("torch_state_dict.json");
  BNNet net{init::seed(0)};
  io::load_state_dict(net, std::string(INGOT_FIXTURES) + "/torch_mlp_bn.safetensors");
  CHECK(net.state().find_counter("1.num_batches_tracked") == fx["num_batches_tracked"].get<std::int64_t>());
  train::Trainer t{net, loss::CrossEntropy{}, optim::SGD{}};
  const auto x = fx["x"].get<std::vector<float>>();
  const auto logits = t.predict(x.data(), 20);
  const auto want = fx["eval_logits"].get<std::vector<float>>();
  REQUIRE(logits.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(logits[i] == Approx(want[i]).epsilon(1e-5).margin(1e-6));
}

TEST_CASE("a state_dict of another model is refused by name with both shapes, and nothing changes",
          "[io][checkpoint][errors]") {
  Other other{init::seed(1)};
  const std::string path = (scratch() / "other.safetensors").string();
  io::save_state_dict(other, path);
  BNNet net{init::seed(2)};
  const BNNet before = net;
  CHECK_THROWS_WITH(io::load_state_dict(net, path),
                    Catch::Contains(path) && Catch::Contains("tensor '0.weight' has shape [12, 7]") &&
                        Catch::Contains("the model's has shape [16, 7]"));
  CHECK(same_model(net, before));
  // A model with fewer entries: the extra tensor is named.
  using Plain = nn::Sequential<nn::Dense<7, 16>>;
  using Plain2 = nn::Sequential<nn::Dense<7, 16>, nn::ReLU, nn::Dense<16, 3>>;
  Plain2 wider{init::seed(1)};
  io::save_state_dict(wider, path);
  Plain plain{init::seed(1)};
  CHECK_THROWS_WITH(io::load_state_dict(plain, path), Catch::Contains("tensor '2.weight' with shape [3, 16] is not in the model"));
  CHECK_THROWS_WITH(io::load_state_dict(net, path), Catch::Contains("no tensor '1.weight'; the model has it with shape [16]"));
  fs::remove_all(scratch());
}

TEST_CASE("damaged safetensors files are refused", "[io][checkpoint][errors]") {
  using Catch::Contains;
  BNNet net{init::seed(3)};
  const std::string path = (scratch() / "good.safetensors").string();
  io::save_state_dict(net, path);
  const auto good = file_bytes(path);
  auto parse = [](const std::vector<std::uint8_t>& b) { return io::parse_safetensors(b, "f.safetensors"); };
  CHECK(parse(good).tensors.size() == 9);

  auto truncated = good;
  truncated.resize(good.size() - 3);
  CHECK_THROWS_WITH(parse(truncated), Contains("f.safetensors: tensor '1.num_batches_tracked' ends at data byte"));
  CHECK_THROWS_WITH(parse({1, 2, 3}), Contains("3 bytes, too short"));
  auto huge = good;
  huge[6] = 0x10;  // header length ~ 2^52
  CHECK_THROWS_WITH(parse(huge), Contains("is larger than the limit"));
  auto past = good;
  past[0] = 0xff;
  past[1] = 0xff;
  past[2] = 0x0f;  // a header length beyond the file
  CHECK_THROWS_WITH(parse(past), Contains("runs past the end"));
  auto broken = good;
  *std::find(broken.begin() + 8, broken.end(), ':') = '#';
  CHECK_THROWS_WITH(parse(broken), Contains("is not valid JSON"));
  auto longer = good;
  longer.push_back(0);
  CHECK_THROWS_WITH(parse(longer), Contains("1 bytes after the last tensor's data"));

  // Headers written by hand around 8 data bytes.
  auto with_header = [](std::string json, std::size_t data) {
    json.append((8 - json.size() % 8) % 8, ' ');
    std::vector<std::uint8_t> b(8 + json.size() + data, 0);
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(json.size() >> (8 * i));
    std::memcpy(b.data() + 8, json.data(), json.size());
    return b;
  };
  CHECK(parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)).at("a").count() == 2);
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                    Contains("tensor 'b' (bytes 4-8 of the data) overlaps the tensor before it"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                    Contains("a gap in the data before tensor 'a'"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
                    Contains("hold 8 bytes; dtype F32 and shape [3] need 12"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8)),
                    Contains("unknown dtype 'Q7'"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)),
                    Contains("names tensor 'a' twice"));
  CHECK_THROWS_WITH(
      parse(with_header(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
      Contains("overflows"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
                    Contains("holds a non-integer"));
  CHECK_THROWS_WITH(parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
                    Contains("a negative range"));
  CHECK_THROWS_WITH(parse(with_header(R"([1,2])", 8)), Contains("does not start with '{'"));
  // Found by fuzzing: a number too large for a double made the JSON parser
  // throw out_of_range, which escaped as another exception type.
  CHECK_THROWS_AS(parse(with_header(R"({"__metadata__": 4444444444444444444449e999})", 0)), data::format_error);
  CHECK_THROWS_WITH(parse(with_header(R"({"a": 1e999})", 0)), Contains("is not valid JSON"));
  CHECK_THROWS_WITH(parse(with_header(R"({"__metadata__":{"a":1}})", 0)), Contains("is not a string"));
  // The model is untouched by a refused file.
  write_bytes(path, broken);
  BNNet copy = net;
  CHECK_THROWS(io::load_state_dict(copy, path));
  CHECK(same_model(copy, net));
  fs::remove_all(scratch());
}

namespace {
void kill_before_rename(const std::string&) { ::_exit(42); }
}  // namespace

TEST_CASE("a save interrupted before the rename leaves the previous file intact", "[io][checkpoint]") {
  BNNet first{init::seed(4)}, second{init::seed(5)};
  const std::string path = (scratch() / "model.safetensors").string();
  io::save_state_dict(first, path);
  const auto before = file_bytes(path);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    io::detail::before_rename_hook = kill_before_rename;
    io::save_state_dict(second, path);
    ::_exit(0);  // not reached: the hook ends the process first
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
  CHECK(file_bytes(path) == before);
  BNNet loaded{init::seed(6)};
  io::load_state_dict(loaded, path);
  CHECK(same_model(loaded, first));
  // The next save replaces it completely.
  io::save_state_dict(second, path);
  io::load_state_dict(loaded, path);
  CHECK(same_model(loaded, second));
  fs::remove_all(scratch());
}

namespace {
struct run_result {
  std::vector<float> weights;
  std::vector<double> losses;
};

template <class Schedule, class Optimizer>
run_result train_with_checkpoints(const data::Dataset<std::int32_t>& ds, std::size_t stop_after, const std::string& path,
                                  Schedule schedule, Optimizer optimizer) {
  DropNet net{init::seed(12)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optimizer};
  trainer.manual_seed(77);
  sched::scheduler s(trainer.optimizer(), schedule);
  const train::fit_options opts{.epochs = 4, .batch_size = 16, .shuffle = true, .seed = 5};
  run_result r;
  auto record = [&](const train::epoch_result& e) { r.losses.push_back(e.loss); };
  if (stop_after == 0) {
    trainer.fit(ds, opts, sched::each_epoch(s), record);
  } else {
    auto first = opts;
    first.epochs = stop_after;
    trainer.fit(ds, first, sched::each_epoch(s), record, io::checkpoint_every_epoch(path, trainer, s));
    // A new process: a fresh model, trainer and scheduler, then the checkpoint.
    DropNet net2{init::seed(999)};
    train::Trainer trainer2{net2, loss::CrossEntropy{}, optimizer};
    sched::scheduler s2(trainer2.optimizer(), schedule);
    io::load_checkpoint(path, trainer2, s2);
    CHECK(trainer2.epochs_done() == stop_after);
    auto rest = opts;
    rest.resume = true;
    trainer2.fit(ds, rest, sched::each_epoch(s2), record);
    const auto f = net2.arena().flat();
    r.weights.assign(f.begin(), f.end());
    for (std::size_t k = 0; k < DropNet::state_type::value_count; ++k)
      for (float v : net2.state().value(k)) r.weights.push_back(v);
    return r;
  }
  const auto f = net.arena().flat();
  r.weights.assign(f.begin(), f.end());
  for (std::size_t k = 0; k < DropNet::state_type::value_count; ++k)
    for (float v : net.state().value(k)) r.weights.push_back(v);
  return r;
}
}  // namespace

TEST_CASE("2 epochs, a checkpoint, then 2 more give the weights of 4 straight epochs, bit for bit",
          "[io][checkpoint][resume]") {
  const auto ds = testdata::blobs(150, 8);
  const std::string path = (scratch() / "run.safetensors").string();
  const sched::StepLR step{.step_size = 1, .gamma = 0.7};
  const optim::AdamW adamw{{.lr = 3e-3f, .weight_decay = 0.01f}};
  const auto straight = train_with_checkpoints(ds, 0, path, step, adamw);
  const auto resumed = train_with_checkpoints(ds, 2, path, step, adamw);
  REQUIRE(straight.weights.size() == resumed.weights.size());
  CHECK(std::memcmp(straight.weights.data(), resumed.weights.data(), straight.weights.size() * sizeof(float)) == 0);
  CHECK(straight.losses == resumed.losses);
  // SGD's momentum buffers count as started after a load (torch saves them
  // only once they exist); a restart that re-initialised them would differ.
  const optim::SGD sgd{{.lr = 0.05f, .momentum = 0.9f, .nesterov = true}};
  const auto sgd_straight = train_with_checkpoints(ds, 0, path, step, sgd);
  const auto sgd_resumed = train_with_checkpoints(ds, 3, path, step, sgd);
  CHECK(std::memcmp(sgd_straight.weights.data(), sgd_resumed.weights.data(),
                    sgd_straight.weights.size() * sizeof(float)) == 0);
  CHECK(sgd_straight.losses == sgd_resumed.losses);
  // The checkpoint holds the model under torch's names and the training state apart.
  const auto file = io::load_safetensors(path);
  CHECK(file.find("0.weight") != nullptr);
  CHECK(file.find("ingot.optimizer.momentum_buffer.0.weight") != nullptr);  // the SGD run's, saved last
  CHECK(file.metadata.at("epoch") == "3");
  // io::load_state_dict reads a checkpoint as a weights file.
  DropNet net{init::seed(1)};
  io::load_state_dict(net, path);
  fs::remove_all(scratch());
}

TEST_CASE("a checkpoint is refused by a trainer it does not fit", "[io][checkpoint][errors]") {
  const auto ds = testdata::blobs(40, 3);
  const std::string path = (scratch() / "adam.safetensors").string();
  DropNet net{init::seed(1)};
  train::Trainer adam{net, loss::CrossEntropy{}, optim::Adam{}};
  adam.fit(ds, {.epochs = 1, .batch_size = 8});
  io::save_checkpoint(path, adam);
  train::Trainer sgd{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.1f}}};
  CHECK_THROWS_WITH(io::load_checkpoint(path, sgd), Catch::Contains("optimizer is ingot::optim::Adam"));
  sched::scheduler s(adam.optimizer(), sched::StepLR{});
  CHECK_THROWS_WITH(io::load_checkpoint(path, adam, s), Catch::Contains("0 scheduler states; 1 schedulers were given"));
  io::save_state_dict(net, path);
  CHECK_THROWS_WITH(io::load_checkpoint(path, adam), Catch::Contains("not an ingot training checkpoint"));
  fs::remove_all(scratch());
}

TEST_CASE("checkpoint metadata round-trips, and damaged metadata is refused with the file named", "[io][checkpoint][errors]") {
  io::checkpoint_meta m{.epoch = 3,
                        .random = {7, 1234567890123ull},
                        .optimizer = "ingot::optim::SGD",
                        .steps = 41,
                        .keys = {"momentum_buffer"},
                        .groups = {{0.1, 0.2, 0.0, 0.9}, {0.05, 0.2, 1e-4, std::numeric_limits<double>::quiet_NaN()}},
                        .schedulers = {{1.0, 2.5}, {}, {std::numeric_limits<double>::quiet_NaN()}}};
  const auto meta = io::encode_checkpoint_meta(m);
  io::safetensors_file file{{}, meta, "run.ckpt"};
  const io::checkpoint_meta back = io::decode_checkpoint_meta(file);
  CHECK(back.epoch == 3);
  CHECK(back.random == m.random);
  CHECK(back.optimizer == m.optimizer);
  CHECK(back.steps == 41);
  CHECK(back.keys == m.keys);
  REQUIRE(back.groups.size() == 2);
  CHECK(back.groups[0].momentum == 0.9);
  CHECK(back.groups[1].weight_decay == 1e-4);
  CHECK(std::isnan(back.groups[1].momentum));
  REQUIRE(back.schedulers.size() == 3);
  CHECK(back.schedulers[0] == std::vector<double>{1.0, 2.5});
  CHECK(back.schedulers[1].empty());
  REQUIRE(back.schedulers[2].size() == 1);
  CHECK(std::isnan(back.schedulers[2][0]));

  auto damaged = [&](const std::string& key, const std::string& value) {
    io::safetensors_file f{{}, meta, "run.ckpt"};
    if (value.empty()) f.metadata.erase(key);
    else f.metadata[key] = value;
    return f;
  };
  using Catch::Contains;
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("random", "")),
                    Contains("run.ckpt: not an ingot training checkpoint (no 'random' in its metadata"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("format", "ingot-training-checkpoint-0")),
                    Contains("run.ckpt: checkpoint format 'ingot-training-checkpoint-0'"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("optimizer", "{\"name\": ")),
                    Contains("run.ckpt: malformed checkpoint metadata"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("optimizer", R"({"name":"x","keys":[],"steps":"many","groups":[]})")),
                    Contains("run.ckpt: malformed checkpoint metadata"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("random", "[1, 2, 3]")), Contains("run.ckpt: malformed random state"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("schedulers", "{}")), Contains("run.ckpt: malformed scheduler states"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("schedulers", "[[1], 2]")), Contains("run.ckpt: malformed scheduler state"));
  CHECK_THROWS_WITH(io::decode_checkpoint_meta(damaged("epoch", "three")), Contains("run.ckpt: malformed checkpoint metadata"));
}

TEST_CASE("paths: folder and file name of a path, and where the temporary file of a save goes", "[io]") {
  CHECK(paths::folder_prefix("runs/a.csv") == "runs/");
  CHECK(paths::folder_prefix("a.csv").empty());
  CHECK(paths::folder_prefix("/a.csv") == "/");
  CHECK(paths::folder_of("runs/a.csv") == "runs");
  CHECK(paths::folder_of("a.csv") == ".");
  CHECK(paths::folder_of("/a.csv") == "/");
  CHECK(paths::folder_of("x//y/a.csv") == "x//y");
  CHECK(paths::file_name("runs/a.csv") == "a.csv");
  CHECK(paths::file_name("a.csv") == "a.csv");
  CHECK(paths::file_name("runs/").empty());
  const std::string pid = std::to_string(::getpid());
  CHECK(io::temporary_path("runs/m.safetensors") == "runs/.m.safetensors.tmp-" + pid);
  CHECK(io::temporary_path("m.safetensors") == ".m.safetensors.tmp-" + pid);
  const std::string dir = scratch().string();
  CHECK(paths::exists(dir));
  CHECK_FALSE(paths::exists(dir + "/none"));
  CHECK(paths::file_size_or_zero(dir) == 0);
  write_bytes(dir + "/five", {1, 2, 3, 4, 5});
  CHECK(paths::file_size_or_zero(dir + "/five") == 5);
  CHECK_THROWS_WITH(io::atomic_write(dir + "/", {}), Catch::Contains("it names a folder"));
  fs::remove_all(scratch());
}
