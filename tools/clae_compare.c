/* clae_compare.c — `clae compare`: one model, seed and batch sequence trained on several devices, checked
 * against cpu-ref, timed per step. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_steps.h"

#define REF_SPEC "cpu-ref"

const char cli_compare_help[] =
    "usage: clae compare [--devices all|SPEC,...] [--steps N] [--data PATH] [--limit N]\n"
    "                    [model flags] [--json | --csv] [--quiet]\n"
    "\n"
    "Trains one model (same seed, same initial weights) on the same batches, in\n"
    "'clae train' order, on each chosen device and on cpu-ref, the reference (always\n"
    "run, first). Columns: build time of the kernel programs the model uses (the\n"
    "runtime builds each on first use; read after one step of a fresh model on a fresh\n"
    "runtime) cold (clae's cache off; a driver cache such as PoCL's may still make it\n"
    "fast) and cached (the cache on, repeated if it had to fill the cache); then a\n"
    "third runtime trains: ms/step and samples/s (first step left out as\n"
    "warm-up when N > 1); the last step's loss; MAX|dW|, the largest |W - W_ref| over\n"
    "all weights and biases against cpu-ref; status. Failures are listed with the\n"
    "library's message and the other devices still run.\n"
    "\n"
    "  --devices LIST   'all' (default: every device of 'clae devices') or specs\n"
    "                   (P:D, type word, name part) separated by commas\n"
    "  --steps N        training steps per device (default 20)\n"
    "  --data PATH      IDX, CSV or NPY rows (default the Fashion-MNIST training file\n"
    "                   in $CLAE_DATA_DIR or " CLI_DEFAULT_DATA_DIR ")\n"
    "  --limit N        use only the first N rows\n"
    "  --json           a JSON array, one object per device (null: not measured),\n"
    "                   with the CSV's fields and layers (an array of widths)\n"
    "  --csv            a header line, then one line per device\n"
    "                   Fields: spec id name type platform platform_version\n"
    "                   driver_version reference status stage error\n"
    "                   build_cold_seconds programs_built_cold build_cached_seconds\n"
    "                   programs_from_cache steps timed_steps batch variant\n"
    "                   ms_per_step samples_per_sec final_loss max_abs_dw\n"
    "  --quiet, -q      no progress lines on stderr\n"
    "\n"
    "Model flags (default the reference model, batch 256):\n"
    CLI_MODEL_FLAGS_HELP
    "\n"
    "Exit status: 0 when cpu-ref and at least one other device ran and none failed;\n"
    "1 when any device failed or no device besides cpu-ref was chosen; 2 usage.\n";

/* Adds a string, or null when the device was never opened. */
static int add_str(cJSON *o, const char *key, int have, const char *v)
{
    return have ? cJSON_AddStringToObject(o, key, v) != NULL : cJSON_AddNullToObject(o, key) != NULL;
}

typedef struct cmp_row {
    char spec[128];
    int have_dev;
    clae_device_info dev;
    int reference; /* the cpu-ref row */
    int failed;
    char stage[32]; /* "open", "create", "step 3", ... */
    char error[2048];
    int have_cold, have_cached;
    double cold_s, cached_s;
    unsigned cold_built, cached_from_cache;
    int duplicate; /* names a device an earlier row ran: dropped */
    int trained;   /* every step ran */
    cli_step_stats st;
    int have_dw;
    double max_dw;
} cmp_row;

typedef struct cmp_opts {
    const char *devices; /* NULL or "all" */
    long steps, limit;
    char data[1024];
    int json, csv, quiet;
    cli_model_opts model;
    clae_model_config cfg;
} cmp_opts;

