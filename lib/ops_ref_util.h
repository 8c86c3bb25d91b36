/* ops_ref_util.h — what every reference op file shares: buffer checks and f'(z) from the cached
 * output. Internal to lib/ops_ref.c and lib/ops_variants_ref.c, so both check and differentiate alike. */
#ifndef CLAE_OPS_REF_UTIL_H
#define CLAE_OPS_REF_UTIL_H

#include "runtime.h"

/* Every buffer an op touches must be a host buffer holding at least n floats. */
static inline clae_status need(clae_runtime *rt, const char *op, const char *name, clae_buf b, size_t n)
{
    if (b.n >= n && (n == 0 || b.host)) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (ref): buffer %s holds %zu floats%s, needs %zu", op,
                                      name, b.n, b.host ? "" : " and is not a host buffer", n));
}

#define NEED(op, b, n)                                                                              \
    do {                                                                                            \
        clae_status need_s_ = need(rt, op, #b, b, n);                                               \
        if (need_s_ != CLAE_OK) return need_s_;                                                     \
    } while (0)

/* f'(z) through the cached output a (§0.4); relu' = 1 only where a > 0. */
static inline float act_deriv(clae_activation f, float a)
{
    switch (f) {
    case CLAE_ACT_SIGMOID: return a * (1.0f - a);
    case CLAE_ACT_TANH: return 1.0f - a * a;
    case CLAE_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

static inline clae_status check_act(clae_runtime *rt, const char *op, clae_activation f)
{
    if ((int)f >= 0 && f < CLAE_ACT_COUNT) return CLAE_OK;
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (ref): unknown activation %d", op, (int)f));
}

#endif
