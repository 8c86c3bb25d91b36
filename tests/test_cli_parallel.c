/* test_cli_parallel.c — data-parallel training from the command line: `clae train --devices` and `clae train --mpi`
 * under mpirun train the model one device trains, rank 0 alone speaks and writes, MPI resume is exact, refusals. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define T10K "t10k-images-idx3-ubyte.gz"

/* 301 rows in batches of 63: every full batch splits 31 + 32 and the last one (49 rows) 24 + 25, so the parts'
 * weights (rows / batch) are never all equal and an unweighted sum would show. */
#define SPLIT_FLAGS "--limit 301 --batch 63 --epochs 2 --layers 784,32 --seed 5 --test-limit 50 -q"
#define SPLIT_STEPS 10 /* 2 epochs of ceil(301 / 63) = 5 batches */

/* A split batch sums the parts' gradients in another order than one device sums the rows, so the models agree to
 * rounding, compounded over SPLIT_STEPS Adam steps: |a - b| <= ATOL + RTOL |b| per element. Measured on cpu-ref and
 * PoCL: at most 1.1e-7 (weights of order 0.1), so the bound leaves about tenfold room, not a hundredfold. */
#define ATOL 1e-6
#define RTOL 1e-5

/* The mpirun ranks' wall-clock limit: a rank that hangs in a collective fails the test instead of the suite (the
 * suite runs without fork, so Check's own timeout cannot stop it). */
#define MPI_LIMIT_S 120

static const char *data_path(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s", test_data_path(T10K));
    return path;
}

/* ---- the runs ----------------------------------------------------------------------------------------------- */

/* `mpirun -np np --oversubscribe <build>/clae ARGS`, captured like run_clae. The variables go on this command line
 * only, so the suite's own environment is left as it was: mpirun refuses root unless told, and under ASan (make
 * test's SANITIZE_CHECK pass) Open MPI's per-process state, kept until exit, reads as leaks, most of whose stacks
 * stop at malloc (fast unwinding through libraries without frame pointers), so no lsan.supp line can name them:
 * the leak checker is off for the ranks alone; the single-process runs of the same flags still leak-check clae. */
static run_result run_mpi(int np, const char *args)
{
    char prefix[512];
    const char *root = geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
    snprintf(prefix, sizeof prefix, "%sASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" timeout -k 5 %d "
             "mpirun -np %d --oversubscribe ", root, MPI_LIMIT_S, np);
    return run_clae_after(prefix, args);
}

static run_result mpi_expect(int status, int np, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static run_result mpi_expect(int status, int np, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    ck_assert_msg(n > 0 && (size_t)n < sizeof args, "command line too long");
    run_result r = run_mpi(np, args);
    ck_assert_msg(r.status == status, "mpirun -np %d clae %s: exit %d, expected %d%s\nstdout:\n%s\nstderr:\n%s", np,
                  args, r.status, status, r.status == 124 ? " (timed out: a hang?)" : "", r.out, r.err);
    return r;
}

/* Why the MPI tests cannot run here, or NULL: no mpirun, or a clae built without MPI (which says so when asked for
 * --mpi: the probe is the same launch the tests use, one rank, a two-row run). Asked once per process. */
static const char *mpi_missing(void)
{
    static int known;
    static char why[256];
    if (known) return why[0] ? why : NULL;
    known = 1;
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        snprintf(why, sizeof why, "mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev)");
        return why;
    }
    char dq[1100] = "";
    test_append_quoted(dq, sizeof dq, data_path());
    char args[2048];
    snprintf(args, sizeof args, "train --mpi --device cpu-ref --data %s --limit 2 --batch 2 --steps 1 "
             "--layers 784,4 -q", dq);
    run_result r = run_mpi(1, args);
    if (strstr(r.err, "built without MPI"))
        snprintf(why, sizeof why, "%s/clae was built without MPI (no pkg-config ompi-c at build time)",
                 test_build_dir());
    else
        ck_assert_msg(r.status == 0, "the MPI probe (mpirun -np 1 clae %s) failed: exit %d\n%s%s", args, r.status,
                      r.out, r.err);
    run_free(&r);
    return why[0] ? why : NULL;
}

#define SKIP_WITHOUT_MPI(what)                                                                                  \
    do {                                                                                                        \
        const char *why_ = mpi_missing();                                                                       \
        if (why_) {                                                                                             \
            fprintf(stderr, "cli_parallel: %s skipped: %s\n", (what), why_);                                  \
            return;                                                                                             \
        }                                                                                                       \
    } while (0)

/* ---- the models --------------------------------------------------------------------------------------------- */

