/* test_rbm_ops.c — the rbm_ops suite: the RBM pretraining ops of lib/ops/ops_rbm.h (sampled hidden states, the
 * biases' CD-1 statistics, y += a·x), OpenCL against the reference, both against the contract and the math. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_rbm.h"
#include "runtime/runtime.h"
#include "test_ops_kit.h"

/* The contract's states and y + a·x are recomputed here with one rounding per written operation, as the twins do:
 * clang would fuse a*b+c into an FMA and round differently (gcc in ISO C mode never does). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static const uint64_t SEED = 0x1b2c3d4e5f60718aull; /* distinct words, so a swapped or dropped half shows */

/* ---- the contract, written here from lib/ops/ops_rbm.h --------------------------------------------------- */

static void unit_words(uint32_t id, size_t cols, size_t c, uint32_t step, uint32_t tag, uint32_t w[4])
{
    const uint64_t e = (uint64_t)id * cols + c;
    const uint32_t key[2] = {(uint32_t)SEED, (uint32_t)(SEED >> 32)};
    const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, tag};
    clae_philox4x32_10(ctr, key, w);
}

/* The unit's uniform (w0 >> 8)·2^-24: exact in float, in [0, 1). */
static float unit_uniform(uint32_t id, size_t cols, size_t c, uint32_t step, uint32_t tag)
{
    uint32_t w[4];
    unit_words(id, cols, c, step, tag, w);
    return (float)(w[0] >> 8) * 0x1p-24f;
}

static void contract_states(clae_rbm_units units, size_t rows, size_t cols, const float *P, const uint32_t *ids,
                            uint32_t step, uint32_t tag, float *H)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            uint32_t w[4];
            unit_words(ids[r], cols, c, step, tag, w);
            const float p = P[r * cols + c];
            H[r * cols + c] = units == CLAE_RBM_BERNOULLI ? ((float)(w[0] >> 8) * 0x1p-24f < p ? 1.0f : 0.0f)
                                                          : p + clae_normal_bm(w[2], w[3]);
        }
}

/* ---- rbm_sample ------------------------------------------------------------------------------------------ */

/* One rbm_sample on path p into its own H that starts as NaN, so every state must be written; P is read back and
 * must be as it was. Returns the op's status. */
static clae_status run_sample(int p, clae_rbm_units units, size_t rows, size_t cols, const float *P,
                              const uint32_t *ids, uint32_t step, uint32_t tag, float *H)
{
    clae_runtime *rt = test_rt(p);
    const size_t n = rows * cols;
    float *nan = fmalloc(n), *P_after = fmalloc(n);
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    tbuf pb = tb_new(rt, P, n), id = tb_ids(rt, ids, rows), h = tb_new(rt, nan, n);
    clae_status s = clae_op_rbm_sample(rt, units, rows, cols, pb.b, id.b, SEED, step, tag, h.b);
    tb_get(&h, H);
    tb_get(&pb, P_after);
    assert_bits(P_after, P, n, "P is read only", p);
    tb_free(&pb);
    tb_free(&id);
    tb_free(&h);
    free(nan);
    free(P_after);
    return s;
}

/* The same with H = P: one buffer that starts as P. */
static clae_status run_sample_inplace(int p, clae_rbm_units units, size_t rows, size_t cols, const float *P,
                                      const uint32_t *ids, uint32_t step, uint32_t tag, float *H)
{
    clae_runtime *rt = test_rt(p);
    tbuf ph = tb_new(rt, P, rows * cols), id = tb_ids(rt, ids, rows);
    clae_status s = clae_op_rbm_sample(rt, units, rows, cols, ph.b, id.b, SEED, step, tag, ph.b);
    tb_get(&ph, H);
    tb_free(&ph);
    tb_free(&id);
    return s;
}

/* Rows rows − 1 … 0 of X (rows × cols) into Y. */
static void reverse_rows(const float *X, size_t rows, size_t cols, float *Y)
{
    for (size_t r = 0; r < rows; r++) memcpy(Y + r * cols, X + (rows - 1 - r) * cols, cols * sizeof *Y);
}

