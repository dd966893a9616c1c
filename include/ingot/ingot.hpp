#pragma once
// ingot: neural networks whose whole graph is a C++ type.
#include "ingot/core/rng.hpp"
#include "ingot/data/batches.hpp"
#include "ingot/data/dataset.hpp"
#include "ingot/data/idx.hpp"
#include "ingot/expr/expr.hpp"
#include "ingot/loss/losses.hpp"
#include "ingot/nn/sequential.hpp"
#include "ingot/optim/adam.hpp"
#include "ingot/optim/sgd.hpp"
#include "ingot/plan/plan.hpp"
#include "ingot/train/trainer.hpp"