static clae_model *load_or_fail(const char *path, unsigned flags)
{
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, flags, 0, &m, NULL) == CLAE_OK, "loading %s: %s", path,
                  clae_last_error());
    return m;
}

/* Every persistent tensor of the files a and b (both on the reference runtime) compared element by element: with
 * exact, any differing bit fails; otherwise |a - b| <= ATOL + RTOL |b|. Prints and returns the largest |a - b|. */
static double compare_models(const char *a_path, const char *b_path, unsigned flags, int exact, const char *what)
{
    clae_model *a = load_or_fail(a_path, flags), *b = load_or_fail(b_path, flags);
    ck_assert_msg(clae_model_steps(a) == clae_model_steps(b), "%s: %llu steps against %llu", what,
                  (unsigned long long)clae_model_steps(a), (unsigned long long)clae_model_steps(b));
    clae_plan_summary ps;
    ck_assert_int_eq(clae_model_plan_summary(a, &ps), CLAE_OK);
    double worst = 0.0;
    int compared = 0;
    size_t elements = 0;
    for (int i = 0; i < ps.n_tensors; i++) {
        clae_plan_entry e;
        ck_assert_int_eq(clae_model_plan_entry(a, i, &e), CLAE_OK);
        if (!e.persistent) continue;
        int nd;
        size_t shape[2] = {1, 1};
        ck_assert_msg(clae_model_tensor_info(a, e.name, &nd, shape) == CLAE_OK, "%s", clae_last_error());
        const size_t n = shape[0] * (nd == 2 ? shape[1] : 1);
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        ck_assert(x && y);
        ck_assert_msg(clae_model_tensor_get(a, e.name, x, n) == CLAE_OK, "%s", clae_last_error());
        ck_assert_msg(clae_model_tensor_get(b, e.name, y, n) == CLAE_OK, "%s: %s", e.name, clae_last_error());
        for (size_t k = 0; k < n; k++) {
            const double d = fabs((double)x[k] - (double)y[k]);
            if (d > worst || isnan(d)) worst = d;
            if (exact)
                ck_assert_msg(memcmp(&x[k], &y[k], sizeof x[k]) == 0, "%s: %s[%zu] differs: %.9g against %.9g", what,
                              e.name, k, (double)x[k], (double)y[k]);
            else
                ck_assert_msg(d <= ATOL + RTOL * fabs((double)y[k]), "%s: %s[%zu] = %.9g against %.9g (|diff| %.3g "
                              "> %g + %g |b|)", what, e.name, k, (double)x[k], (double)y[k], d, ATOL, RTOL);
        }
        elements += n;
        free(x);
        free(y);
        compared++;
    }
    /* At least the two weights and two biases: not a vacuous loop. */
    ck_assert_msg(compared >= 4, "%s: only %d persistent tensors compared", what, compared);
    clae_model_destroy(a);
    clae_model_destroy(b);
    fprintf(stderr, "cli_parallel: %s: %d tensors, %zu elements, max |diff| %.3g%s\n", what, compared, elements, worst,
            exact ? " (bit for bit)" : "");
    return worst;
}

/* The single-device model of SPLIT_FLAGS on dev into path. */
static void train_single(const char *dev, const char *path)
{
    char dq[1100] = "", pq[1100] = "";
    test_append_quoted(dq, sizeof dq, data_path());
    test_append_quoted(pq, sizeof pq, path);
    run_result r = run_expect(0, "train --data %s " SPLIT_FLAGS " --device %s --out %s", dq, dev, pq);
    run_free(&r);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* ---- (a) --devices ------------------------------------------------------------------------------------------- */

/* `--devices first,second` against one device `first` with the same flags and batch. */
static void devices_case(const char *first, const char *second)
{
    char one[1100], split[1100], what[256], dq[1100] = "", sq[1100] = "";
    snprintf(one, sizeof one, "%s", test_tmp_path("one.st"));
    snprintf(split, sizeof split, "%s", test_tmp_path("split.st"));
    train_single(first, one);
    test_append_quoted(dq, sizeof dq, data_path());
    test_append_quoted(sq, sizeof sq, split);
    run_result r = run_expect(0, "train --data %s " SPLIT_FLAGS " --devices %s,%s --out %s --json", dq, first, second,
                              sq);
    /* The summary says the batch was split, and over which devices. */
    ck_assert_contains(r.out, "\"parts\":2");
    ck_assert_contains(r.out, "\"devices\":");
    run_free(&r);
    snprintf(what, sizeof what, "--devices %s,%s vs --device %s", first, second, first);
    compare_models(split, one, CLAE_MODEL_INFERENCE, 0, what);
}

START_TEST(devices_ref_ref) { devices_case("cpu-ref", "cpu-ref"); }
END_TEST

START_TEST(devices_ocl_ref) { devices_case(test_device(), "cpu-ref"); }
END_TEST

/* ---- (b) --mpi ----------------------------------------------------------------------------------------------- */

/* Opens dir and asserts that it holds exactly the one file `only`. */
static void assert_only_file(const char *dir, const char *only)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int files = 0, seen = 0;
    const struct dirent *e;
    char names[1024] = "";
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        files++;
        seen += strcmp(e->d_name, only) == 0;
        strncat(names, " ", sizeof names - strlen(names) - 1);
        strncat(names, e->d_name, sizeof names - strlen(names) - 1);
    }
    closedir(d);
    ck_assert_msg(files == 1 && seen == 1, "%s holds%s; expected only %s", dir, names, only);
}

