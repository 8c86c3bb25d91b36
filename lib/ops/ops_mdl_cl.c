/* ops_mdl_cl.c — the OpenCL bodies of the MDL autoencoder's ops (lib/ops/ops_mdl.h): launches of cl/mdl.cl on the
 * in-order queue without waiting; arguments are checked once for both paths by lib/ops/ops_mdl.c. */
#include "ops/ops_cl_util.h"
#include "ops/ops_mdl.h"

/* An absent buffer (n == 0; its memory may be NULL) travels as a flag of 0 with `stand_in` in its place, so no
 * argument is a null buffer; the kernels never touch a buffer whose flag is 0. */
static clae_buf or_else(clae_buf b, clae_buf stand_in) { return b.n ? b : stand_in; }

static clae_status mdl_quantize(clae_runtime *rt, size_t rows, size_t L, clae_buf Y, clae_buf row_ids, uint64_t seed,
                                uint32_t step, int noise, clae_buf T)
{
    /* row_ids holds uint32 words in float slots: the same offset in words as in floats. Rounding reads no ids,
     * so they may be absent then (noise 0 is their flag). */
    karg a[] = {ARG_BUF(Y),          ARG_BUF(or_else(row_ids, Y)), ARG_I32(noise != 0),
                ARG_U32(seed & 0xffffffffu), ARG_U32(seed >> 32), ARG_U32(step),
                ARG_U32(CLAE_STREAM_UNIFORM), ARG_BUF(T),         ARG_U64(rows), ARG_U64(L)};
    return launch(rt, "mdl_quantize", a, NARGS(a), L, rows, 1);
}

static clae_status mdl_rate(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc, clae_buf logscale,
                            float weight, clae_buf rate_rows, clae_buf pen)
{
    /* With L = 0 the rows are empty sums and T, loc, logscale may hold no memory: pen stands in (never read then). */
    T = or_else(T, pen);
    loc = or_else(loc, pen);
    logscale = or_else(logscale, pen);
    if (rate_rows.n) {
        karg a[] = {ARG_BUF(T),    ARG_BUF(loc), ARG_BUF(logscale), ARG_F32(CLAE_MDL_P_MIN),
                    ARG_U64(rows), ARG_U64(L),   ARG_BUF(rate_rows)};
        clae_status s = launch(rt, "mdl_rate_rows", a, NARGS(a), rows, 0, 0);
        if (s != CLAE_OK) return s;
    }
    karg b[] = {ARG_F32(weight), ARG_BUF(T),  ARG_BUF(loc), ARG_BUF(logscale), ARG_F32(CLAE_MDL_P_MIN),
                ARG_U64(rows),   ARG_U64(L),  ARG_BUF(or_else(rate_rows, pen)), ARG_I32(rate_rows.n != 0),
                ARG_BUF(pen)};
    return launch(rt, "mdl_rate_pen", b, NARGS(b), 1, 0, 0);
}

static clae_status mdl_rate_backward(clae_runtime *rt, size_t rows, size_t L, clae_buf T, clae_buf loc,
                                     clae_buf logscale, float weight, clae_buf GT, clae_buf dloc, clae_buf dlogscale)
{
    /* weight/rows is formed in the kernels' accumulator precision, as the reference forms it in double. */
    karg a[] = {ARG_F32(weight), ARG_BUF(T),  ARG_BUF(loc), ARG_BUF(logscale), ARG_F32(CLAE_MDL_P_MIN),
                ARG_U64(rows),   ARG_U64(L),  ARG_BUF(GT)};
    clae_status s = launch(rt, "mdl_rate_backward_t", a, NARGS(a), L, rows, 1);
    if (s != CLAE_OK) return s;
    karg b[] = {ARG_F32(weight), ARG_BUF(T),  ARG_BUF(loc),  ARG_BUF(logscale), ARG_F32(CLAE_MDL_P_MIN),
                ARG_U64(rows),   ARG_U64(L),  ARG_BUF(dloc), ARG_BUF(dlogscale)};
    return launch(rt, "mdl_rate_backward_prior", b, NARGS(b), L, 0, 0);
}

const clae_mdl_ops clae_mdl_ops_cl = {
    .mdl_quantize = mdl_quantize,
    .mdl_rate = mdl_rate,
    .mdl_rate_backward = mdl_rate_backward,
};