/* What does not depend on where a row sits, for states H of P on path p: the same id and P at rows 7 and 29 give
 * the same row, the op in place (H = P) gives H again, and the batch reversed (Prev, rev) moves each row with it.
 * other is scratch of rows·cols floats. */
static void assert_placement(int p, clae_rbm_units units, size_t rows, size_t cols, const float *P, const float *Prev,
                             const uint32_t *ids, const uint32_t *rev, uint32_t step, uint32_t tag, const float *H,
                             float *other)
{
    const size_t n = rows * cols;
    assert_bits(H + 29 * cols, H + 7 * cols, cols, "the same id and P at rows 7 and 29", p);
    OK(run_sample_inplace(p, units, rows, cols, P, ids, step, tag, other));
    assert_bits(other, H, n, "H = P in place", p);
    OK(run_sample(p, units, rows, cols, Prev, rev, step, tag, other));
    for (size_t r = 0; r < rows; r++) assert_bits(other + r * cols, H + (rows - 1 - r) * cols, cols, "row moved", p);
}

/* Every value of H in row r equals v. */
static void assert_row(const float *H, size_t r, size_t cols, float v, const char *what, int p)
{
    for (size_t c = 0; c < cols; c++)
        ck_assert_msg(H[r * cols + c] == v, "%s (%s): H[%zu,%zu] = %g, want %g", what, path_name(p), r, c,
                      (double)H[r * cols + c], (double)v);
}

START_TEST(test_rbm_sample_bernoulli)
{
    /* Odd sizes (37 × 13), counters past 2^32, step 11, tag 4: the states bit for bit the contract's on both paths
     * and OpenCL equal to the reference; only 0 and 1. Rows with known answers, independent of the recomputation:
     * row 0 P = 0 (and −0) gives 0; row 1 P = 1 gives 1 (the uniform is below 1); row 2 P = the next float above
     * the unit's uniform gives 1; row 4 P = the uniform itself and row 5 the next float below it give 0 (strictly
     * below). Row 29 (the id of row 7, with its P) repeats row 7; H = P in place gives the same states; the batch
     * reversed moves each row's states with it. */
    const size_t rows = 37, cols = 13, n = rows * cols;
    const uint32_t step = 11, tag = CLAE_STREAM_RBM;
    uint32_t ids[37], rev[37];
    tb_odd_ids(ids);
    for (size_t r = 0; r < rows; r++) rev[r] = ids[rows - 1 - r];
    float *P = uniform(n, 91u, 0, 1), *Prev = fmalloc(n), *want = fmalloc(n), *H[2] = {fmalloc(n), fmalloc(n)};
    float *other = fmalloc(n);
    for (size_t c = 0; c < cols; c++) {
        P[0 * cols + c] = c % 2 ? -0.0f : 0.0f;
        P[1 * cols + c] = 1.0f;
        const float u2 = unit_uniform(ids[2], cols, c, step, tag), u4 = unit_uniform(ids[4], cols, c, step, tag);
        const float u5 = unit_uniform(ids[5], cols, c, step, tag);
        P[2 * cols + c] = nextafterf(u2, 2.0f);
        P[4 * cols + c] = u4;
        P[5 * cols + c] = nextafterf(u5, -1.0f);
    }
    memcpy(P + 29 * cols, P + 7 * cols, cols * sizeof *P);
    reverse_rows(P, rows, cols, Prev);
    contract_states(CLAE_RBM_BERNOULLI, rows, cols, P, ids, step, tag, want);
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) ones += want[i] == 1.0f;
    ck_assert_msg(ones > n / 4 && ones < 3 * n / 4, "the contract's states should mix 0 and 1 (%zu of %zu)", ones,
                  n);
    for (int p = 0; p < 2; p++) {
        OK(run_sample(p, CLAE_RBM_BERNOULLI, rows, cols, P, ids, step, tag, H[p]));
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(H[p][i] == 0.0f || H[p][i] == 1.0f, "%s: H[%zu] = %g is not a state", path_name(p), i,
                          (double)H[p][i]);
        assert_bits(H[p], want, n, "states vs the contract", p);
        assert_row(H[p], 0, cols, 0.0f, "P = 0", p);
        assert_row(H[p], 1, cols, 1.0f, "P = 1", p);
        assert_row(H[p], 2, cols, 1.0f, "P just above the uniform", p);
        assert_row(H[p], 4, cols, 0.0f, "P equal to the uniform", p);
        assert_row(H[p], 5, cols, 0.0f, "P just below the uniform", p);
        assert_placement(p, CLAE_RBM_BERNOULLI, rows, cols, P, Prev, ids, rev, step, tag, H[p], other);
    }
    assert_bits(H[1], H[0], n, "states vs ref", 1);
    free(P);
    free(Prev);
    free(want);
    free(other);
    for (int p = 0; p < 2; p++) free(H[p]);
}
END_TEST

