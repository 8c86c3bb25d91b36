/* bench_gemm.c — GFLOP/s of clae's OpenCL GEMM engines (tiled, clblast) on one device against OpenBLAS
 * cblas_sgemm in a peer process of its own, for the GEMMs of the benchmarked models, in interleaved rounds. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "ops/gemm/gemm.h"
#include "runtime/runtime.h"

#ifdef CLAE_BENCH_OPENBLAS
#include <cblas.h>
#endif

static const char usage[] =
    "usage: bench_gemm [--device SPEC] [--rounds N] [--set all|ref|narrow|wide] [--peer-threads N]\n"
    "\n"
    "Times clae's OpenCL GEMM engines (tiled, clblast) on one device against OpenBLAS's cblas_sgemm,\n"
    "which runs in a peer process of its own (this program again, with OPENBLAS_NUM_THREADS set to\n"
    "--peer-threads, default 1). The shapes are every GEMM of one training step: forward Z = X*W^T (NT),\n"
    "weight gradient dW = G^T*X (TN), input gradient G' = G*W (NN, not for layer 0) of\n"
    "  ref     784,256,64,256,784 at batch 256 (clae bench's dense workload)\n"
    "  narrow  the same net at batch 64 (64-wide products)\n"
    "  wide    784,2048,512,2048,784 at batch 256 (clae bench's wide workload)\n"
    "Each round times every engine once in turn (A B C A B C ...), so a busy neighbour slows all\n"
    "of them alike; a figure is GFLOP/s = 2*M*N*K / seconds per call, best (fastest round) and median\n"
    "over --rounds rounds (default 5); t/blas and c/blas are the medians of the per-round ratios.\n"
    "The device is --device SPEC as clae takes it (default $CLAE_DEVICE, else the default device).\n"
    "Exit status: 0, or 1 when an engine fails or its product differs from the yardstick's.\n";

/* One GEMM of a training step. */
typedef struct shape {
    char what[32];
    int ta, tb;
    size_t M, N, K;
} shape;

/* A model's step at one batch size, named as the table groups it. */
typedef struct shape_set {
    const char *name, *what;
    int widths[8];
    int n_widths;
    size_t batch;
} shape_set;

static const shape_set sets[] = {
    {"ref", "784,256,64,256,784 at batch 256", {784, 256, 64, 256, 784}, 5, 256},
    {"narrow", "784,256,64,256,784 at batch 64", {784, 256, 64, 256, 784}, 5, 64},
    {"wide", "784,2048,512,2048,784 at batch 256", {784, 2048, 512, 2048, 784}, 5, 256},
};
#define NSETS (sizeof sets / sizeof sets[0])
#define MAX_SHAPES 32
#define MAX_ROUNDS 100
#define MIN_REP 0.02 /* seconds: calls per round grow until one round of a candidate lasts this long */

/* The GEMMs of one step of set s (lib/models/model.c's order: every forward, every weight gradient,
 * every input gradient); returns how many. */
static int set_shapes(const shape_set *s, shape *out)
{
    int n = 0, L = s->n_widths - 1;
    for (int pass = 0; pass < 3; pass++)
        for (int l = 0; l < L; l++) {
            size_t in = (size_t)s->widths[l], o = (size_t)s->widths[l + 1], B = s->batch;
            shape *x = &out[n];
            if (pass == 0) *x = (shape){"", 0, 1, B, o, in};
            else if (pass == 1) *x = (shape){"", 1, 0, o, in, B};
            else if (l > 0) *x = (shape){"", 0, 0, B, in, o};
            else continue;
            snprintf(x->what, sizeof x->what, "%s %zu->%zu", pass == 0 ? "fwd" : pass == 1 ? "dW " : "dX ", in, o);
            n++;
        }
    return n;
}

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

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-23f - 1.0f;
    }
}

/* One candidate: seconds taken by `calls` back-to-back GEMMs of s, waited for (negative on failure). */
typedef double (*run_fn)(void *ctx, const shape *s, unsigned seed, int calls);

