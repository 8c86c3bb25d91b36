/* test_util.c — shared fixtures for the Check suite (see test_util.h).
 * Runtimes are opened lazily once and closed at exit. */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static clae_runtime *rt_ref;
static clae_runtime *rt_cl;

static void close_runtimes(void)
{
    clae_runtime_close(rt_cl);
    clae_runtime_close(rt_ref);
    rt_cl = rt_ref = NULL;
}

static void register_close(void)
{
    static int registered;
    if (!registered) {
        atexit(close_runtimes);
        registered = 1;
    }
}

clae_runtime *test_rt_ref(void)
{
    if (!rt_ref) {
        clae_status s = clae_runtime_open("cpu-ref", &rt_ref);
        ck_assert_msg(s == CLAE_OK, "cannot open cpu-ref: %s", clae_last_error());
        register_close();
    }
    return rt_ref;
}

clae_runtime *test_rt_cl(void)
{
    if (!rt_cl) {
        const char *spec = getenv("CLAE_TEST_DEVICE");
        if (!spec || !*spec) spec = "cpu";
        clae_status s = clae_runtime_open(spec, &rt_cl);
        ck_assert_msg(s == CLAE_OK, "cannot open OpenCL device '%s': %s", spec, clae_last_error());
        register_close();
    }
    return rt_cl;
}

clae_runtime *test_rt(int i) { return i == 0 ? test_rt_ref() : test_rt_cl(); }

void test_fill_uniform(float *x, size_t n, uint32_t seed, float lo, float hi)
{
    const uint32_t key[2] = {seed, 0x7e57u};
    for (size_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), 0, 0x7e57u}, out[4];
        clae_philox4x32_10(ctr, key, out);
        for (size_t j = 0; j < 4 && i + j < n; j++) {
            float u = (float)(out[j] >> 8) * 0x1p-24f;
            x[i + j] = lo + (hi - lo) * u;
        }
    }
}

long test_first_mismatch(const float *a, const float *ref, size_t n, double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(ref[i])) {
            if (isnan(a[i]) && isnan(ref[i])) continue;
            return (long)i;
        }
        if (fabs((double)a[i] - (double)ref[i]) > atol + rtol * fabs((double)ref[i])) return (long)i;
    }
    return -1;
}

const char *test_data_path(const char *file)
{
    static char buf[4][1024];
    static int slot;
    const char *dir = getenv("CLAE_DATA_DIR");
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, file);
    return buf[slot];
}

const char *test_build_dir(void)
{
    const char *b = getenv("CLAE_BUILD");
    return (b && *b) ? b : "build";
}

static float loss_at(clae_model *m, const float *x, size_t rows)
{
    float L = 0.0f;
    ck_assert_msg(clae_model_loss(m, x, rows, &L) == CLAE_OK, "%s", clae_model_error(m));
    return L;
}

/* Sets W (which = 0) or b (which = 1) of layer l from the host copy. */
static void put_param(clae_model *m, int l, int which, const float *W, const float *b)
{
    ck_assert_msg(clae_model_set_layer(m, l, which == 0 ? W : NULL, which == 1 ? b : NULL) == CLAE_OK, "%s",
                  clae_last_error());
}

clae_model *test_model_arch(clae_runtime *rt, const char *spec, clae_loss loss, int batch, uint64_t seed, float lr,
                            unsigned flags)
{
    clae_model_config c;
    clae_model_config_default(&c);
    c.loss = loss;
    c.batch = batch;
    c.seed = seed;
    if (lr > 0.0f) c.lr = lr;
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create_arch(rt, &c, spec, flags, &m) == CLAE_OK, "%s: %s", spec, clae_last_error());
    return m;
}

test_gradient_report test_gradient_check(clae_model *m, const float *x, size_t rows, float h)
{
    clae_model_config c;
    clae_model_get_config(m, &c);
    test_gradient_report r = {0, 0, 0.0};
    for (int l = 0; l < c.n_layers; l++) {
        /* Sizes whatever the layer's kind; a tied layer's weight is checked at its owner. */
        size_t nw, no;
        ck_assert_int_eq(clae_model_layer_sizes(m, l, &nw, &no), CLAE_OK);
        char name[48];
        int ndim;
        size_t shape[2];
        snprintf(name, sizeof name, "layers.%d.weight", l);
        if (clae_model_tensor_info(m, name, &ndim, shape) != CLAE_OK) nw = 0;
        float *W = malloc((nw ? nw : 1) * sizeof *W), *dW = malloc((nw ? nw : 1) * sizeof *dW);
        float *b = malloc(no * sizeof *b), *db = malloc(no * sizeof *db);
        ck_assert_int_eq(clae_model_get_layer(m, l, nw ? W : NULL, b), CLAE_OK);
        ck_assert_msg(clae_model_gradients(m, x, rows, l, nw ? dW : NULL, db) == CLAE_OK, "%s", clae_model_error(m));
        for (int which = 0; which < 2; which++) {
            float *theta = which == 0 ? W : b, *grad = which == 0 ? dW : db;
            size_t n = which == 0 ? nw : no;
            for (size_t i = 0; i < n; i++) {
                /* Central differences at h and h/2 agree to O(h²) where the loss is
                 * smooth on [−h, h]; a kink inside (relu, a selection swap) makes them differ. */
                float saved = theta[i], L[4];
                const float steps[4] = {h, -h, h / 2, -h / 2};
                for (int k = 0; k < 4; k++) {
                    theta[i] = saved + steps[k];
                    put_param(m, l, which, W, b);
                    L[k] = loss_at(m, x, rows);
                }
                theta[i] = saved;
                put_param(m, l, which, W, b);
                double d_full = ((double)L[0] - L[1]) / (2.0 * h), d_half = ((double)L[2] - L[3]) / (double)h;
                double num = d_half, ana = grad[i];
                if (fabs(d_full - d_half) > 1e-3 * (fabs(d_full) + fabs(d_half)) + 4e-5) {
                    r.skipped++;
                    continue;
                }
                r.checked++;
                double rel = fabs(ana - num) / (fabs(ana) + fabs(num) + 1e-2);
                if (rel > r.worst) r.worst = rel;
                ck_assert_msg(rel <= 5e-3, "layer %d %s[%zu]: analytic %.6g numeric %.6g", l, which == 0 ? "W" : "b", i,
                              ana, num);
            }
        }
        free(W);
        free(dW);
        free(b);
        free(db);
    }
    ck_assert_msg(r.skipped * 10 < r.checked, "skipped %d of %d coordinates at kinks", r.skipped,
                  r.checked + r.skipped);
    return r;
}

