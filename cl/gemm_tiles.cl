/* gemm_tiles.cl — the tiled GEMM's two other tiles, which the tuner (lib/ops/gemm/gemm_tiled.c) times against
 * gemm.cl's at a shape's first run: a program of their own, so it is built only when a search needs it. */

/* Half the rows: twice the work-items, for products with few rows of C. */
__kernel void gemm_tiled_half(GEMM_TILED_ARGS) GEMM_TILED_BODY(GEMM_HALF_TM, CLAE_GEMM_NV)

/* Half the columns, half again the rows: for narrow products (64 columns make two full tiles of 32). */
__kernel void gemm_tiled_tall(GEMM_TILED_ARGS) GEMM_TILED_BODY(GEMM_TALL_TM, GEMM_TALL_NV)