static int parse_compare_args(int argc, char **argv, cmp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->steps = CLI_STEPS_DEFAULT;
    cli_default_data_path(CLI_DEFAULT_TRAIN_FILE, o->data, sizeof o->data);
    cli_model_opts_init(&o->model);
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_compare_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--devices")) {
            if (a.value && !*a.value) cli_bad_value(&a, "expected 'all' or a comma-separated list of device specs");
            o->devices = a.value;
        } else if (cli_opt(&a, "--steps")) {
            if (a.value) cli_long(&a, 1, CLI_STEPS_MAX, &o->steps);
        } else if (cli_opt(&a, "--data")) {
            if (a.value) snprintf(o->data, sizeof o->data, "%s", a.value);
        } else if (cli_opt(&a, "--limit")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->limit);
        } else if (cli_model_opt(&a, &o->model)) {
            /* matched a model flag */
        } else if (cli_flag(&a, "--json")) {
            o->json = 1;
        } else if (cli_flag(&a, "--csv")) {
            o->csv = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (o->json && o->csv) {
        fprintf(stderr, "clae compare: --json and --csv exclude each other\n");
        return CLI_EXIT_USAGE;
    }
    int rc = cli_model_opts_finish("compare", &o->model);
    if (rc >= 0) return rc;
    o->cfg = o->model.cfg;
    return -1;
}

static int is_ref_spec(const char *s)
{
    const char *r = REF_SPEC;
    for (; *s && *r; s++, r++)
        if (tolower((unsigned char)*s) != *r) return 0;
    return *s == '\0' && *r == '\0';
}

/* A growable list of rows. */
typedef struct row_list {
    cmp_row *rows;
    size_t n, cap;
} row_list;

/* Appends a row for spec (cut to the row's buffer); -1 out of memory. */
static int add_row(row_list *l, const char *spec, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        cmp_row *grown = realloc(l->rows, cap * sizeof *grown);
        if (!grown) return -1;
        l->rows = grown;
        l->cap = cap;
    }
    cmp_row *r = &l->rows[l->n++];
    memset(r, 0, sizeof *r);
    if (len >= sizeof r->spec) len = sizeof r->spec - 1;
    memcpy(r->spec, spec, len);
    r->spec[len] = '\0';
    return 0;
}

/* The rows to run: cpu-ref first, then each spec of the list (or every device
 * for "all"), without repeating cpu-ref. Returns 0, or -1 after printing why
 * (out of memory, or the device list failed). */
static int plan_rows(const char *devices, row_list *l)
{
    memset(l, 0, sizeof *l);
    if (add_row(l, REF_SPEC, strlen(REF_SPEC)) != 0) goto nomem;
    l->rows[0].reference = 1;
    if (!devices || strcmp(devices, "all") == 0) {
        clae_device_info *list = NULL;
        size_t count = 0;
        if (clae_devices(&list, &count) != CLAE_OK) {
            free(l->rows);
            cli_fail_lib();
            return -1;
        }
        for (size_t k = 0; k < count; k++) {
            if (list[k].type == CLAE_DEVICE_CPU_REF) continue;
            if (add_row(l, list[k].id, strlen(list[k].id)) != 0) {
                clae_free(list);
                goto nomem;
            }
        }
        clae_free(list);
        return 0;
    }
    for (const char *p = devices; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && add_row(l, p, len) != 0) goto nomem;
        /* cpu-ref is the first row already. */
        if (len > 0 && is_ref_spec(l->rows[l->n - 1].spec)) l->n--;
        p += comma ? len + 1 : len;
    }
    return 0;
nomem:
    free(l->rows);
    fprintf(stderr, "clae compare: out of memory\n");
    return -1;
}

static void row_fail(cmp_row *r, const char *stage, const char *msg)
{
    r->failed = 1;
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    cli_copy_message(r->error, sizeof r->error, msg);
}

/* Opens spec with clae's program cache off (for the runtime's whole life: the runtime reads the
 * setting at open). The previous CLAE_CACHE value is restored, so a user's own setting stands. */
