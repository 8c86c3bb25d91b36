/* bench_gemm.c — GFLOP/s of clae's OpenCL GEMM engines (tiled, clblast) on one device against
 * OpenBLAS cblas_sgemm on the host, for the reference model's GEMMs, in one process and one run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/gemm/gemm.h"
#include "runtime/runtime.h"

#ifdef CLAE_BENCH_OPENBLAS
#include <cblas.h>
#endif

/* The GEMMs of one training step of 784-256-64-256-784 at batch 256 (lib/models/model.c): forward
 * Z = X·Wᵀ (NT), weight gradient dW = Gᵀ·X (TN), input gradient G' = G·W (NN, not for layer 0). */
typedef struct shape {
    const char *what;
    int ta, tb;
    size_t M, N, K;
} shape;

static const shape shapes[] = {
    {"fwd 784->256", 0, 1, 256, 256, 784}, {"fwd 256->64", 0, 1, 256, 64, 256},
    {"fwd 64->256", 0, 1, 256, 256, 64},   {"fwd 256->784", 0, 1, 256, 784, 256},
    {"dW  784->256", 1, 0, 256, 784, 256}, {"dW  256->64", 1, 0, 64, 256, 256},
    {"dW  64->256", 1, 0, 256, 64, 256},   {"dW  256->784", 1, 0, 784, 256, 256},
    {"dX  256->64", 0, 0, 256, 256, 64},   {"dX  64->256", 0, 0, 256, 64, 256},
    {"dX  256->784", 0, 0, 256, 256, 784},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])
#define REPS 7       /* timed repetitions; the median is reported */
#define MIN_REP 0.02 /* seconds: calls per repetition grow until one repetition lasts this long */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One candidate: `calls` back-to-back GEMMs, then waiting for them; 0 on success. */
typedef int (*run_fn)(void *ctx, const shape *s, int calls);

typedef struct candidate {
    run_fn run;
    void *ctx;
    int calls;          /* per repetition, sized so one lasts MIN_REP */
    double t[REPS];     /* seconds per call */
    int ok;
} candidate;

/* Median seconds per call of every candidate. Repetitions take turns (one of each candidate per
 * round) so a noisy neighbour on a shared machine slows all of them alike, not one of them. */
static void time_all(candidate *c, int n, const shape *s)
{
    for (int i = 0; i < n; i++) {
        c[i].ok = c[i].run(c[i].ctx, s, 2) == 0; /* warm-up: kernel compiles, caches, thread pools */
        c[i].calls = 1;
        while (c[i].ok) {
            double t0 = now();
            c[i].ok = c[i].run(c[i].ctx, s, c[i].calls) == 0;
            if (now() - t0 >= MIN_REP || c[i].calls >= 1 << 16) break;
            c[i].calls *= 2;
        }
    }
    for (int r = 0; r < REPS; r++)
        for (int i = 0; i < n; i++) {
            if (!c[i].ok) continue;
            double t0 = now();
            c[i].ok = c[i].run(c[i].ctx, s, c[i].calls) == 0;
            c[i].t[r] = (now() - t0) / c[i].calls;
        }
    for (int i = 0; i < n; i++) qsort(c[i].t, REPS, sizeof c[i].t[0], cmp_double);
}

typedef struct cl_ctx {
    clae_runtime *rt;
    const clae_gemm_engine *engine;
    clae_buf A, B, C;
} cl_ctx;

static int run_cl(void *p, const shape *s, int calls)
{
    cl_ctx *c = p;
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    for (int i = 0; i < calls; i++)
        if (c->engine->sgemm(c->rt, s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f, c->C, s->N) !=
            CLAE_OK)
            return -1;
    return clae_rt_finish(c->rt) == CLAE_OK ? 0 : -1;
}

#ifdef CLAE_BENCH_OPENBLAS
typedef struct blas_ctx {
    const float *A, *B;
    float *C;
} blas_ctx;

static int run_blas(void *p, const shape *s, int calls)
{
    blas_ctx *c = p;
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    for (int i = 0; i < calls; i++)
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->M,
                    (int)s->N, (int)s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f, c->C, (int)s->N);
    return 0;
}
#endif