typedef struct candidate {
    const char *name;
    run_fn run;
    void *ctx;
    int calls;           /* per round, sized so one lasts MIN_REP */
    double t[MAX_ROUNDS]; /* seconds per call, one per round */
    int ok;
} candidate;

/* Seconds per call of every candidate in each round. Rounds take turns (one of each candidate per
 * round), so a noisy neighbour on a shared machine slows all of them alike, not one of them. */
static void time_all(candidate *c, int n, const shape *s, unsigned seed, int rounds)
{
    for (int i = 0; i < n; i++) {
        c[i].ok = c[i].run(c[i].ctx, s, seed, 2) >= 0; /* warm-up: kernel compiles, caches, thread pools */
        c[i].calls = 1;
        while (c[i].ok) {
            double t = c[i].run(c[i].ctx, s, seed, c[i].calls);
            c[i].ok = t >= 0;
            if (t >= MIN_REP || c[i].calls >= 1 << 16) break;
            c[i].calls *= 2;
        }
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            if (!c[i].ok) continue;
            double t = c[i].run(c[i].ctx, s, seed, c[i].calls);
            c[i].ok = t >= 0;
            c[i].t[r] = t / c[i].calls;
        }
}

typedef struct cl_ctx {
    clae_runtime *rt;
    const clae_gemm_engine *engine;
    clae_buf A, B, C;
} cl_ctx;

static double run_cl(void *p, const shape *s, unsigned seed, int calls)
{
    (void)seed; /* A and B are on the device already */
    cl_ctx *c = p;
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t0 = now();
    for (int i = 0; i < calls; i++)
        if (c->engine->sgemm(c->rt, s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f, c->C, s->N) !=
            CLAE_OK)
            return -1.0;
    return clae_rt_finish(c->rt) == CLAE_OK ? now() - t0 : -1.0;
}

#ifdef CLAE_BENCH_OPENBLAS
static void blas_gemm(const shape *s, const float *A, const float *B, float *C)
{
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->M,
                (int)s->N, (int)s->K, 1.0f, A, lda, B, ldb, 0.0f, C, (int)s->N);
}

/* The peer: `bench_gemm --peer` reads "ta tb M N K seed calls" lines on stdin and answers each with
 * the seconds those calls took, after one line naming its OpenBLAS (core, configuration, threads).
 * It runs in a process of its own so OpenBLAS's threads and PoCL's never share one (each spins
 * for a while after its work, which would charge one engine for the other's idle threads), and
 * with the thread count its environment gives at load time, the only time OpenBLAS reads it. */
static int peer_main(void)
{
    printf("%s|%s|%d\n", openblas_get_corename(), openblas_get_config(), openblas_get_num_threads());
    fflush(stdout);
    char line[256];
    shape cur = {"", -1, -1, 0, 0, 0};
    unsigned cur_seed = 0;
    float *A = NULL, *B = NULL, *C = NULL;
    while (fgets(line, sizeof line, stdin)) {
        shape s = {"", 0, 0, 0, 0, 0};
        unsigned seed;
        int calls;
        if (sscanf(line, "%d %d %zu %zu %zu %u %d", &s.ta, &s.tb, &s.M, &s.N, &s.K, &seed, &calls) != 7) break;
        if (s.ta != cur.ta || s.tb != cur.tb || s.M != cur.M || s.N != cur.N || s.K != cur.K || seed != cur_seed) {
            free(A);
            free(B);
            free(C);
            A = malloc(s.M * s.K * sizeof *A);
            B = malloc(s.K * s.N * sizeof *B);
            C = malloc(s.M * s.N * sizeof *C);
            if (!A || !B || !C) break;
            fill(A, s.M * s.K, seed);
            fill(B, s.K * s.N, seed + 100u);
            cur = s;
            cur_seed = seed;
        }
        double t0 = now();
        for (int i = 0; i < calls; i++) blas_gemm(&s, A, B, C);
        printf("%.9e\n", now() - t0);
        fflush(stdout);
    }
    free(A);
    free(B);
    free(C);
    return 0;
}

