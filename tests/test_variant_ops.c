/* test_variant_ops.c — the variant_ops suite: the regularized-variant ops (corruption, top-k, sparsity
 * and contractive penalties), OpenCL against the reference, known answers, statistics and gradients. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops.h"
#include "test_ops_kit.h"

/* ---- helpers (the conventions of test_ops.c) ------------------------------------------------- */

/* n distinct values in (−1, 1) in a random order (a Philox-driven Fisher–Yates shuffle of a
 * grid 2/n apart, far wider than a float ulp): selections without ties. */
static float *distinct(size_t n, uint32_t seed)
{
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    const uint32_t key[2] = {seed, 0xd15u};
    for (size_t i = n; i > 1; i--) {
        const uint32_t ctr[4] = {(uint32_t)i, 0, 0, 0xd15u};
        uint32_t w[4];
        clae_philox4x32_10(ctr, key, w);
        size_t j = w[0] % i, t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    float *x = fmalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(-1.0 + 2.0 * ((double)perm[i] + 0.5) / (double)n);
    free(perm);
    return x;
}


/* A host-memory clae_buf over x, for calling the reference ops directly. */
static clae_buf hb(float *x, size_t n) { return (clae_buf){x, NULL, 0, n, 0}; }

static const char *noise_name(clae_noise k)
{
    static const char *names[] = {"none", "gaussian", "mask", "saltpepper"};
    return names[k];
}

static const char *sparsity_name(clae_sparsity k)
{
    static const char *names[] = {"none", "kl", "l1", "l2", "h2o"};
    return names[k];
}

/* ---- clae's float log and cos(2πu) (lib/ops/mathf.c, twins of cl/common.h) ------------------- */

START_TEST(test_mathf_accuracy)
{
    /* Relative error against libm in double below 2e-7 (under 2 ulp; measured worst cases over
     * all 2^23 Box–Muller inputs: log 8.0e-8, cos 1.32e-7). The sweep covers every 61st
     * open-interval uniform ((2j+1)·2^-24, the inputs corrupt() feeds them) and, for log, every
     * binade of positive normal floats. */
    double worst_log = 0.0, worst_cos = 0.0, worst_sweep = 0.0;
    float at_log = 0.0f, at_cos = 0.0f, at_sweep = 0.0f;
    size_t bad_u = 0;
    for (uint32_t j = 0; j < (1u << 23); j += 61) {
        float u = (float)(2u * j + 1u) * 0x1p-24f;
        bad_u += u != clae_u01_open(j << 9);
        double l = log((double)u), c = cos(2.0 * 3.14159265358979323846 * (double)u);
        double el = fabs((double)clae_logf(u) - l) / fabs(l), ec = fabs((double)clae_cos2pif(u) - c) / fabs(c);
        if (el > worst_log) worst_log = el, at_log = u;
        if (ec > worst_cos) worst_cos = ec, at_cos = u;
    }
    for (double x = 0x1p-126; x < 0x1p127; x *= 1.00071) {
        float xf = (float)x;
        double l = log((double)xf);
        if (l == 0.0) continue;
        double e = fabs((double)clae_logf(xf) - l) / fabs(l);
        if (e > worst_sweep) worst_sweep = e, at_sweep = xf;
    }
    ck_assert_msg(bad_u == 0, "clae_u01_open disagrees with (2j+1)·2^-24 %zu times", bad_u);
    ck_assert_msg(worst_log < 2e-7, "clae_logf(%a): relative error %g", (double)at_log, worst_log);
    ck_assert_msg(worst_cos < 2e-7, "clae_cos2pif(%a): relative error %g", (double)at_cos, worst_cos);
    ck_assert_msg(worst_sweep < 2e-7, "clae_logf(%a): relative error %g", (double)at_sweep, worst_sweep);
    ck_assert(worst_log > 0.0 && worst_cos > 0.0 && worst_sweep > 0.0); /* the sweeps ran */
    /* The folding points are exact. */
    ck_assert(clae_logf(1.0f) == 0.0f);
    ck_assert(clae_cos2pif(0.0f) == 1.0f && clae_cos2pif(0.25f) == 0.0f && clae_cos2pif(0.5f) == -1.0f &&
              clae_cos2pif(1.0f) == 1.0f);
}
END_TEST

/* ---- corrupt (Vincent et al. 2010; Philox tag 1) --------------------------------------------- */

static const uint64_t SEED = 0x0123456789abcdefull; /* both key words non-zero */

/* Per-feature fill values (3·cols floats: mean, min, max) of distinct columns: mean in [−½, ½],
 * min 1 to 2 below it and max 1 to 2 above it, so no fill value equals another or an input. */
static float *fill_of(size_t cols, uint32_t seed)
{
    float *u = uniform(3 * cols, seed, 0, 1), *f = fmalloc(3 * cols);
    for (size_t c = 0; c < cols; c++) {
        f[c] = u[c] - 0.5f;
        f[cols + c] = f[c] - 1.0f - u[cols + c];
        f[2 * cols + c] = f[c] + 1.0f + u[2 * cols + c];
    }
    free(u);
    return f;
}

/* corrupt on path p with the fill values `fill` (3·cols floats: mean, min, max). */
static void run_corrupt_fill(int p, clae_noise kind, float level, const float *X, const uint32_t *ids, size_t rows,
                             size_t cols, uint64_t seed, uint32_t step, const float *fill, float *out)
{
    clae_runtime *rt = test_rt(p);
    tbuf x = tb_new(rt, X, rows * cols), xt = tb_new(rt, NULL, rows * cols), id = tb_ids(rt, ids, rows);
    tbuf mean = tb_new(rt, fill, cols), lo = tb_new(rt, fill + cols, cols), hi = tb_new(rt, fill + 2 * cols, cols);
    OK(clae_op_corrupt(rt, kind, level, x.b, xt.b, id.b, rows, cols, seed, step, mean.b, lo.b, hi.b));
    tb_get(&xt, out);
    tb_free(&x);
    tb_free(&xt);
    tb_free(&id);
    tb_free(&mean);
    tb_free(&lo);
    tb_free(&hi);
}

/* corrupt with the [0, 1] image fill: mean 0, min 0, max 1 (a model's values until it is told). */
static void run_corrupt(int p, clae_noise kind, float level, const float *X, const uint32_t *ids, size_t rows,
                        size_t cols, uint64_t seed, uint32_t step, float *out)
{
    float *fill = fmalloc(3 * cols);
    for (size_t c = 0; c < 3 * cols; c++) fill[c] = c < 2 * cols ? 0.0f : 1.0f;
    run_corrupt_fill(p, kind, level, X, ids, rows, cols, seed, step, fill, out);
    free(fill);
}

static float level_of(clae_noise kind) { return kind == CLAE_NOISE_GAUSSIAN ? 0.1f : 0.3f; }

START_TEST(test_corrupt_paths)
{
    /* Every kind is bit-identical between the paths: integer tests, exact uniforms, and a
     * Box–Muller built from +, −, ×, /, sqrt (correctly rounded) and the shared polynomials. */
    static const size_t shapes[4][2] = {{1, 1}, {7, 33}, {33, 785}, {257, 7}};
    for (int s = 0; s < 4; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *X = uniform(n, 40u + (uint32_t)s, 0, 1), *out[2] = {fmalloc(n), fmalloc(n)};
        uint32_t *ids = malloc(rows * sizeof *ids);
        ck_assert_ptr_nonnull(ids);
        /* Scattered data-set indices; the last is so large that e = id·cols + c needs the
         * counter's high word. */
        for (size_t r = 0; r < rows; r++) ids[r] = 1000u + 3u * (uint32_t)r;
        ids[rows - 1] = 0xfffffff0u;
        float *fill = fill_of(cols, 50u + (uint32_t)s);
        for (int k = 0; k < CLAE_NOISE_COUNT; k++) {
            for (int p = 0; p < 2; p++)
                run_corrupt_fill(p, (clae_noise)k, level_of((clae_noise)k), X, ids, rows, cols, SEED, 7, fill, out[p]);
            ck_assert_msg(memcmp(out[0], out[1], n * sizeof(float)) == 0, "%s %zux%zu differs between paths",
                          noise_name((clae_noise)k), rows, cols);
            if (k == CLAE_NOISE_NONE) ck_assert(memcmp(out[0], X, n * sizeof(float)) == 0);
        }
        free(fill);
        free(X);
        free(ids);
        free(out[0]);
        free(out[1]);
    }
}
END_TEST

START_TEST(test_corrupt_formula)
{
    /* Every element against the Philox recipe written out here with the host Philox and, for Gaussian noise,
     * libm in double: pins the counter layout (e lo, e hi, step, tag 1), the key, the words used
     * and the threshold. Gaussian tolerance 1e-6 absolute: σ·|z| ≤ 0.1·6 with z good to 2e-7
     * relative, plus the rounding of x + σz. */
    const size_t rows = 7, cols = 33, n = rows * cols;
    const uint32_t step = 11;
    uint32_t ids[7] = {0, 1, 5, 9, 123456, 0x7fffffffu, 0xffffffffu};
    float *X = uniform(n, 41, 0.25f, 0.75f), *out = fmalloc(n), *fill = fill_of(cols, 49);
    const float *mean = fill, *lo = fill + cols, *hi = fill + 2 * cols;
    const uint32_t key[2] = {(uint32_t)SEED, (uint32_t)(SEED >> 32)};
    for (int k = CLAE_NOISE_GAUSSIAN; k < CLAE_NOISE_COUNT; k++) {
        float level = level_of((clae_noise)k);
        uint32_t thr = (uint32_t)floor((double)level * 16777216.0);
        run_corrupt_fill(0, (clae_noise)k, level, X, ids, rows, cols, SEED, step, fill, out);
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                uint64_t e = (uint64_t)ids[r] * cols + c;
                const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, 1};
                uint32_t w[4];
                clae_philox4x32_10(ctr, key, w);
                size_t i = r * cols + c;
                if (k == CLAE_NOISE_GAUSSIAN) {
                    double u1 = ((double)(w[2] >> 9) * 2 + 1) / 16777216.0;
                    double u2 = ((double)(w[3] >> 9) * 2 + 1) / 16777216.0;
                    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
                    double want = X[i] + 0.1 * z;
                    ck_assert_msg(fabs(out[i] - want) < 1e-6, "gaussian (%zu,%zu): %.9g, want %.9g", r, c,
                                  (double)out[i], want);
                } else {
                    /* A masked input is its column's mean; salt its column's max, pepper its min. */
                    float hit = k == CLAE_NOISE_MASK ? mean[c] : (w[1] >> 31) ? hi[c] : lo[c];
                    float want = (w[0] >> 8) < thr ? hit : X[i];
                    ck_assert_msg(out[i] == want, "%s (%zu,%zu): %g, want %g", noise_name((clae_noise)k), r, c,
                                  (double)out[i], (double)want);
                }
            }
    }
    free(X);
    free(out);
    free(fill);
}
END_TEST

