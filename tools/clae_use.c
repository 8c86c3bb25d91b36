/* clae_use.c — the commands that use a trained model file: `clae encode` (deep features),
 * `clae score` (per-row anomaly scores) and `clae reconstruct` (originals above reconstructions). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_png.h"

#define DEFAULT_PERCENTILE 99.0
#define DEFAULT_COUNT 16

/* The flags every one of these commands shares. */

/* What every command of this file needs. */
typedef struct use_opts {
    const char *model, *data, *out, *device;
    long limit;
    int json, quiet;
    cli_model_opts arch; /* --layers/--activation/--output-activation, for a weights-only --model */
    int arch_given;
    cli_data_opts cols; /* --skip-columns, --label-column */
    const char *cmd;    /* the subcommand, for messages */
} use_opts;

/* The model flags that describe a weights-only file's architecture. */
static int is_arch_flag(const char *arg)
{
    static const char *const names[] = {"--layers", "--activation", "--output-activation"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k]);
        if (!strncmp(arg, names[k], n) && (arg[n] == '\0' || arg[n] == '=')) return 1;
    }
    return 0;
}

/* Matches one shared flag; returns 1 if it did. */
static int use_opt(cli_args *a, use_opts *o)
{
    o->cmd = a->cmd;
    if (cli_opt(a, "--model")) {
        o->model = a->value;
    } else if (cli_opt(a, "--data")) {
        o->data = a->value;
    } else if (cli_opt(a, "--out")) {
        o->out = a->value;
    } else if (cli_opt(a, "--device")) {
        o->device = a->value;
    } else if (cli_opt(a, "--limit")) {
        if (a->value) cli_long(a, 1, LONG_MAX, &o->limit);
    } else if (cli_data_opt(a, &o->cols)) {
        /* a column flag */
    } else if (cli_flag(a, "--json")) {
        o->json = 1;
    } else if (cli_flag(a, "--quiet") || cli_flag(a, "-q")) {
        o->quiet = 1;
    } else if ((cli_known(a, "--layers"), cli_known(a, "--activation"), cli_known(a, "--output-activation"),
                is_arch_flag(a->argv[a->i]))) {
        if (!o->arch_given) {
            cli_model_opts_init(&o->arch);
            o->arch.allow_auto = 1;
        }
        o->arch_given = 1;
        cli_model_opt(a, &o->arch);
    } else {
        return 0;
    }
    return 1;
}

/* After the loop: the flags that must be there. Returns -1 to go on or an exit status. */
static int use_require(const char *cmd, const use_opts *o, int need_out)
{
    const char *missing = !o->model ? "--model" : !o->data ? "--data" : need_out && !o->out ? "--out" : NULL;
    if (missing) {
        fprintf(stderr, "clae %s: %s PATH is required (see 'clae %s --help')\n", cmd, missing, cmd);
        return CLI_EXIT_USAGE;
    }
    if (!*o->model || !*o->data || (o->out && !*o->out)) {
        fprintf(stderr, "clae %s: %s: the path is empty\n", cmd, !*o->model ? "--model" : !*o->data ? "--data" : "--out");
        return CLI_EXIT_USAGE;
    }
    if (o->out && cli_check_output(cmd, "--out", o->out) != 0) return CLI_EXIT_USAGE;
    return -1;
}

/* A loaded model and its data. */
typedef struct use_ctx {
    clae_runtime *rt;
    clae_model *m;
    clae_model_config cfg;
    clae_dataset *ds;
    clae_scaling scaling;
    float *labels; /* --label-column's values, one per row, or NULL */
    int quiet;
} use_ctx;

static void use_close(use_ctx *c)
{
    clae_model_destroy(c->m);
    if (c->rt) cli_runtime_note(c->rt, c->quiet);
    clae_runtime_close(c->rt);
    clae_dataset_free(c->ds);
    clae_scaling_free(&c->scaling);
    free(c->labels);
    memset(c, 0, sizeof *c);
}