static clae_status open_cold(const char *spec, clae_runtime **rt)
{
    const char *prev = getenv("CLAE_CACHE");
    char *saved = prev ? strdup(prev) : NULL;
    setenv("CLAE_CACHE", "off", 1);
    clae_status st = clae_runtime_open(spec, rt);
    if (saved) {
        setenv("CLAE_CACHE", saved, 1);
        free(saved);
    } else {
        unsetenv("CLAE_CACHE");
    }
    return st;
}

/* The largest |W − W_ref| over every layer's weights and biases. */
static int max_weight_diff(clae_model *m, const clae_model_config *c, float *const *ref_w, float *const *ref_b,
                           double *out)
{
    double worst = 0.0;
    for (int l = 0; l < c->n_layers; l++) {
        size_t nw, nb;
        if (clae_model_layer_sizes(m, l, &nw, &nb) != CLAE_OK) return -1;
        float *w = malloc(nw * sizeof *w), *b = malloc(nb * sizeof *b);
        if (!w || !b || clae_model_get_layer(m, l, w, b) != CLAE_OK) {
            free(w);
            free(b);
            return -1;
        }
        for (size_t i = 0; i < nw; i++) {
            double d = fabs((double)w[i] - (double)ref_w[l][i]);
            if (isnan(d) || d > worst) worst = d; /* a NaN stays the worst: nothing is > NaN */
        }
        for (size_t i = 0; i < nb; i++) {
            double d = fabs((double)b[i] - (double)ref_b[l][i]);
            if (isnan(d) || d > worst) worst = d;
        }
        free(w);
        free(b);
    }
    *out = worst;
    return 0;
}

/* Keeps cpu-ref's weights after its last step, for every other device to be
 * measured against. */
static int keep_weights(clae_model *m, const clae_model_config *c, float **ref_w, float **ref_b)
{
    for (int l = 0; l < c->n_layers; l++) {
        size_t nw, nb;
        if (clae_model_layer_sizes(m, l, &nw, &nb) != CLAE_OK) return -1;
        ref_w[l] = malloc(nw * sizeof **ref_w);
        ref_b[l] = malloc(nb * sizeof **ref_b);
        if (!ref_w[l] || !ref_b[l] || clae_model_get_layer(m, l, ref_w[l], ref_b[l]) != CLAE_OK) return -1;
    }
    return 0;
}

/* The model of the comparison on rt: created, fitted as clae train does (denoising fills from the
 * training columns' statistics); on failure NULL with the row failed at stage "create". */
static clae_model *create_model(const cmp_opts *o, const clae_dataset *ds, clae_runtime *rt, cmp_row *r)
{
    clae_model *m = NULL;
    if (clae_model_create_arch(rt, &o->cfg, o->model.spec, 0, &m) != CLAE_OK ||
        clae_model_fit_feature_stats(m, ds) != CLAE_OK) {
        row_fail(r, "create", clae_last_error());
        clae_model_destroy(m);
        return NULL;
    }
    return m;
}

/* The build figures of rt after a fresh model ran one step on it: the runtime builds (or loads)
 * each program when a kernel of it is first needed, so only a run shows what this model costs.
 * One step reaches every kernel a step uses. 0, or -1 with the row failed. */
static int build_figures(const cmp_opts *o, const clae_dataset *ds, clae_runtime *rt, cmp_row *r,
                         clae_runtime_stats *rs)
{
    clae_model *m = create_model(o, ds, rt, r);
    if (!m) return -1;
    cli_step_stats st;
    int rc = cli_run_steps(m, ds, CLAE_BATCHES_SHUFFLED, 1, &st);
    if (rc != 0) row_fail(r, "step 1", clae_last_error());
    clae_model_destroy(m);
    if (rc == 0) clae_runtime_stats_get(rt, rs);
    return rc;
}

/* One device, start to end; failures are recorded in the row, never fatal.
 * rows[0..i) are the devices already run. */