START_TEST(test_corrupt_statistics)
{
    /* A 257×785 batch on the device under test (and identical on the reference). Every bound is
     * 5 standard errors of the statistic under the intended distribution. */
    const size_t rows = 257, cols = 785, n = rows * cols;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)r;
    float *out = fmalloc(n), *ref = fmalloc(n);

    /* Gaussian σ = 0.1: the noise x̃ − x has mean 0 (SE σ/√n), standard deviation σ (SE σ/√(2n)),
     * and a share 0.0455 beyond 2σ (SE √(p(1−p)/n)) — the last catches a wrong shape. */
    float *X = uniform(n, 42, 0, 1);
    run_corrupt(1, CLAE_NOISE_GAUSSIAN, 0.1f, X, ids, rows, cols, SEED, 3, out);
    run_corrupt(0, CLAE_NOISE_GAUSSIAN, 0.1f, X, ids, rows, cols, SEED, 3, ref);
    ck_assert(memcmp(out, ref, n * sizeof(float)) == 0);
    double sum = 0.0, sq = 0.0, tail = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)out[i] - X[i];
        sum += d;
        sq += d * d;
        tail += fabs(d) > 0.2;
    }
    double mean = sum / n, sd = sqrt(sq / n - mean * mean), p2 = 0.0455002638963584;
    ck_assert_msg(fabs(mean) < 5 * 0.1 / sqrt((double)n), "gaussian mean %g", mean);
    ck_assert_msg(fabs(sd - 0.1) < 5 * 0.1 / sqrt(2.0 * n), "gaussian sd %g", sd);
    ck_assert_msg(fabs(tail / n - p2) < 5 * sqrt(p2 * (1 - p2) / n), "gaussian share beyond 2 sigma %g", tail / n);
    free(X);

    /* Masking ν = 0.25 on inputs that are never 0: the share of zeros is ν (SE √(ν(1−ν)/n)),
     * and every other element is untouched. */
    X = uniform(n, 43, 0.5f, 1.0f);
    run_corrupt(1, CLAE_NOISE_MASK, 0.25f, X, ids, rows, cols, SEED, 3, out);
    run_corrupt(0, CLAE_NOISE_MASK, 0.25f, X, ids, rows, cols, SEED, 3, ref);
    ck_assert(memcmp(out, ref, n * sizeof(float)) == 0);
    size_t zeros = 0, changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == 0.0f) zeros++;
        else changed += out[i] != X[i];
    }
    ck_assert_msg(changed == 0, "mask changed %zu elements to non-zero values", changed);
    ck_assert_msg(fabs((double)zeros / n - 0.25) < 5 * sqrt(0.25 * 0.75 / n), "mask share %g", (double)zeros / n);
    free(X);

    /* Salt-and-pepper ν = 0.3 on inputs in [¼, ¾]: a share ν becomes 0 or 1, half of them salt
     * (SE √(¼/corrupted)); every other element is untouched. */
    X = uniform(n, 44, 0.25f, 0.75f);
    run_corrupt(1, CLAE_NOISE_SALTPEPPER, 0.3f, X, ids, rows, cols, SEED, 3, out);
    run_corrupt(0, CLAE_NOISE_SALTPEPPER, 0.3f, X, ids, rows, cols, SEED, 3, ref);
    ck_assert(memcmp(out, ref, n * sizeof(float)) == 0);
    size_t salt = 0, pepper = 0;
    changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == 1.0f) salt++;
        else if (out[i] == 0.0f) pepper++;
        else changed += out[i] != X[i];
    }
    ck_assert_msg(changed == 0, "salt-and-pepper changed %zu elements to neither 0 nor 1", changed);
    double hit = (double)(salt + pepper);
    ck_assert_msg(fabs(hit / n - 0.3) < 5 * sqrt(0.3 * 0.7 / n), "salt-and-pepper share %g", hit / n);
    ck_assert_msg(fabs(salt / hit - 0.5) < 5 * sqrt(0.25 / hit), "salt share %g", salt / hit);

    /* The ends of the range: ν = 0 and σ = 0 change nothing, ν = 1 corrupts everything. */
    run_corrupt(1, CLAE_NOISE_MASK, 0.0f, X, ids, rows, cols, SEED, 3, out);
    ck_assert(memcmp(out, X, n * sizeof(float)) == 0);
    run_corrupt(1, CLAE_NOISE_GAUSSIAN, 0.0f, X, ids, rows, cols, SEED, 3, out);
    ck_assert(memcmp(out, X, n * sizeof(float)) == 0);
    run_corrupt(1, CLAE_NOISE_SALTPEPPER, 1.0f, X, ids, rows, cols, SEED, 3, out);
    changed = 0;
    for (size_t i = 0; i < n; i++) changed += out[i] != 0.0f && out[i] != 1.0f;
    ck_assert_msg(changed == 0, "salt-and-pepper at 1 left %zu elements uncorrupted", changed);
    free(X);
    free(ids);
    free(out);
    free(ref);
}
END_TEST

