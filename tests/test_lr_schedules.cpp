// Learning-rate schedules against torch.optim.lr_scheduler
// (tests/fixtures/schedules.json): the learning rate, and OneCycleLR's
// momentum, at each of 40 steps; schedulers as fit callbacks; errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>

#include "fixtures.hpp"

using namespace ingot;

namespace {
// An SGD optimizer with lr 0.1 and momentum 0.9, as the fixture's.
optim::SGD make_sgd() {
  optim::SGD opt({.lr = 0.1, .momentum = 0.9});
  opt.attach(3);
  return opt;
}

void compare(const std::vector<double>& got, const nlohmann::json& want, const std::string& what) {
  const auto w = fixtures::values<double>(want);
  REQUIRE(got.size() == w.size());
  for (std::size_t e = 0; e < w.size(); ++e) {
    INFO(what << " at step " << e << ": ingot " << got[e] << ", torch " << w[e]);
    CHECK(std::abs(got[e] - w[e]) <= 1e-5 * std::abs(w[e]) + 1e-12);
  }
}

template <class Schedule>
void run_schedule(Schedule s, const nlohmann::json& c) {
  const std::string name = c["name"];
  optim::SGD opt = make_sgd();
  sched::scheduler<Schedule> sch(opt, std::move(s));
  std::vector<double> lrs{opt.lr()}, momenta{opt.group(0).momentum};
  for (int e = 0; e < 39; ++e) {
    sch.step();
    lrs.push_back(opt.lr());
    momenta.push_back(opt.group(0).momentum);
  }
  compare(lrs, c["lrs"], name + " lr");
  compare(momenta, c["momenta"], name + " momentum");
}
}  // namespace

TEST_CASE("every schedule gives torch's learning rate at each of 40 steps", "[torch][sched]") {
  const auto f = fixtures::load("schedules.json");
  const auto metrics = fixtures::values<double>(f["metrics"]);
  std::size_t cases = 0;
  for (const auto& c : f["cases"]) {
    const std::string name = c["name"];
    const auto& o = c["options"];
    if (name == "step") {
      run_schedule(sched::StepLR{.step_size = 7, .gamma = 0.5}, c);
    } else if (name == "multistep") {
      run_schedule(sched::MultiStepLR{.milestones = {5, 12, 30}, .gamma = 0.3}, c);
    } else if (name == "exponential") {
      run_schedule(sched::ExponentialLR{.gamma = 0.93}, c);
    } else if (name == "cosine") {
      run_schedule(sched::CosineAnnealingLR{.T_max = 10, .eta_min = 0.002}, c);
    } else if (name == "linear") {
      run_schedule(sched::LinearLR{.start_factor = 0.2, .end_factor = 0.9, .total_iters = 15}, c);
    } else if (name == "warmup_cosine") {
      run_schedule(sched::SequentialLR::of({5}, sched::LinearLR{.start_factor = 0.1, .total_iters = 5},
                                           sched::CosineAnnealingLR{.T_max = 35, .eta_min = 0.001}),
                   c);
    } else if (name == "warmup_step") {
      run_schedule(sched::SequentialLR::of({3}, sched::ConstantLR{.factor = 0.25, .total_iters = 3},
                                           sched::StepLR{.step_size = 10, .gamma = 0.5}),
                   c);
    } else if (name == "chained_constant_exponential") {
      run_schedule(sched::ChainedLR<sched::ConstantLR, sched::ExponentialLR>{{{.factor = 0.5, .total_iters = 4}, {.gamma = 0.9}}},
                   c);
    } else if (name == "chained_linear_step") {
      run_schedule(sched::ChainedLR<sched::LinearLR, sched::StepLR>{
                       {{.start_factor = 0.2, .total_iters = 6}, {.step_size = 5, .gamma = 0.5}}},
                   c);
    } else if (name == "onecycle") {
      run_schedule(sched::OneCycleLR{.max_lr = 0.5, .total_steps = 40}, c);
    } else if (name == "onecycle_three_phase_linear") {
      run_schedule(sched::OneCycleLR{.max_lr = 0.3,
                                     .total_steps = 45,
                                     .pct_start = 0.25,
                                     .cos_anneal = false,
                                     .div_factor = 10,
                                     .final_div_factor = 100,
                                     .three_phase = true},
                   c);
    } else if (name == "plateau_min_rel" || name == "plateau_max_abs") {
      optim::SGD opt = make_sgd();
      sched::plateau_options po;
      if (name == "plateau_min_rel") {
        po = {.factor = 0.5, .patience = 3, .cooldown = 2, .min_lr = 0.004};
      } else {
        po = {.maximize = true, .factor = 0.3, .patience = 2, .threshold = 0.05, .relative = false};
      }
      REQUIRE(o["factor"].get<double>() == po.factor);
      sched::ReduceLROnPlateau sch(opt, po);
      std::vector<double> lrs{opt.lr()};
      for (std::size_t e = 0; e < 39; ++e) {
        sch.step(metrics[e]);
        lrs.push_back(opt.lr());
      }
      compare(lrs, c["lrs"], name);
    } else {
      FAIL("unknown schedule " << name);
    }
    ++cases;
  }
  CHECK(cases == 13);
}

