/* test_cli_compare.c — the cli_compare suite: `clae compare` and `clae bench` run as a user would,
 * their JSON and CSV checked field by field, and compare's batch order re-derived through the library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "runtime/runtime.h"
#include "test_util.h"

/* The tiny compare run of this suite: 640 rows at batch 256 is two full
 * batches and a short one, so step 4 starts the second epoch's shuffle. */
#define CMP_STEPS 5
#define CMP_LIMIT 640
#define CMP_ARGS "--steps 5 --limit 640 --layers 784,32 --quiet"

/* Five Adam steps move a weight by at most about lr = 1e-3 each, and the two
 * paths differ only in float summation order (CLBlast's float GEMM against
 * cpu-ref's double-accumulating loops): measured 4.6e-7 on PoCL. 1e-4 leaves
 * a 200x margin for other drivers, yet a tenth of one Adam step is far below
 * what a different batch, seed or row order gives (every weight a row touches
 * moves by ~1e-3 differently). */
#define DW_TOL 1e-4
/* The same rounding seen through the loss (sum over 784 features of ~0.7). */
#define LOSS_RTOL 1e-4

/* The kernel programs the library has: one per .cl file. */
static unsigned count_programs(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < clae_kernel_source_count; i++) {
        size_t len = strlen(clae_kernel_sources[i].name);
        n += len > 3 && strcmp(clae_kernel_sources[i].name + len - 3, ".cl") == 0;
    }
    return n;
}

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "key '%s' missing", key);
    return v;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = field(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "key '%s' is not a number", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = field(o, key);
    ck_assert_msg(cJSON_IsString(v), "key '%s' is not a string", key);
    return v->valuestring;
}

/* The final loss of CMP_STEPS steps of the suite's model on cpu-ref, taking
 * batches as `clae train` does (shuffle per epoch, short last batch, data-set
 * row ids, which key the noise when mask_noise > 0): what compare must report
 * for cpu-ref, bit for bit. */
static float ref_final_loss(float mask_noise)
{
    clae_dataset *ds = NULL;
    ck_assert_int_eq(clae_dataset_load_idx(test_data_path("train-images-idx3-ubyte.gz"), &ds), CLAE_OK);
    clae_dataset_truncate(ds, CMP_LIMIT);
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "784,32"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_RELU, CLAE_ACT_SIGMOID);
    if (mask_noise > 0) {
        c.noise = CLAE_NOISE_MASK;
        c.noise_level = mask_noise;
    }
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create(test_rt_ref(), &c, &m) == CLAE_OK, "%s", clae_last_error());
    /* compare fills masked inputs with the training columns' means, as train does. */
    ck_assert_msg(clae_model_fit_feature_stats(m, ds) == CLAE_OK, "%s", clae_last_error());
    size_t B = (size_t)c.batch, *order = malloc(ds->rows * sizeof *order);
    float *xb = malloc(B * ds->cols * sizeof *xb);
    uint32_t *ids = malloc(B * sizeof *ids);
    ck_assert(order && xb && ids);
    uint32_t epoch = 0;
    size_t pos = 0;
    float loss = 0.0f;
    clae_shuffle_order(ds->rows, c.seed, epoch, order);
    for (int s = 0; s < CMP_STEPS; s++) {
        if (pos >= ds->rows) {
            clae_shuffle_order(ds->rows, c.seed, ++epoch, order);
            pos = 0;
        }
        size_t n = ds->rows - pos < B ? ds->rows - pos : B;
        for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)order[pos + k];
        ck_assert_int_eq(clae_dataset_gather(ds, order + pos, n, xb), CLAE_OK);
        ck_assert_msg(clae_model_train_step_rows(m, xb, ids, n, &loss) == CLAE_OK, "%s", clae_model_error(m));
        pos += n;
    }
    free(order);
    free(xb);
    free(ids);
    clae_model_destroy(m);
    clae_dataset_free(ds);
    return loss;
}

/* One object of compare's JSON that ran: status ok, every figure present. */
static void check_ok_entry(const cJSON *e)
{
    ck_assert_str_eq(str(e, "status"), "ok");
    ck_assert(!cJSON_HasObjectItem(e, "error"));
    ck_assert_double_eq(num(e, "steps"), CMP_STEPS);
    ck_assert_double_eq(num(e, "timed_steps"), CMP_STEPS - 1); /* the warm-up step is left out */
    ck_assert_double_eq(num(e, "batch"), 256);
    ck_assert_str_eq(str(e, "variant"), "dense");
    ck_assert(num(e, "ms_per_step") > 0);
    ck_assert(num(e, "samples_per_sec") > 0);
    ck_assert(num(e, "build_cold_seconds") >= 0);
    ck_assert(num(e, "build_cached_seconds") >= 0);
    double loss = num(e, "final_loss");
    ck_assert_msg(isfinite(loss) && loss > 0, "final_loss %g", loss);
    ck_assert(num(e, "max_abs_dw") >= 0);
}

