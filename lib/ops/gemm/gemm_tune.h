/* gemm_tune.h — the tiled engine's tile choices per GEMM shape (lib/ops/gemm/gemm_tune.c): searched at a shape's
 * first use by gemm_tiled.c, kept with the runtime and stored beside the compiled programs in the cache. */
#ifndef CLAE_GEMM_TUNE_H
#define CLAE_GEMM_TUNE_H

#include <stdint.h>

#include "runtime/runtime.h"

/* cl/gemm.cl's tiles: 0 the device's (gemm_tiled), 1 half its rows (gemm_tiled_half), 2 half its vectors
 * and 1.5× its rows (gemm_tiled_tall). Every tile sums each element of C in the same ascending-k chain of
 * fmas, so the choice changes the speed and never a bit of the result. */
#define CLAE_GEMM_TILES 3
#define CLAE_GEMM_TUNE_MAX 1024 /* shapes a table keeps; past it, new shapes take the device tile unsearched */

typedef struct clae_gemm_tile_choice {
    int trans_a;                  /* the kernel's shape: op(A) = Aᵀ or A (B is always row-major K×N there) */
    size_t M, N, K;
    int variant;                  /* the winner */
    uint64_t ns[CLAE_GEMM_TILES]; /* each tile's best time in ns over the search's rounds */
    int loaded;                   /* read from the cache rather than searched by this runtime */
} clae_gemm_tile_choice;

typedef struct clae_gemm_tune {
    clae_gemm_tile_choice entry[CLAE_GEMM_TUNE_MAX];
    int count;
    int searched; /* searches this runtime ran */
    int off;      /* CLAE_GEMM_TUNE=off: the device's tile everywhere, no search */
    int no_search; /* a wrapped runtime: the table's choices, but no search (its timing would finish the caller's queue) */
    int forced;   /* ≥ 0: that tile everywhere (tests), −1: the table's */
} clae_gemm_tune;

/* The runtime's table, made at first use (reading the stored one when the cache is on); NULL out of memory. */
clae_gemm_tune *clae_gemm_tune_of(clae_runtime *rt);
/* The choice for a shape, or NULL when it has not been searched. */
const clae_gemm_tile_choice *clae_gemm_tune_find(const clae_gemm_tune *t, int trans_a, size_t M, size_t N, size_t K);
/* Adds a searched choice and stores the table (best effort: an unwritable cache only costs a search later). */
void clae_gemm_tune_record(clae_runtime *rt, clae_gemm_tune *t, const clae_gemm_tile_choice *c);
/* Tests: every tiled GEMM of rt takes tile v (0 ≤ v < CLAE_GEMM_TILES), or the table's again (v = −1). */
void clae_gemm_tiled_force(clae_runtime *rt, int v);
/* The tile of variant v on rt: rows *tm × columns *tn and the kernel's name (any pointer may be NULL). */
void clae_gemm_tile(const clae_runtime *rt, int v, size_t *tm, size_t *tn, const char **kernel);

#endif