/* Largest |x − ref| / (1 + |ref|): a sanity check that the timed engines compute the product. */
static double max_err(const float *x, const float *ref, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)ref[i]) / (1.0 + fabs((double)ref[i]));
        if (!(d <= e)) e = d;
    }
    return e;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-23f - 1.0f;
    }
}

/* bench_gemm [DEVICE]: the device spec as `clae --device` takes it (default: $CLAE_DEVICE, else the
 * default device). Exits non-zero when an engine fails or disagrees with the yardstick. */
int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : NULL;
    clae_runtime *rt = NULL;
    if (clae_runtime_open(spec, &rt) != CLAE_OK) {
        fprintf(stderr, "bench_gemm: %s\n", clae_last_error());
        return 1;
    }
    if (rt->is_ref) {
        fprintf(stderr, "bench_gemm: %s has no OpenCL engines to time\n", rt->info.name);
        clae_runtime_close(rt);
        return 1;
    }
    const clae_gemm_engine *engines[2] = {&clae_gemm_tiled, &clae_gemm_clblast};
#ifdef CLAE_BENCH_OPENBLAS
    const int have_blas = 1;
#else
    const int have_blas = 0;
#endif
    printf("device: %s (%s)\n", rt->info.name, rt->info.platform);
#ifdef CLAE_BENCH_OPENBLAS
    printf("peer:   OpenBLAS %s cblas_sgemm, %d threads, host memory\n", openblas_get_config(),
           openblas_get_num_threads());
#else
    printf("peer:   none (built without OpenBLAS: apt-get install -y libopenblas-dev, then make bench-gemm)\n");
