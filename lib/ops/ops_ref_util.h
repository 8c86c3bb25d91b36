/* ops_ref_util.h — what every reference op file shares: f'(z) from the cached output. Internal to
 * lib/ops/ops_ref.c and lib/ops/ops_variants_ref.c, so both differentiate alike. */
#ifndef CLAE_OPS_REF_UTIL_H
#define CLAE_OPS_REF_UTIL_H

#include "runtime/runtime.h"

/* f'(z) through the cached output a (σ: a(1−a), tanh: 1−a²); relu' = 1 only where a > 0. */
static inline float act_deriv(clae_activation f, float a)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return a * (1.0f - a);
    case CLAE_ACT_TANH: return 1.0f - a * a;
    case CLAE_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

#endif