START_TEST(test_rbm_sample_streams)
{
    /* P = ½ everywhere, so a state is a fair coin of the unit's uniform: step + 1 and tag + 1 each give the
     * contract's states for that counter on both paths, and those differ from step's in at least a quarter of the
     * 481 units (half are expected, σ ≈ 11, so a quarter is 11σ below; a counter that ignores step or tag repeats
     * all of them). */
    const size_t rows = 37, cols = 13, n = rows * cols;
    const uint32_t step = 11, tag = CLAE_STREAM_RBM;
    uint32_t ids[37];
    tb_odd_ids(ids);
    float *P = fmalloc(n), *base = fmalloc(n), *H = fmalloc(n), *want = fmalloc(n);
    for (size_t i = 0; i < n; i++) P[i] = 0.5f;
    for (int p = 0; p < 2; p++) {
        OK(run_sample(p, CLAE_RBM_BERNOULLI, rows, cols, P, ids, step, tag, base));
        contract_states(CLAE_RBM_BERNOULLI, rows, cols, P, ids, step, tag, want);
        assert_bits(base, want, n, "P = 1/2 vs the contract", p);
        for (int j = 0; j < 2; j++) {
            const uint32_t s2 = j ? step : step + 1, t2 = j ? tag + 1 : tag;
            OK(run_sample(p, CLAE_RBM_BERNOULLI, rows, cols, P, ids, s2, t2, H));
            contract_states(CLAE_RBM_BERNOULLI, rows, cols, P, ids, s2, t2, want);
            assert_bits(H, want, n, j ? "tag + 1 vs the contract" : "step + 1 vs the contract", p);
            size_t differ = 0;
            for (size_t i = 0; i < n; i++) differ += H[i] != base[i];
            ck_assert_msg(differ >= n / 4, "%s: %s changes only %zu of %zu states", path_name(p),
                          j ? "tag + 1" : "step + 1", differ, n);
        }
    }
    free(P);
    free(base);
    free(H);
    free(want);
}
END_TEST

START_TEST(test_rbm_sample_bernoulli_moments)
{
    /* 100 000 units (2000 rows × 50) with P = 0.3 on each path: the mean state is 0.3 within 0.006 (the binomial
     * standard error √(0.3·0.7/N) is 0.00145, so 4σ; the seed is fixed, so this checks the comparison, not luck;
     * u > P or u ≤ 1 − P would give 0.7). P = 0 gives no 1 and P = 1 no 0 among all of them. */
    const size_t rows = 2000, cols = 50, n = rows * cols;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)(5 * r + 2);
    float *P = fmalloc(n), *H = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        const float probs[3] = {0.3f, 0.0f, 1.0f};
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < n; i++) P[i] = probs[k];
            OK(run_sample(p, CLAE_RBM_BERNOULLI, rows, cols, P, ids, 3, CLAE_STREAM_RBM, H));
            double sum = 0;
            for (size_t i = 0; i < n; i++) sum += H[i];
            const double mean = sum / (double)n;
            if (k == 0) ck_assert_msg(fabs(mean - 0.3) < 0.006, "%s: mean state %g for P = 0.3", path_name(p), mean);
            else
                ck_assert_msg(mean == (double)probs[k], "%s: mean state %.9g for P = %g", path_name(p), mean,
                              (double)probs[k]);
        }
    }
    free(P);
    free(H);
    free(ids);
}
END_TEST

