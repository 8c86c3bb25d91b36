/* ops_aae.c — the checking entry of each adversarial-autoencoder op (lib/ops/ops_aae.h): arguments checked once
 * for both paths, then the reference or OpenCL body; in a dry run only the buffers they would touch are reported. */
#include "ops/ops_aae.h"
#include "ops/ops_check.h"

static const clae_aae_ops *table(const clae_runtime *rt) { return rt->is_ref ? &clae_aae_ops_ref : &clae_aae_ops_cl; }

clae_status clae_op_aae_batch(clae_runtime *rt, size_t rows, size_t L, uint32_t modes, clae_buf row_ids, uint64_t seed,
                              uint32_t step, uint32_t tag, clae_buf CODES, clae_buf OUT)
{
    if (modes > CLAE_AAE_MAX_MODES || (modes && L % 2))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "aae_batch (%s): a mixture of %u components over %zu units; "
                                                        "expected at most %u components and an even number of units",
                                          clae_op_path(rt), modes, L, (unsigned)CLAE_AAE_MAX_MODES));
    NEED("aae_batch", row_ids, rows);
    if (CODES.n) NEED("aae_batch", CODES, rows * L);
    NEED("aae_batch", OUT, (CODES.n ? 2 : 1) * rows * L);
    return rt->trace ? CLAE_OK : table(rt)->aae_batch(rt, rows, L, modes, row_ids, seed, step, tag, CODES, OUT);
}

clae_status clae_op_aae_logit_loss(clae_runtime *rt, size_t rows, size_t fake, clae_buf D, clae_buf G, clae_buf out)
{
    if (rows == 0)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "aae_logit_loss (%s): no real rows", clae_op_path(rt)));
    NEED("aae_logit_loss", D, rows + fake);
    NEED("aae_logit_loss", G, rows + fake);
    NEED("aae_logit_loss", out, 2);
    return rt->trace ? CLAE_OK : table(rt)->aae_logit_loss(rt, rows, fake, D, G, out);
}