static void run_device(const cmp_opts *o, const clae_dataset *ds, cmp_row *rows, int i, float **ref_w,
                       float **ref_b, int have_ref, char *variant, size_t variant_cap)
{
    cmp_row *r = &rows[i];
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_runtime_stats rs;

    if (open_cold(r->spec, &rt) != CLAE_OK) {
        row_fail(r, "open", clae_last_error());
        return;
    }
    clae_runtime_device(rt, &r->dev);
    r->have_dev = 1;
    /* Two specs can name one device (e.g. "cpu" and "0:0"): run it once. */
    for (int k = 0; k < i; k++)
        if (rows[k].have_dev && strcmp(rows[k].dev.id, r->dev.id) == 0) {
            r->duplicate = 1;
            snprintf(r->error, sizeof r->error, "%s", rows[k].spec);
            clae_runtime_close(rt);
            return;
        }
    /* cpu-ref has no kernels: its figures are the zeros of a bare open, without the extra steps. */
    int kernels = r->dev.type != CLAE_DEVICE_CPU_REF;
    clae_runtime_stats_get(rt, &rs);
    int ok = !kernels || build_figures(o, ds, rt, r, &rs) == 0;
    clae_runtime_close(rt);
    rt = NULL;
    if (!ok) return;
    r->have_cold = 1;
    r->cold_s = rs.build_seconds;
    r->cold_built = rs.programs_built;

    /* With the cache on; if the cache lacked the model's programs it built and wrote them,
     * which is another cold build, so run again to time the loads. */
    for (int attempt = 0; kernels && attempt < 2; attempt++) {
        if (clae_runtime_open(r->spec, &rt) != CLAE_OK) {
            row_fail(r, "open", clae_last_error());
            return;
        }
        ok = build_figures(o, ds, rt, r, &rs) == 0;
        clae_runtime_close(rt);
        rt = NULL;
        if (!ok) return;
        if (!(rs.programs_built > 0 && rs.cache_written > 0)) break;
    }
    r->have_cached = 1;
    r->cached_s = rs.build_seconds;
    r->cached_from_cache = rs.programs_from_cache;

    /* The timed run, on a runtime of its own; its first step loads the programs from the cache. */
    if (clae_runtime_open(r->spec, &rt) != CLAE_OK) {
        row_fail(r, "open", clae_last_error());
        return;
    }
    if (!(m = create_model(o, ds, rt, r))) goto done;
    clae_model_describe(m, variant, variant_cap);

    if (cli_run_steps(m, ds, CLAE_BATCHES_SHUFFLED, o->steps, &r->st) != 0) {
        char stage[32];
        snprintf(stage, sizeof stage, "step %ld", r->st.steps_done + 1);
        row_fail(r, stage, clae_last_error());
        goto done;
    }
    r->trained = 1;

    if (r->reference) {
        if (keep_weights(m, &o->cfg, ref_w, ref_b) != 0) row_fail(r, "weights", clae_last_error());
        r->have_dw = !r->failed;
        r->max_dw = 0.0;
    } else if (have_ref) {
        if (max_weight_diff(m, &o->cfg, ref_w, ref_b, &r->max_dw) != 0) row_fail(r, "weights", clae_last_error());
        else r->have_dw = 1;
    }
done:
    clae_model_destroy(m);
    clae_runtime_close(rt);
}

/* ---- compare output ---- */


static void compare_fields(const cmp_row *r, char cold[32], char cached[32], char ms[32], char sps[32],
                           char loss[32], char dw[32], char status[48])
{
    strcpy(cold, "-");
    strcpy(cached, "-");
    strcpy(ms, "-");
    strcpy(sps, "-");
    strcpy(loss, "-");
    strcpy(dw, "-");
    if (r->have_cold) snprintf(cold, 32, "%.3f", r->cold_s);
    if (r->have_cached) snprintf(cached, 32, "%.3f", r->cached_s);
    if (r->trained) {
        snprintf(ms, 32, "%.2f", cli_ms_per_step(&r->st));
        snprintf(sps, 32, "%.0f", cli_samples_per_sec(&r->st));
        snprintf(loss, 32, "%.6g", (double)r->st.final_loss);
    }
    if (r->reference && r->have_dw) strcpy(dw, "ref");
    else if (r->have_dw) snprintf(dw, 32, "%.3g", r->max_dw);
    if (r->failed) snprintf(status, 48, "FAILED (%s)", r->stage);
    else strcpy(status, "ok");
}


