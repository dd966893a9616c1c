#pragma once
// The definitions of ingot's model-independent code, for programs built
// with INGOT_SEPARATE_COMPILATION (see core/config.hpp): include this header
// in exactly one .cpp of the program, before any other ingot header, e.g.
//   // ingot.cpp
//   #include <ingot/separate_compilation.hpp>
// and compile every file with -DINGOT_SEPARATE_COMPILATION.
#ifndef INGOT_SEPARATE_COMPILATION
#error "ingot/separate_compilation.hpp needs INGOT_SEPARATE_COMPILATION (a header-only build does not use it)"
#endif
#ifdef INGOT_CORE_CONFIG_HPP
// The headers read before this one would have declared the kernels extern
// instead of compiling them.
#error "include <ingot/separate_compilation.hpp> before any other ingot header"
#endif
#define INGOT_COMPILING_SEPARATE 1
#include "ingot/ingot.hpp"
#include "ingot/io/impl/checkpoint_json.hpp"
#include "ingot/io/impl/safetensors_json.hpp"