START_TEST(compare_json_against_reference)
{
    const float want_ref_loss = ref_final_loss(0.0f);
    const char *specs[2] = {"cpu", test_device()};
    int n_specs = strcmp(specs[0], specs[1]) == 0 ? 1 : 2;
    for (int k = 0; k < n_specs; k++) {
        char args[256];
        snprintf(args, sizeof args, "compare --devices %s " CMP_ARGS " --json", specs[k]);
        run_result r = run_clae(args);
        ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
        cJSON *j = cJSON_Parse(r.out);
        ck_assert_msg(cJSON_IsArray(j), "%s: not a JSON array:\n%s", args, r.out);
        ck_assert_int_eq(cJSON_GetArraySize(j), 2);
        const cJSON *ref = cJSON_GetArrayItem(j, 0), *dev = cJSON_GetArrayItem(j, 1);
        check_ok_entry(ref);
        check_ok_entry(dev);

        ck_assert_str_eq(str(ref, "id"), "cpu-ref");
        ck_assert(cJSON_IsTrue(field(ref, "reference")));
        const cJSON *layers = field(dev, "layers"); /* "784,32", the shorthand: an array, as in every --json */
        ck_assert(cJSON_IsArray(layers) && cJSON_GetArraySize(layers) == 3);
        ck_assert_double_eq(cJSON_GetArrayItem(layers, 0)->valuedouble, 784);
        ck_assert_double_eq(cJSON_GetArrayItem(layers, 1)->valuedouble, 32);
        ck_assert_double_eq(cJSON_GetArrayItem(layers, 2)->valuedouble, 784);
        ck_assert_double_eq(num(ref, "max_abs_dw"), 0);
        /* compare took the batches in train's order with the right row ids. */
        ck_assert_msg((float)num(ref, "final_loss") == want_ref_loss, "cpu-ref final loss %.9g, library %.9g",
                      num(ref, "final_loss"), (double)want_ref_loss);

        ck_assert_str_eq(str(dev, "spec"), specs[k]);
        ck_assert(cJSON_IsFalse(field(dev, "reference")));
        ck_assert_str_ne(str(dev, "type"), "cpu-ref");
        ck_assert(strlen(str(dev, "name")) > 0 && strlen(str(dev, "driver_version")) > 0);
        /* An OpenCL device compiles the model's programs cold and loads them cached: the same
         * programs, and fewer than all, since the runtime builds a program on its first use. */
        ck_assert(num(dev, "programs_built_cold") > 0);
        ck_assert(num(dev, "programs_built_cold") < count_programs());
        ck_assert_double_eq(num(dev, "programs_from_cache"), num(dev, "programs_built_cold"));
        ck_assert(num(dev, "build_cold_seconds") > 0 && num(dev, "build_cached_seconds") > 0);
        double dw = num(dev, "max_abs_dw");
        ck_assert_msg(dw <= DW_TOL, "%s: max |dW| %g above %g", specs[k], dw, DW_TOL);
        double lr = num(ref, "final_loss"), ld = num(dev, "final_loss");
        ck_assert_msg(fabs(ld - lr) <= LOSS_RTOL * fabs(lr), "final losses %.9g (cpu-ref) and %.9g (%s)", lr, ld,
                      specs[k]);
        cJSON_Delete(j);
        run_free(&r);
    }
}
END_TEST

/* Fields of one CSV line, honouring RFC 4180 quotes (PoCL's platform
 * version holds commas). Returns the count; field i starts at start[i]
 * (quotes not stripped, which these checks do not need). */
static int csv_fields(const char *line, const char **start, int cap)
{
    int n = 0, quoted = 0;
    if (cap > 0) start[n] = line;
    n = 1;
    for (const char *p = line; *p && *p != '\n'; p++) {
        if (*p == '"') quoted = !quoted;
        else if (*p == ',' && !quoted) {
            if (n < cap) start[n] = p + 1;
            n++;
        }
    }
    return n;
}

static int field_is(const char *f, const char *want)
{
    size_t n = strlen(want);
    return strncmp(f, want, n) == 0 && (f[n] == ',' || f[n] == '\n' || f[n] == '\0');
}

/* With mask noise, so the cpu-ref loss also proves the rows' data-set ids
 * reach the model (the noise is keyed by them). */
