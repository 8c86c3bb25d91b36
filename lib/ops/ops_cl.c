/* ops_cl.c — the OpenCL side of the op table: each op, its arguments checked by lib/ops/ops.c, sets the
 * arguments of its kernel from cl/ and enqueues it on the runtime's in-order queue (no waiting). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ops/ops_cl_util.h"
#include "ops/ops_variants.h"

/* ---- dense layer: bias, activation forward and backward (cl/elementwise.cl) -------------- */

static clae_status bias_add(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols)
{
    karg a[] = {ARG_BUF(Z), ARG_BUF(b), ARG_U64(rows), ARG_U64(cols)};
    return launch(rt, "bias_add", a, NARGS(a), cols, rows, 1);
}

static clae_status act_forward(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n)
{
    karg a[] = {ARG_I32(f), ARG_BUF(Z), ARG_BUF(A), ARG_U64(n)};
    return launch(rt, "act_forward", a, NARGS(a), n, 0, 0);
}

static clae_status act_backward(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n)
{
    if (f == CLAE_ACT_LINEAR) return CLAE_OK; /* f' = 1 */
    karg a[] = {ARG_I32(f), ARG_BUF(A), ARG_BUF(G), ARG_U64(n)};
    return launch(rt, "act_backward", a, NARGS(a), n, 0, 0);
}

/* ---- losses (cl/loss.cl) ------------------------------------------------------------------ */

static clae_status loss_rows(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X,
                             size_t rows, size_t cols, clae_buf out)
{
    /* The unused input may be an empty buffer; a NULL cl_mem argument is legal. */
    karg a[] = {ARG_I32(loss), ARG_BUF(O), ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out)};
    return launch(rt, "loss_rows", a, NARGS(a), rows, 0, 0);
}

static clae_status loss_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat,
                             clae_buf X, size_t n, float scale, clae_buf G)
{
    karg a[] = {ARG_I32(loss), ARG_I32(out_act), ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(n), ARG_F32(scale), ARG_BUF(G)};
    return launch(rt, "loss_grad", a, NARGS(a), n, 0, 0);
}

static clae_status loss_rows_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf O,
                                  clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out, float scale,
                                  clae_buf G)
{
    karg a[] = {ARG_I32(loss), ARG_I32(out_act), ARG_BUF(O), ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows),
                ARG_U64(cols), ARG_BUF(out), ARG_F32(scale), ARG_BUF(G)};
    return launch(rt, "loss_rows_grad", a, NARGS(a), rows, 0, 0);
}

static clae_status row_sq_error(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols,
                                clae_buf out)
{
    int mean = 0;
    karg a[] = {ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out), ARG_I32(mean)};
    return launch(rt, "row_sq_error", a, NARGS(a), rows, 0, 0);
}

static clae_status row_mse(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols, clae_buf out)
{
    int mean = 1;
    karg a[] = {ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out), ARG_I32(mean)};
    return launch(rt, "row_sq_error", a, NARGS(a), rows, 0, 0);
}

/* ---- reductions (cl/reduce.cl) ------------------------------------------------------------ */

/* The vectorized column sums of act_backward_colsum serve colsum too: f linear and G left as it is. */
static clae_status colsum_pass(clae_runtime *rt, clae_activation f, int store_g, clae_buf A, clae_buf G, size_t rows,
                               size_t cols, clae_buf out)
{
    karg a[] = {ARG_I32(f), ARG_I32(store_g), ARG_BUF(A), ARG_BUF(G), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out)};
    return launch(rt, "act_backward_colsum", a, NARGS(a), (cols + 7) / 8, 0, 0); /* eight columns an item */
}

static clae_status colsum(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out)
{
    return colsum_pass(rt, CLAE_ACT_LINEAR, 0, G, G, rows, cols, out);
}

static clae_status act_backward_colsum(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t rows,
                                       size_t cols, clae_buf out)
{
    return colsum_pass(rt, f, f != CLAE_ACT_LINEAR, A, G, rows, cols, out); /* f' = 1: G stays */
}

/* ---- optimizers (cl/optim.cl) -------------------------------------------------------------- */

