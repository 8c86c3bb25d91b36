/* ops_concrete.c — the checking entry of each selector op (lib/ops/ops_concrete.h): arguments checked once for both
 * paths, then the reference or OpenCL body; in a dry run only the buffers they would touch are reported. */
#include <math.h>

#include "ops/ops_check.h"
#include "ops/ops_concrete.h"


static const clae_concrete_ops *table(const clae_runtime *rt)
{
    return rt->is_ref ? &clae_concrete_ops_ref : &clae_concrete_ops_cl;
}


static clae_status check_sizes(clae_runtime *rt, const char *op, size_t K, size_t D, float T)
{
    if (!K || !D || D > (1u << 24) || !(T > 0.0f) || !isfinite(T))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): %zu selectors of %zu features at temperature %g", op,
                                          clae_op_path(rt), K, D, (double)T));
    return CLAE_OK;
}

clae_status clae_op_concrete_softmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, float T, uint64_t seed,
                                     uint32_t step, int gumbel, clae_buf M)
{
    TRY(check_sizes(rt, "concrete_softmax", K, D, T));
    NEED("concrete_softmax", LAMBDA, K * D);
    NEED("concrete_softmax", M, K * D);
    return rt->trace ? CLAE_OK : table(rt)->concrete_softmax(rt, K, D, LAMBDA, T, seed, step, gumbel, M);
}

clae_status clae_op_concrete_backward(clae_runtime *rt, size_t K, size_t D, float T, clae_buf M, clae_buf Gm,
                                      clae_buf dLAMBDA)
{
    TRY(check_sizes(rt, "concrete_backward", K, D, T));
    NEED("concrete_backward", M, K * D);
    NEED("concrete_backward", Gm, K * D);
    NEED("concrete_backward", dLAMBDA, K * D);
    return rt->trace ? CLAE_OK : table(rt)->concrete_backward(rt, K, D, T, M, Gm, dLAMBDA);
}

clae_status clae_op_concrete_argmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, clae_buf idx)
{
    TRY(check_sizes(rt, "concrete_argmax", K, D, 1.0f));
    NEED("concrete_argmax", LAMBDA, K * D);
    NEED("concrete_argmax", idx, K);
    return rt->trace ? CLAE_OK : table(rt)->concrete_argmax(rt, K, D, LAMBDA, idx);
}

clae_status clae_op_gather_cols(clae_runtime *rt, size_t rows, size_t D, size_t K, clae_buf X, clae_buf idx, clae_buf S)
{
    TRY(check_sizes(rt, "gather_cols", K, D, 1.0f));
    NEED("gather_cols", X, rows * D);
    NEED("gather_cols", idx, K);
    NEED("gather_cols", S, rows * K);
    return rt->trace ? CLAE_OK : table(rt)->gather_cols(rt, rows, D, K, X, idx, S);
}