typedef struct peer {
    pid_t pid;
    FILE *to, *from;
    char core[64], config[256];
    int threads;
} peer;

/* Starts the peer: this program again (/proc/self/exe), its stdin and stdout our pipes, with
 * OPENBLAS_NUM_THREADS and, when given, OPENBLAS_CORETYPE set. 0, or -1 with a message. */
static int peer_start(peer *p, int threads, const char *coretype)
{
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) {
        perror("bench_gemm: pipe");
        return -1;
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0) {
        perror("bench_gemm: fork");
        return -1;
    }
    if (p->pid == 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        if (dup2(down[0], 0) < 0 || dup2(up[1], 1) < 0) _exit(127);
        close(down[0]);
        close(down[1]);
        close(up[0]);
        close(up[1]);
        setenv("OPENBLAS_NUM_THREADS", n, 1);
        if (coretype) setenv("OPENBLAS_CORETYPE", coretype, 1);
        char *const args[] = {"bench_gemm", "--peer", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    p->to = fdopen(down[1], "w");
    p->from = fdopen(up[0], "r");
    char line[512];
    if (!p->to || !p->from || !fgets(line, sizeof line, p->from) ||
        sscanf(line, "%63[^|]|%255[^|]|%d", p->core, p->config, &p->threads) != 3) {
        fprintf(stderr, "bench_gemm: the OpenBLAS peer did not start\n");
        return -1;
    }
    return 0;
}

static void peer_stop(peer *p)
{
    if (p->to) fclose(p->to); /* end of input: the peer returns */
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
}

static double run_peer(void *ctx, const shape *s, unsigned seed, int calls)
{
    peer *p = ctx;
    char line[64];
    if (fprintf(p->to, "%d %d %zu %zu %zu %u %d\n", s->ta, s->tb, s->M, s->N, s->K, seed, calls) < 0 ||
        fflush(p->to) != 0 || !fgets(line, sizeof line, p->from))
        return -1.0;
    return strtod(line, NULL);
}

/* OpenBLAS's cores with AVX-512 SGEMM kernels (0.3.21's names). */
static int avx512_core(const char *core)
{
    static const char *const names[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(core, names[i]) == 0) return 1;
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

/* "best/median" GFLOP/s of a candidate, or "-". */
static void fmt_gf(char *buf, size_t cap, const candidate *c, double flop, int rounds)
{
    if (!c || !c->ok) {
        snprintf(buf, cap, "-");
        return;
    }
    double best = c->t[0];
    for (int r = 1; r < rounds; r++)
        if (c->t[r] < best) best = c->t[r];
    snprintf(buf, cap, "%.1f/%.1f", flop / best * 1e-9, flop / median(c->t, rounds) * 1e-9);
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *which = "all";
    int rounds = 5, peer_threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--peer") == 0) {
#ifdef CLAE_BENCH_OPENBLAS
            return peer_main();
#else
            return 1;
#endif
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (i + 1 < argc && strcmp(a, "--device") == 0) {
            spec = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--rounds") == 0) {
            rounds = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(a, "--set") == 0) {
            which = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--peer-threads") == 0) {
            peer_threads = atoi(argv[++i]);
        } else if (a[0] != '-' && !spec) {
            spec = a; /* the device as the only positional argument, as before the options */
        } else {
            fprintf(stderr, "bench_gemm: unknown or incomplete argument %s\n%s", a, usage);
            return 2;
        }
    }
    int set_known = strcmp(which, "all") == 0;
    for (size_t s = 0; s < NSETS; s++) set_known |= strcmp(which, sets[s].name) == 0;
    if (rounds < 1 || rounds > MAX_ROUNDS || peer_threads < 1 || !set_known) {
        fprintf(stderr, "bench_gemm: --rounds 1..%d, --peer-threads >= 1, --set all|ref|narrow|wide\n", MAX_ROUNDS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that died shows as a failed read, not as our death */

#ifdef CLAE_BENCH_OPENBLAS
    /* This process computes the yardstick product alone, on one thread: its OpenBLAS threads
     * stay asleep while the engines are timed. */
    openblas_set_num_threads(1);
    /* OpenBLAS 0.3.21 may not know a newer CPU and fall back to AVX2 kernels; on a CPU with
     * AVX-512 the peer then gets SkylakeX's unless the user chose a core. */
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    if (coretype && !*coretype) coretype = NULL;
    const char *forced = NULL;
#if defined(__x86_64__) || defined(__i386__)
    if (!coretype && __builtin_cpu_supports("avx512f") && !avx512_core(openblas_get_corename())) forced = "SkylakeX";
#endif
    /* Started before the OpenCL runtime, so the fork copies no driver threads' state. */
    peer pr = {0, NULL, NULL, "", "", 0};
    if (peer_start(&pr, peer_threads, forced) != 0) {
        peer_stop(&pr);
        return 1;
    }
    const int have_blas = 1;
#else
    const int have_blas = 0;
#endif

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
    printf("device: %s (%s)\n", rt->info.name, rt->info.platform);
#ifdef CLAE_BENCH_OPENBLAS
    printf("peer:   %s cblas_sgemm in its own process, %d thread%s, core %s (%s), host memory\n", pr.config,
           pr.threads, pr.threads == 1 ? "" : "s", pr.core,
           forced    ? "OPENBLAS_CORETYPE=SkylakeX set here: the detected core has no AVX-512 kernels"
           : coretype ? "OPENBLAS_CORETYPE from the environment"
                      : "detected");
#else
    printf("peer:   none (built without OpenBLAS: apt-get install -y libopenblas-dev, then make bench-gemm)\n");
#endif
    printf("GFLOP/s = 2*M*N*K / seconds per call, best/median over %d interleaved round%s after warm-up;"
           " alpha 1, beta 0\n",
           rounds, rounds == 1 ? "" : "s");
    printf("t/blas, c/blas: median over the rounds of each round's ratio to OpenBLAS\n");
    printf("tiled err: largest |tiled - %s| / (1 + |%s|) over C\n", have_blas ? "OpenBLAS" : "clblast",
           have_blas ? "OpenBLAS" : "clblast");
    /* A core the user chose is part of the command; one forced here is chosen again by it. */
    char env[96] = "";
#ifdef CLAE_BENCH_OPENBLAS
    if (coretype) snprintf(env, sizeof env, "OPENBLAS_CORETYPE=%.60s ", coretype);
#endif
    printf("reproduce: %s%s --device %s --rounds %d --set %s --peer-threads %d\n", env, argv[0], rt->info.id, rounds,
           which, peer_threads);

    int status = 0;
    double all_log[2] = {0, 0};
    int all_n = 0;
    unsigned seed = 1;
    for (size_t si = 0; si < NSETS; si++) {
        const shape_set *set = &sets[si];
        if (strcmp(which, "all") != 0 && strcmp(which, set->name) != 0) continue;
        shape shapes[MAX_SHAPES];
        int nshapes = set_shapes(set, shapes);
        printf("\n%s: %s\n", set->name, set->what);
        printf("%-13s %2s %4s %4s %4s %11s %11s %11s %6s %6s %9s\n", "gemm", "op", "M", "N", "K", "tiled",
               "clblast", "openblas", "t/blas", "c/blas", "tiled err");
        double sum_log[2] = {0, 0};
        int n_ratio = 0;
        for (int k = 0; k < nshapes; k++, seed++) {
            const shape *s = &shapes[k];
            size_t na = s->M * s->K, nb = s->K * s->N, nc = s->M * s->N;
            float *hA = malloc(na * sizeof *hA), *hB = malloc(nb * sizeof *hB), *hC = malloc(nc * sizeof *hC),
                  *ref = malloc(nc * sizeof *ref);
            if (!hA || !hB || !hC || !ref) {
                fprintf(stderr, "bench_gemm: out of memory\n");
                return 1;
            }
            /* The peer fills its A and B from the same seeds. */
            fill(hA, na, seed);
            fill(hB, nb, seed + 100u);
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
                clae_buf_write(rt, cc[0].A, 0, hA, na) != CLAE_OK ||
                clae_buf_write(rt, cc[0].B, 0, hB, nb) != CLAE_OK) {
                fprintf(stderr, "bench_gemm: %s\n", clae_last_error());
                return 1;
            }
            cc[1].A = cc[0].A;
            cc[1].B = cc[0].B;
            if (ws_bytes) clae_rt_set_gemm_workspace(rt, ws.mem, ws_bytes);

            candidate cand[3] = {{"tiled", run_cl, &cc[0], 0, {0}, 0}, {"clblast", run_cl, &cc[1], 0, {0}, 0}};
            int n_cand = 2;
#ifdef CLAE_BENCH_OPENBLAS
            cand[n_cand++] = (candidate){"openblas", run_peer, &pr, 0, {0}, 0};
            blas_gemm(s, hA, hB, ref); /* the yardstick, outside the timing */
#endif
            time_all(cand, n_cand, s, seed, rounds);
#ifdef CLAE_BENCH_OPENBLAS
            if (!cand[2].ok) {
                fprintf(stderr, "bench_gemm: the OpenBLAS peer stopped answering at %s\n", s->what);
                status = 1;
            }
#endif

            double err = -1, flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
            /* The yardstick: OpenBLAS's product where it is built in, else CLBlast's (then the two
             * engines check each other). CLBlast is read first so it can become the yardstick. */
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
                double d = max_err(out, ref, nc);
                if (e == 0) err = d;
                /* A wrong product is a failed benchmark, not a fast one. */
                if (d > 1e-4) {
                    fprintf(stderr, "bench_gemm: %s %s differs from %s by %g\n", engines[e]->name, s->what,
                            ref_name, d);
                    status = 1;
                }
            }
            /* Per-round ratios pair the engine with the peer's turn next to it, so a load swing
             * between rounds cancels out of the ratio. */
            double ratio[2] = {-1, -1};
            for (int e = 0; e < 2 && n_cand == 3; e++) {
                if (!cand[e].ok || !cand[2].ok) continue;
                double rr[MAX_ROUNDS];
                for (int r = 0; r < rounds; r++) rr[r] = cand[2].t[r] / cand[e].t[r];
                ratio[e] = median(rr, rounds);
            }
            char g[3][24], r0[16] = "-", r1[16] = "-", es[16] = "-";
            for (int i = 0; i < 3; i++) fmt_gf(g[i], sizeof g[i], i < n_cand ? &cand[i] : NULL, flop, rounds);
            if (ratio[0] > 0) snprintf(r0, sizeof r0, "%.2f", ratio[0]);
            if (ratio[1] > 0) snprintf(r1, sizeof r1, "%.2f", ratio[1]);
            if (err >= 0) snprintf(es, sizeof es, "%.1e", err);
            if (ratio[0] > 0 && ratio[1] > 0) {
                sum_log[0] += log(ratio[0]);
                sum_log[1] += log(ratio[1]);
                n_ratio++;
            }
            printf("%-13s %c%c %4zu %4zu %4zu %11s %11s %11s %6s %6s %9s\n", s->what, s->ta ? 'T' : 'N',
                   s->tb ? 'T' : 'N', s->M, s->N, s->K, g[0], g[1], g[2], r0, r1, es);
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
        if (n_ratio) {
            printf("geometric mean of the median ratios to OpenBLAS (%s): tiled %.2f, clblast %.2f\n", set->name,
                   exp(sum_log[0] / n_ratio), exp(sum_log[1] / n_ratio));
            all_log[0] += sum_log[0];
            all_log[1] += sum_log[1];
            all_n += n_ratio;
        }
    }
    if (all_n && strcmp(which, "all") == 0)
        printf("\ngeometric mean over all %d shapes: tiled %.2f, clblast %.2f\n", all_n, exp(all_log[0] / all_n),
               exp(all_log[1] / all_n));
    clae_runtime_close(rt);
#ifdef CLAE_BENCH_OPENBLAS
    peer_stop(&pr);
#endif
    return status;
}