static clae_status opt_update(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad,
                              clae_buf s1, clae_buf s2, size_t n)
{
    switch (h->kind) {
    case CLAE_OPT_SGD: {
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_U64(n), ARG_F32(h->lr)};
        return launch(rt, "opt_sgd", a, NARGS(a), n, 0, 0);
    }
    case CLAE_OPT_MOMENTUM:
    case CLAE_OPT_NESTEROV: {
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_BUF(s1), ARG_U64(n), ARG_F32(h->lr), ARG_F32(h->momentum)};
        return launch(rt, h->kind == CLAE_OPT_MOMENTUM ? "opt_momentum" : "opt_nesterov", a, NARGS(a), n, 0, 0);
    }
    case CLAE_OPT_ADAM: {
        karg a[] = {ARG_BUF(theta),     ARG_BUF(grad),      ARG_BUF(s1),      ARG_BUF(s2),
                    ARG_U64(n),         ARG_F32(h->lr),     ARG_F32(h->beta1), ARG_F32(h->beta2),
                    ARG_F32(h->eps),    ARG_F32(h->bc1),    ARG_F32(h->bc2)};
        return launch(rt, "opt_adam", a, NARGS(a), n, 0, 0);
    }
    default: { /* CLAE_OPT_ADADELTA: clae_op_opt_update refuses any other kind */
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_BUF(s1), ARG_BUF(s2), ARG_U64(n),
                    ARG_F32(h->rho), ARG_F32(h->adadelta_eps)};
        return launch(rt, "opt_adadelta", a, NARGS(a), n, 0, 0);
    }
    }
}

/* ---- random numbers (cl/rng.cl) ------------------------------------------------------------ */

static clae_status init_uniform(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed, uint32_t layer_id,
                                float a)
{
    karg args[] = {ARG_BUF(theta), ARG_U64(n), ARG_U32(seed & 0xffffffffu), ARG_U32(seed >> 32),
                   ARG_U32(layer_id), ARG_F32(a)};
    return launch(rt, "init_uniform", args, NARGS(args), n, 0, 0);
}

/* Runs on temporary buffers and waits for the result: it exists for the known-answer tests. */
static clae_status philox(clae_runtime *rt, const uint32_t *ctr, const uint32_t key[2], uint32_t *out, size_t n)
{
    if (n == 0) return CLAE_OK;
    size_t bytes = 4 * n * sizeof(cl_uint);
    cl_int err = CL_SUCCESS;
    const char *call = "clCreateBuffer";
    cl_mem in = clCreateBuffer(rt->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, (void *)(uintptr_t)ctr, &err);
    cl_mem res = NULL;
    if (err == CL_SUCCESS) res = clCreateBuffer(rt->ctx, CL_MEM_WRITE_ONLY, bytes, NULL, &err);
    clae_status s = CLAE_OK;
    if (err == CL_SUCCESS) {
        karg a[] = {ARG_MEM(in), ARG_MEM(res), ARG_U32(key[0]), ARG_U32(key[1]), ARG_U64(n)};
        s = launch(rt, "philox_raw", a, NARGS(a), n, 0, 0);
        if (s == CLAE_OK) {
            call = "clEnqueueReadBuffer";
            err = clEnqueueReadBuffer(rt->queue, res, CL_TRUE, 0, bytes, out, 0, NULL, NULL);
        }
    }
    if (res) clReleaseMemObject(res);
    if (in) clReleaseMemObject(in);
    if (s == CLAE_OK && err != CL_SUCCESS)
        s = clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "philox (opencl): %s of %zu bytes failed: %s (%d)", call,
                                       bytes, clae_cl_error_name(err), (int)err));
    return s;
}

const clae_ops clae_ops_cl = {
    .name = "opencl",
    .bias_add = bias_add,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .loss_rows = loss_rows,
    .loss_grad = loss_grad,
    .row_sq_error = row_sq_error,
    .row_mse = row_mse,
    .colsum = colsum,
    .act_backward_colsum = act_backward_colsum,
    .loss_rows_grad = loss_rows_grad,
    .opt_update = opt_update,
    .init_uniform = init_uniform,
    .philox = philox,
    .corrupt = clae_cl_corrupt,
    .topk_rows = clae_cl_topk_rows,
    .topk_cols = clae_cl_topk_cols,
    .mul_mask = clae_cl_mul_mask,
    .sparsity_forward = clae_cl_sparsity_forward,
    .sparsity_backward = clae_cl_sparsity_backward,
    .sparsity_h2o_push = clae_cl_sparsity_h2o_push,
    .contractive_forward = clae_cl_contractive_forward,
    .contractive_grad_z = clae_cl_contractive_grad_z,
    .contractive_grad_w = clae_cl_contractive_grad_w,
};
