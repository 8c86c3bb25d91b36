/* ops_mdl.c — the checking entry of each MDL op (lib/ops/ops_mdl.h): arguments checked once for both paths, then
 * the reference or OpenCL body; in a dry run only the buffers they would touch are reported. */
#include <math.h>

#include "ops/ops_check.h"
#include "ops/ops_mdl.h"

static const clae_mdl_ops *table(const clae_runtime *rt) { return rt->is_ref ? &clae_mdl_ops_ref : &clae_mdl_ops_cl; }

static clae_status check_weight(clae_runtime *rt, const char *op, float weight, size_t rows)
{
    if (!isfinite(weight) || weight < 0.0f || rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): weight %g must be finite and >= 0, rows > 0", op,
                                          clae_op_path(rt), (double)weight));
    return CLAE_OK;
}

clae_status clae_op_mdl_quantize(clae_runtime *rt, size_t rows, size_t L, clae_buf Y, clae_buf row_ids, uint64_t seed,
                                 uint32_t step, int noise, clae_buf T)
{
    NEED("mdl_quantize", Y, rows * L);
    if (noise) NEED("mdl_quantize", row_ids, rows);
    NEED("mdl_quantize", T, rows * L);
    return rt->trace ? CLAE_OK : table(rt)->mdl_quantize(rt, rows, L, Y, row_ids, seed, step, noise, T);
}

clae_status clae_op_mdl_rate(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                             float weight, clae_buf rate_rows, clae_buf pen)
{
    TRY(check_weight(rt, "mdl_rate", weight, rows));
    NEED("mdl_rate", T, rows * L);
    NEED("mdl_rate", loc, L);
    NEED("mdl_rate", logscale, L);
    if (rate_rows.n) NEED("mdl_rate", rate_rows, rows);
    NEED("mdl_rate", pen, 1);
    return rt->trace ? CLAE_OK : table(rt)->mdl_rate(rt, rows, L, T, loc, logscale, weight, rate_rows, pen);
}

clae_status clae_op_mdl_rate_backward(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc,
                                      clae_buf logscale, float weight, clae_buf GT, clae_buf dloc, clae_buf dlogscale)
{
    TRY(check_weight(rt, "mdl_rate_backward", weight, rows));
    NEED("mdl_rate_backward", T, rows * L);
    NEED("mdl_rate_backward", loc, L);
    NEED("mdl_rate_backward", logscale, L);
    NEED("mdl_rate_backward", GT, rows * L);
    NEED("mdl_rate_backward", dloc, L);
    NEED("mdl_rate_backward", dlogscale, L);
    return rt->trace ? CLAE_OK : table(rt)->mdl_rate_backward(rt, rows, L, T, loc, logscale, weight, GT, dloc, dlogscale);
}
