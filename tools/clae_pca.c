/* clae_pca.c — `clae pca`: the PCA baseline of a data set beside a linear autoencoder (trained here, or a model
 * file): both test MSEs, their ratio, the identity PCA's training error obeys and the angles between the subspaces. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_progress.h"

#define DEFAULT_EPOCHS 10
#define DEFAULT_LR 1e-3
#define DEFAULT_BATCH 256
#define AE_SEED 42

const char cli_pca_help[] =
    "usage: clae pca --components K [--data P] [--test T] [--limit N] [--test-limit N]\n"
    "                [--model M | --epochs E --lr R --batch B] [--device SPEC]\n"
    "                [--out basis.npy] [--json] [-q]\n"
    "\n"
    "Principal component analysis of the training rows, computed in double on the host\n"
    "(mean, covariance, LAPACK's symmetric eigensolver), set beside a linear\n"
    "autoencoder D,dense:K:linear,dense:D:linear, whose best weights span the same\n"
    "K-dimensional subspace (Baldi & Hornik 1989; README, Linear autoencoders and PCA).\n"
    "Prints PCA-K's training MSE and what the identity (1/D)*sum_{i>K} lambda_i says\n"
    "it is, the share of the variance K directions keep, PCA-K's test MSE, the\n"
    "autoencoder's test MSE and the ratio of the two, and the principal angles between\n"
    "the decoder's columns and the PCA subspace (smallest cosine, largest angle).\n"
    "Progress goes to stderr, the summary to stdout.\n"
    "\n"
    "  --components K          principal components and code width (1 to D; required)\n"
    "  --data PATH             training data, IDX, CSV or NPY (default\n"
    "                          " CLI_DEFAULT_TRAIN_FILE " in $CLAE_DATA_DIR, else in\n"
    "                          " CLI_DEFAULT_DATA_DIR ")\n"
    "  --test PATH             test data (default " CLI_DEFAULT_TEST_FILE " there,\n"
    "                          but for CSV, NPY or stdin --data the training data)\n"
    "  --limit N, --test-limit N  use only the first N rows\n"
    "  --model M               evaluate this model file instead of training one (its\n"
    "                          stored scaling is applied to the data first); the\n"
    "                          angles need a one-hidden-layer linear net of width K\n"
    "  --epochs E              epochs of the autoencoder trained here (default 10)\n"
    "  --lr R                  its Adam rate (default 0.001); loss sse, seed 42\n"
    "  --batch B               its batch (default 256)\n"
    "  --device SPEC           P:D, gpu, cpu, cpu-ref or a device name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --out FILE.npy          the D x K principal directions (float32 NPY, column j\n"
    "                          the direction of the j-th largest eigenvalue)\n"
    "  --json                  one JSON object: layers, device, device_id, components,\n"
    "                          train_rows, test_rows, pca_train_mse, pca_identity_mse,\n"
    "                          explained_variance, pca_test_mse, ae_test_mse, ratio,\n"
    "                          min_cosine, max_angle_degrees, cosines (null when the\n"
    "                          net has no angles), pca_seconds (the fit and both PCA\n"
    "                          errors), ae_seconds (training with its per-epoch tests,\n"
    "                          then the test), model or epochs, out when written\n"
    "  --quiet, -q             nothing on stderr but errors\n"
    "  --help                  show this help\n";

typedef struct pca_opts {
    char data[1024], test[1024];
    int data_given, test_given;
    long components, limit, test_limit, epochs, batch;
    double lr;
    int training_flags; /* --epochs, --lr or --batch given */
    const char *model, *device, *out;
    int json, quiet;
} pca_opts;