/* A --model without clae's metadata (e.g. PyTorch's save_file of
 * layers.<i>.weight/bias): the architecture comes from the flags, the widths
 * from the tensors when --layers is not given; no scaling is applied. */
static int open_weights_only(use_opts *o, use_ctx *c)
{
    if (!o->arch_given) cli_model_opts_init(&o->arch);
    if (!o->arch.layers && clae_model_config_from_weights(o->model, &o->arch.cfg) != CLAE_OK) return cli_fail_lib();
    const char *cmd = o->cmd ? o->cmd : "model"; /* messages say "clae score: ...", not "clae model: ..." */
    int rc = cli_model_opts_finish(cmd, &o->arch);
    if (rc >= 0) return rc;
    if (o->arch.auto_input) {
        rc = cli_set_input_width(cmd, &o->arch.cfg, c->ds->cols);
        if (rc >= 0) return rc;
    }
    const clae_model_config *g = &o->arch.cfg;
    if (!o->quiet) {
        fprintf(stderr, "note: %s holds weights only: using layers ", o->model);
        for (int l = 0; l <= g->n_layers; l++) fprintf(stderr, "%s%d", l ? "," : "", g->sizes[l]);
        fprintf(stderr, ", %s hidden and %s output units, no scaling\n", clae_activation_name(g->activation[0]),
                clae_activation_name(g->activation[g->n_layers - 1]));
    }
    if (clae_model_import(c->rt, o->model, g, CLAE_MODEL_INFERENCE, &c->m) != CLAE_OK) return cli_fail_lib();
    return -1;
}

/* Loads the data (first, so a wrong path is reported before any device
 * work), opens the device and the model, and checks that the data fits it.
 * The data is left unscaled (see use_scale). Returns -1 to go on or an exit
 * status after printing the library's message. */
static int use_open(use_opts *o, use_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->quiet = o->quiet;
    int lrc = cli_load_data_ex(o->cmd ? o->cmd : "data", o->data, o->limit, &o->cols, NULL, &c->ds, &c->labels);
    if (lrc >= 0) return lrc;
    if (cli_runtime_open(o->device, o->quiet, &c->rt) != CLAE_OK) return cli_fail_lib();
    clae_file_kind kind;
    if (clae_model_file_kind(o->model, &kind) != CLAE_OK) return cli_fail_lib();
    if (kind == CLAE_FILE_WEIGHTS) {
        int rc = open_weights_only(o, c);
        if (rc >= 0) return rc;
    } else if (o->arch_given) {
        fprintf(stderr, "clae: --model %s records its own architecture; --layers, --activation and "
                        "--output-activation are only for weights-only files\n", o->model);
        return CLI_EXIT_USAGE;
    } else if (clae_model_load(c->rt, o->model, CLAE_MODEL_INFERENCE, 0, &c->m, &c->scaling) != CLAE_OK) {
        /* Inference only: no gradients or optimizer state are allocated. */
        return cli_fail_lib();
    }
    clae_model_get_config(c->m, &c->cfg);
    if (clae_model_check_data(c->m, c->ds) != CLAE_OK) return cli_fail_lib();
    return -1;
}

/* Applies the model's stored scaling to the data, in place. A sigmoid output
 * can only produce (0, 1): data beyond it after the scaling (typically CSV
 * pixels written as 0..255 for a model trained on bytes, which the IDX and
 * NPY readers divide by 255) scores by that gap alone, so say so. */