START_TEST(test_corrupt_split_and_step)
{
    /* A row's noise depends on its data-set index, not on the batch: rows 5 and 9 alone equal
     * rows 5 and 9 of a 12-row batch. Another step, or seed, draws anew. Xt may alias X. */
    const size_t cols = 33, big = 12;
    uint32_t all[12], two[2] = {5, 9};
    for (uint32_t r = 0; r < big; r++) all[r] = r;
    float *X = uniform(big * cols, 45, 0.25f, 0.75f), *X2 = fmalloc(2 * cols);
    memcpy(X2, X + 5 * cols, cols * sizeof(float));
    memcpy(X2 + cols, X + 9 * cols, cols * sizeof(float));
    float *whole = fmalloc(big * cols), *part = fmalloc(2 * cols), *other = fmalloc(2 * cols);
    for (int p = 0; p < 2; p++)
        for (int k = CLAE_NOISE_GAUSSIAN; k < CLAE_NOISE_COUNT; k++) {
            clae_noise kind = (clae_noise)k;
            float level = level_of(kind);
            run_corrupt(p, kind, level, X, all, big, cols, SEED, 7, whole);
            run_corrupt(p, kind, level, X2, two, 2, cols, SEED, 7, part);
            ck_assert_msg(memcmp(part, whole + 5 * cols, cols * sizeof(float)) == 0 &&
                              memcmp(part + cols, whole + 9 * cols, cols * sizeof(float)) == 0,
                          "%s %s: rows differ between batch splits", ops_of(p)->name, noise_name(kind));
            /* Step 8 and another seed: different draws. Gaussian values almost never repeat;
             * for ν = 0.3 a corrupt/keep decision repeats with probability 0.58, so a third of
             * the 66 elements is a generous floor for "redrawn". */
            for (int v = 0; v < 2; v++) {
                run_corrupt(p, kind, level, X2, two, 2, cols, v ? SEED ^ 1 : SEED, v ? 7 : 8, other);
                size_t same = 0;
                for (size_t i = 0; i < 2 * cols; i++) same += other[i] == part[i];
                ck_assert_msg(kind == CLAE_NOISE_GAUSSIAN ? same == 0 : same < 2 * cols * 5 / 6,
                              "%s %s: %zu of %zu equal after changing the %s", ops_of(p)->name, noise_name(kind),
                              same, 2 * cols, v ? "seed" : "step");
            }
            /* In place. */
            clae_runtime *rt = test_rt(p);
            float z[33] = {0}, one[33];
            for (size_t c = 0; c < cols; c++) one[c] = 1.0f;
            tbuf x = tb_new(rt, X2, 2 * cols), id = tb_ids(rt, two, 2), f0 = tb_new(rt, z, cols),
                 f1 = tb_new(rt, one, cols);
            OK(clae_op_corrupt(rt, kind, level, x.b, x.b, id.b, 2, cols, SEED, 7, f0.b, f0.b, f1.b));
            tb_get(&x, other);
            ck_assert(memcmp(other, part, 2 * cols * sizeof(float)) == 0);
            tb_free(&x);
            tb_free(&id);
            tb_free(&f0);
            tb_free(&f1);
        }
    free(X);
    free(X2);
    free(whole);
    free(part);
    free(other);
}
END_TEST

/* ---- top-k along rows (k-sparse) and down columns (winner-take-all) -------------------------- */

/* Runs topk_rows (cols_mode 0) or topk_cols (1) on path p; returns A and the mask. */
static void run_topk(int p, int cols_mode, const float *A0, size_t rows, size_t cols, size_t k, float *A, float *M)
{
    clae_runtime *rt = test_rt(p);
    size_t n = rows * cols;
    tbuf a = tb_new(rt, A0, n), m = tb_new(rt, NULL, n);
    if (cols_mode) OK(clae_op_topk_cols(rt, a.b, m.b, rows, cols, k));
    else OK(clae_op_topk_rows(rt, a.b, m.b, rows, cols, k));
    tb_get(&a, A);
    tb_get(&m, M);
    tb_free(&a);
    tb_free(&m);
}

/* Checks one path's result from first principles: along every line (a row, or a column in
 * cols_mode) exactly min(k, len) ones, A kept on the support and 0 off it, and every selected
 * value above every unselected one (inputs have no ties). */
static void check_topk(int cols_mode, const float *A0, const float *A, const float *M, size_t rows, size_t cols,
                       size_t k)
{
    size_t lines = cols_mode ? cols : rows, len = cols_mode ? rows : cols, want = k < len ? k : len;
    for (size_t l = 0; l < lines; l++) {
        size_t ones = 0;
        float lo_sel = INFINITY, hi_off = -INFINITY;
        for (size_t j = 0; j < len; j++) {
            size_t i = cols_mode ? j * cols + l : l * cols + j;
            ck_assert_msg(M[i] == 0.0f || M[i] == 1.0f, "mask[%zu] = %g", i, (double)M[i]);
            if (M[i] == 1.0f) {
                ones++;
                ck_assert(A[i] == A0[i]);
                if (A0[i] < lo_sel) lo_sel = A0[i];
            } else {
                ck_assert(A[i] == 0.0f);
                if (A0[i] > hi_off) hi_off = A0[i];
            }
        }
        ck_assert_msg(ones == want, "line %zu has %zu ones, want %zu", l, ones, want);
        ck_assert_msg(lo_sel > hi_off, "line %zu: selected %g below unselected %g", l, (double)lo_sel, (double)hi_off);
    }
}

static void topk_vs_ref(int cols_mode, const size_t (*cases)[3], int ncases)
{
    for (int s = 0; s < ncases; s++) {
        size_t rows = cases[s][0], cols = cases[s][1], k = cases[s][2], n = rows * cols;
        float *A0 = distinct(n, 50u + (uint32_t)s), *A[2] = {fmalloc(n), fmalloc(n)}, *M[2] = {fmalloc(n), fmalloc(n)};
        for (int p = 0; p < 2; p++) {
            run_topk(p, cols_mode, A0, rows, cols, k, A[p], M[p]);
            check_topk(cols_mode, A0, A[p], M[p], rows, cols, k);
        }
        /* A selection is exact: both paths give the same bits. */
        ck_assert_msg(memcmp(M[0], M[1], n * sizeof(float)) == 0 && memcmp(A[0], A[1], n * sizeof(float)) == 0,
                      "%zux%zu k=%zu differs between paths", rows, cols, k);
        free(A0);
        for (int p = 0; p < 2; p++) {
            free(A[p]);
            free(M[p]);
        }
    }
}

START_TEST(test_topk_rows)
{
    /* rows, cols, k: single elements, shapes off every work-group size, k = 0, k = cols, k > cols. */
    static const size_t cases[][3] = {{1, 1, 1}, {7, 33, 5},  {33, 257, 32}, {257, 7, 3},
                                      {7, 33, 0}, {7, 33, 33}, {33, 7, 40},   {1, 785, 64}};
    topk_vs_ref(0, cases, (int)(sizeof cases / sizeof cases[0]));
}
END_TEST

START_TEST(test_topk_cols)
{
    /* rows, cols, m: m = ceil(0.05·257) = 13 as WTA would use, m = 1, m = rows, m > rows, m = 0. */
    static const size_t cases[][3] = {{257, 7, 13}, {33, 257, 2}, {1, 785, 1},
                                      {7, 33, 7},    {7, 33, 100}, {7, 33, 0}};
    topk_vs_ref(1, cases, (int)(sizeof cases / sizeof cases[0]));
}
END_TEST

