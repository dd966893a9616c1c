#pragma once
// Header-only by default. A program that includes ingot from many
// translation units, or that wants each of them to compile quickly, can
// compile the library's model-independent code once: define
// INGOT_SEPARATE_COMPILATION for every file of the program and include
// <ingot/separate_compilation.hpp> in exactly one .cpp. That file then holds
//   - the non-template code (data readers, the safetensors and checkpoint
//     JSON codecs, the optimizer bookkeeping, the progress bar, atomic
//     files), declared INGOT_DECL and defined behind INGOT_DEFINE_BODIES;
//   - the float instantiations of the run-time kernels (GEMM, convolution,
//     pooling, softmax rows, optimizer passes), named with
//     INGOT_INSTANTIATE, which every other file declares extern and only
//     calls.
// All files of the program must be compiled with the same target flags
// (-march), since the kernels' SIMD width is part of their code.
#ifndef INGOT_CORE_CONFIG_HPP
#define INGOT_CORE_CONFIG_HPP 1

#ifdef INGOT_SEPARATE_COMPILATION
#define INGOT_DECL
#else
#define INGOT_DECL inline
#endif

// 1 where the non-template functions' bodies are compiled: everywhere in a
// header-only build, only in separate_compilation.hpp's file otherwise.
#if !defined(INGOT_SEPARATE_COMPILATION) || defined(INGOT_COMPILING_SEPARATE)
#define INGOT_DEFINE_BODIES 1
#else
#define INGOT_DEFINE_BODIES 0
#endif

// INGOT_INSTANTIATE(declaration of one specialization): an explicit
// instantiation in separate_compilation.hpp's file, an extern declaration in
// every other file of a separately compiled program, nothing header-only.
#if defined(INGOT_COMPILING_SEPARATE)
#define INGOT_INSTANTIATE(...) template __VA_ARGS__;
#elif defined(INGOT_SEPARATE_COMPILATION)
#define INGOT_INSTANTIATE(...) extern template __VA_ARGS__;
#else
#define INGOT_INSTANTIATE(...)
#endif

#endif
