/* ops_rbm.c — the checking entry of each RBM op (lib/ops/ops_rbm.h): arguments checked once for both paths, then
 * the reference or OpenCL body; in a dry run only the buffers they would touch are reported. */
#include <math.h>

#include "ops/ops_check.h"
#include "ops/ops_rbm.h"

static const clae_rbm_ops *table(const clae_runtime *rt) { return rt->is_ref ? &clae_rbm_ops_ref : &clae_rbm_ops_cl; }

clae_status clae_op_rbm_sample(clae_runtime *rt, clae_rbm_units units, size_t rows, size_t cols, clae_buf P,
                               clae_buf row_ids, uint64_t seed, uint32_t step, uint32_t tag, clae_buf H)
{
    if (units != CLAE_RBM_BERNOULLI && units != CLAE_RBM_GAUSSIAN)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "rbm_sample (%s): units %d; expected Bernoulli or Gaussian",
                                          clae_op_path(rt), (int)units));
    NEED("rbm_sample", P, rows * cols);
    NEED("rbm_sample", row_ids, rows);
    NEED("rbm_sample", H, rows * cols);
    return rt->trace ? CLAE_OK : table(rt)->rbm_sample(rt, units, rows, cols, P, row_ids, seed, step, tag, H);
}

clae_status clae_op_rbm_bias_grad(clae_runtime *rt, size_t rows, size_t cols, clae_buf X0, clae_buf X1, clae_buf g)
{
    if (rows == 0) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "rbm_bias_grad (%s): no rows", clae_op_path(rt)));
    NEED("rbm_bias_grad", X0, rows * cols);
    NEED("rbm_bias_grad", X1, rows * cols);
    NEED("rbm_bias_grad", g, cols);
    return rt->trace ? CLAE_OK : table(rt)->rbm_bias_grad(rt, rows, cols, X0, X1, g);
}

clae_status clae_op_axpy(clae_runtime *rt, size_t n, float a, clae_buf X, clae_buf Y)
{
    if (!isfinite(a)) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "axpy (%s): a = %g", clae_op_path(rt), (double)a));
    NEED("axpy", X, n);
    NEED("axpy", Y, n);
    return rt->trace ? CLAE_OK : table(rt)->axpy(rt, n, a, X, Y);
}
