/* ops_vae.c — the checking entry of each Gaussian-layer op (lib/ops/ops_vae.h): arguments checked once for both
 * paths, then the reference or OpenCL body; in a dry run only the buffers they would touch are reported. */
#include <math.h>

#include "ops/ops_check.h"
#include "ops/ops_vae.h"


static const clae_vae_ops *table(const clae_runtime *rt) { return rt->is_ref ? &clae_vae_ops_ref : &clae_vae_ops_cl; }


static clae_status check_beta(clae_runtime *rt, const char *op, float beta, size_t rows)
{
    if (!isfinite(beta) || beta < 0.0f || rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s (%s): beta %g must be finite and >= 0, rows > 0", op, clae_op_path(rt),
                                          (double)beta));
    return CLAE_OK;
}

clae_status clae_op_gauss_sample(clae_runtime *rt, size_t rows, size_t L, clae_buf MU, clae_buf S, clae_buf row_ids,
                                 uint64_t seed, uint32_t step, uint32_t tag, uint32_t k, uint32_t count, clae_buf EPS,
                                 clae_buf Z)
{
    const size_t n = rows * L;
    if (!count || k >= count)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "gauss_sample (%s): sample %u of %u", clae_op_path(rt), k, count));
    if (!MU.n && S.n)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "gauss_sample (%s): a log-variance without a mean", clae_op_path(rt)));
    if (MU.n) NEED("gauss_sample", MU, n);
    if (S.n) NEED("gauss_sample", S, n);
    NEED("gauss_sample", row_ids, rows);
    if (EPS.n) NEED("gauss_sample", EPS, n);
    NEED("gauss_sample", Z, n);
    return rt->trace ? CLAE_OK : table(rt)->gauss_sample(rt, rows, L, MU, S, row_ids, seed, step, tag, k, count, EPS, Z);
}

clae_status clae_op_gauss_kl(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S, clae_buf pen,
                             clae_buf kl_rows)
{
    TRY(check_beta(rt, "gauss_kl", beta, rows));
    NEED("gauss_kl", MU, rows * L);
    NEED("gauss_kl", S, rows * L);
    NEED("gauss_kl", pen, 1);
    if (kl_rows.n) NEED("gauss_kl", kl_rows, rows);
    return rt->trace ? CLAE_OK : table(rt)->gauss_kl(rt, rows, L, beta, MU, S, pen, kl_rows);
}

clae_status clae_op_gauss_backward(clae_runtime *rt, size_t rows, size_t L, float beta, clae_buf MU, clae_buf S,
                                   clae_buf EPS, clae_buf GZ, clae_buf GMU, clae_buf GS)
{
    TRY(check_beta(rt, "gauss_backward", beta, rows));
    const size_t n = rows * L;
    NEED("gauss_backward", MU, n);
    NEED("gauss_backward", S, n);
    NEED("gauss_backward", EPS, n);
    NEED("gauss_backward", GZ, n);
    NEED("gauss_backward", GMU, n);
    NEED("gauss_backward", GS, n);
    return rt->trace ? CLAE_OK : table(rt)->gauss_backward(rt, rows, L, beta, MU, S, EPS, GZ, GMU, GS);
}
