#pragma once
// The definitions of ingot's non-template code, for programs built with
// INGOT_SEPARATE_COMPILATION (see core/config.hpp): include this header in
// exactly one .cpp of the program, e.g.
//   // ingot.cpp
//   #include <ingot/separate_compilation.hpp>
// and compile every file with -DINGOT_SEPARATE_COMPILATION.
#ifndef INGOT_SEPARATE_COMPILATION
#error "ingot/separate_compilation.hpp is for builds with INGOT_SEPARATE_COMPILATION defined; a header-only build needs no such file"
#endif
#include "ingot/io/impl/checkpoint_json.hpp"
#include "ingot/io/impl/safetensors_json.hpp"