START_TEST(test_topk_ties_and_nan)
{
    /* Ties go to the lower index (−0 and +0 tie), NaN ranks below every number (below −inf) and
     * NaNs by index; an unselected NaN or inf becomes 0. Each case runs as one row through
     * topk_rows and as one column through topk_cols, on both paths. */
    struct {
        size_t n, k;
        float a[6], mask[6], out[6];
    } cases[] = {
        {6, 2, {1, 3, 3, 2, 3, 0}, {0, 1, 1, 0, 0, 0}, {0, 3, 3, 0, 0, 0}},
        {6, 4, {1, 3, 3, 2, 3, 0}, {0, 1, 1, 1, 1, 0}, {0, 3, 3, 2, 3, 0}},
        {2, 1, {-0.0f, 0.0f}, {1, 0}, {-0.0f, 0}},
        {2, 1, {0.0f, -0.0f}, {1, 0}, {0.0f, 0}},
        {5, 3, {NAN, 1, NAN, -INFINITY, 2}, {0, 1, 0, 1, 1}, {0, 1, 0, -INFINITY, 2}},
        {5, 4, {NAN, 1, NAN, -INFINITY, 2}, {1, 1, 0, 1, 1}, {NAN, 1, 0, -INFINITY, 2}},
        {3, 1, {INFINITY, INFINITY, 5}, {1, 0, 0}, {INFINITY, 0, 0}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int p = 0; p < 2; p++)
            for (int cols_mode = 0; cols_mode < 2; cols_mode++) {
                size_t n = cases[t].n;
                float A[6], M[6];
                run_topk(p, cols_mode, cases[t].a, cols_mode ? n : 1, cols_mode ? 1 : n, cases[t].k, A, M);
                ck_assert_msg(memcmp(M, cases[t].mask, n * sizeof(float)) == 0, "case %zu %s %s: mask", t,
                              ops_of(p)->name, cols_mode ? "cols" : "rows");
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg((isnan(A[i]) && isnan(cases[t].out[i])) ||
                                      (A[i] == cases[t].out[i] && signbit(A[i]) == signbit(cases[t].out[i])),
                                  "case %zu %s %s: A[%zu] = %g", t, ops_of(p)->name, cols_mode ? "cols" : "rows", i,
                                  (double)A[i]);
            }
}
END_TEST

START_TEST(test_mul_mask)
{
    const size_t n = 785;
    float *G = uniform(n, 60, -1, 1), *mask = fmalloc(n), *out = fmalloc(n);
    for (size_t i = 0; i < n; i++) mask[i] = (i % 3 == 1) ? 0.0f : 1.0f;
    for (int p = 0; p < 2; p++) {
        tbuf g = tb_new(test_rt(p), G, n), m = tb_new(test_rt(p), mask, n);
        OK(clae_op_mul_mask(test_rt(p), g.b, m.b, n));
        tb_get(&g, out);
        /* One float product per element: exact. */
        for (size_t i = 0; i < n; i++) ck_assert(out[i] == G[i] * mask[i]);
        tb_free(&g);
        tb_free(&m);
    }
    free(G);
    free(mask);
    free(out);
}
END_TEST

/* ---- sparsity (KL, L1, L2, h2o) -------------------------------------------------------------- */

/* A = f(Z) on the reference, so both paths see the same codes (relu with exact zeros). */
static float *codes(clae_activation f, size_t n, uint32_t seed)
{
    float *Z = uniform(n, seed, -3, 3), *A = fmalloc(n);
    OK(clae_op_act_forward(test_rt_ref(), f, hb(Z, n), hb(A, n), n));
    free(Z);
    return A;
}

typedef struct sparsity_out {
    float *stats, *G, *db, pen;
} sparsity_out;

/* sparsity_forward then sparsity_backward on path p, from the given starting stats, G and db. */
static sparsity_out run_sparsity(int p, clae_sparsity kind, clae_activation f, float rho, float weight,
                                 const float *A, size_t rows, size_t cols, const float *stats0, const float *G0,
                                 const float *db0)
{
    clae_runtime *rt = test_rt(p);
    size_t n = rows * cols;
    const float garbage = 7.0f; /* pen must be written whatever the kind */
    tbuf a = tb_new(rt, A, n), st = tb_new(rt, stats0, cols), pen = tb_new(rt, &garbage, 1), g = tb_new(rt, G0, n),
         db = tb_new(rt, db0, cols);
    OK(clae_op_sparsity_forward(rt, kind, f, rho, weight, a.b, rows, cols, st.b, pen.b));
    OK(clae_op_sparsity_backward(rt, kind, f, rho, weight, a.b, rows, cols, st.b, g.b, db.b));
    sparsity_out o = {fmalloc(cols), fmalloc(n), fmalloc(cols), 0.0f};
    tb_get(&st, o.stats);
    tb_get(&pen, &o.pen);
    tb_get(&g, o.G);
    tb_get(&db, o.db);
    tb_free(&a);
    tb_free(&st);
    tb_free(&pen);
    tb_free(&g);
    tb_free(&db);
    return o;
}

static void free_sparsity(sparsity_out *o)
{
    free(o->stats);
    free(o->G);
    free(o->db);
}

START_TEST(test_sparsity_vs_ref)
{
    static const size_t shapes[4][2] = {{1, 7}, {7, 33}, {33, 257}, {257, 33}};
    for (int s = 0; s < 4; s++)
        for (int kind = 0; kind < CLAE_SPARSITY_COUNT; kind++)
            for (int f = 0; f < CLAE_ACT_COUNT; f++) {
                size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
                float *A = codes((clae_activation)f, n, 70u + (uint32_t)s), *stats0 = uniform(cols, 71, 0, 0.2f),
                      *G0 = uniform(n, 72, -1, 1), *db0 = uniform(cols, 73, -1, 1);
                float rho = kind == CLAE_SPARSITY_H2O ? -0.1f : 0.05f, weight = kind == CLAE_SPARSITY_KL ? 3.0f : 0.5f;
                sparsity_out o[2];
                for (int p = 0; p < 2; p++)
                    o[p] = run_sparsity(p, (clae_sparsity)kind, (clae_activation)f, rho, weight, A, rows, cols, stats0,
                                        G0, db0);
                const char *what = sparsity_name((clae_sparsity)kind);
                /* ρ̂ and the penalty sum in double on both paths where the device has fp64 (then they
                 * agree to the last bit but for OpenCL's 3-ulp double log), else in Kahan-compensated
                 * float: ρ̂ to 1e-6 relative, pen to 1e-5 relative (a sum of up to 8,481 terms). The
                 * gradient addend is the same float expression of ρ̂ (KL), a (L1, L2) or ā (h2o):
                 * exact given equal inputs, and within 1e-5 relative of a ρ̂ that differs by ulps. */
                ck_assert_msg(test_first_mismatch(o[1].stats, o[0].stats, cols, 1e-7, 1e-6) < 0, "%s/%s stats", what,
                              clae_activation_name((clae_activation)f));
                ck_assert_msg(fabs((double)o[1].pen - o[0].pen) <= 1e-6 + 1e-5 * fabs((double)o[0].pen),
                              "%s/%s pen %.9g, ref %.9g", what, clae_activation_name((clae_activation)f),
                              (double)o[1].pen, (double)o[0].pen);
                ck_assert_msg(test_first_mismatch(o[1].G, o[0].G, n, 1e-6, 1e-5) < 0, "%s/%s G", what,
                              clae_activation_name((clae_activation)f));
                ck_assert_msg(memcmp(o[1].db, o[0].db, cols * sizeof(float)) == 0, "%s db", what);
                if (kind == CLAE_SPARSITY_H2O)
                    ck_assert_msg(memcmp(o[1].stats, o[0].stats, cols * sizeof(float)) == 0,
                                  "h2o EMA not bit-identical");
                /* What each kind may touch: none of them db (h2o's step is sparsity_h2o_push, around the
                 * update), and h2o leaves G alone too. */
                ck_assert(memcmp(o[0].G, G0, n * sizeof(float)) == 0 ||
                          (kind != CLAE_SPARSITY_H2O && kind != CLAE_SPARSITY_NONE));
                ck_assert(memcmp(o[0].db, db0, cols * sizeof(float)) == 0);
                if (kind == CLAE_SPARSITY_NONE || kind == CLAE_SPARSITY_H2O)
                    ck_assert(o[0].pen == 0.0f && o[1].pen == 0.0f);
                for (int p = 0; p < 2; p++) free_sparsity(&o[p]);
                free(A);
                free(stats0);
                free(G0);
                free(db0);
            }
}
END_TEST

static double kl(double rho, double q) { return rho * log(rho / q) + (1 - rho) * log((1 - rho) / (1 - q)); }

START_TEST(test_sparsity_known)
{
    /* 2×2 codes worked by hand; every check to 1e-6 relative on both paths. B = 2. */
    float zero2[2] = {0, 0}, zero4[4] = {0, 0, 0, 0};
    for (int p = 0; p < 2; p++) {
        /* KL, sigmoid: ρ̂ = (0.3, 0.7); ρ = 0.1, β = 2; k_c = (β/B)(−ρ/ρ̂ + (1−ρ)/(1−ρ̂)). */
        const float As[4] = {0.2f, 0.6f, 0.4f, 0.8f};
        sparsity_out o = run_sparsity(p, CLAE_SPARSITY_KL, CLAE_ACT_SIGMOID, 0.1f, 2.0f, As, 2, 2, zero2, zero4, zero2);
        ck_assert(fabs(o.stats[0] - 0.3) < 1e-7 && fabs(o.stats[1] - 0.7) < 1e-7);
        ck_assert(fabs(o.pen - 2 * (kl(0.1, 0.3) + kl(0.1, 0.7))) < 1e-6 * o.pen);
        for (int c = 0; c < 2; c++) {
            double q = c ? 0.7 : 0.3, k = 1.0 * (-0.1 / q + 0.9 / (1 - q));
            ck_assert(fabs(o.G[c] - k) < 1e-6 * fabs(k) && o.G[2 + c] == o.G[c]);
        }
        free_sparsity(&o);
        /* KL, tanh: (a+1)/2 maps rows (−0.6, 0.2) and (0.2, 0.6) to ρ̂ = (0.4, 0.7); factor β/(2B). */
        const float At[4] = {-0.6f, 0.2f, 0.2f, 0.6f};
        o = run_sparsity(p, CLAE_SPARSITY_KL, CLAE_ACT_TANH, 0.1f, 2.0f, At, 2, 2, zero2, zero4, zero2);
        ck_assert(fabs(o.stats[0] - 0.4) < 1e-7 && fabs(o.stats[1] - 0.7) < 1e-7);
        ck_assert(fabs(o.pen - 2 * (kl(0.1, 0.4) + kl(0.1, 0.7))) < 1e-6 * o.pen);
        for (int c = 0; c < 2; c++) {
            double q = c ? 0.7 : 0.4, k = 0.5 * (-0.1 / q + 0.9 / (1 - q));
            ck_assert(fabs(o.G[c] - k) < 1e-6 * fabs(k));
        }
        free_sparsity(&o);
        /* KL at the clamp: an all-zero column has ρ̂ = 0, evaluated at q = 1e-6 in value and
         * gradient, so both stay finite. */
        const float Az[4] = {0.0f, 0.5f, 0.0f, 0.5f};
        o = run_sparsity(p, CLAE_SPARSITY_KL, CLAE_ACT_SIGMOID, 0.1f, 2.0f, Az, 2, 2, zero2, zero4, zero2);
        double qmin = 1e-6f, kz = 1.0 * (-0.1 / qmin + 0.9 / (1 - qmin));
        ck_assert(o.stats[0] == 0.0f);
        ck_assert(fabs(o.pen - 2 * (kl(0.1, qmin) + kl(0.1, 0.5))) < 1e-6 * o.pen);
        ck_assert(isfinite(o.G[0]) && fabs(o.G[0] - kz) < 1e-6 * fabs(kz));
        free_sparsity(&o);
        /* L1 and L2, λ = 0.5: Σ|a| = 3.5 and Σa² = 5.25, so pen = 0.25·3.5 and 0.125·5.25;
         * ∂/∂a = 0.25·sign(a) (sign(0) = 0) and 0.25·a. */
        const float Al[4] = {-1.0f, 0.0f, 2.0f, 0.5f};
        const float g1[4] = {-0.25f, 0, 0.25f, 0.25f}, g2[4] = {-0.25f, 0, 0.5f, 0.125f};
        o = run_sparsity(p, CLAE_SPARSITY_L1, CLAE_ACT_LINEAR, 0.05f, 0.5f, Al, 2, 2, zero2, zero4, zero2);
        ck_assert(fabs(o.pen - 0.875) < 1e-7);
        ck_assert(memcmp(o.G, g1, sizeof g1) == 0);
        free_sparsity(&o);
        o = run_sparsity(p, CLAE_SPARSITY_L2, CLAE_ACT_LINEAR, 0.05f, 0.5f, Al, 2, 2, zero2, zero4, zero2);
        ck_assert(fabs(o.pen - 0.65625) < 1e-7);
        ck_assert(memcmp(o.G, g2, sizeof g2) == 0);
        free_sparsity(&o);
    }
}
END_TEST

/* sparsity_h2o_push on path p: P from ā, db and the optimizer state s1, s2 (cols floats each). */
static void run_push(int p, const clae_opt_hyper *h, float rho, float beta, const float *ema, const float *db,
                     const float *s1, const float *s2, size_t cols, float *P)
{
    clae_runtime *rt = test_rt(p);
    tbuf e = tb_new(rt, ema, cols), d = tb_new(rt, db, cols), a = tb_new(rt, s1, cols), b = tb_new(rt, s2, cols),
         out = tb_new(rt, NULL, cols);
    OK(clae_op_sparsity_h2o_push(rt, h, rho, beta, e.b, d.b, a.b, b.b, cols, out.b));
    tb_get(&out, P);
    tb_free(&e);
    tb_free(&d);
    tb_free(&a);
    tb_free(&b);
    tb_free(&out);
}

START_TEST(test_h2o_replay)
{
    /* h2o's EMA by hand: ā starts at (0, 0.5); batch 1 rows (1, 0.2), (0.5, 0.4); batch 2 row (0.2, 0).
     * ā after row 1: (0.001, 0.4997); after row 2: (0.001499, 0.4996003); after batch 2:
     * (0.001697501, 0.4991006997). Then the step P = r·β(ā − ρ), β = 0.5, ρ = 0.05, db = (0.1, −0.1):
     * SGD r = η = 0.1 gives (−0.00241512495, 0.022455034985); ADADELTA (ρ_d 0.9, ε 1e-6, Eg2 =
     * (0.01, 0.02), Edx2 = (4e-4, 1e-4)) r = √((Edx2 + ε)/(0.9·Eg2 + 0.1·db² + ε)) = (0.2002399, 0.0725689);
     * Adam (η 1, β2 0.999, ε 1e-8, t = 1, v = 0) r = η/(√((1−β2)·db²/bc2) + ε) ≈ (10, 10).
     * Float arithmetic (the constants are the floats passed): within 1e-6 relative. */
    const float A1[4] = {1.0f, 0.2f, 0.5f, 0.4f}, A2[2] = {0.2f, 0.0f};
    const double after1[2] = {0.001499, 0.4996003}, after2[2] = {0.001697501, 0.4991006997};
    const float db0[2] = {0.1f, -0.1f}, eg2[2] = {0.01f, 0.02f}, edx2[2] = {4e-4f, 1e-4f}, zero[2] = {0, 0};
    clae_opt_hyper sgd = {.kind = CLAE_OPT_SGD, .lr = 0.1f};
    clae_opt_hyper ada = {.kind = CLAE_OPT_ADADELTA, .lr = 0.1f, .rho = 0.9f, .adadelta_eps = 1e-6f};
    clae_opt_hyper adam = {.kind = CLAE_OPT_ADAM, .lr = 1.0f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .bc1 = 0.1f, .bc2 = (float)(1.0 - 0.999)};
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        const float s0[2] = {0.0f, 0.5f}, garbage = 7.0f;
        float st[2], pen, P[2];
        tbuf a1 = tb_new(rt, A1, 4), a2 = tb_new(rt, A2, 2), s = tb_new(rt, s0, 2), pb = tb_new(rt, &garbage, 1);
        OK(clae_op_sparsity_forward(rt, CLAE_SPARSITY_H2O, CLAE_ACT_TANH, 0.05f, 0.5f, a1.b, 2, 2, s.b, pb.b));
        tb_get(&s, st);
        tb_get(&pb, &pen);
        ck_assert(pen == 0.0f);
        for (int c = 0; c < 2; c++)
            ck_assert_msg(fabs(st[c] - after1[c]) <= 1e-6 * after1[c], "%s step 1 [%d] %.9g", ops_of(p)->name, c,
                          (double)st[c]);
        /* No penalty buffer at all is fine for h2o (a model plans none). */
        clae_buf none = {0};
        OK(clae_op_sparsity_forward(rt, CLAE_SPARSITY_H2O, CLAE_ACT_TANH, 0.05f, 0.5f, a2.b, 1, 2, s.b, none));
        tb_get(&s, st);
        for (int c = 0; c < 2; c++)
            ck_assert_msg(fabs(st[c] - after2[c]) <= 1e-6 * after2[c], "%s step 2 [%d] %.9g", ops_of(p)->name, c,
                          (double)st[c]);
        for (int o = 0; o < 3; o++) {
            const clae_opt_hyper *h = o == 0 ? &sgd : o == 1 ? &ada : &adam;
            run_push(p, h, 0.05f, 0.5f, st, db0, o == 1 ? eg2 : zero, o == 1 ? edx2 : zero, 2, P);
            for (int c = 0; c < 2; c++) {
                double g = db0[c], rd = 0.9f, b2 = 0.999f, eps = 1e-6f, r;
                if (o == 0) r = 0.1f;
                else if (o == 1) r = sqrt(((double)edx2[c] + eps) / (rd * eg2[c] + (1.0 - rd) * g * g + eps));
                else r = 1.0 / (sqrt((1.0 - b2) * g * g / (double)adam.bc2) + (double)1e-8f);
                double want = r * 0.5 * (after2[c] - (double)0.05f);
                ck_assert_msg(fabs(P[c] - want) <= 1e-6 * fabs(want), "%s %s P[%d] %.9g, want %.9g", ops_of(p)->name,
                              clae_optimizer_name(h->kind), c, (double)P[c], want);
            }
        }
        tb_free(&a1);
        tb_free(&a2);
        tb_free(&s);
        tb_free(&pb);
    }
}
END_TEST