static char tmpdir[256];

void test_tmp_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clae-test-XXXXXX", (base && *base) ? base : "/tmp");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp %s failed", tmpdir);
}

void test_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[2048];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            test_rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void test_tmp_teardown(void) { test_rm_rf(tmpdir); }

const char *test_tmp_path(const char *name)
{
    static char p[8][512];
    static int slot;
    slot = (slot + 1) % 8;
    snprintf(p[slot], sizeof p[slot], "%s/%s", tmpdir, name);
    return p[slot];
}

/* Appends s to buf in single quotes, so paths with spaces survive the shell. */
void test_append_quoted(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < size) buf[n++] = '\'';
    for (; *s && n + 5 < size; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    if (n + 1 < size) buf[n++] = '\'';
    buf[n] = '\0';
}

char *test_slurp_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            s = realloc(s, cap);
            ck_assert_ptr_nonnull(s);
        }
    }
    fclose(f);
    s[len] = '\0';
    return s;
}

void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs `clae ARGS` (ARGS already shell-quoted where needed) with stdin empty and
 * stdout, stderr captured separately, inheriting the environment (CLAE_CACHE_DIR). */
run_result run_clae(const char *args) { return run_clae_after("", args); }

run_result run_clae_after(const char *prefix, const char *args)
{
    char bin[1024], cmd[8192] = "";
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    snprintf(cmd, sizeof cmd, "%s", prefix);
    test_append_quoted(cmd, sizeof cmd, bin);
    strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, args, sizeof cmd - strlen(cmd) - 1);
    strncat(cmd, " </dev/null >", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, test_tmp_path("stdout"));
    strncat(cmd, " 2>", sizeof cmd - strlen(cmd) - 1);
    test_append_quoted(cmd, sizeof cmd, test_tmp_path("stderr"));
    ck_assert_uint_lt(strlen(cmd), sizeof cmd - 1);
    fflush(NULL);
    int w = system(cmd);
    ck_assert_msg(w != -1, "system() failed for %s", cmd);
    run_result r;
    r.status = WIFEXITED(w) ? WEXITSTATUS(w) : -1;
    r.out = test_slurp_text(test_tmp_path("stdout"));
    r.err = test_slurp_text(test_tmp_path("stderr"));
    return r;
}

/* "args" with one path spliced in, quoted: fmt holds one %s. */
const char *with_path(const char *fmt, const char *path)
{
    static char buf[4096];
    char q[2048] = "";
    test_append_quoted(q, sizeof q, path);
    snprintf(buf, sizeof buf, fmt, q);
    return buf;
}

run_result run_expect(int status, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    ck_assert_msg(n > 0 && (size_t)n < sizeof args, "command line too long");
    run_result r = run_clae(args);
    ck_assert_msg(r.status == status, "clae %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", args, r.status,
                  status, r.out, r.err);
    return r;
}

const char *q(const char *name)
{
    static char buf[4][1100];
    static int slot;
    slot = (slot + 1) % 4;
    buf[slot][0] = '\0';
    test_append_quoted(buf[slot], sizeof buf[slot], test_tmp_path(name));
    return buf[slot];
}

double test_mean_image_mse(const clae_dataset *train, const clae_dataset *test)
{
    const size_t D = train->cols;
    double *mean = calloc(D, sizeof *mean), sse = 0.0;
    ck_assert_ptr_nonnull(mean);
    for (size_t r = 0; r < train->rows; r++)
        for (size_t c = 0; c < D; c++) mean[c] += train->x[r * D + c];
    for (size_t c = 0; c < D; c++) mean[c] /= (double)train->rows;
    for (size_t r = 0; r < test->rows; r++)
        for (size_t c = 0; c < D; c++) {
            double d = test->x[r * D + c] - mean[c];
            sse += d * d;
        }
    free(mean);
    return sse / (double)(test->rows * D);
}

const char *test_device(void)
{
    const char *d = getenv("CLAE_TEST_DEVICE");
    return (d && *d) ? d : "cpu";
}
