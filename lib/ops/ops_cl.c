/* ops_cl.c — the OpenCL side of the op table: each op checks its buffers, sets the arguments of
 * its kernel from cl/ and enqueues it on the runtime's in-order queue (no waiting). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm/gemm.h"
#include "ops/ops.h"
#include "ops/ops_cl_util.h"
#include "ops/ops_variants.h"

/* GEMM is clae_op_gemm (ops_common.h): the runtime's engine. */

/* ---- dense layer: bias, activation forward and backward (cl/elementwise.cl) -------------- */

static clae_status bias_add(clae_runtime *rt, clae_buf Z, clae_buf b, size_t rows, size_t cols)
{
    NEED("bias_add", Z, rows * cols);
    NEED("bias_add", b, rows ? cols : 0);
    karg a[] = {ARG_BUF(Z), ARG_BUF(b), ARG_U64(rows), ARG_U64(cols)};
    return launch(rt, "bias_add", a, NARGS(a), cols, rows, 1);
}

static clae_status act_forward(clae_runtime *rt, clae_activation f, clae_buf Z, clae_buf A, size_t n)
{
    clae_status s = check_act(rt, "act_forward", f);
    if (s != CLAE_OK) return s;
    NEED("act_forward", Z, n);
    NEED("act_forward", A, n);
    karg a[] = {ARG_I32(f), ARG_BUF(Z), ARG_BUF(A), ARG_U64(n)};
    return launch(rt, "act_forward", a, NARGS(a), n, 0, 0);
}

static clae_status act_backward(clae_runtime *rt, clae_activation f, clae_buf A, clae_buf G, size_t n)
{
    clae_status s = check_act(rt, "act_backward", f);
    if (s != CLAE_OK) return s;
    NEED("act_backward", A, n);
    NEED("act_backward", G, n);
    if (f == CLAE_ACT_LINEAR) return CLAE_OK; /* f' = 1 */
    karg a[] = {ARG_I32(f), ARG_BUF(A), ARG_BUF(G), ARG_U64(n)};
    return launch(rt, "act_backward", a, NARGS(a), n, 0, 0);
}

/* ---- losses (cl/loss.cl) ------------------------------------------------------------------ */

static clae_status loss_rows(clae_runtime *rt, clae_loss loss, clae_buf O, clae_buf Xhat, clae_buf X,
                             size_t rows, size_t cols, clae_buf out)
{
    clae_status s = check_loss(rt, "loss_rows", loss);
    if (s != CLAE_OK) return s;
    NEED("loss_rows", X, rows * cols);
    if (loss == CLAE_LOSS_BCE) NEED("loss_rows", O, rows * cols);
    else NEED("loss_rows", Xhat, rows * cols);
    NEED("loss_rows", out, rows);
    /* The unused input may be an empty buffer; a NULL cl_mem argument is legal. */
    karg a[] = {ARG_I32(loss), ARG_BUF(O), ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out)};
    return launch(rt, "loss_rows", a, NARGS(a), rows, 0, 0);
}

static clae_status loss_grad(clae_runtime *rt, clae_loss loss, clae_activation out_act, clae_buf Xhat,
                             clae_buf X, size_t n, float scale, clae_buf G)
{
    clae_status s = check_loss(rt, "loss_grad", loss);
    if (s == CLAE_OK) s = check_act(rt, "loss_grad", out_act);
    if (s != CLAE_OK) return s;
    if (loss == CLAE_LOSS_BCE && out_act != CLAE_ACT_SIGMOID)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "loss_grad (opencl): bce needs a sigmoid output, not %s",
                                          clae_activation_name(out_act)));
    NEED("loss_grad", Xhat, n);
    NEED("loss_grad", X, n);
    NEED("loss_grad", G, n);
    karg a[] = {ARG_I32(loss), ARG_I32(out_act), ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(n), ARG_F32(scale), ARG_BUF(G)};
    return launch(rt, "loss_grad", a, NARGS(a), n, 0, 0);
}

static clae_status row_sq_error(clae_runtime *rt, clae_buf Xhat, clae_buf X, size_t rows, size_t cols,
                                clae_buf out)
{
    NEED("row_sq_error", Xhat, rows * cols);
    NEED("row_sq_error", X, rows * cols);
    NEED("row_sq_error", out, rows);
    karg a[] = {ARG_BUF(Xhat), ARG_BUF(X), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out)};
    return launch(rt, "row_sq_error", a, NARGS(a), rows, 0, 0);
}

/* ---- reductions (cl/reduce.cl) ------------------------------------------------------------ */

static clae_status colsum(clae_runtime *rt, clae_buf G, size_t rows, size_t cols, clae_buf out)
{
    NEED("colsum", G, rows * cols);
    NEED("colsum", out, cols);
    karg a[] = {ARG_BUF(G), ARG_U64(rows), ARG_U64(cols), ARG_BUF(out)};
    return launch(rt, "colsum", a, NARGS(a), cols, 0, 0);
}

/* ---- optimizers (cl/optim.cl) -------------------------------------------------------------- */

static clae_status opt_update(clae_runtime *rt, const clae_opt_hyper *h, clae_buf theta, clae_buf grad,
                              clae_buf s1, clae_buf s2, size_t n)
{
    NEED("opt_update", theta, n);
    NEED("opt_update", grad, n);
    switch (h->kind) {
    case CLAE_OPT_SGD: {
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_U64(n), ARG_F32(h->lr)};
        return launch(rt, "opt_sgd", a, NARGS(a), n, 0, 0);
    }
    case CLAE_OPT_MOMENTUM:
    case CLAE_OPT_NESTEROV: {
        NEED("opt_update(momentum)", s1, n);
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_BUF(s1), ARG_U64(n), ARG_F32(h->lr), ARG_F32(h->momentum)};
        return launch(rt, h->kind == CLAE_OPT_MOMENTUM ? "opt_momentum" : "opt_nesterov", a, NARGS(a), n, 0, 0);
    }
    case CLAE_OPT_ADAM: {
        NEED("opt_update(adam)", s1, n);
        NEED("opt_update(adam)", s2, n);
        karg a[] = {ARG_BUF(theta),     ARG_BUF(grad),      ARG_BUF(s1),      ARG_BUF(s2),
                    ARG_U64(n),         ARG_F32(h->lr),     ARG_F32(h->beta1), ARG_F32(h->beta2),
                    ARG_F32(h->eps),    ARG_F32(h->bc1),    ARG_F32(h->bc2)};
        return launch(rt, "opt_adam", a, NARGS(a), n, 0, 0);
    }
    case CLAE_OPT_ADADELTA: {
        NEED("opt_update(adadelta)", s1, n);
        NEED("opt_update(adadelta)", s2, n);
        karg a[] = {ARG_BUF(theta), ARG_BUF(grad), ARG_BUF(s1), ARG_BUF(s2), ARG_U64(n),
                    ARG_F32(h->rho), ARG_F32(h->adadelta_eps)};
        return launch(rt, "opt_adadelta", a, NARGS(a), n, 0, 0);
    }
    default:
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "opt_update (opencl): unknown optimizer %d", (int)h->kind));
    }
}

/* ---- random numbers (cl/rng.cl) ------------------------------------------------------------ */

static clae_status init_uniform(clae_runtime *rt, clae_buf theta, size_t n, uint64_t seed, uint32_t layer_id,
                                float a)
{
    NEED("init_uniform", theta, n);
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
    .gemm = clae_op_gemm,
    .bias_add = bias_add,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .loss_rows = loss_rows,
    .loss_grad = loss_grad,
    .row_sq_error = row_sq_error,
    .colsum = colsum,
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