static void print_compare_table(const cmp_opts *o, const clae_dataset *ds, const char *variant, const cmp_row *rows,
                                int n)
{
    char layers[512];
    cli_format_layers(&o->cfg, layers, sizeof layers);
    printf("model  %s (%s), %s, %s lr %g, batch %d, seed %llu\n", layers, variant, clae_loss_name(o->cfg.loss),
           clae_optimizer_name(o->cfg.optimizer), cli_clean_float(o->cfg.lr), o->cfg.batch,
           (unsigned long long)o->cfg.seed);
    printf("data   %s (%zu rows), %ld step%s per device; ms/step and samples/s %s\n\n", ds->path, ds->rows,
           o->steps, o->steps == 1 ? "" : "s", o->steps > 1 ? "leave out the first step (warm-up)" : "time the only step");

    enum { NCOL = 10 };
    static const char *const head[NCOL] = {"ID", "NAME", "PLATFORM / DRIVER", "BUILD COLD s", "BUILD CACHED s",
                                           "MS/STEP", "SAMPLES/S", "FINAL LOSS", "MAX|dW|", "STATUS"};
    int w[NCOL];
    for (int c = 0; c < NCOL; c++) w[c] = (int)strlen(head[c]);
    char(*cell)[NCOL][300] = malloc((size_t)n * sizeof *cell);
    if (!cell) {
        fprintf(stderr, "clae compare: out of memory for the table\n");
        return;
    }
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        snprintf(cell[i][0], 300, "%s", r->have_dev ? r->dev.id : r->spec);
        snprintf(cell[i][1], 300, "%s", r->have_dev ? r->dev.name : "-");
        if (r->have_dev)
            snprintf(cell[i][2], 300, "%s / %s", cli_or_dash(r->dev.platform), cli_or_dash(r->dev.driver_version));
        else strcpy(cell[i][2], "-");
        compare_fields(r, cell[i][3], cell[i][4], cell[i][5], cell[i][6], cell[i][7], cell[i][8], cell[i][9]);
        for (int c = 0; c < NCOL; c++) w[c] = cli_col_width(w[c], cell[i][c]);
    }
    /* Text columns left-aligned, numbers right-aligned, no padding after the last. */
    w[NCOL - 1] = 0;
    for (int c = 0; c < NCOL; c++) printf(c < 3 ? "%-*s%s" : "%*s%s", w[c], head[c], c + 1 < NCOL ? "  " : "\n");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < NCOL; c++)
            printf(c < 3 ? "%-*s%s" : "%*s%s", w[c], cell[i][c], c + 1 < NCOL ? "  " : "\n");
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!rows[i].failed) continue;
        if (!any) printf("\n");
        any = 1;
        printf("%s: %s\n", rows[i].have_dev ? rows[i].dev.id : rows[i].spec, rows[i].error);
    }
    free(cell);
}