START_TEST(test_rbm_sample_gaussian)
{
    /* Linear units, 37 × 13, counters past 2^32: H = P + clae_normal_bm(w2, w3) bit for bit on both paths (one
     * rounding, the sum), OpenCL equal to the reference; P with −0, a subnormal and large means. In place gives the
     * same H; the batch reversed moves each row with it; the same id and P at rows 7 and 29 give the same row. */
    const size_t rows = 37, cols = 13, n = rows * cols;
    const uint32_t step = 6, tag = CLAE_STREAM_RBM;
    uint32_t ids[37], rev[37];
    tb_odd_ids(ids);
    for (size_t r = 0; r < rows; r++) rev[r] = ids[rows - 1 - r];
    float *P = uniform(n, 92u, -3, 3), *Prev = fmalloc(n), *want = fmalloc(n), *H[2] = {fmalloc(n), fmalloc(n)};
    float *other = fmalloc(n);
    P[0] = -0.0f, P[1] = 1e-40f, P[2] = 1e6f, P[n - 1] = -2.5e4f;
    memcpy(P + 29 * cols, P + 7 * cols, cols * sizeof *P);
    reverse_rows(P, rows, cols, Prev);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            uint32_t w[4];
            unit_words(ids[r], cols, c, step, tag, w);
            want[r * cols + c] = P[r * cols + c] + clae_normal_bm(w[2], w[3]);
        }
    for (int p = 0; p < 2; p++) {
        OK(run_sample(p, CLAE_RBM_GAUSSIAN, rows, cols, P, ids, step, tag, H[p]));
        assert_bits(H[p], want, n, "P + normal vs the contract", p);
        assert_placement(p, CLAE_RBM_GAUSSIAN, rows, cols, P, Prev, ids, rev, step, tag, H[p], other);
    }
    assert_bits(H[1], H[0], n, "linear states vs ref", 1);
    free(P);
    free(Prev);
    free(want);
    free(other);
    for (int p = 0; p < 2; p++) free(H[p]);
}
END_TEST

START_TEST(test_rbm_sample_gaussian_moments)
{
    /* 100 000 linear units with P = 0, so H is the noise itself: mean within 0.015 of 0 and variance within 0.02
     * of 1 (standard errors 1/√N ≈ 0.0032 and √(2/N) ≈ 0.0045, so over 4 of them), on each path. */
    const size_t rows = 2000, cols = 50, n = rows * cols;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)(5 * r + 2);
    float *P = fmalloc(n), *H = fmalloc(n);
    memset(P, 0, n * sizeof *P);
    for (int p = 0; p < 2; p++) {
        OK(run_sample(p, CLAE_RBM_GAUSSIAN, rows, cols, P, ids, 8, CLAE_STREAM_RBM, H));
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) sum += H[i];
        const double mean = sum / (double)n;
        for (size_t i = 0; i < n; i++) sq += (H[i] - mean) * (H[i] - mean);
        const double var = sq / (double)(n - 1);
        ck_assert_msg(fabs(mean) < 0.015, "%s: noise mean %g over %zu units", path_name(p), mean, n);
        ck_assert_msg(fabs(var - 1.0) < 0.02, "%s: noise variance %g over %zu units", path_name(p), var, n);
    }
    free(P);
    free(H);
    free(ids);
}
END_TEST