static int use_scale(use_ctx *c)
{
    if (clae_scaling_apply(&c->scaling, c->ds) != CLAE_OK) return cli_fail_lib();
    if (c->quiet || c->cfg.activation[c->cfg.n_layers - 1] != CLAE_ACT_SIGMOID) return -1;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < c->ds->rows * c->ds->cols; i++) {
        if (c->ds->x[i] < lo) lo = c->ds->x[i];
        if (c->ds->x[i] > hi) hi = c->ds->x[i];
    }
    if (lo >= -1e-6f && hi <= 1.0f + 1e-6f) return -1;
    fprintf(stderr,
            "note: %s has values from %g to %g%s, but the model's sigmoid outputs lie in (0, 1), so no row can be "
            "reconstructed closely; if these are 0..255 pixels, divide them by 255 (IDX and uint8 NPY bytes are, "
            "CSV and float NPY values are taken as stored) or train the model with --scale minmax\n",
            c->ds->path, (double)lo, (double)hi, c->scaling.kind == CLAE_SCALE_NONE ? "" : " after the model's scaling");
    return -1;
}

/* ------------------------------------------------------------------------ */
/* encode                                                                    */
/* ------------------------------------------------------------------------ */

int cli_encode(int argc, char **argv)
{
    use_opts o;
    memset(&o, 0, sizeof o);
    long layer = 0; /* 0: the code layer */
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_encode_help, stdout);
            return CLI_EXIT_OK;
        } else if (use_opt(&a, &o)) {
            /* shared flag */
        } else if (cli_opt(&a, "--layer")) {
            if (a.value) cli_long(&a, 1, CLAE_MAX_LAYERS, &layer);
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    int rc = use_require("encode", &o, 1);
    if (rc >= 0) return rc;
    const int npy = cli_ends_with(o.out, ".npy");
    if (!npy && !cli_ends_with(o.out, ".csv")) {
        fprintf(stderr, "clae encode: --out %s: the name must end in .csv or .npy (it picks the format)\n", o.out);
        return CLI_EXIT_USAGE;
    }

    use_ctx c;
    float *codes = NULL;
    char **names = NULL;
    size_t width = 0;
    rc = use_open(&o, &c);
    if (rc >= 0) goto done;
    if (layer == 0) layer = c.cfg.code_layer;
    if (layer > c.cfg.n_layers) {
        fprintf(stderr, "clae encode: --layer %ld: the model %s has layers 1 to %d (the code layer is %d)\n", layer,
                o.model, c.cfg.n_layers, c.cfg.code_layer);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = use_scale(&c);
    if (rc >= 0) goto done;
    width = (size_t)c.cfg.sizes[layer];
    codes = malloc(c.ds->rows * width * sizeof *codes);
    if (!codes) {
        fprintf(stderr, "clae encode: out of memory for %zu x %zu features\n", c.ds->rows, width);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (clae_model_encode_layer(c.m, c.ds->x, c.ds->rows, (int)layer, codes) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    clae_status st;
    if (npy) {
        st = clae_matrix_save_npy(o.out, codes, c.ds->rows, width);
    } else {
        names = calloc(width, sizeof *names);
        for (size_t j = 0; names && j < width; j++) {
            names[j] = malloc(24);
            if (!names[j]) break;
            snprintf(names[j], 24, "f%zu", j);
        }
        if (!names || !names[width - 1]) {
            fprintf(stderr, "clae encode: out of memory for the CSV header\n");
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        st = clae_matrix_save_csv(o.out, codes, c.ds->rows, width, (const char *const *)names);
    }
    if (st != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "model", o.model) && cJSON_AddStringToObject(j, "data", o.data) &&
                 cJSON_AddStringToObject(j, "out", o.out) && cJSON_AddStringToObject(j, "format", npy ? "npy" : "csv") &&
                 cJSON_AddNumberToObject(j, "rows", (double)c.ds->rows) &&
                 cJSON_AddNumberToObject(j, "layer", (double)layer) &&
                 cJSON_AddBoolToObject(j, "code_layer", layer == c.cfg.code_layer) &&
                 cJSON_AddNumberToObject(j, "width", (double)width) && cli_json_add_layers(j, &c.cfg);
        if (!ok) {
            cJSON_Delete(j);
            j = NULL;
        }
        if (cli_json_print("encode", j) != 0) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else if (!o.quiet) {
        fprintf(stderr, "clae encode: %zu rows x %zu features of layer %ld%s written to %s\n", c.ds->rows, width,
                layer, layer == c.cfg.code_layer ? " (the code layer)" : "", o.out);
    }
    rc = CLI_EXIT_OK;
done:
    if (names)
        for (size_t j = 0; j < width; j++) free(names[j]);
    free(names);
    free(codes);
    use_close(&c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* score                                                                     */
/* ------------------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The q-th percentile (0..100) of v[0..n) by numpy's default rule: linear
 * interpolation at position (q/100)(n−1) of the sorted values. */
static double percentile(const float *v, size_t n, double q)
{
    float *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_float);
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) lo = n - 1;
    double frac = pos - (double)lo, t = (double)s[lo];
    if (lo + 1 < n && frac > 0) t += frac * ((double)s[lo + 1] - (double)s[lo]);
    free(s);
    return t;
}

/* row,score,flagged, written to a temporary name and renamed like every clae
 * file, so a reader never sees half of it. Returns 0, or -1 after a message. */
static int write_scores(const char *path, const float *score, size_t n, double threshold, const float *labels)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "clae score: --out %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* The --label-column beside each score, so flagged rows can be checked
     * against known classes without joining files. */
    int bad = fputs(labels ? "row,score,flagged,label\n" : "row,score,flagged\n", f) < 0;
    for (size_t r = 0; r < n && !bad; r++) {
        bad = fprintf(f, "%zu,%.9g,%d", r, (double)score[r], (double)score[r] > threshold) < 0;
        if (!bad && labels) bad = fprintf(f, ",%.9g", (double)labels[r]) < 0;
        if (!bad) bad = fputc('\n', f) == EOF;
    }
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        fprintf(stderr, "clae score: --out %s: cannot write: %s\n", path, strerror(e));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* A number within [0, 100] for --threshold-percentile (cli_positive_double refuses 0). */
static void parse_percentile(cli_args *a, double *out)
{
    char *end = NULL;
    double v = strtod(a->value, &end);
    if (end == a->value || *end || !isfinite(v) || v < 0.0 || v > 100.0) {
        char msg[160];
        snprintf(msg, sizeof msg, "expected a number from 0 to 100, got '%s'", a->value);
        cli_bad_value(a, msg);
        return;
    }
    *out = v;
}

typedef struct score_summary {
    size_t rows, flagged;
    double mean, min, max, q, threshold;
} score_summary;

static int print_score_json(const use_opts *o, const char *plot, const score_summary *s, const clae_model_config *cfg)
{
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "model", o->model) && cJSON_AddStringToObject(j, "data", o->data) &&
             cli_json_add_layers(j, cfg) &&
             cJSON_AddNumberToObject(j, "rows", (double)s->rows) && cJSON_AddNumberToObject(j, "mean", s->mean) &&
             cJSON_AddNumberToObject(j, "min", s->min) && cJSON_AddNumberToObject(j, "max", s->max) &&
             cJSON_AddNumberToObject(j, "percentile", s->q) &&
             cJSON_AddNumberToObject(j, "threshold", s->threshold) &&
             cJSON_AddNumberToObject(j, "flagged", (double)s->flagged) &&
             (!o->out || cJSON_AddStringToObject(j, "out", o->out)) &&
             (!plot || cJSON_AddStringToObject(j, "plot", plot));
    if (!ok) {
        cJSON_Delete(j);
        j = NULL;
    }
    return cli_json_print("score", j);
}

int cli_score(int argc, char **argv)
{
    use_opts o;
    memset(&o, 0, sizeof o);
    const char *plot = NULL;
    double q = DEFAULT_PERCENTILE;
    int nll = 0, recon_prob = 0;
    long samples = 64;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_score_help, stdout);
            return CLI_EXIT_OK;
        } else if (use_opt(&a, &o)) {
            /* shared flag */
        } else if (cli_opt(&a, "--threshold-percentile")) {
            if (a.value) parse_percentile(&a, &q);
        } else if (cli_opt(&a, "--plot")) {
            plot = a.value;
        } else if (cli_flag(&a, "--nll")) {
            nll = 1;
        } else if (cli_flag(&a, "--recon-prob")) {
            recon_prob = 1;
        } else if (cli_opt(&a, "--samples")) {
            if (a.value) cli_long(&a, 1, 1L << 20, &samples);
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (nll && recon_prob) {
        fprintf(stderr, "clae score: --nll and --recon-prob are two different scores: give one\n");
        return CLI_EXIT_USAGE;
    }
    int rc = use_require("score", &o, 0);
    if (rc >= 0) return rc;
    if (plot && !*plot) {
        fprintf(stderr, "clae score: --plot: the path is empty\n");
        return CLI_EXIT_USAGE;
    }
    if (plot && cli_check_output("score", "--plot", plot) != 0) return CLI_EXIT_USAGE;

    use_ctx c;
    float *score = NULL;
    rc = use_open(&o, &c);
    if (rc >= 0) goto done;
    rc = use_scale(&c);
    if (rc >= 0) goto done;
    const size_t n = c.ds->rows;
    score = malloc(n * sizeof *score);
    if (!score) {
        fprintf(stderr, "clae score: out of memory for %zu scores\n", n);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    clae_status st = nll          ? clae_model_log_likelihood(c.m, c.ds->x, n, (unsigned)samples, score)
                     : recon_prob ? clae_model_recon_prob(c.m, c.ds->x, n, (unsigned)samples, score)
                                  : clae_model_row_errors(c.m, c.ds->x, n, score);
    if (st != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    /* Both likelihoods are high for typical rows: their negatives score like errors. */
    for (size_t r = 0; (nll || recon_prob) && r < n; r++) score[r] = -score[r];
    score_summary s = {n, 0, 0.0, INFINITY, -INFINITY, q, percentile(score, n, q)};
    if (isnan(s.threshold)) {
        fprintf(stderr, "clae score: out of memory sorting %zu scores\n", n);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    double sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        double v = score[r];
        sum += v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        s.flagged += v > s.threshold;
    }
    s.mean = sum / (double)n;
    if (o.out && write_scores(o.out, score, n, s.threshold, c.labels) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (plot) {
        char err[512], title[96];
        snprintf(title, sizeof title, "clae score: %zu rows, %zu above percentile %g", n, s.flagged, q);
        if (clae_png_histogram(plot, title, nll ? "-log p(x), nats" : recon_prob ? "-reconstruction log-probability" : "reconstruction MSE", score, n, 0, s.threshold,
                               CLAE_PNG_HIST_LOG_COUNT | CLAE_PNG_HIST_CLIP_TAIL, err, sizeof err) != 0) {
            fprintf(stderr, "clae score: --plot: %s\n", err);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    }
    if (o.json) {
        if (print_score_json(&o, plot, &s, &c.cfg) != 0) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else {
        printf("rows        %zu\n", s.rows);
        printf("mean        %.6g\n", s.mean);
        printf("min         %.6g\n", s.min);
        printf("max         %.6g\n", s.max);
        printf("threshold   %.6g (percentile %g)\n", s.threshold, q);
        printf("flagged     %zu\n", s.flagged);
        if (o.out) printf("scores      %s\n", o.out);
        if (plot) printf("histogram   %s\n", plot);
    }
    rc = CLI_EXIT_OK;
done:
    free(score);
    use_close(&c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* reconstruct                                                               */
/* ------------------------------------------------------------------------ */

/* The reconstructions of rows [first, first + n) of the (scaled) data, in
 * batches, mapped back into the data's units. Returns -1 to go on or an exit status. */
static int reconstruct_rows(use_ctx *c, size_t first, size_t n, float *recon)
{
    const size_t cols = c->ds->cols, batch = (size_t)c->cfg.batch;
    const float *scaled = c->ds->x + first * cols;
    for (size_t r = 0; r < n; r += batch) {
        size_t k = n - r < batch ? n - r : batch;
        if (clae_model_reconstruct(c->m, scaled + r * cols, k, recon + r * cols) != CLAE_OK) return cli_fail_lib();
    }
    /* The model works in the scaled space; the user's units are the data's. */
    if (clae_scaling_invert(&c->scaling, recon, n, cols) != CLAE_OK) return cli_fail_lib();
    return -1;
}

/* --out *.csv or *.npy: the reconstructions themselves, a CSV under the data's
 * own header when it had one. Returns 0 or -1 after a message. */
static int write_matrix(const char *path, int npy, const float *x, size_t rows, size_t cols, char *const *data_names)
{
    clae_status st;
    if (npy) {
        st = clae_matrix_save_npy(path, x, rows, cols);
    } else if (data_names) {
        st = clae_matrix_save_csv(path, x, rows, cols, (const char *const *)data_names);
    } else {
        char **names = calloc(cols, sizeof *names);
        size_t made = 0;
        for (; names && made < cols; made++) {
            names[made] = malloc(24);
            if (!names[made]) break;
            snprintf(names[made], 24, "x%zu", made);
        }
        if (!names || made < cols) {
            for (size_t j = 0; names && j < made; j++) free(names[j]);
            free(names);
            fprintf(stderr, "clae reconstruct: out of memory for the CSV header\n");
            return -1;
        }
        st = clae_matrix_save_csv(path, x, rows, cols, (const char *const *)names);
        for (size_t j = 0; j < cols; j++) free(names[j]);
        free(names);
    }
    if (st != CLAE_OK) {
        cli_fail_lib();
        return -1;
    }
    return 0;
}

int cli_reconstruct(int argc, char **argv)
{
    use_opts o;
    memset(&o, 0, sizeof o);
    long count = DEFAULT_COUNT, first = 0;
    int count_given = 0;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_reconstruct_help, stdout);
            return CLI_EXIT_OK;
        } else if (use_opt(&a, &o)) {
            /* shared flag */
        } else if (cli_opt(&a, "--count")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &count);
            count_given = 1;
        } else if (cli_opt(&a, "--first")) {
            if (a.value) cli_long(&a, 0, LONG_MAX, &first);
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    int rc = use_require("reconstruct", &o, 1);
    if (rc >= 0) return rc;
    const int png = cli_ends_with(o.out, ".png"), npy = cli_ends_with(o.out, ".npy"), csv = cli_ends_with(o.out, ".csv");
    if (!png && !npy && !csv) {
        fprintf(stderr, "clae reconstruct: --out %s: the name must end in .png (a picture), .csv or .npy (the "
                        "reconstructed values); it picks the format\n", o.out);
        return CLI_EXIT_USAGE;
    }
    if (png && count > 10000) {
        fprintf(stderr, "clae reconstruct: --count %ld: a picture holds at most 10000 rows\n", count);
        return CLI_EXIT_USAGE;
    }

    use_ctx c;
    float *orig = NULL, *recon = NULL;
    rc = use_open(&o, &c);
    if (rc >= 0) goto done;
    const size_t cols = c.ds->cols;
    size_t side = (size_t)llround(sqrt((double)cols));
    if (png && side * side != cols) {
        fprintf(stderr,
                "clae reconstruct: %s has %zu columns, which is not a square number, so its rows cannot be drawn "
                "as square images (784 = 28x28 would be); --out with .csv or .npy writes the values instead\n",
                o.data, cols);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if ((size_t)first >= c.ds->rows) {
        fprintf(stderr, "clae reconstruct: --first %ld: %s has only %zu rows (counting from 0)\n", first, o.data,
                c.ds->rows);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    size_t n = c.ds->rows - (size_t)first;
    if ((png || count_given) && (size_t)count < n) n = (size_t)count;
    orig = png ? malloc(n * cols * sizeof *orig) : NULL;
    recon = malloc(n * cols * sizeof *recon);
    if ((png && !orig) || !recon) {
        fprintf(stderr, "clae reconstruct: out of memory for %zu rows of %zu\n", n, cols);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    /* The originals as they are in the file; the model sees them scaled. */
    if (png) memcpy(orig, c.ds->x + (size_t)first * cols, n * cols * sizeof *orig);
    rc = use_scale(&c);
    if (rc >= 0) goto done;
    rc = reconstruct_rows(&c, (size_t)first, n, recon);
    if (rc >= 0) goto done;
    int remap = 0;
    if (png) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n * cols; i++) {
            if (orig[i] < lo) lo = orig[i];
            if (orig[i] > hi) hi = orig[i];
        }
        /* Pixels stored as 0..255 (or any range) would all clamp to white: show
         * them on the originals' own range instead. */
        remap = (lo < 0.0f || hi > 1.0f) && hi > lo;
        for (size_t i = 0; i < n * cols; i++) {
            if (remap) {
                orig[i] = (orig[i] - lo) / (hi - lo);
                recon[i] = (recon[i] - lo) / (hi - lo);
            }
            recon[i] = recon[i] < 0.0f ? 0.0f : recon[i] > 1.0f ? 1.0f : recon[i];
        }
        /* Rows of equal length: 16 pairs as two rows of 8 rather than 10 + 6. */
        size_t groups = (n + 9) / 10, per_row = (n + groups - 1) / groups;
        char err[512];
        if (clae_png_write_pairs(o.out, orig, recon, n, side, side, per_row, err, sizeof err) != 0) {
            fprintf(stderr, "clae reconstruct: --out: %s\n", err);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else if (write_matrix(o.out, npy, recon, n, cols, c.ds->names) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "model", o.model) && cJSON_AddStringToObject(j, "data", o.data) &&
                 cJSON_AddStringToObject(j, "out", o.out) &&
                 cJSON_AddStringToObject(j, "format", png ? "png" : npy ? "npy" : "csv") &&
                 cJSON_AddNumberToObject(j, "first", (double)first) && cJSON_AddNumberToObject(j, "rows", (double)n) &&
                 cJSON_AddNumberToObject(j, "cols", (double)cols) &&
                 cJSON_AddStringToObject(j, "scale", clae_scale_kind_name(c.scaling.kind)) &&
                 (!png || cJSON_AddBoolToObject(j, "remapped", remap)) && cli_json_add_layers(j, &c.cfg);
        if (!ok) {
            cJSON_Delete(j);
            j = NULL;
        }
        if (cli_json_print("reconstruct", j) != 0) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else if (!o.quiet && png) {
        fprintf(stderr, "clae reconstruct: rows %ld to %zu of %s (%zux%zu)%s drawn above their reconstructions in %s\n",
                first, (size_t)first + n - 1, o.data, side, side, remap ? ", shown on their own value range," : "",
                o.out);
    } else if (!o.quiet) {
        char undone[64] = "";
        if (c.scaling.kind != CLAE_SCALE_NONE)
            snprintf(undone, sizeof undone, ", the model's --scale %s undone", clae_scale_kind_name(c.scaling.kind));
        fprintf(stderr, "clae reconstruct: the reconstructions of rows %ld to %zu of %s (%zu columns) written to %s "
                        "in the data's units%s\n",
                first, (size_t)first + n - 1, o.data, cols, o.out, undone);
    }
    rc = CLI_EXIT_OK;
done:
    free(orig);
    free(recon);
    use_close(&c);
    return rc;
}