START_TEST(compare_csv)
{
    const float want_ref_loss = ref_final_loss(0.25f);
    char args[256];
    snprintf(args, sizeof args, "compare --devices %s " CMP_ARGS " --noise mask:0.25 --csv", test_device());
    run_result r = run_clae(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    const char *line[4] = {0};
    int lines = 0;
    for (const char *p = r.out; *p && lines < 4; lines++) {
        line[lines] = p;
        const char *nl = strchr(p, '\n');
        ck_assert_msg(nl != NULL, "unterminated line in:\n%s", r.out);
        p = nl + 1;
    }
    ck_assert_msg(lines == 3, "expected a header and 2 rows:\n%s", r.out);
    ck_assert_msg(strncmp(line[0], "spec,id,name,", 13) == 0, "header: %s", line[0]);
    const char *head[64], *f[64];
    int nh = csv_fields(line[0], head, 64), status = -1, dw = -1, loss = -1;
    for (int i = 0; i < nh && i < 64; i++) {
        if (field_is(head[i], "status")) status = i;
        if (field_is(head[i], "max_abs_dw")) dw = i;
        if (field_is(head[i], "final_loss")) loss = i;
    }
    ck_assert(status >= 0 && dw >= 0 && loss >= 0);
    for (int k = 1; k < 3; k++) {
        ck_assert_int_eq(csv_fields(line[k], f, 64), nh);
        ck_assert_msg(field_is(f[status], "ok"), "row %d not ok: %s", k, line[k]);
        ck_assert(atof(f[dw]) <= DW_TOL);
    }
    ck_assert_msg(field_is(line[1], "cpu-ref"), "first row is not cpu-ref: %s", line[1]);
    csv_fields(line[1], f, 64);
    ck_assert_msg(strtof(f[loss], NULL) == want_ref_loss, "cpu-ref final loss %.9g, library %.9g",
                  (double)strtof(f[loss], NULL), (double)want_ref_loss);
    run_free(&r);
}
END_TEST

START_TEST(compare_failed_device_listed)
{
    run_result r = run_clae("compare --devices cpu,no-such-device --steps 2 --limit 256 --layers 784,32 --quiet --json");
    ck_assert_msg(r.status == 1, "exit %d, want 1: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsArray(j), "not a JSON array:\n%s", r.out);
    ck_assert_int_eq(cJSON_GetArraySize(j), 3);
    int ok = 0;
    const cJSON *bad = NULL, *e;
    cJSON_ArrayForEach(e, j)
    {
        if (strcmp(str(e, "status"), "ok") == 0) {
            ok++;
            ck_assert(cJSON_IsNumber(field(e, "final_loss")));
        } else {
            bad = e;
        }
    }
    ck_assert_int_eq(ok, 2); /* cpu-ref and PoCL ran all the same */
    ck_assert_ptr_nonnull(bad);
    ck_assert_str_eq(str(bad, "status"), "failed");
    ck_assert_str_eq(str(bad, "spec"), "no-such-device");
    ck_assert_str_eq(str(bad, "stage"), "open");
    /* The library's own message, which lists the devices that exist. */
    ck_assert_contains(str(bad, "error"), "unknown device 'no-such-device'");
    ck_assert_contains(str(bad, "error"), "cpu-ref");
    ck_assert(cJSON_IsNull(field(bad, "ms_per_step")));
    ck_assert(cJSON_IsNull(field(bad, "max_abs_dw")));
    cJSON_Delete(j);
    run_free(&r);

    /* The table says the same, with the message under it. */
    r = run_clae("compare --devices no-such-device,cpu --steps 2 --limit 256 --layers 784,32 --quiet");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.out, "MAX|dW|");
    ck_assert_contains(r.out, "FAILED (open)");
    ck_assert_contains(r.out, "no-such-device: unknown device 'no-such-device'");
    ck_assert_contains(r.out, "cpu-ref ");
    ck_assert_contains(r.out, "leave out the first step");
    run_free(&r);

    /* cpu-ref alone compares nothing: exit 1 with the reason. */
    r = run_clae("compare --devices cpu-ref --steps 1 --limit 64 --layers 784,32 --quiet --json");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "nothing to compare");
    run_free(&r);
}
END_TEST