START_TEST(test_rbm_sample_args)
{
    /* Refused by the entry on both paths with CLAE_ERR_ARG naming the op, H left as it was: units other than the
     * two enum values (2, −1, 100), and P, row_ids or H too short. Exact sizes pass. */
    const size_t rows = 5, cols = 3, n = rows * cols;
    const uint32_t ids[5] = {1, 2, 3, 4, 5};
    float *P = uniform(n, 93u, 0, 1), *sentinel = fmalloc(n), *out = fmalloc(n);
    for (size_t i = 0; i < n; i++) sentinel[i] = 7777.0f;
    const int bad_units[] = {2, -1, 100};
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf pb = tb_new(rt, P, n), p_short = tb_new(rt, P, n - 1), id = tb_ids(rt, ids, rows);
        tbuf id_short = tb_ids(rt, ids, rows - 1), h = tb_new(rt, sentinel, n), h_short = tb_new(rt, sentinel, n - 1);
        for (size_t k = 0; k < sizeof bad_units / sizeof bad_units[0]; k++) {
            clae_status s = clae_op_rbm_sample(rt, (clae_rbm_units)bad_units[k], rows, cols, pb.b, id.b, SEED, 1,
                                               CLAE_STREAM_RBM, h.b);
            ck_assert_msg(s == CLAE_ERR_ARG, "%s: units %d gave %s", path_name(p), bad_units[k],
                          clae_status_string(s));
            ck_assert_msg(strstr(clae_last_error(), "rbm_sample") != NULL, "message: %s", clae_last_error());
        }
        for (int u = 0; u < 2; u++) {
            const clae_rbm_units units = u ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI;
            ck_assert(clae_op_rbm_sample(rt, units, rows, cols, p_short.b, id.b, SEED, 1, CLAE_STREAM_RBM, h.b) == CLAE_ERR_ARG);
            ck_assert(clae_op_rbm_sample(rt, units, rows, cols, pb.b, id_short.b, SEED, 1, CLAE_STREAM_RBM, h.b) == CLAE_ERR_ARG);
            ck_assert(clae_op_rbm_sample(rt, units, rows, cols, pb.b, id.b, SEED, 1, CLAE_STREAM_RBM, h_short.b) == CLAE_ERR_ARG);
        }
        tb_get(&h, out);
        assert_bits(out, sentinel, n, "H after refused calls", p);
        OK(clae_op_rbm_sample(rt, CLAE_RBM_BERNOULLI, rows, cols, pb.b, id.b, SEED, 1, CLAE_STREAM_RBM, h.b));
        OK(clae_op_rbm_sample(rt, CLAE_RBM_GAUSSIAN, rows, cols, pb.b, id.b, SEED, 1, CLAE_STREAM_RBM, h.b));
        tb_get(&h, out); /* checks the guards */
        tb_free(&pb);
        tb_free(&p_short);
        tb_free(&id);
        tb_free(&id_short);
        tb_free(&h);
        tb_free(&h_short);
    }
    free(P);
    free(sentinel);
    free(out);
}
END_TEST

/* ---- rbm_bias_grad --------------------------------------------------------------------------------------- */

/* One rbm_bias_grad on path p into a g that starts as NaN; X0 and X1 are read back and must be as they were. */
static clae_status run_bias_grad(int p, size_t rows, size_t cols, const float *X0, const float *X1, float *g)
{
    clae_runtime *rt = test_rt(p);
    float *nan = fmalloc(cols), *back = fmalloc(rows * cols);
    for (size_t c = 0; c < cols; c++) nan[c] = NAN;
    tbuf x0 = tb_new(rt, X0, rows * cols), x1 = tb_new(rt, X1, rows * cols), gb = tb_new(rt, nan, cols);
    clae_status s = clae_op_rbm_bias_grad(rt, rows, cols, x0.b, x1.b, gb.b);
    tb_get(&gb, g);
    tb_get(&x0, back);
    assert_bits(back, X0, rows * cols, "X0 is read only", p);
    tb_get(&x1, back);
    assert_bits(back, X1, rows * cols, "X1 is read only", p);
    tb_free(&x0);
    tb_free(&x1);
    tb_free(&gb);
    free(nan);
    free(back);
    return s;
}