#endif
    printf("GFLOP/s = 2·M·N·K / median seconds per call over %d repetitions (taking turns) after warm-up;"
           " alpha 1, beta 0\n",
           REPS);
    printf("tiled err: largest |tiled - %s| / (1 + |%s|) over C\n\n", have_blas ? "OpenBLAS" : "clblast",
           have_blas ? "OpenBLAS" : "clblast");
    printf("%-13s %2s %4s %4s %4s %8s %8s %8s %7s %7s %9s\n", "gemm", "op", "M", "N", "K", "tiled", "clblast",
           "openblas", "t/blas", "c/blas", "tiled err");

    int status = 0;
    double sum_log[2] = {0, 0};
    int n_ratio = 0;
    for (size_t si = 0; si < NSHAPES; si++) {
        const shape *s = &shapes[si];
        size_t na = s->M * s->K, nb = s->K * s->N, nc = s->M * s->N;
        float *hA = malloc(na * sizeof *hA), *hB = malloc(nb * sizeof *hB), *hC = malloc(nc * sizeof *hC),
              *ref = malloc(nc * sizeof *ref);
        if (!hA || !hB || !hC || !ref) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        fill(hA, na, 1u + (unsigned)si);
        fill(hB, nb, 101u + (unsigned)si);
        /* One workspace as large as either engine asks for, lent as the model's planner lends
         * it, so neither allocates inside the timed loop; each engine writes its own C. */
        size_t ws_bytes = 0;
        for (int e = 0; e < 2; e++) {
            size_t b = engines[e]->workspace_bytes(rt, s->ta, s->tb, s->M, s->N, s->K, s->ta ? s->M : s->K,
                                                   s->tb ? s->K : s->N, s->N);
            if (b > ws_bytes) ws_bytes = b;
        }
        cl_ctx cc[2] = {{rt, engines[0], {0}, {0}, {0}}, {rt, engines[1], {0}, {0}, {0}}};
        clae_buf ws = {0};
        if (clae_buf_alloc(rt, na, &cc[0].A) != CLAE_OK || clae_buf_alloc(rt, nb, &cc[0].B) != CLAE_OK ||
            clae_buf_alloc(rt, nc, &cc[0].C) != CLAE_OK || clae_buf_alloc(rt, nc, &cc[1].C) != CLAE_OK ||
            (ws_bytes && clae_buf_alloc(rt, (ws_bytes + 3) / 4, &ws) != CLAE_OK) ||
            clae_buf_write(rt, cc[0].A, 0, hA, na) != CLAE_OK || clae_buf_write(rt, cc[0].B, 0, hB, nb) != CLAE_OK) {
            fprintf(stderr, "bench_gemm: %s\n", clae_last_error());
            return 1;
        }
        cc[1].A = cc[0].A;
        cc[1].B = cc[0].B;
        if (ws_bytes) clae_rt_set_gemm_workspace(rt, ws.mem, ws_bytes);

        candidate cand[3] = {{run_cl, &cc[0], 0, {0}, 0}, {run_cl, &cc[1], 0, {0}, 0}};
        int n_cand = 2;
#ifdef CLAE_BENCH_OPENBLAS
        blas_ctx bc = {hA, hB, ref};
        cand[n_cand++] = (candidate){run_blas, &bc, 0, {0}, 0};
#endif
        time_all(cand, n_cand, s);

        double gf[3] = {-1, -1, -1}, err[2] = {-1, -1}, flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        for (int i = 0; i < n_cand; i++)
            if (cand[i].ok) gf[i] = flop / cand[i].t[REPS / 2] * 1e-9;
        /* The yardstick: OpenBLAS's product where it ran, else CLBlast's (then the two engines
         * check each other). CLBlast is read first so it can become the yardstick. */
        const char *ref_name = have_blas ? "OpenBLAS" : "clblast";
        int have_ref = have_blas;
        for (int e = 1; e >= 0; e--) {
            float *out = have_ref ? hC : ref;
            if (!cand[e].ok || clae_buf_read(rt, cc[e].C, 0, out, nc) != CLAE_OK) {
                fprintf(stderr, "bench_gemm: %s %s: %s\n", engines[e]->name, s->what, clae_last_error());
                status = 1;
                continue;
            }
            if (!have_ref) {
                have_ref = 1;
                continue;
            }
            err[e] = max_err(out, ref, nc);
            /* A wrong product is a failed benchmark, not a fast one. */
            if (err[e] > 1e-4) {
                fprintf(stderr, "bench_gemm: %s %s differs from %s by %g\n", engines[e]->name, s->what, ref_name,
                        err[e]);
                status = 1;
            }
        }
        char r0[16] = "-", r1[16] = "-", es[16] = "-";
        if (gf[2] > 0 && gf[0] > 0) snprintf(r0, sizeof r0, "%.2f", gf[0] / gf[2]);
        if (gf[2] > 0 && gf[1] > 0) snprintf(r1, sizeof r1, "%.2f", gf[1] / gf[2]);
        if (err[0] >= 0) snprintf(es, sizeof es, "%.1e", err[0]);
        if (gf[2] > 0 && gf[0] > 0 && gf[1] > 0) {
            sum_log[0] += log(gf[0] / gf[2]);
            sum_log[1] += log(gf[1] / gf[2]);
            n_ratio++;
        }
        char g[3][16];
        for (int i = 0; i < 3; i++) {
            if (gf[i] > 0) snprintf(g[i], sizeof g[i], "%.1f", gf[i]);
            else snprintf(g[i], sizeof g[i], "-");
        }
        printf("%-13s %c%c %4zu %4zu %4zu %8s %8s %8s %7s %7s %9s\n", s->what, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N',
               s->M, s->N, s->K, g[0], g[1], g[2], r0, r1, es);
        fflush(stdout);

        clae_rt_set_gemm_workspace(rt, NULL, 0);
        clae_buf_free(&ws);
        clae_buf_free(&cc[0].A);
        clae_buf_free(&cc[0].B);
        clae_buf_free(&cc[0].C);
        clae_buf_free(&cc[1].C);
        free(hA);
        free(hB);
        free(hC);
        free(ref);
    }
    if (n_ratio)
        printf("\ngeometric mean of the ratios to OpenBLAS: tiled %.2f, clblast %.2f\n", exp(sum_log[0] / n_ratio),
               exp(sum_log[1] / n_ratio));
    clae_runtime_close(rt);
    return status;
}