/* Parses the command line into o. Returns -1 to go on, or an exit status. */
static int parse_pca_args(int argc, char **argv, pca_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_default_data_path(CLI_DEFAULT_TRAIN_FILE, o->data, sizeof o->data);
    cli_default_data_path(CLI_DEFAULT_TEST_FILE, o->test, sizeof o->test);
    o->epochs = DEFAULT_EPOCHS;
    o->batch = DEFAULT_BATCH;
    o->lr = DEFAULT_LR;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_pca_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--components")) {
            if (a.value) cli_long(&a, 1, 1L << 30, &o->components);
        } else if (cli_opt(&a, "--data")) {
            if (a.value) snprintf(o->data, sizeof o->data, "%s", a.value);
            o->data_given = 1;
        } else if (cli_opt(&a, "--test")) {
            if (a.value) snprintf(o->test, sizeof o->test, "%s", a.value);
            o->test_given = 1;
        } else if (cli_opt(&a, "--limit")) {
            if (a.value) cli_long(&a, 1, 1L << 40, &o->limit);
        } else if (cli_opt(&a, "--test-limit")) {
            if (a.value) cli_long(&a, 1, 1L << 40, &o->test_limit);
        } else if (cli_opt(&a, "--model")) {
            o->model = a.value;
        } else if (cli_opt(&a, "--epochs")) {
            if (a.value) cli_long(&a, 1, 1000000, &o->epochs);
            o->training_flags = 1;
        } else if (cli_opt(&a, "--lr")) {
            if (a.value) cli_positive_double(&a, &o->lr);
            o->training_flags = 1;
        } else if (cli_opt(&a, "--batch")) {
            if (a.value) cli_long(&a, 1, 1L << 24, &o->batch);
            o->training_flags = 1;
        } else if (cli_opt(&a, "--device")) {
            o->device = a.value;
        } else if (cli_opt(&a, "--out")) {
            o->out = a.value;
        } else if (cli_flag(&a, "--json")) {
            o->json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (!o->components) {
        fprintf(stderr, "clae pca: --components K is required (see 'clae pca --help')\n");
        return CLI_EXIT_USAGE;
    }
    if (o->model && o->training_flags) {
        fprintf(stderr, "clae pca: --epochs, --lr and --batch train the autoencoder clae pca makes; --model %s is "
                        "evaluated as it is\n", o->model);
        return CLI_EXIT_USAGE;
    }
    if (o->out && !cli_ends_with(o->out, ".npy")) {
        fprintf(stderr, "clae pca: --out %s: the basis is written as NumPy; the name must end in .npy\n", o->out);
        return CLI_EXIT_USAGE;
    }
    if (o->out && cli_check_output("pca", "--out", o->out) != 0) return CLI_EXIT_USAGE;
    return -1;
}

/* The mean of the model's per-row errors over rows of x, summed in double, into *mse; 0, or -1 (library error). */
static int model_mse(clae_model *m, const clae_dataset *ds, double *mse)
{
    float *err = malloc(ds->rows * sizeof *err);
    if (!err || clae_model_row_errors(m, ds->x, ds->rows, err) != CLAE_OK) {
        if (!err) fprintf(stderr, "clae pca: out of memory for %zu rows\n", ds->rows);
        else cli_fail_lib();
        free(err);
        return -1;
    }
    double s = 0.0;
    for (size_t r = 0; r < ds->rows; r++) s += err[r];
    free(err);
    *mse = s / (double)ds->rows;
    return 0;
}

/* What the training callbacks share. */
typedef struct pca_train_ctx {
    const pca_opts *o;
    clae_model *m;
    const clae_dataset *test;
    double pca_test_mse, t_epoch, ae_test_mse;
    cli_progress prog;
    int failed;
} pca_train_ctx;

static int on_epoch_begin(const clae_train_report *ev, void *user)
{
    pca_train_ctx *c = user;
    c->t_epoch = cli_now();
    cli_progress_epoch(&c->prog, (int)ev->epoch + 1, (int)c->o->epochs, (size_t)ev->steps_per_epoch);
    return 0;
}

static int on_step(const clae_train_report *ev, void *user)
{
    pca_train_ctx *c = user;
    cli_progress_step(&c->prog, (size_t)ev->step_in_epoch, ev->epoch_rows, ev->epoch_loss);
    return 0;
}

/* Each epoch's test MSE beside PCA's, so the approach to the bound shows as it happens. */
static int on_epoch_end(const clae_train_report *ev, void *user)
{
    pca_train_ctx *c = user;
    cli_progress_clear(&c->prog);
    if (model_mse(c->m, c->test, &c->ae_test_mse) != 0) {
        c->failed = 1;
        return 1;
    }
    /* sse is ½·Σ_i (x̂ − x)² per row: twice it over D is the batches' MSE per element. */
    const double D = (double)c->test->cols;
    if (!c->o->quiet)
        fprintf(stderr, "epoch %llu/%ld  train_mse %.6g  test_mse %.6g  (PCA %.6g, ratio %.4f)  (%.1f s)\n",
                (unsigned long long)ev->epoch + 1, c->o->epochs, 2.0 * ev->epoch_loss / D, c->ae_test_mse,
                c->pca_test_mse, c->ae_test_mse / c->pca_test_mse, cli_now() - c->t_epoch);
    return 0;
}