START_TEST(test_rbm_bias_grad_known)
{
    /* rows 2, cols 3, X0 = {1, 0, 1 | 0, 0, 1}, X1 = {0.5, 1, 1 | 1, 0, 0.25}: g = ((1.5 − 1)/2, (1 − 0)/2,
     * (1.25 − 2)/2) = (0.25, 0.5, −0.375), exact in float, so equal on both paths (X0 and X1 swapped flips every
     * sign, dividing by cols gives a third off). Then rows 3, cols 2 with terms that cancel only in row order:
     * X1 column 0 = (2^60, −2^60, 1) sums to 1, X0 column 1 = (1, 2^60, −2^60) to 0 (the 1 is lost in 2^60, in
     * double as in a Kahan-summed float), so g = (1/3, 0) as a float; summed from the last row the sums are 0 and
     * 1, g = (0, −1/3). */
    const float X0a[6] = {1, 0, 1, 0, 0, 1}, X1a[6] = {0.5f, 1, 1, 1, 0, 0.25f}, ga[3] = {0.25f, 0.5f, -0.375f};
    const float big = 0x1p60f;
    const float X0b[6] = {0, 1, 0, big, 0, -big}, X1b[6] = {big, 0, -big, 0, 1, 0};
    const float gb[2] = {(float)(1.0 / 3.0), 0.0f};
    for (int p = 0; p < 2; p++) {
        float g[3];
        OK(run_bias_grad(p, 2, 3, X0a, X1a, g));
        assert_bits(g, ga, 3, "hand case rows 2, cols 3", p);
        OK(run_bias_grad(p, 3, 2, X0b, X1b, g));
        assert_bits(g, gb, 2, "sums in row order", p);
    }
}
END_TEST

START_TEST(test_rbm_bias_grad_vs_ref)
{
    /* Shapes 37 × 13, 1 × 1, 5 × 300 (more columns than a work-group, so the bounds check shows in the guards) and
     * 300 × 257; X0 and X1 in [0, 1) with exact 0s and 1s. Both paths against g computed here in double, within
     * 1e-6 + 1e-6·|g| (the reference's one rounding to float is 6e-8·|g|; without fp64 the Kahan-summed float
     * sums are off by a few ε·mean|x| ≈ 1e-7; a swapped sign or divisor is off by 1e-2 or more), OpenCL against
     * the reference within the same; with fp64 the device's accumulator is the reference's double in the same
     * order, so there the two are bit for bit. */
    const struct {
        size_t rows, cols;
    } shapes[] = {{37, 13}, {1, 1}, {5, 300}, {300, 257}};
    const int fp64 = test_rt(1)->has_fp64;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t rows = shapes[k].rows, cols = shapes[k].cols, n = rows * cols;
        float *X0 = uniform(n, 94u + (uint32_t)k, 0, 1), *X1 = uniform(n, 194u + (uint32_t)k, 0, 1);
        float *want = fmalloc(cols), *g[2] = {fmalloc(cols), fmalloc(cols)};
        for (size_t i = 0; i < n; i++) {
            if (i % 7 == 0) X0[i] = 1.0f;
            if (i % 5 == 0) X1[i] = 0.0f;
        }
        for (size_t c = 0; c < cols; c++) {
            double s0 = 0, s1 = 0;
            for (size_t r = 0; r < rows; r++) s0 += X0[r * cols + c], s1 += X1[r * cols + c];
            want[c] = (float)((s1 - s0) / (double)rows);
        }
        for (int p = 0; p < 2; p++) {
            OK(run_bias_grad(p, rows, cols, X0, X1, g[p]));
            long bad = test_first_mismatch(g[p], want, cols, 1e-6, 1e-6);
            ck_assert_msg(bad < 0, "%s, %zu x %zu: g[%ld] = %.9g, want %.9g", path_name(p), rows, cols, bad,
                          bad < 0 ? 0.0 : (double)g[p][bad], bad < 0 ? 0.0 : (double)want[bad]);
        }
        ck_assert_allclose(g[1], g[0], cols, 1e-6, 1e-6);
        if (fp64) assert_bits(g[1], g[0], cols, "g vs ref (fp64)", 1);
        free(X0);
        free(X1);
        free(want);
        for (int p = 0; p < 2; p++) free(g[p]);
    }
}
END_TEST

