/* ops_rbm_cl.c — the OpenCL bodies of the RBM ops (lib/ops/ops_rbm.h): launches of cl/rbm.cl on the in-order queue
 * without waiting; arguments are checked once for both paths by lib/ops/ops_rbm.c. */
#include "ops/ops_cl_util.h"
#include "ops/ops_rbm.h"

static clae_status rbm_sample(clae_runtime *rt, clae_rbm_units units, size_t rows, size_t cols, clae_buf P,
                              clae_buf row_ids, uint64_t seed, uint32_t step, uint32_t tag, clae_buf H)
{
    /* row_ids holds uint32 words in float slots: the same offset in words as in floats. */
    karg a[] = {ARG_I32(units == CLAE_RBM_GAUSSIAN), ARG_U64(rows),   ARG_U64(cols),     ARG_BUF(P),
                ARG_BUF(row_ids),                    ARG_U32(seed & 0xffffffffu), ARG_U32(seed >> 32), ARG_U32(step),
                ARG_U32(tag),                        ARG_BUF(H)};
    return launch(rt, "rbm_sample", a, NARGS(a), cols, rows, 1);
}

static clae_status rbm_bias_grad(clae_runtime *rt, size_t rows, size_t cols, clae_buf X0, clae_buf X1, clae_buf g)
{
    karg a[] = {ARG_U64(rows), ARG_U64(cols), ARG_BUF(X0), ARG_BUF(X1), ARG_BUF(g)};
    return launch(rt, "rbm_bias_grad", a, NARGS(a), cols, 0, 0);
}

static clae_status axpy(clae_runtime *rt, size_t n, float a, clae_buf X, clae_buf Y)
{
    karg k[] = {ARG_U64(n), ARG_F32(a), ARG_BUF(X), ARG_BUF(Y)};
    return launch(rt, "axpy", k, NARGS(k), n, 0, 0);
}

const clae_rbm_ops clae_rbm_ops_cl = {
    .rbm_sample = rbm_sample,
    .rbm_bias_grad = rbm_bias_grad,
    .axpy = axpy,
};