static int print_compare_json(const cmp_opts *o, const char *variant, const cmp_row *rows, int n)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) goto nomem;
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        cJSON *j = cJSON_CreateObject();
        if (!j || !cJSON_AddItemToArray(arr, j)) goto nomem;
        const clae_device_info *d = &r->dev;
        int ok = cJSON_AddStringToObject(j, "spec", r->spec) &&
                 cJSON_AddStringToObject(j, "id", r->have_dev ? d->id : r->spec) &&
                 add_str(j, "name", r->have_dev, d->name) &&
                 add_str(j, "type", r->have_dev, clae_device_type_string(d->type)) &&
                 add_str(j, "platform", r->have_dev, d->platform) &&
                 add_str(j, "platform_version", r->have_dev, d->platform_version) &&
                 add_str(j, "driver_version", r->have_dev, d->driver_version) &&
                 cJSON_AddBoolToObject(j, "reference", r->reference) &&
                 cJSON_AddStringToObject(j, "status", r->failed ? "failed" : "ok") &&
                 (!r->failed || (cJSON_AddStringToObject(j, "stage", r->stage) &&
                                 cJSON_AddStringToObject(j, "error", r->error))) &&
                 cli_json_add_num(j, "build_cold_seconds", r->have_cold, cli_round_sig(r->cold_s, 4)) &&
                 cli_json_add_num(j, "programs_built_cold", r->have_cold, r->cold_built) &&
                 cli_json_add_num(j, "build_cached_seconds", r->have_cached, cli_round_sig(r->cached_s, 4)) &&
                 cli_json_add_num(j, "programs_from_cache", r->have_cached, r->cached_from_cache) &&
                 cJSON_AddNumberToObject(j, "steps", (double)o->steps) &&
                 cli_json_add_num(j, "timed_steps", r->trained, (double)r->st.timed_steps) &&
                 cJSON_AddNumberToObject(j, "batch", o->cfg.batch) && cli_json_add_layers(j, &o->cfg) &&
                 cJSON_AddStringToObject(j, "variant", variant) &&
                 cli_json_add_num(j, "ms_per_step", r->trained, cli_round_sig(cli_ms_per_step(&r->st), 6)) &&
                 cli_json_add_num(j, "samples_per_sec", r->trained, cli_round_sig(cli_samples_per_sec(&r->st), 6)) &&
                 /* The loss exactly as the device returned it, so two devices' values can be compared. */
                 cli_json_add_num(j, "final_loss", r->trained, (double)r->st.final_loss) &&
                 cli_json_add_num(j, "max_abs_dw", r->have_dw, r->max_dw);
        if (!ok) goto nomem;
    }
    char *text = cJSON_Print(arr);
    if (!text) goto nomem;
    puts(text);
    cJSON_free(text);
    cJSON_Delete(arr);
    return 0;
nomem:
    cJSON_Delete(arr);
    fprintf(stderr, "clae compare: out of memory building JSON\n");
    return -1;
}

/* One CSV cell: quoted (RFC 4180) when it holds a separator, quote or line break. */
static void csv_cell(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"') putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

static void print_compare_csv(const cmp_opts *o, const char *variant, const cmp_row *rows, int n)
{
    static const char *const head[] = {"spec", "id", "name", "type", "platform", "platform_version",
                                       "driver_version", "reference", "status", "stage", "error",
                                       "build_cold_seconds", "programs_built_cold", "build_cached_seconds",
                                       "programs_from_cache", "steps", "timed_steps", "batch", "variant",
                                       "ms_per_step", "samples_per_sec", "final_loss", "max_abs_dw"};
    const size_t nh = sizeof head / sizeof head[0];
    for (size_t c = 0; c < nh; c++) csv_cell(head[c], c + 1 == nh);
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        const clae_device_info *d = &r->dev;
        char num[8][40];
        for (int k = 0; k < 8; k++) num[k][0] = '\0';
        if (r->have_cold) {
            snprintf(num[0], 40, "%.4g", r->cold_s);
            snprintf(num[1], 40, "%u", r->cold_built);
        }
        if (r->have_cached) {
            snprintf(num[2], 40, "%.4g", r->cached_s);
            snprintf(num[3], 40, "%u", r->cached_from_cache);
        }
        if (r->trained) {
            snprintf(num[4], 40, "%ld", r->st.timed_steps);
            snprintf(num[5], 40, "%.6g", cli_ms_per_step(&r->st));
            snprintf(num[6], 40, "%.6g", cli_samples_per_sec(&r->st));
            snprintf(num[7], 40, "%.9g", (double)r->st.final_loss);
        }
        char steps[24], batch[24], dw[40] = "";
        snprintf(steps, sizeof steps, "%ld", o->steps);
        snprintf(batch, sizeof batch, "%d", o->cfg.batch);
        if (r->have_dw) snprintf(dw, sizeof dw, "%.6g", r->max_dw);
        const char *cells[] = {r->spec,
                               r->have_dev ? d->id : r->spec,
                               r->have_dev ? d->name : "",
                               r->have_dev ? clae_device_type_string(d->type) : "",
                               r->have_dev ? d->platform : "",
                               r->have_dev ? d->platform_version : "",
                               r->have_dev ? d->driver_version : "",
                               r->reference ? "true" : "false",
                               r->failed ? "failed" : "ok",
                               r->failed ? r->stage : "",
                               r->failed ? r->error : "",
                               num[0], num[1], num[2], num[3], steps, num[4], batch, variant,
                               num[5], num[6], num[7], dw};
        for (size_t c = 0; c < nh; c++) csv_cell(cells[c], c + 1 == nh);
    }
}