START_TEST(test_rbm_bias_grad_args)
{
    /* No rows, or X0, X1 or g too short: CLAE_ERR_ARG on both paths naming the op, g left as it was. Exact sizes
     * pass. */
    const size_t rows = 4, cols = 3, n = rows * cols;
    float sentinel[3] = {7777, 7777, 7777}, out[3];
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf x0 = tb_new(rt, NULL, n), x1 = tb_new(rt, NULL, n), s = tb_new(rt, NULL, n - 1);
        tbuf g = tb_new(rt, sentinel, cols), g_short = tb_new(rt, sentinel, cols - 1);
        ck_assert(clae_op_rbm_bias_grad(rt, 0, cols, x0.b, x1.b, g.b) == CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), "rbm_bias_grad") != NULL, "message: %s", clae_last_error());
        ck_assert(clae_op_rbm_bias_grad(rt, rows, cols, s.b, x1.b, g.b) == CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), "rbm_bias_grad") != NULL, "message: %s", clae_last_error());
        ck_assert(clae_op_rbm_bias_grad(rt, rows, cols, x0.b, s.b, g.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_rbm_bias_grad(rt, rows, cols, x0.b, x1.b, g_short.b) == CLAE_ERR_ARG);
        tb_get(&g, out);
        assert_bits(out, sentinel, cols, "g after refused calls", p);
        OK(clae_op_rbm_bias_grad(rt, rows, cols, x0.b, x1.b, g.b));
        tb_get(&g, out);
        const float zeros[3] = {0, 0, 0};
        assert_bits(out, zeros, cols, "g of zeros", p);
        tb_free(&x0);
        tb_free(&x1);
        tb_free(&s);
        tb_free(&g);
        tb_free(&g_short);
    }
}
END_TEST

/* ---- axpy ------------------------------------------------------------------------------------------------ */

/* One axpy on path p: Y (n floats, starting as Y0) read back into out, X read back and must be as it was. */
static clae_status run_axpy(int p, size_t n, float a, const float *X, const float *Y0, float *out)
{
    clae_runtime *rt = test_rt(p);
    float *back = fmalloc(n);
    tbuf x = tb_new(rt, X, n), y = tb_new(rt, Y0, n);
    clae_status s = clae_op_axpy(rt, n, a, x.b, y.b);
    tb_get(&y, out);
    tb_get(&x, back);
    assert_bits(back, X, n, "X is read only", p);
    tb_free(&x);
    tb_free(&y);
    free(back);
    return s;
}