/* Trains D,dense:K:linear,dense:D:linear on train (sse, Adam, seed 42) into *m. Returns -1 to go on, or an exit
 * status after a message. */
static int train_linear_ae(const pca_opts *o, clae_runtime *rt, const clae_dataset *train, const clae_dataset *test,
                           double pca_test_mse, clae_model **m)
{
    char spec[128];
    snprintf(spec, sizeof spec, "%zu,dense:%ld:linear,dense:%zu:linear", train->cols, o->components, train->cols);
    clae_model_config cfg;
    clae_model_config_default(&cfg);
    cfg.loss = CLAE_LOSS_SSE;
    cfg.optimizer = CLAE_OPT_ADAM;
    cfg.lr = (float)o->lr;
    cfg.batch = (int)o->batch;
    cfg.seed = AE_SEED;
    if (clae_model_create_arch(rt, &cfg, spec, 0, m) != CLAE_OK) return cli_fail_lib();
    pca_train_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.m = *m;
    c.test = test;
    c.pca_test_mse = pca_test_mse;
    cli_progress_init(&c.prog, stderr, o->quiet);
    clae_trainer_options to;
    clae_trainer_options_default(&to);
    to.epochs = (uint64_t)o->epochs;
    to.on_epoch_begin = on_epoch_begin;
    to.on_step = on_step;
    to.on_epoch_end = on_epoch_end;
    to.user = &c;
    clae_status st = clae_model_train(*m, train, &to, NULL);
    cli_progress_clear(&c.prog);
    if (c.failed) return CLI_EXIT_FAIL;
    if (st != CLAE_OK) return cli_fail_lib();
    return -1;
}

/* Loads --data and the test set by `clae train`'s rule: --test, or the default test file when --data is the
 * default or IDX; else the training rows test too (*test_owned stays NULL). Returns -1 to go on, or an exit
 * status after a message. */
static int load_data(const pca_opts *o, clae_dataset **train, clae_dataset **test_owned)
{
    int rc = cli_load_data_ex("pca", o->data, o->limit, NULL, NULL, train, NULL);
    if (rc >= 0) return rc;
    const size_t D = (*train)->cols;
    if ((size_t)o->components > D) {
        fprintf(stderr, "clae pca: --components %ld: %s has %zu columns; expected 1 to %zu\n", o->components, o->data,
                D, D);
        return CLI_EXIT_USAGE;
    }
    if (o->test_given || !o->data_given || ((*train)->format == CLAE_FORMAT_IDX && strcmp(o->data, "-") != 0)) {
        rc = cli_load_data_ex("pca", o->test, o->test_limit, NULL, NULL, test_owned, NULL);
        if (rc >= 0) return rc;
        if ((*test_owned)->cols != D) {
            fprintf(stderr, "clae pca: --test %s has %zu columns, --data %s has %zu\n", o->test, (*test_owned)->cols,
                    o->data, D);
            return CLI_EXIT_FAIL;
        }
    } else if (!o->quiet) {
        fprintf(stderr, "note: no --test given: test MSEs are measured on the training rows of %s\n", o->data);
    }
    return -1;
}

/* The figures the summary and the JSON report. */
typedef struct pca_result {
    double train_mse, identity_mse, explained, pca_test_mse, ae_test_mse, pca_seconds, ae_seconds;
    double *cosines; /* K, or NULL when the net has no principal angles */
    char why_no_angles[256];
} pca_result;

/* The principal angles, when the model is a one-hidden-layer linear net of width K. Returns 0, or -1 after a
 * library error. */
static int angles(clae_model *m, const clae_pca *p, const clae_model_config *c, pca_result *r)
{
    const int K = clae_pca_components(p);
    const int linear_1h = c->n_layers == 2 && c->sizes[1] == K && c->activation[0] == CLAE_ACT_LINEAR &&
                          c->activation[1] == CLAE_ACT_LINEAR;
    if (!linear_1h) {
        snprintf(r->why_no_angles, sizeof r->why_no_angles,
                 "the model %.120s is not a one-hidden-layer linear net of width %d", clae_model_arch(m), K);
        return 0;
    }
    r->cosines = malloc((size_t)K * sizeof *r->cosines);
    if (!r->cosines) {
        fprintf(stderr, "clae pca: out of memory\n");
        return -1;
    }
    if (clae_model_principal_angles(m, p, r->cosines) != CLAE_OK) {
        cli_fail_lib();
        return -1;
    }
    return 0;
}