START_TEST(test_h2o_push_vs_ref)
{
    /* Every optimizer's rate, random states, OpenCL against the reference: the same float
     * expressions, so equal but for sqrt/divide ulps where the device does not round them correctly. */
    const size_t cols = 257;
    float *ema = uniform(cols, 90, -1, 1), *db = uniform(cols, 91, -2, 2), *s1 = uniform(cols, 92, 0, 0.1f),
          *s2 = uniform(cols, 93, 0, 0.01f), *P[2] = {fmalloc(cols), fmalloc(cols)};
    for (int k = 0; k < CLAE_OPT_COUNT; k++) {
        clae_opt_hyper h = {.kind = (clae_optimizer)k, .lr = 0.01f, .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f,
                            .eps = 1e-8f, .bc1 = 0.271f, .bc2 = (float)(1.0 - pow(0.999, 3)), .rho = 0.95f,
                            .adadelta_eps = 1e-6f};
        for (int p = 0; p < 2; p++) run_push(p, &h, -0.1f, 0.2f, ema, db, s1, s2, cols, P[p]);
        ck_assert_msg(test_first_mismatch(P[1], P[0], cols, 1e-12, 1e-6) < 0, "%s",
                      clae_optimizer_name((clae_optimizer)k));
        if (k < CLAE_OPT_ADAM) /* a fixed rate: P = η·β(ā − ρ) exactly */
            for (size_t c = 0; c < cols; c++) ck_assert(P[0][c] == 0.01f * 0.2f * (ema[c] - -0.1f));
    }
    free(ema);
    free(db);
    free(s1);
    free(s2);
    free(P[0]);
    free(P[1]);
}
END_TEST

