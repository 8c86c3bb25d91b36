/* ops_aae_cl.c — the OpenCL bodies of the adversarial autoencoder's ops (lib/ops/ops_aae.h): launches of cl/aae.cl
 * on the in-order queue without waiting; arguments are checked once for both paths by lib/ops/ops_aae.c. */
#include "ops/ops_aae.h"
#include "ops/ops_cl_util.h"

static clae_status aae_batch(clae_runtime *rt, size_t rows, size_t L, uint32_t modes, clae_buf row_ids, uint64_t seed,
                             uint32_t step, uint32_t tag, clae_buf CODES, clae_buf OUT)
{
    /* row_ids holds uint32 words in float slots: the same offset in words as in floats. An absent CODES travels
     * as a flag of 0 with OUT in its place (never read). */
    karg a[] = {ARG_U64(rows),
                ARG_U64(L),
                ARG_U32(modes),
                ARG_BUF(row_ids),
                ARG_U32(seed & 0xffffffffu),
                ARG_U32(seed >> 32),
                ARG_U32(step),
                ARG_U32(tag),
                ARG_F32(CLAE_AAE_MIX_RADIAL_SD),
                ARG_F32(CLAE_AAE_MIX_TANGENT_SD),
                ARG_F32(CLAE_AAE_MIX_SHIFT),
                ARG_BUF(CODES.n ? CODES : OUT),
                ARG_I32(CODES.n != 0),
                ARG_BUF(OUT)};
    return launch(rt, "aae_batch", a, NARGS(a), L, rows, 1);
}

static clae_status aae_logit_loss(clae_runtime *rt, size_t rows, size_t fake, clae_buf D, clae_buf G, clae_buf out)
{
    karg a[] = {ARG_U64(rows), ARG_U64(fake), ARG_BUF(D), ARG_BUF(G), ARG_BUF(out)};
    return launch(rt, "aae_logit_loss", a, NARGS(a), rows + fake, 0, 0);
}

const clae_aae_ops clae_aae_ops_cl = {
    .aae_batch = aae_batch,
    .aae_logit_loss = aae_logit_loss,
};