int cli_compare(int argc, char **argv)
{
    cmp_opts o;
    int rc = parse_compare_args(argc, argv, &o);
    if (rc >= 0) return rc;

    /* Data before devices: a bad path or width is reported before any compile. */
    clae_dataset *ds = NULL;
    if (cli_load_data(o.data, o.limit, &o.cfg, &ds) != CLAE_OK) return cli_fail_lib();

    row_list list;
    if (plan_rows(o.devices, &list) != 0) {
        clae_dataset_free(ds);
        return CLI_EXIT_FAIL;
    }
    cmp_row *rows = list.rows;
    int n = (int)list.n;
    float *ref_w[CLAE_MAX_LAYERS] = {0}, *ref_b[CLAE_MAX_LAYERS] = {0};
    char variant[256] = "";
    int have_ref = 0;
    for (int i = 0; i < n; i++) {
        cmp_row *r = &rows[i];
        if (!o.quiet) fprintf(stderr, "compare: [%d/%d] %s: opening, %ld steps\n", i + 1, n, r->spec, o.steps);
        run_device(&o, ds, rows, i, ref_w, ref_b, have_ref, variant, sizeof variant);
        if (r->reference) have_ref = r->have_dw;
        if (r->duplicate) {
            if (!o.quiet)
                fprintf(stderr, "compare: %s is %s, already run as '%s'; listed once\n", r->spec, r->dev.id, r->error);
            memmove(r, r + 1, (size_t)(n - i - 1) * sizeof *r);
            n--;
            i--;
            continue;
        }
        if (!o.quiet) {
            if (r->failed)
                fprintf(stderr, "compare: [%d/%d] %s: FAILED (%s): %s\n", i + 1, n, r->spec, r->stage, r->error);
            else
                fprintf(stderr, "compare: [%d/%d] %s: %.2f ms/step, final loss %.6g\n", i + 1, n, r->spec,
                        cli_ms_per_step(&r->st), (double)r->st.final_loss);
        }
    }
    int failed = 0, others_ok = 0;
    for (int i = 0; i < n; i++) {
        failed += rows[i].failed;
        others_ok += !rows[i].reference && !rows[i].failed;
    }
    if (o.json) {
        if (print_compare_json(&o, variant, rows, n) != 0) failed++;
    } else if (o.csv) {
        print_compare_csv(&o, variant, rows, n);
    } else {
        print_compare_table(&o, ds, variant, rows, n);
    }
    fflush(stdout);
    if (n == 1 && !failed) fprintf(stderr, "clae compare: no device besides cpu-ref was chosen: nothing to compare\n");
    rc = (failed || others_ok == 0) ? CLI_EXIT_FAIL : CLI_EXIT_OK;

    for (int l = 0; l < CLAE_MAX_LAYERS; l++) {
        free(ref_w[l]);
        free(ref_b[l]);
    }
    free(rows);
    clae_dataset_free(ds);
    return rc;
}