/* Central difference of a float penalty: accept to relative 1e-2 (float32), plus
 * the noise floor of the difference itself: each float pen carries ≤ ½ ulp, so the quotient is
 * uncertain by about FLT_EPSILON·|pen|/(2h) (taken ×4). */
static void check_fd(double ga, double pen_plus, double pen_minus, double step, double pen, const char *what, size_t i)
{
    double gnum = (pen_plus - pen_minus) / step;
    double floor_ = 4.0 * FLT_EPSILON * fabs(pen) / step + 1e-8;
    ck_assert_msg(fabs(ga - gnum) <= 1e-2 * (fabs(ga) + fabs(gnum)) + floor_, "%s [%zu]: analytic %.7g, numeric %.7g",
                  what, i, ga, gnum);
}

static float ref_sparsity_pen(clae_sparsity kind, clae_activation f, float rho, float weight, float *A, size_t rows,
                              size_t cols)
{
    float stats[16], pen;
    OK(clae_op_sparsity_forward(test_rt_ref(), kind, f, rho, weight, hb(A, rows * cols), rows, cols,
                                     hb(stats, cols), hb(&pen, 1)));
    return pen;
}

START_TEST(test_sparsity_gradcheck)
{
    /* Penalty as a function of the codes A on the reference, h = 1e-3 (float32). KL codes stay
     * in [0.2, 0.8] (tanh: [−0.6, 0.6]) so ρ̂ is far from the clamp; L1 skips |a| < 2h (the kink),
     * which removes relu's zeros. */
    const size_t rows = 7, cols = 5, n = rows * cols;
    const float h = 1e-3f;
    struct {
        clae_sparsity kind;
        clae_activation f;
        float lo, hi, rho;
    } cases[] = {
        {CLAE_SPARSITY_KL, CLAE_ACT_SIGMOID, 0.2f, 0.8f, 0.1f}, {CLAE_SPARSITY_KL, CLAE_ACT_TANH, -0.6f, 0.6f, 0.3f},
        {CLAE_SPARSITY_L1, CLAE_ACT_LINEAR, -1.0f, 1.0f, 0.05f}, {CLAE_SPARSITY_L1, CLAE_ACT_RELU, -1.0f, 1.0f, 0.05f},
        {CLAE_SPARSITY_L2, CLAE_ACT_TANH, -1.0f, 1.0f, 0.05f},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        clae_sparsity kind = cases[t].kind;
        clae_activation f = cases[t].f;
        float weight = kind == CLAE_SPARSITY_KL ? 3.0f : 0.5f, rho = cases[t].rho;
        float *A = uniform(n, 80u + (uint32_t)t, cases[t].lo, cases[t].hi), G[35] = {0}, stats[5], db[5] = {0};
        if (f == CLAE_ACT_RELU)
            for (size_t i = 0; i < n; i++) A[i] = A[i] > 0.0f ? A[i] : 0.0f;
        /* The forward pass leaves ρ̂ in stats for KL's backward pass, as in training. */
        float pen;
        OK(clae_op_sparsity_forward(test_rt_ref(), kind, f, rho, weight, hb(A, n), rows, cols, hb(stats, cols),
                                         hb(&pen, 1)));
        OK(clae_op_sparsity_backward(test_rt_ref(), kind, f, rho, weight, hb(A, n), rows, cols, hb(stats, cols),
                                          hb(G, n), hb(db, cols)));
        size_t checked = 0;
        for (size_t i = 0; i < n; i++) {
            if (kind == CLAE_SPARSITY_L1 && fabsf(A[i]) < 2 * h) continue;
            float a = A[i], ap = a + h, am = a - h;
            A[i] = ap;
            float pp = ref_sparsity_pen(kind, f, rho, weight, A, rows, cols);
            A[i] = am;
            float pm = ref_sparsity_pen(kind, f, rho, weight, A, rows, cols);
            A[i] = a;
            check_fd(G[i], pp, pm, (double)ap - (double)am, pen, sparsity_name(kind), i);
            checked++;
        }
        ck_assert_msg(checked >= n / 3, "%s: only %zu coordinates checked", sparsity_name(kind), checked);
        free(A);
    }
}
END_TEST

/* ---- contractive (Rifai et al. 2011) --------------------------------------------------------- */

typedef struct contractive_out {
    float *q, *GZ, *dW, pen;
} contractive_out;