static double degrees(double cosine) { return acos(cosine) * 180.0 / acos(-1.0); }

static int print_json(const pca_opts *o, const clae_device_info *dev, const clae_model_config *c, const pca_result *r,
                      size_t train_rows, size_t test_rows, int K)
{
    cJSON *j = cJSON_CreateObject();
    const double minc = r->cosines ? r->cosines[K - 1] : NAN;
    /* NaN (no angles) is written as null by cJSON. */
    int ok = j && cli_json_add_layers(j, c) && cJSON_AddStringToObject(j, "device", dev->name) &&
             cJSON_AddStringToObject(j, "device_id", dev->id) && cJSON_AddNumberToObject(j, "components", K) &&
             cJSON_AddNumberToObject(j, "train_rows", (double)train_rows) &&
             cJSON_AddNumberToObject(j, "test_rows", (double)test_rows) &&
             cJSON_AddNumberToObject(j, "pca_train_mse", r->train_mse) &&
             cJSON_AddNumberToObject(j, "pca_identity_mse", r->identity_mse) &&
             cJSON_AddNumberToObject(j, "explained_variance", r->explained) &&
             cJSON_AddNumberToObject(j, "pca_test_mse", r->pca_test_mse) &&
             cJSON_AddNumberToObject(j, "ae_test_mse", r->ae_test_mse) &&
             cJSON_AddNumberToObject(j, "ratio", r->ae_test_mse / r->pca_test_mse) &&
             cJSON_AddNumberToObject(j, "min_cosine", minc) &&
             cJSON_AddNumberToObject(j, "max_angle_degrees", r->cosines ? degrees(minc) : NAN) &&
             cJSON_AddNumberToObject(j, "pca_seconds", round(r->pca_seconds * 1000) / 1000) &&
             cJSON_AddNumberToObject(j, "ae_seconds", round(r->ae_seconds * 1000) / 1000) &&
             (o->model ? cJSON_AddStringToObject(j, "model", o->model) != NULL
                       : cJSON_AddNumberToObject(j, "epochs", (double)o->epochs) != NULL) &&
             (!o->out || cJSON_AddStringToObject(j, "out", o->out));
    if (ok && r->cosines) {
        cJSON *arr = cJSON_AddArrayToObject(j, "cosines");
        ok = arr != NULL;
        for (int i = 0; ok && i < K; i++) ok = cJSON_AddItemToArray(arr, cJSON_CreateNumber(r->cosines[i]));
    } else if (ok) {
        ok = cJSON_AddNullToObject(j, "cosines") != NULL;
    }
    if (!ok) {
        cJSON_Delete(j);
        j = NULL;
    }
    return cli_json_print("pca", j);
}

static void print_summary(const pca_opts *o, const clae_device_info *dev, clae_model *m, const pca_result *r, int K,
                          size_t D)
{
    printf("device              %s (%s)\n", dev->name, dev->id);
    printf("PCA-%-3d train MSE   %.6g\n", K, r->train_mse);
    printf("identity            %.6g = (1/%zu)*sum of the %zu smallest eigenvalues\n", r->identity_mse, D, D - (size_t)K);
    printf("explained variance  %.4f\n", r->explained);
    printf("PCA test MSE        %.6g\n", r->pca_test_mse);
    if (o->model)
        printf("AE test MSE         %.6g (%s, %s)\n", r->ae_test_mse, o->model, clae_model_arch(m));
    else
        printf("AE test MSE         %.6g (%s, %ld epochs, sse, adam lr %g, batch %ld)\n", r->ae_test_mse,
               clae_model_arch(m), o->epochs, o->lr, o->batch);
    printf("ratio AE/PCA        %.4f\n", r->ae_test_mse / r->pca_test_mse);
    if (r->cosines)
        printf("principal angles    min cosine %.6f, max angle %.3f degrees (cosines %.6f ... %.6f)\n", r->cosines[K - 1],
               degrees(r->cosines[K - 1]), r->cosines[0], r->cosines[K - 1]);
    else
        printf("principal angles    none: %s\n", r->why_no_angles);
    printf("seconds             PCA %.2f, AE %.2f\n", r->pca_seconds, r->ae_seconds);
    if (o->out) printf("out                 %s\n", o->out);
}