START_TEST(bench_json)
{
    static const struct {
        const char *name, *variant;
    } want[] = {
        {"dense", "dense"},
        {"sparse-kl", "sparse kl"},
        {"k-sparse", "k-sparse k=25"},
        {"wta", "winner-take-all 5%"},
        {"denoising", "denoising mask 0.25"},
        {"contractive", "contractive lambda=0.1"},
        {"conv", "convolutional"},
        {"wide", "dense"},
        {"infer", "dense"},
    };
    const int n_want = (int)(sizeof want / sizeof want[0]);
    run_result r = run_clae("bench --device cpu-ref --steps 2 --batch 32 --json --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsObject(j), "not a JSON object:\n%s", r.out);
    ck_assert_str_eq(str(j, "device_id"), "cpu-ref");
    ck_assert_double_eq(num(j, "steps"), 2);
    ck_assert_double_eq(num(j, "timed_steps"), 1);
    ck_assert_double_eq(num(j, "batch"), 32);
    /* layers is the same array of widths as in every other --json. */
    const cJSON *layers = field(j, "layers");
    ck_assert(cJSON_IsArray(layers));
    static const int widths[] = {784, 256, 64, 256, 784};
    ck_assert_int_eq(cJSON_GetArraySize(layers), 5);
    for (int i = 0; i < 5; i++) ck_assert_double_eq(cJSON_GetArrayItem(layers, i)->valuedouble, widths[i]);
    const cJSON *w = field(j, "workloads");
    ck_assert(cJSON_IsArray(w));
    ck_assert_int_eq(cJSON_GetArraySize(w), n_want);
    for (int i = 0; i < n_want; i++) {
        const cJSON *e = cJSON_GetArrayItem(w, i);
        ck_assert_str_eq(str(e, "name"), want[i].name);
        ck_assert_contains(str(e, "variant"), want[i].variant);
        ck_assert_str_eq(str(e, "status"), "ok");
        ck_assert_msg(num(e, "samples_per_sec") > 0, "%s: samples_per_sec", want[i].name);
        ck_assert(num(e, "ms_per_step") > 0);
        const int infer = strcmp(want[i].name, "infer") == 0;
        ck_assert_str_eq(str(e, "mode"), infer ? "infer" : "train");
        /* Inference trains nothing, so it has no loss to report. */
        if (infer) ck_assert(cJSON_IsNull(field(e, "final_loss")));
        else ck_assert(isfinite(num(e, "final_loss")));
        /* Each workload names its own widths: the --layers ones, wide's, none for conv. */
        const cJSON *wl = field(e, "layers");
        if (strcmp(want[i].name, "conv") == 0) {
            ck_assert(cJSON_IsNull(wl));
        } else {
            const int wide = strcmp(want[i].name, "wide") == 0;
            static const int wide_widths[] = {784, 2048, 512, 2048, 784};
            ck_assert_int_eq(cJSON_GetArraySize(wl), 5);
            for (int k = 0; k < 5; k++)
                ck_assert_double_eq(cJSON_GetArrayItem(wl, k)->valuedouble, wide ? wide_widths[k] : widths[k]);
        }
    }
    cJSON_Delete(j);
    run_free(&r);

    /* --only runs one workload; an unknown name is a usage error naming the choices. */
    r = run_clae("bench --device cpu-ref --steps 2 --batch 8 --only conv --json --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    j = cJSON_Parse(r.out);
    ck_assert_int_eq(cJSON_GetArraySize(field(j, "workloads")), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(field(j, "workloads"), 0), "name"), "conv");
    cJSON_Delete(j);
    run_free(&r);
    r = run_clae("bench --device cpu-ref --only nope");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "no such workload");
    run_free(&r);

    /* Inference alone on the test device: per-call figures that agree with each other, on the
     * --layers shape, which the top level reports too. */
    r = run_clae(with_path("bench --device %s --only infer --steps 4 --batch 16 --layers 784,32 --json --quiet",
                           test_device()));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    j = cJSON_Parse(r.out);
    ck_assert_msg(cJSON_IsObject(j), "not a JSON object:\n%s", r.out);
    ck_assert_double_eq(num(j, "timed_steps"), 3);
    static const int narrow[] = {784, 32, 784};
    ck_assert_int_eq(cJSON_GetArraySize(field(j, "layers")), 3);
    ck_assert_int_eq(cJSON_GetArraySize(field(j, "workloads")), 1);
    const cJSON *inf = cJSON_GetArrayItem(field(j, "workloads"), 0);
    ck_assert_str_eq(str(inf, "name"), "infer");
    ck_assert_str_eq(str(inf, "mode"), "infer");
    ck_assert_int_eq(cJSON_GetArraySize(field(inf, "layers")), 3);
    for (int k = 0; k < 3; k++) {
        ck_assert_double_eq(cJSON_GetArrayItem(field(j, "layers"), k)->valuedouble, narrow[k]);
        ck_assert_double_eq(cJSON_GetArrayItem(field(inf, "layers"), k)->valuedouble, narrow[k]);
    }
    const double ms = num(inf, "ms_per_call"), rps = num(inf, "rows_per_sec");
    ck_assert_msg(ms > 0 && rps > 0, "ms_per_call %g, rows_per_sec %g", ms, rps);
    ck_assert_double_eq(num(inf, "ms_per_step"), ms);
    ck_assert_double_eq(num(inf, "samples_per_sec"), rps);
    /* 16 rows a call: rows/s is 16 000 / (ms per call), up to the six printed digits. */
    ck_assert_msg(fabs(rps * ms / 16000.0 - 1.0) < 1e-4, "rows_per_sec %g against ms_per_call %g", rps, ms);
    cJSON_Delete(j);
    run_free(&r);

    /* The text table names the workload's own widths when they are not --layers's. */
    r = run_clae("bench --device cpu-ref --only wide --steps 1 --batch 2 --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_contains(r.out, "784,256,64,256,784"); /* the model line: --layers's default */
    ck_assert_contains(r.out, "dense 784,2048,512,2048,784");
    run_free(&r);

    /* On OpenCL the kernels line counts what the workload built or loaded, read after it ran
     * (programs are built on first use, so an open alone would have none to count). */
    r = run_clae("bench --device cpu --steps 2 --batch 8 --only dense --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    const char *line = strstr(r.out, "\nkernels ");
    ck_assert_msg(line != NULL, "no kernels line:\n%s", r.out);
    double secs = -1;
    unsigned cached = 0, total = 0;
    ck_assert_msg(sscanf(line, "\nkernels %lf s to build or load (%u of %u programs from the cache)", &secs, &cached,
                         &total) == 3,
                  "kernels line: %s", line);
    ck_assert(secs > 0);
    ck_assert_uint_gt(total, 0);
    ck_assert_uint_lt(total, count_programs());
    ck_assert_uint_le(cached, total);
    run_free(&r);

    r = run_clae("bench --device no-such-device --steps 1 --batch 8");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "no-such-device");
    run_free(&r);
}
END_TEST

START_TEST(help_and_usage)
{
    run_result r = run_clae("compare --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--devices");
    ck_assert_contains(r.out, "cpu-ref");
    ck_assert_contains(r.out, "cold");
    ck_assert_contains(r.out, "PoCL");
    ck_assert_contains(r.out, "warm-up");
    ck_assert_contains(r.out, "max_abs_dw");
    ck_assert_contains(r.out, "--layers"); /* the shared model flags */
    ck_assert_contains(r.out, "--noise");
    ck_assert_contains(r.out, "Exit status");
    run_result h = run_clae("help compare");
    ck_assert_int_eq(h.status, 0);
    ck_assert_str_eq(h.out, r.out);
    run_free(&h);
    run_free(&r);

    r = run_clae("bench --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--steps");
    ck_assert_contains(r.out, "--batch");
    ck_assert_contains(r.out, "contractive");
    ck_assert_contains(r.out, "GEMM");
    ck_assert_contains(r.out, "warm-up");
    ck_assert_contains(r.out, "--layers");
    ck_assert_contains(r.out, "784,2048,512,2048,784");
    ck_assert_contains(r.out, "clae_model_reconstruct");
    ck_assert_contains(r.out, "rows_per_sec");
    run_free(&r);

    static const char *const bad[] = {"compare --json --csv", "compare --steps 0", "compare --devices ''",
                                      "compare --bogus", "compare --optimizer nope", "bench --batch 0",
                                      "bench --layers 784,abc", "bench --layers 784,0,784",
                                      "bench --layers ''", "bench --arch 784,dense:32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run_clae(bad[i]);
        ck_assert_msg(r.status == 2, "%s: exit %d, want 2", bad[i], r.status);
        ck_assert_msg(r.err[0] != '\0', "%s: no message", bad[i]);
        run_free(&r);
    }

    r = run_clae(with_path("compare --devices cpu-ref --data %s", test_tmp_path("missing.idx")));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "missing.idx");
    run_free(&r);
}
END_TEST

Suite *suite_cli_compare(void)
{
    Suite *s = suite_create("cli_compare");
    TCase *tc = tcase_create("compare");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, help_and_usage);
    tcase_add_test(tc, compare_json_against_reference);
    tcase_add_test(tc, compare_csv);
    tcase_add_test(tc, compare_failed_device_listed);
    tcase_add_test(tc, bench_json);
    suite_add_tcase(s, tc);
    return s;
}