static contractive_out run_contractive(int p, clae_activation f, float lambda, const float *A, const float *W,
                                       size_t rows, size_t H, size_t D, const float *GZ0, const float *dW0)
{
    clae_runtime *rt = test_rt(p);
    const float garbage = 7.0f;
    tbuf a = tb_new(rt, A, rows * H), w = tb_new(rt, W, H * D), q = tb_new(rt, NULL, H), pen = tb_new(rt, &garbage, 1),
         gz = tb_new(rt, GZ0, rows * H), dw = tb_new(rt, dW0, H * D);
    OK(clae_op_contractive_forward(rt, f, lambda, a.b, w.b, rows, H, D, q.b, pen.b));
    OK(clae_op_contractive_grad_z(rt, f, lambda, a.b, q.b, rows, H, gz.b));
    OK(clae_op_contractive_grad_w(rt, f, lambda, a.b, w.b, rows, H, D, dw.b));
    contractive_out o = {fmalloc(H), fmalloc(rows * H), fmalloc(H * D), 0.0f};
    tb_get(&q, o.q);
    tb_get(&pen, &o.pen);
    tb_get(&gz, o.GZ);
    tb_get(&dw, o.dW);
    tb_free(&a);
    tb_free(&w);
    tb_free(&q);
    tb_free(&pen);
    tb_free(&gz);
    tb_free(&dw);
    return o;
}

static void free_contractive(contractive_out *o)
{
    free(o->q);
    free(o->GZ);
    free(o->dW);
}

START_TEST(test_contractive_vs_ref)
{
    /* rows, H, D. */
    static const size_t shapes[4][3] = {{1, 1, 1}, {7, 33, 785}, {33, 257, 7}, {257, 7, 33}};
    for (int s = 0; s < 4; s++)
        for (int f = 0; f < CLAE_ACT_COUNT; f++) {
            size_t rows = shapes[s][0], H = shapes[s][1], D = shapes[s][2];
            float *A = codes((clae_activation)f, rows * H, 90u + (uint32_t)s), *W = uniform(H * D, 91, -0.5f, 0.5f),
                  *GZ0 = uniform(rows * H, 92, -1, 1), *dW0 = uniform(H * D, 93, -1, 1);
            contractive_out o[2];
            for (int p = 0; p < 2; p++) o[p] = run_contractive(p, (clae_activation)f, 0.1f, A, W, rows, H, D, GZ0, dW0);
            const char *name = clae_activation_name((clae_activation)f);
            /* q, pen and c_j sum in double (fp64 devices: the same bits) or Kahan float: q to
             * 1e-6 relative, pen (up to 8,481 terms) to 1e-5. GZ adds the same float expression
             * of a and q, dW the same c_j·W: exact given equal inputs, 1e-6 relative otherwise;
             * atol 1e-7 covers cancellation against GZ0, dW0 of size ≤ 1. */
            ck_assert_msg(test_first_mismatch(o[1].q, o[0].q, H, 0.0, 1e-6) < 0, "%s q", name);
            ck_assert_msg(fabs((double)o[1].pen - o[0].pen) <= 1e-5 * fabs((double)o[0].pen), "%s pen %.9g, ref %.9g",
                          name, (double)o[1].pen, (double)o[0].pen);
            ck_assert_msg(test_first_mismatch(o[1].GZ, o[0].GZ, rows * H, 1e-7, 1e-6) < 0, "%s GZ", name);
            ck_assert_msg(test_first_mismatch(o[1].dW, o[0].dW, H * D, 1e-7, 1e-6) < 0, "%s dW", name);
            /* relu and linear have d = 0: GZ stays as it was. */
            if (f == CLAE_ACT_RELU || f == CLAE_ACT_LINEAR)
                for (int p = 0; p < 2; p++) ck_assert(memcmp(o[p].GZ, GZ0, rows * H * sizeof(float)) == 0);
            for (int p = 0; p < 2; p++) free_contractive(&o[p]);
            free(A);
            free(W);
            free(GZ0);
            free(dW0);
        }
}
END_TEST

START_TEST(test_contractive_known)
{
    /* One row, W = [[1, 2], [0, 3]] so q = (5, 9), λ = 0.1, B = 1:
     * sigmoid a = (0.5, 0.25): s = (0.25, 0.1875), pen = 0.1·(0.0625·5 + 0.03515625·9) = 0.062890625,
     *   GZ = 0.2·s·s(1−2a)·q = (0, 0.2·0.03515625·0.5·9) = (0, 0.031640625),
     *   dW = 0.2·s²·W = (0.0125·(1, 2), 0.00703125·(0, 3));
     * relu a = (0, 2): s = (0, 1), pen = 0.9, dW row 1 = 0.2·W; linear: pen = 0.1·14. */
    const float W[4] = {1, 2, 0, 3}, zero4[4] = {0}, zero2[2] = {0};
    for (int p = 0; p < 2; p++) {
        const float As[2] = {0.5f, 0.25f};
        contractive_out o = run_contractive(p, CLAE_ACT_SIGMOID, 0.1f, As, W, 1, 2, 2, zero2, zero4);
        ck_assert(o.q[0] == 5.0f && o.q[1] == 9.0f);
        ck_assert(fabs(o.pen - 0.062890625) < 1e-8);
        ck_assert(o.GZ[0] == 0.0f && fabs(o.GZ[1] - 0.031640625) < 1e-8);
        const double dw[4] = {0.0125, 0.025, 0.0, 0.0210937500};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs(o.dW[i] - dw[i]) < 1e-8, "%s dW[%d] %.9g", ops_of(p)->name, i, (double)o.dW[i]);
        free_contractive(&o);
        const float Ar[2] = {0.0f, 2.0f};
        o = run_contractive(p, CLAE_ACT_RELU, 0.1f, Ar, W, 1, 2, 2, zero2, zero4);
        ck_assert(fabs(o.pen - 0.9) < 1e-7);
        ck_assert(o.dW[0] == 0.0f && o.dW[1] == 0.0f && fabs(o.dW[3] - 0.6) < 1e-7);
        free_contractive(&o);
        o = run_contractive(p, CLAE_ACT_LINEAR, 0.1f, Ar, W, 1, 2, 2, zero2, zero4);
        ck_assert(fabs(o.pen - 1.4) < 1e-7);
        free_contractive(&o);
    }
}
END_TEST

/* The contractive penalty of codes f(Z) with weights W on the reference. */
static float ref_contractive_pen(clae_activation f, float lambda, const float *Z, float *W, size_t rows, size_t H,
                                 size_t D)
{
    float A[64], q[16], pen;
    OK(clae_op_act_forward(test_rt_ref(), f, hb((float *)Z, rows * H), hb(A, rows * H), rows * H));
    OK(clae_op_contractive_forward(test_rt_ref(), f, lambda, hb(A, rows * H), hb(W, H * D), rows, H, D,
                                        hb(q, H), hb(&pen, 1)));
    return pen;
}

START_TEST(test_contractive_gradcheck)
{
    /* pen(Z, W) with A = f(Z) computed here, h = 1e-3: ∂/∂Z against contractive_grad_z and ∂/∂W
     * (Z held fixed, so only the q-part c_j·W_ji) against contractive_grad_w. relu skips |z| < 2h,
     * where the penalty jumps; elsewhere its Z-gradient is 0 on both sides. */
    enum { B = 3, H = 4, D = 5 };
    const float h = 1e-3f, lambda = 0.7f;
    for (int f = 0; f < CLAE_ACT_COUNT; f++) {
        clae_activation act = (clae_activation)f;
        float *Z = uniform(B * H, 100u + (uint32_t)f, -3, 3), *W = uniform(H * D, 101, -1, 1);
        float A[B * H], q[H], pen, GZ[B * H] = {0}, dW[H * D] = {0};
        OK(clae_op_act_forward(test_rt_ref(), act, hb(Z, B * H), hb(A, B * H), B * H));
        OK(clae_op_contractive_forward(test_rt_ref(), act, lambda, hb(A, B * H), hb(W, H * D), B, H, D, hb(q, H),
                                            hb(&pen, 1)));
        OK(clae_op_contractive_grad_z(test_rt_ref(), act, lambda, hb(A, B * H), hb(q, H), B, H, hb(GZ, B * H)));
        OK(clae_op_contractive_grad_w(test_rt_ref(), act, lambda, hb(A, B * H), hb(W, H * D), B, H, D,
                                           hb(dW, H * D)));
        for (size_t i = 0; i < B * H; i++) {
            if (act == CLAE_ACT_RELU && fabsf(Z[i]) < 2 * h) continue;
            float z = Z[i], zp = z + h, zm = z - h;
            Z[i] = zp;
            float pp = ref_contractive_pen(act, lambda, Z, W, B, H, D);
            Z[i] = zm;
            float pm = ref_contractive_pen(act, lambda, Z, W, B, H, D);
            Z[i] = z;
            check_fd(GZ[i], pp, pm, (double)zp - (double)zm, pen, "contractive dZ", i);
        }
        for (size_t i = 0; i < H * D; i++) {
            float w = W[i], wp = w + h, wm = w - h;
            W[i] = wp;
            float pp = ref_contractive_pen(act, lambda, Z, W, B, H, D);
            W[i] = wm;
            float pm = ref_contractive_pen(act, lambda, Z, W, B, H, D);
            W[i] = w;
            check_fd(dW[i], pp, pm, (double)wp - (double)wm, pen, "contractive dW", i);
        }
        free(Z);
        free(W);
    }
}
END_TEST

