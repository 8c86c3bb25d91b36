/* variants.c — the list of regularized variants the dense model can compose (README, The math).
 * Each variant lives in its own lib/models/variant_*.c; adding one adds a line here and nothing else. */
#include "models/model_internal.h"

extern const clae_variant clae_variant_denoise, clae_variant_sparse, clae_variant_ksparse, clae_variant_wta,
    clae_variant_contractive;

/* Hook order: corruption first, then selection, then penalties on what was selected. */
const clae_variant *const clae_variant_table[] = {
    &clae_variant_denoise, &clae_variant_ksparse, &clae_variant_wta, &clae_variant_sparse, &clae_variant_contractive,
};
const int clae_variant_count = (int)(sizeof clae_variant_table / sizeof clae_variant_table[0]);
