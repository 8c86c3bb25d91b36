/* test_ops_kit.c — the helpers of test_ops_kit.h, shared by the ops and variant_ops suites.
 * Guarded buffers make every op test also a test of offsets and bounds checks. */
#include <stdlib.h>
#include <string.h>

#include "test_ops_kit.h"

const clae_ops *ops_of(int p) { return p ? &clae_ops_cl : &clae_ops_ref; }

float *fmalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

float *uniform(size_t n, uint32_t seed, float lo, float hi)
{
    float *x = fmalloc(n);
    test_fill_uniform(x, n, seed, lo, hi);
    return x;
}

tbuf tb_new(clae_runtime *rt, const float *data, size_t n)
{
    tbuf t = {rt, {0}, {0}, n};
    size_t total = n + 2 * GUARD;
    float *h = fmalloc(total);
    for (size_t i = 0; i < total; i++) h[i] = GUARD_VAL;
    if (data) memcpy(h + GUARD, data, n * sizeof *h);
    else memset(h + GUARD, 0, n * sizeof *h);
    OK(clae_buf_alloc(rt, total, &t.whole));
    OK(clae_buf_write(rt, t.whole, 0, h, total));
    free(h);
    t.b = clae_buf_view(t.whole, GUARD, n);
    return t;
}

void tb_get(const tbuf *t, float *out)
{
    size_t total = t->n + 2 * GUARD;
    float *h = fmalloc(total);
    OK(clae_buf_read(t->rt, t->whole, 0, h, total));
    for (size_t i = 0; i < GUARD; i++) {
        ck_assert_msg(h[i] == GUARD_VAL, "guard before the buffer overwritten at -%zu", GUARD - i);
        ck_assert_msg(h[GUARD + t->n + i] == GUARD_VAL, "guard after the buffer overwritten at +%zu", i);
    }
    memcpy(out, h + GUARD, t->n * sizeof *out);
    free(h);
}

void tb_free(tbuf *t) { clae_buf_free(&t->whole); }

const char *path_name(int p) { return p ? "opencl" : "ref"; }

tbuf tb_ids(clae_runtime *rt, const uint32_t *ids, size_t n)
{
    float *f = fmalloc(n);
    if (n) memcpy(f, ids, n * sizeof *f); /* ids may be NULL for no rows; memcpy's arguments may not */
    tbuf t = tb_new(rt, f, n);
    free(f);
    return t;
}

void assert_bits(const float *a, const float *want, size_t n, const char *what, int p)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &want[i], sizeof *a) == 0, "%s (%s)[%zu] = %.9g, want %.9g", what, path_name(p), i,
                      (double)a[i], (double)want[i]);
}

void tb_odd_ids(uint32_t ids[37])
{
    for (uint32_t r = 0; r < 37; r++) ids[r] = 100u + 7u * r;
    ids[3] = 0xffffffffu;
    ids[12] = 330382099u;
    ids[20] = 0x80000001u;
    ids[29] = ids[7];
}
