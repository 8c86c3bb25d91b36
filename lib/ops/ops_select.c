/* ops_select.c — which op table and GEMM engine a runtime gets, and the public entries that need that choice
 * (clae_runtime_open, clae_device_properties): the runtime below opens devices and knows nothing of ops. */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_tune.h"

/* The GEMM engine an OpenCL device gets: the first row whose type matches (-1 matches any).
 * CPU devices (PoCL): clae's register-tiled kernel, several times CLBlast there (make
 * bench-gemm); every other device: CLBlast, which carries tuned parameters per GPU.
 * CLAE_GEMM=clblast|tiled overrides the table for any OpenCL device; cpu-ref has only its loops. */
static const struct {
    int type;
    const clae_gemm_engine *engine;
} gemm_table[] = {
    {CLAE_DEVICE_CPU, &clae_gemm_tiled},
    {-1, &clae_gemm_clblast},
};

static const clae_gemm_engine *const gemm_engines[] = {&clae_gemm_clblast, &clae_gemm_tiled};

/* A typo in CLAE_GEMM is an error rather than silently ignored, so it is caught at open on every device. */
clae_status clae_gemm_override(const clae_gemm_engine **out)
{
    const char *v = getenv("CLAE_GEMM");
    *out = NULL;
    if (!v || !*v) return CLAE_OK;
    for (size_t i = 0; i < sizeof gemm_engines / sizeof gemm_engines[0]; i++)
        if (strcmp(v, gemm_engines[i]->name) == 0) {
            *out = gemm_engines[i];
            return CLAE_OK;
        }
    return clae_fail(CLAE_ERR_ARG, "CLAE_GEMM=%s: unknown GEMM engine (choices: clblast, tiled)", v);
}

const clae_gemm_engine *clae_gemm_for_device(const clae_device_info *d, const clae_gemm_engine *override)
{
    if (override) return override;
    for (size_t i = 0; i < sizeof gemm_table / sizeof gemm_table[0]; i++)
        if (gemm_table[i].type < 0 || gemm_table[i].type == (int)d->type) return gemm_table[i].engine;
    return &clae_gemm_clblast;
}

clae_status clae_runtime_wrap(cl_context ctx, cl_device_id device, cl_command_queue queue, clae_runtime **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_wrap: out must not be NULL");
    *out = NULL;
    const clae_gemm_engine *gemm = NULL;
    clae_status s = clae_gemm_override(&gemm);
    if (s != CLAE_OK) return s;
    clae_runtime *rt;
    s = clae_rt_wrap(ctx, device, queue, &rt);
    if (s != CLAE_OK) return s;
    rt->ops = &clae_ops_cl;
    rt->gemm = clae_gemm_for_device(&rt->info, gemm);
    *out = rt;
    return CLAE_OK;
}

clae_status clae_runtime_open(const char *spec, clae_runtime **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_open: out must not be NULL");
    *out = NULL;
    const clae_gemm_engine *gemm = NULL;
    clae_status s = clae_gemm_override(&gemm); /* before the device search, so a bad CLAE_GEMM wins */
    if (s != CLAE_OK) return s;
    clae_runtime *rt;
    s = clae_rt_open(spec, &rt);
    if (s != CLAE_OK) return s;
    if (rt->is_ref) {
        rt->ops = &clae_ops_ref;
        rt->gemm = &clae_gemm_ref;
    } else {
        rt->ops = &clae_ops_cl;
        rt->gemm = clae_gemm_for_device(&rt->info, gemm);
    }
    *out = rt;
    return CLAE_OK;
}

clae_status clae_runtime_gemm_report(clae_runtime *rt, char *buf, size_t cap)
{
    if (!rt || !buf || !cap) return clae_fail(CLAE_ERR_ARG, "clae_runtime_gemm_report: runtime and buffer must not be NULL");
    buf[0] = '\0';
    if (rt->gemm != &clae_gemm_tiled) {
        snprintf(buf, cap, "GEMM engine %s: %s\n", rt->gemm->name,
                 rt->gemm == &clae_gemm_clblast ? "CLBlast's kernels with its own tuned parameters for the device"
                                                : "plain C loops accumulating in double");
        return CLAE_OK;
    }
    const clae_gemm_tune *t = clae_gemm_tune_of(rt);
    if (!t) return clae_fail(CLAE_ERR_NOMEM, "clae_runtime_gemm_report: out of memory");
    size_t tm, tn;
    clae_gemm_tile(rt, 0, &tm, &tn, NULL);
    int w = snprintf(buf, cap, "GEMM engine tiled: tile %zux%zu by default; %s; %d shape%s in the tile table%s%s\n", tm,
                     tn, t->off ? "searching is off (CLAE_GEMM_TUNE=off)" : "each new shape searched at its first run",
                     t->count, t->count == 1 ? "" : "s", rt->cache_dir[0] ? ", kept in " : " (in memory only)",
                     rt->cache_dir);
    size_t len = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < t->count && len < cap; i++) {
        const clae_gemm_tile_choice *c = &t->entry[i];
        char how[256];
        clae_op_gemm_describe(rt, c->trans_a, 0, c->M, c->N, c->K, how, sizeof how);
        w = snprintf(buf + len, cap - len, "  %cN M=%zu N=%zu K=%zu: %s\n", c->trans_a ? 'T' : 'N', c->M, c->N, c->K,
                     how);
        if (w < 0 || (size_t)w >= cap - len)
            return clae_fail(CLAE_ERR_ARG, "clae_runtime_gemm_report: %zu bytes are too few for %d shapes", cap, t->count);
        len += (size_t)w;
    }
    return CLAE_OK;
}

/* The engine clae_runtime_open would give d; a bad CLAE_GEMM fails at open, not here (the table decides). */
static const char *gemm_engine_name(const clae_device_info *d)
{
    if (d->type == CLAE_DEVICE_CPU_REF) return clae_gemm_ref.name;
    const clae_gemm_engine *gemm = NULL;
    if (clae_gemm_override(&gemm) != CLAE_OK) gemm = NULL;
    return clae_gemm_for_device(d, gemm)->name;
}

clae_status clae_device_properties(const char *spec, clae_device_property **props, size_t *count)
{
    if (!props || !count) return clae_fail(CLAE_ERR_ARG, "clae_device_properties: props and count must not be NULL");
    return clae_rt_device_properties(spec, gemm_engine_name, props, count);
}
