// DD_MULTIVERSION: compiles a function for AVX-512 and AVX2 as well as the
// baseline, the best chosen when the program loads (GCC's function
// multiversioning), for plain loops the compiler vectorizes (the wire's
// quantizing, a replica's row signatures). Elsewhere it does nothing.
#ifndef DEEPDIST_SRC_CORE_MULTIVERSION_H_
#define DEEPDIST_SRC_CORE_MULTIVERSION_H_

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DD_MULTIVERSION __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define DD_MULTIVERSION
#endif

#endif  // DEEPDIST_SRC_CORE_MULTIVERSION_H_