/* ---- argument errors: refused on both paths, nothing written ---------------------------------- */

START_TEST(test_variant_arg_errors)
{
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf a = tb_new(rt, NULL, 12), b = tb_new(rt, NULL, 12), c = tb_new(rt, NULL, 12), one = tb_new(rt, NULL, 1);
        /* Noise levels outside their range, unknown kinds, short buffers (row_ids included). */
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_MASK, 1.5f, a.b, b.b, c.b, 3, 4, 1, 0, c.b, c.b, c.b) == CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "corrupt") != NULL);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_GAUSSIAN, NAN, a.b, b.b, c.b, 3, 4, 1, 0, c.b, c.b, c.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_GAUSSIAN, -0.1f, a.b, b.b, c.b, 3, 4, 1, 0, c.b, c.b, c.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_COUNT, 0.1f, a.b, b.b, c.b, 3, 4, 1, 0, c.b, c.b, c.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_MASK, 0.1f, a.b, b.b, c.b, 4, 4, 1, 0, c.b, c.b, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_MASK, 0.1f, a.b, b.b, one.b, 3, 4, 1, 0, c.b, c.b, c.b) ==
                  CLAE_ERR_ARG);
        /* The fill values the kind writes must hold cols floats (mask: mean; salt-and-pepper: min, max). */
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_MASK, 0.1f, a.b, b.b, c.b, 3, 4, 1, 0, one.b, c.b, c.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_SALTPEPPER, 0.1f, a.b, b.b, c.b, 3, 4, 1, 0, c.b, c.b, one.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_corrupt(rt, CLAE_NOISE_SALTPEPPER, 0.1f, a.b, b.b, c.b, 3, 4, 1, 0, c.b, one.b, c.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_topk_rows(rt, a.b, one.b, 3, 4, 2) == CLAE_ERR_ARG);
        ck_assert(clae_op_topk_cols(rt, a.b, b.b, 4, 4, 2) == CLAE_ERR_ARG);
        ck_assert(clae_op_mul_mask(rt, a.b, one.b, 12) == CLAE_ERR_ARG);
        /* KL needs ρ in (0, 1); every penalty but h2o needs B ≥ 1; stats must hold cols floats. */
        ck_assert(clae_op_sparsity_forward(rt, CLAE_SPARSITY_KL, CLAE_ACT_SIGMOID, 0.0f, 3.0f, a.b, 3, 4, b.b, one.b) ==
                  CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "sparsity_forward") != NULL);
        ck_assert(clae_op_sparsity_forward(rt, CLAE_SPARSITY_L1, CLAE_ACT_RELU, 0.05f, 1.0f, a.b, 0, 4, b.b, one.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_sparsity_forward(rt, CLAE_SPARSITY_COUNT, CLAE_ACT_RELU, 0.05f, 1.0f, a.b, 3, 4, b.b,
                                           one.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_sparsity_forward(rt, CLAE_SPARSITY_KL, CLAE_ACT_SIGMOID, 0.05f, 1.0f, a.b, 3, 4, one.b,
                                           one.b) == CLAE_ERR_ARG);
        /* h2o's step: an unknown optimizer, a non-finite weight, buffers short of cols floats. */
        clae_opt_hyper hy = {.kind = CLAE_OPT_ADADELTA, .lr = 0.1f, .rho = 0.9f, .adadelta_eps = 1e-6f};
        ck_assert(clae_op_sparsity_h2o_push(rt, &hy, 0.05f, 1.0f, a.b, b.b, c.b, a.b, 4, one.b) == CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "sparsity_h2o_push") != NULL);
        ck_assert(clae_op_sparsity_h2o_push(rt, &hy, 0.05f, 1.0f, a.b, b.b, one.b, a.b, 4, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_sparsity_h2o_push(rt, &hy, 0.05f, NAN, a.b, b.b, c.b, a.b, 4, c.b) == CLAE_ERR_ARG);
        hy.kind = CLAE_OPT_COUNT;
        ck_assert(clae_op_sparsity_h2o_push(rt, &hy, 0.05f, 1.0f, a.b, b.b, c.b, a.b, 4, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_sparsity_backward(rt, CLAE_SPARSITY_L2, CLAE_ACT_COUNT, 0.05f, 1.0f, a.b, 3, 4, b.b, c.b,
                                            c.b) == CLAE_ERR_ARG);
        /* Contractive: unknown activation, B = 0, short W and q. */
        ck_assert(clae_op_contractive_forward(rt, CLAE_ACT_COUNT, 0.1f, a.b, b.b, 3, 4, 3, c.b, one.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_contractive_forward(rt, CLAE_ACT_SIGMOID, 0.1f, a.b, b.b, 0, 4, 3, c.b, one.b) ==
                  CLAE_ERR_ARG);
        ck_assert(strstr(clae_last_error(), "contractive_forward") != NULL);
        ck_assert(clae_op_contractive_forward(rt, CLAE_ACT_SIGMOID, 0.1f, a.b, b.b, 3, 4, 4, c.b, one.b) ==
                  CLAE_ERR_ARG);
        ck_assert(clae_op_contractive_grad_z(rt, CLAE_ACT_TANH, 0.1f, a.b, one.b, 3, 4, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_contractive_grad_w(rt, CLAE_ACT_TANH, INFINITY, a.b, b.b, 3, 4, 3, c.b) == CLAE_ERR_ARG);
        /* The guards prove nothing was written; the buffers are still all zero. */
        float tmp[12], z[12] = {0};
        tb_get(&a, tmp);
        ck_assert(memcmp(tmp, z, sizeof z) == 0);
        tb_get(&b, tmp);
        ck_assert(memcmp(tmp, z, sizeof z) == 0);
        tb_get(&c, tmp);
        ck_assert(memcmp(tmp, z, sizeof z) == 0);
        tb_get(&one, tmp);
        ck_assert(tmp[0] == 0.0f);
        tb_free(&a);
        tb_free(&b);
        tb_free(&c);
        tb_free(&one);
    }
}
END_TEST

Suite *suite_variant_ops(void)
{
    Suite *s = suite_create("variant_ops");
    TCase *tc = tcase_create("variant_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mathf_accuracy);
    tcase_add_test(tc, test_corrupt_paths);
    tcase_add_test(tc, test_corrupt_formula);
    tcase_add_test(tc, test_corrupt_statistics);
    tcase_add_test(tc, test_corrupt_split_and_step);
    tcase_add_test(tc, test_topk_rows);
    tcase_add_test(tc, test_topk_cols);
    tcase_add_test(tc, test_topk_ties_and_nan);
    tcase_add_test(tc, test_mul_mask);
    tcase_add_test(tc, test_sparsity_vs_ref);
    tcase_add_test(tc, test_sparsity_known);
    tcase_add_test(tc, test_h2o_replay);
    tcase_add_test(tc, test_h2o_push_vs_ref);
    tcase_add_test(tc, test_sparsity_gradcheck);
    tcase_add_test(tc, test_contractive_vs_ref);
    tcase_add_test(tc, test_contractive_known);
    tcase_add_test(tc, test_contractive_gradcheck);
    tcase_add_test(tc, test_variant_arg_errors);
    suite_add_tcase(s, tc);
    return s;
}
