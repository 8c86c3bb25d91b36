/* ops_concrete_cl.c — the OpenCL bodies of the concrete selector's ops (lib/ops/ops_concrete.h): launches of
 * cl/concrete.cl on the in-order queue without waiting; arguments are checked once for both paths by ops_concrete.c. */
#include "ops/ops_cl_util.h"
#include "ops/ops_concrete.h"

static clae_status concrete_softmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, float T, uint64_t seed,
                                    uint32_t step, int gumbel, clae_buf M)
{
    karg a[] = {ARG_BUF(LAMBDA), ARG_F32(T), ARG_U32(seed & 0xffffffffu), ARG_U32(seed >> 32), ARG_U32(step),
                ARG_U32(CLAE_STREAM_GUMBEL), ARG_I32(gumbel != 0), ARG_BUF(M), ARG_U64(K), ARG_U64(D)};
    return launch(rt, "concrete_softmax", a, NARGS(a), K, 0, 0);
}

static clae_status concrete_backward(clae_runtime *rt, size_t K, size_t D, float T, clae_buf M, clae_buf Gm,
                                     clae_buf dLAMBDA)
{
    karg a[] = {ARG_F32(T), ARG_BUF(M), ARG_BUF(Gm), ARG_BUF(dLAMBDA), ARG_U64(K), ARG_U64(D)};
    return launch(rt, "concrete_backward", a, NARGS(a), K, 0, 0);
}

static clae_status concrete_argmax(clae_runtime *rt, size_t K, size_t D, clae_buf LAMBDA, clae_buf idx)
{
    karg a[] = {ARG_BUF(LAMBDA), ARG_BUF(idx), ARG_U64(K), ARG_U64(D)};
    return launch(rt, "concrete_argmax", a, NARGS(a), K, 0, 0);
}

static clae_status gather_cols(clae_runtime *rt, size_t rows, size_t D, size_t K, clae_buf X, clae_buf idx, clae_buf S)
{
    karg a[] = {ARG_BUF(X), ARG_BUF(idx), ARG_BUF(S), ARG_U64(rows), ARG_U64(D), ARG_U64(K)};
    return launch(rt, "gather_cols", a, NARGS(a), K, rows, 1);
}

const clae_concrete_ops clae_concrete_ops_cl = {
    .concrete_softmax = concrete_softmax,
    .concrete_backward = concrete_backward,
    .concrete_argmax = concrete_argmax,
    .gather_cols = gather_cols,
};
