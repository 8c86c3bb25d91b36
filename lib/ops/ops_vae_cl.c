/* ops_vae_cl.c — the OpenCL bodies of the Gaussian layer's ops (lib/ops/ops_vae.h): launches of cl/vae.cl on the
 * in-order queue without waiting; arguments are checked once for both paths by lib/ops/ops_vae.c. */
#include "ops/ops_cl_util.h"
#include "ops/ops_vae.h"

/* An absent buffer (n == 0; its memory may be NULL) travels as a flag of 0 with `stand_in` in its place, so no
 * argument is a null buffer; the kernels never touch a buffer whose flag is 0. */
static clae_buf or_else(clae_buf b, clae_buf stand_in) { return b.n ? b : stand_in; }

static clae_status gauss_sample(clae_runtime *rt, size_t rows, size_t L, clae_buf MU, clae_buf S, clae_buf row_ids,
                                uint64_t seed, uint32_t step, uint32_t tag, uint32_t k, uint32_t count, clae_buf EPS,
                                clae_buf Z)
{
    /* row_ids holds uint32 words in float slots: the same offset in words as in floats. */
    karg a[] = {ARG_BUF(or_else(MU, Z)),  ARG_I32(MU.n != 0),           ARG_BUF(or_else(S, Z)),
                ARG_I32(S.n != 0),        ARG_BUF(row_ids),             ARG_U32(seed & 0xffffffffu),
                ARG_U32(seed >> 32),      ARG_U32(step),                ARG_U32(tag),
                ARG_U32(k),               ARG_U32(count),               ARG_F32(CLAE_LOGVAR_MIN),
                ARG_F32(CLAE_LOGVAR_MAX), ARG_BUF(or_else(EPS, Z)),     ARG_I32(EPS.n != 0),
                ARG_BUF(Z),               ARG_U64(rows),                ARG_U64(L)};
    return launch(rt, "gauss_sample", a, NARGS(a), L, rows, 1);
}

static clae_status gauss_kl(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S, clae_buf pen,
                            clae_buf kl_rows)
{
    /* With L = 0 the rows are empty sums and MU, S may hold no memory: pen stands in (never read then). */
    MU = or_else(MU, pen);
    S = or_else(S, pen);
    if (kl_rows.n) {
        karg a[] = {ARG_BUF(MU), ARG_BUF(S), ARG_U64(rows), ARG_U64(L), ARG_BUF(kl_rows)};
        clae_status s = launch(rt, "gauss_kl_rows", a, NARGS(a), rows, 0, 0);
        if (s != CLAE_OK) return s;
    }
    karg b[] = {ARG_F32(beta),  ARG_BUF(MU), ARG_BUF(S), ARG_U64(rows), ARG_U64(L), ARG_BUF(or_else(kl_rows, pen)),
                ARG_I32(kl_rows.n != 0), ARG_BUF(pen)};
    return launch(rt, "gauss_kl_pen", b, NARGS(b), 1, 0, 0);
}

static clae_status gauss_backward(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S,
                                  clae_buf EPS, clae_buf GZ, clae_buf GMU, clae_buf GS)
{
    /* β/rows rounded to float once, as the reference forms it. */
    const float kb = beta / (float)rows;
    karg a[] = {ARG_F32(kb),  ARG_BUF(MU),  ARG_BUF(S),  ARG_BUF(EPS),
                ARG_BUF(GZ),  ARG_BUF(GMU), ARG_BUF(GS), ARG_U64(rows * L), ARG_F32(CLAE_LOGVAR_MIN),
                ARG_F32(CLAE_LOGVAR_MAX)};
    return launch(rt, "gauss_backward", a, NARGS(a), rows * L, 0, 0);
}

const clae_vae_ops clae_vae_ops_cl = {
    .gauss_sample = gauss_sample,
    .gauss_kl = gauss_kl,
    .gauss_backward = gauss_backward,
};