/* mpirun -np 2 on dev: the model one device trains; only rank 0 writes (into a directory of its own, which must
 * hold the model and nothing else) and prints (one summary). json: the summary as JSON, else as text. */
static void mpi_case(const char *dev, int json)
{
    char one[1100], dir[1100], out[1200], what[256], dq[1100] = "", oq[1300] = "";
    snprintf(one, sizeof one, "%s", test_tmp_path("one.st"));
    snprintf(dir, sizeof dir, "%s", test_tmp_path("mpi-out"));
    ck_assert_msg(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    snprintf(out, sizeof out, "%s/m.st", dir);
    train_single(dev, one);
    test_append_quoted(dq, sizeof dq, data_path());
    test_append_quoted(oq, sizeof oq, out);
    run_result r = mpi_expect(0, 2, "train --data %s " SPLIT_FLAGS " --device %s --mpi --out %s%s", dq, dev, oq,
                              json ? " --json" : "");
    if (json) {
        /* One line, one object: rank 1 printed nothing. */
        ck_assert_msg(count(r.out, "\n") == 1 && r.out[0] == '{' && count(r.out, "\"ranks\":") == 1,
                      "expected one JSON summary, got:\n%s", r.out);
        ck_assert_contains(r.out, "\"ranks\":2");
        ck_assert_contains(r.out, "\"parts\":2");
        ck_assert_contains(r.out, "\"comm_seconds\":");
    } else {
        ck_assert_msg(count(r.out, "samples/s") == 1 && count(r.out, "ranks ") == 1, "expected one summary, got:\n%s",
                      r.out);
        ck_assert_contains(r.out, "ranks       2 (MPI");
    }
    run_free(&r);
    assert_only_file(dir, "m.st");
    snprintf(what, sizeof what, "mpirun -np 2 --mpi on %s vs one process", dev);
    compare_models(out, one, CLAE_MODEL_INFERENCE, 0, what);
}

START_TEST(mpi_ref)
{
    SKIP_WITHOUT_MPI("mpi_ref");
    mpi_case("cpu-ref", 0);
}
END_TEST

START_TEST(mpi_ocl)
{
    SKIP_WITHOUT_MPI("mpi_ocl");
    mpi_case(test_device(), 1);
}
END_TEST

/* ---- (c) MPI resume ------------------------------------------------------------------------------------------ */

/* Stopped after K steps with a checkpoint and resumed to the end, both under mpirun -np 2: the checkpoint (weights,
 * Adam's moments, position) and the model equal an uninterrupted mpirun -np 2 run's bit for bit. On cpu-ref, whose
 * every operation has one order: the OpenCL device's tile search may time its way to another GEMM between runs. */
START_TEST(mpi_resume)
{
    SKIP_WITHOUT_MPI("mpi_resume");
    enum { K = 3 };
    char ck[1100], out[1100], ref_ck[1100], ref_out[1100], dq[1100] = "";
    snprintf(ck, sizeof ck, "%s", test_tmp_path("run.ck"));
    snprintf(out, sizeof out, "%s", test_tmp_path("run.st"));
    snprintf(ref_ck, sizeof ref_ck, "%s", test_tmp_path("ref.ck"));
    snprintf(ref_out, sizeof ref_out, "%s", test_tmp_path("ref.st"));
    test_append_quoted(dq, sizeof dq, data_path());
    char ckq[1100] = "", outq[1100] = "", rckq[1100] = "", routq[1100] = "";
    test_append_quoted(ckq, sizeof ckq, ck);
    test_append_quoted(outq, sizeof outq, out);
    test_append_quoted(rckq, sizeof rckq, ref_ck);
    test_append_quoted(routq, sizeof routq, ref_out);

    run_result r = mpi_expect(0, 2, "train --data %s " SPLIT_FLAGS " --device cpu-ref --mpi --checkpoint %s --out %s",
                              dq, rckq, routq);
    run_free(&r);
    r = mpi_expect(0, 2, "train --data %s " SPLIT_FLAGS " --device cpu-ref --mpi --steps %d --checkpoint %s --json", dq,
                   K, ckq);
    ck_assert_contains(r.out, "\"steps\":3");
    run_free(&r);
    r = mpi_expect(0, 2, "train --data %s " SPLIT_FLAGS " --device cpu-ref --mpi --checkpoint %s --resume --out %s "
                   "--json", dq, ckq, outq);
    ck_assert_contains(r.out, "\"resumed\":true");
    ck_assert_contains(r.out, "\"steps\":10");
    run_free(&r);
    compare_models(ck, ref_ck, 0, 1, "mpirun -np 2 checkpoint after resume vs uninterrupted");
    compare_models(out, ref_out, CLAE_MODEL_INFERENCE, 1, "mpirun -np 2 model after resume vs uninterrupted");
}
END_TEST

/* ---- (d) refusals -------------------------------------------------------------------------------------------- */

START_TEST(refusals)
{
    char dq[1100] = "";
    test_append_quoted(dq, sizeof dq, data_path());
    /* Usage errors, before any device opens: exit 2, the reason named. */
    static const struct {
        const char *args, *says;
    } usage[] = {
        {"--devices cpu-ref", "name at least two devices"},
        {"--devices cpu-ref,", "an empty one"},
        /* --device before --devices was once overwritten silently by the list's first device. */
        {"--device cpu-ref --devices cpu-ref,cpu-ref", "either --device or --devices"},
        {"--devices cpu-ref,cpu-ref --device cpu-ref", "either --device or --devices"},
        {"--devices cpu-ref,cpu-ref --mpi", "--devices and --mpi do not combine"},
        {"--pretrain layerwise --devices cpu-ref,cpu-ref", "--pretrain runs on one device"},
        {"--pretrain layerwise --mpi", "--pretrain runs on one device"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        run_result r = run_expect(2, "train --data %s --limit 64 --batch 32 --epochs 1 --layers 784,16 %s", dq,
                                  usage[i].args);
        ck_assert_msg(strstr(r.err, usage[i].says), "%s: expected '%s' in:\n%s", usage[i].args, usage[i].says, r.err);
        ck_assert_msg(r.out[0] == '\0', "%s: printed a summary:\n%s", usage[i].args, r.out);
        run_free(&r);
    }
    /* Nets whose rows share a loss term: the library refuses to split their batches, and says which layer and why. */
    static const struct {
        const char *args, *says;
    } coupled[] = {
        {"--sparsity kl --activation sigmoid", "regularizer"},
        {"--wta-rate 10", "winner-take-all"},
    };
    for (size_t i = 0; i < sizeof coupled / sizeof coupled[0]; i++) {
        char args[2048];
        snprintf(args, sizeof args, "train --data %s --limit 64 --batch 32 --epochs 1 --layers 784,16 %s "
                 "--devices cpu-ref,cpu-ref -q", dq, coupled[i].args);
        run_result r = run_clae(args);
        ck_assert_msg(r.status != 0, "%s: exit 0\n%s", coupled[i].args, r.out);
        ck_assert_msg(strstr(r.err, "data-parallel training") && strstr(r.err, coupled[i].says),
                      "%s: expected the refusal to name data-parallel training and '%s' in:\n%s", coupled[i].args,
                      coupled[i].says, r.err);
        fprintf(stderr, "cli_parallel: %s --devices: exit %d: %s", coupled[i].args, r.status, r.err);
        run_free(&r);
    }
}
END_TEST

Suite *suite_cli_parallel(void)
{
    Suite *s = suite_create("cli_parallel");
    TCase *dv = tcase_create("devices");
    tcase_add_checked_fixture(dv, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(dv, 60);
    tcase_add_test(dv, devices_ref_ref);
    tcase_add_test(dv, devices_ocl_ref);
    suite_add_tcase(s, dv);

    TCase *mp = tcase_create("mpi");
    tcase_add_checked_fixture(mp, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(mp, 120);
    tcase_add_test(mp, mpi_ref);
    tcase_add_test(mp, mpi_ocl);
    tcase_add_test(mp, mpi_resume);
    suite_add_tcase(s, mp);

    TCase *rf = tcase_create("refusals");
    tcase_add_checked_fixture(rf, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(rf, 60);
    tcase_add_test(rf, refusals);
    suite_add_tcase(s, rf);
    return s;
}