/* Writes the D×K directions as float32 NPY. Returns 0, or -1 after a message. */
static int write_basis(const char *path, const clae_pca *p)
{
    const size_t D = clae_pca_dim(p), K = (size_t)clae_pca_components(p);
    const double *U = clae_pca_directions(p);
    float *f = malloc(D * K * sizeof *f);
    if (!f) {
        fprintf(stderr, "clae pca: out of memory for the %zu x %zu basis\n", D, K);
        return -1;
    }
    for (size_t i = 0; i < D * K; i++) f[i] = (float)U[i];
    clae_status st = clae_matrix_save_npy(path, f, D, K);
    free(f);
    if (st != CLAE_OK) {
        cli_fail_lib();
        return -1;
    }
    return 0;
}

int cli_pca(int argc, char **argv)
{
    pca_opts o;
    int rc = parse_pca_args(argc, argv, &o);
    if (rc >= 0) return rc;
    clae_dataset *train = NULL, *test_owned = NULL;
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_pca *p = NULL;
    clae_scaling scaling = {CLAE_SCALE_NONE, 0, NULL, NULL};
    clae_device_info dev;
    pca_result r;
    memset(&r, 0, sizeof r);

    /* Data before device: a wrong path or width is reported before any kernel is compiled. */
    rc = load_data(&o, &train, &test_owned);
    if (rc >= 0) goto done;
    const clae_dataset *test = test_owned ? test_owned : train;
    const int K = (int)o.components;
    const size_t D = train->cols;
    if (cli_runtime_open(o.device, o.quiet, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (o.model) {
        if (clae_model_load(rt, o.model, CLAE_MODEL_INFERENCE, 0, &m, &scaling) != CLAE_OK ||
            clae_model_check_data(m, train) != CLAE_OK) {
            rc = cli_fail_lib();
            goto done;
        }
        /* The model's units: PCA is fitted to the same scaled rows it is compared with. */
        if (scaling.kind != CLAE_SCALE_NONE) {
            if (clae_scaling_apply(&scaling, train) != CLAE_OK ||
                (test_owned && clae_scaling_apply(&scaling, test_owned) != CLAE_OK)) {
                rc = cli_fail_lib();
                goto done;
            }
            if (!o.quiet)
                fprintf(stderr, "note: %s stores --scale %s; PCA and both errors use the scaled data\n", o.model,
                        clae_scale_kind_name(scaling.kind));
        }
    }

    double t0 = cli_now();
    if (clae_pca_fit(train, K, &p) != CLAE_OK || clae_pca_mse(p, train->x, train->rows, &r.train_mse) != CLAE_OK ||
        clae_pca_mse(p, test->x, test->rows, &r.pca_test_mse) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    r.pca_seconds = cli_now() - t0;
    r.identity_mse = clae_pca_identity_mse(p);
    r.explained = clae_pca_explained_variance(p);
    if (!o.quiet)
        fprintf(stderr, "PCA-%d of %zu rows x %zu: train MSE %.6g, test MSE %.6g, %.1f%% of the variance (%.1f s)\n", K,
                train->rows, D, r.train_mse, r.pca_test_mse, 100.0 * r.explained, r.pca_seconds);
    if (o.out && write_basis(o.out, p) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }

    t0 = cli_now();
    if (!o.model) {
        rc = train_linear_ae(&o, rt, train, test, r.pca_test_mse, &m);
        if (rc >= 0) goto done;
    }
    if (model_mse(m, test, &r.ae_test_mse) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    r.ae_seconds = cli_now() - t0;
    clae_model_config c;
    clae_model_get_config(m, &c);
    if (angles(m, p, &c, &r) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (o.json) {
        rc = print_json(&o, &dev, &c, &r, train->rows, test->rows, K) != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    } else {
        print_summary(&o, &dev, m, &r, K, D);
        rc = CLI_EXIT_OK;
    }
done:
    free(r.cosines);
    clae_pca_free(p);
    clae_model_destroy(m);
    clae_runtime_close(rt);
    clae_scaling_free(&scaling);
    clae_dataset_free(train);
    clae_dataset_free(test_owned);
    return rc;
}