TEST_CASE("schedules apply per group, from each group's own learning rate", "[sched]") {
  optim::SGD opt({.lr = 0.1}, {{optim::named({"b"}), 0.01, std::nullopt}});
  opt.attach(std::vector<optim::param_info>{{"a", 0, 4, 2}, {"b", 16, 3, 1}});
  sched::scheduler sch(opt, sched::StepLR{.step_size = 2, .gamma = 0.5});
  for (int e = 0; e < 4; ++e) sch.step();
  CHECK(opt.lr(0) == Approx(0.025));
  CHECK(opt.lr(1) == Approx(0.0025));
}

TEST_CASE("schedulers step from fit: per epoch, per batch, and on a plateau of the loss", "[sched][train]") {
  using Net = nn::Sequential<nn::Dense<3, 2>>;
  data::Dataset<float> ds(10, 3, 2, std::vector<float>(30, 0.25f), std::vector<float>(20, 1.0f), "constant");
  {
    Net model;
    train::Trainer trainer{model, loss::MSE{}, optim::SGD({.lr = 0.1})};
    sched::scheduler sch(trainer.optimizer(), sched::ExponentialLR{.gamma = 0.5});
    trainer.fit(ds, {.epochs = 3, .batch_size = 4}, sched::each_epoch(sch));
    CHECK(sch.last_epoch() == 3);
    CHECK(trainer.optimizer().lr() == Approx(0.0125));
  }
  {
    Net model;
    train::Trainer trainer{model, loss::MSE{}, optim::Adam({.lr = 0.1})};
    // 3 batches per epoch: 9 steps reach the last of 10 scheduled steps.
    sched::scheduler sch(trainer.optimizer(), sched::OneCycleLR{.max_lr = 0.1, .total_steps = 10});
    trainer.fit(ds, {.epochs = 3, .batch_size = 4}, sched::each_batch(sch));
    CHECK(sch.last_epoch() == 9);
    CHECK(trainer.optimizer().lr() == Approx(0.1 / 25 / 1e4));
    CHECK(trainer.optimizer().group(0).momentum == Approx(0.95));  // Adam's beta1, cycled back up
  }
  {
    Net model;
    train::Trainer trainer{model, loss::MSE{}, optim::SGD({.lr = 0.2})};
    sched::ReduceLROnPlateau sch(trainer.optimizer(), {.patience = 1});
    const double before = trainer.evaluate(ds).loss;  // the one batch's loss, taken before its update
    trainer.fit(ds, {.epochs = 1, .batch_size = 10}, sched::on_plateau(sch));
    CHECK(sch.best() == Approx(before).epsilon(1e-5));
    CHECK(sch.last_epoch() == 1);
  }
}

TEST_CASE("schedule errors say what is wrong", "[sched]") {
  optim::SGD unattached({.lr = 0.1});
  CHECK_THROWS_WITH(sched::scheduler(unattached, sched::StepLR{}), Catch::Contains("has no parameters yet"));
  optim::SGD opt = make_sgd();
  sched::scheduler one(opt, sched::OneCycleLR{.max_lr = 0.1, .total_steps = 3});
  one.step();
  one.step();
  one.step();
  CHECK_THROWS_WITH(one.step(), Catch::Contains("tried to step 4 times; the specified number of total steps is 3"));
  CHECK_THROWS_WITH(sched::SequentialLR::of({3, 5}, sched::StepLR{}, sched::ExponentialLR{}).lr(0.1, 0),
                    Catch::Contains("2 schedules need 1 milestones, not 2"));
  optim::Adagrad ada({.lr = 0.1});
  ada.attach(3);
  CHECK_THROWS_WITH(sched::scheduler(ada, sched::OneCycleLR{.max_lr = 0.1, .total_steps = 3}),
                    Catch::Contains("no momentum or beta1 to cycle"));
  CHECK_NOTHROW(sched::scheduler(ada, sched::OneCycleLR{.max_lr = 0.1, .total_steps = 3, .cycle_momentum = false}));
}