START_TEST(test_axpy_exact)
{
    /* n = 1, 7, 257 and 1001, a = 0.37, −2.5e-3 and 3: Y equals y + a·x in float here (the product rounded, then
     * the sum) bit for bit on both paths, so OpenCL equals the reference. The data are chosen so that a fused
     * multiply-add differs from that in some element (checked), so a contracted kernel fails. a = 0 leaves every Y
     * equal to what it was. */
    const size_t sizes[] = {1, 7, 257, 1001};
    const float as[] = {0.37f, -2.5e-3f, 3.0f};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        float *X = uniform(n, 95u + (uint32_t)k, -10, 10), *Y = uniform(n, 195u + (uint32_t)k, -10, 10);
        float *want = fmalloc(n), *out[2] = {fmalloc(n), fmalloc(n)};
        for (size_t j = 0; j < sizeof as / sizeof as[0]; j++) {
            const float a = as[j];
            size_t fused_differs = 0;
            for (size_t i = 0; i < n; i++) {
                const float ax = a * X[i];
                want[i] = Y[i] + ax;
                fused_differs += fmaf(a, X[i], Y[i]) != want[i];
            }
            if (n == 1001)
                ck_assert_msg(fused_differs > 0, "a = %g: no element tells a fused multiply-add apart", (double)a);
            for (int p = 0; p < 2; p++) {
                OK(run_axpy(p, n, a, X, Y, out[p]));
                assert_bits(out[p], want, n, "Y + a*X", p);
            }
            assert_bits(out[1], out[0], n, "axpy vs ref", 1);
        }
        for (int p = 0; p < 2; p++) {
            OK(run_axpy(p, n, 0.0f, X, Y, out[p]));
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(out[p][i] == Y[i], "%s: a = 0 moved Y[%zu] from %.9g to %.9g", path_name(p), i,
                              (double)Y[i], (double)out[p][i]);
        }
        free(X);
        free(Y);
        free(want);
        for (int p = 0; p < 2; p++) free(out[p]);
    }
}
END_TEST

START_TEST(test_axpy_args)
{
    /* a = NaN, +inf, −inf, or X or Y too short: CLAE_ERR_ARG on both paths naming the op, Y left as it was; the
     * largest finite a passes, and n = 0 is a no-op. */
    const size_t n = 9;
    float *X = uniform(n, 96u, -1, 1), *Y = uniform(n, 196u, -1, 1), *out = fmalloc(n);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf x = tb_new(rt, X, n), y = tb_new(rt, Y, n), s = tb_new(rt, X, n - 1);
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            clae_status st = clae_op_axpy(rt, n, bad[k], x.b, y.b);
            ck_assert_msg(st == CLAE_ERR_ARG, "%s: a = %g gave %s", path_name(p), (double)bad[k],
                          clae_status_string(st));
            ck_assert_msg(strstr(clae_last_error(), "axpy") != NULL, "message: %s", clae_last_error());
        }
        ck_assert(clae_op_axpy(rt, n, 0.5f, s.b, y.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_axpy(rt, n, 0.5f, x.b, s.b) == CLAE_ERR_ARG);
        OK(clae_op_axpy(rt, 0, 0.5f, x.b, y.b));
        tb_get(&y, out);
        assert_bits(out, Y, n, "Y after refused calls and n = 0", p);
        OK(clae_op_axpy(rt, n - 1, 3.4028235e38f, x.b, y.b));
        tb_get(&y, out); /* checks the guards */
        for (size_t i = 0; i < n - 1; i++)
            ck_assert_msg(out[i] != Y[i], "%s: the largest a left Y[%zu] as it was", path_name(p), i);
        ck_assert_msg(out[n - 1] == Y[n - 1], "%s: Y[n − 1] written with n − 1", path_name(p));
        tb_free(&x);
        tb_free(&y);
        tb_free(&s);
    }
    free(X);
    free(Y);
    free(out);
}
END_TEST

Suite *suite_rbm_ops(void)
{
    Suite *s = suite_create("rbm_ops");
    TCase *tc = tcase_create("rbm_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rbm_sample_bernoulli);
    tcase_add_test(tc, test_rbm_sample_streams);
    tcase_add_test(tc, test_rbm_sample_bernoulli_moments);
    tcase_add_test(tc, test_rbm_sample_gaussian);
    tcase_add_test(tc, test_rbm_sample_gaussian_moments);
    tcase_add_test(tc, test_rbm_sample_args);
    tcase_add_test(tc, test_rbm_bias_grad_known);
    tcase_add_test(tc, test_rbm_bias_grad_vs_ref);
    tcase_add_test(tc, test_rbm_bias_grad_args);
    tcase_add_test(tc, test_axpy_exact);
    tcase_add_test(tc, test_axpy_args);
    suite_add_tcase(s, tc);
    return s;
}
