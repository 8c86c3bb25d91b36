/* clae_train.c — `clae train`: fit a dense autoencoder to IDX images and report the test error.
 * Progress and per-epoch lines go to stderr; the summary (text or one JSON object) to stdout. */
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_progress.h"

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define DEFAULT_TRAIN_FILE "train-images-idx3-ubyte.gz"
#define DEFAULT_TEST_FILE "t10k-images-idx3-ubyte.gz"
#define DEFAULT_EPOCHS 5

const char cli_train_help[] =
    "usage: clae train [options]\n"
    "\n"
    "Trains a dense autoencoder on the rows of an IDX image file, then after every epoch\n"
    "measures the mean per-image reconstruction MSE on a test file. Progress goes to\n"
    "stderr; a summary goes to stdout (one JSON object with --json).\n"
    "\n"
    "Data:\n"
    "  --data PATH             training images, IDX uint8, plain or gzip\n"
    "                          (default $CLAE_DATA_DIR or " DEFAULT_DATA_DIR "/\n"
    "                          " DEFAULT_TRAIN_FILE ")\n"
    "  --test PATH             test images (default the same directory's\n"
    "                          " DEFAULT_TEST_FILE ")\n"
    "  --limit N               use only the first N training images (default all)\n"
    "  --test-limit N          use only the first N test images (default all)\n"
    "\n"
    "Model:\n"
    CLI_MODEL_FLAGS_HELP
    "  --epochs N              passes over the training data (default 5)\n"
    "\n"
    "Run:\n"
    "  --device SPEC           P:D index, type word (gpu, cpu, cpu-ref) or name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --json                  print the summary as one JSON object: device, device_id,\n"
    "                          epochs, steps, batch, layers, activation,\n"
    "                          output_activation, loss, optimizer, lr, train_loss (mean\n"
    "                          of the last epoch), test_mse, samples_per_sec (training\n"
    "                          steps only), seconds (training and testing), seed,\n"
    "                          train_rows, test_rows, interrupted\n"
    "  --quiet, -q             no progress or per-epoch lines on stderr\n"
    "  --help                  show this help\n"
    "\n"
    "Ctrl-C stops after the current step, tests, prints the summary and exits 130;\n"
    "a second Ctrl-C kills at once.\n";

typedef struct train_opts {
    char data[1024], test[1024];
    const char *device;
    long epochs, limit, test_limit; /* limits: 0 = all rows */
    int json, quiet;
    cli_model_opts model;
    clae_model_config cfg; /* model.cfg once parsed */
} train_opts;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Parses the command line into o. Returns -1 to go on, or an exit status. */
static int parse_train_args(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    const char *dir = getenv("CLAE_DATA_DIR");
    if (!dir || !*dir) dir = DEFAULT_DATA_DIR;
    snprintf(o->data, sizeof o->data, "%s/%s", dir, DEFAULT_TRAIN_FILE);
    snprintf(o->test, sizeof o->test, "%s/%s", dir, DEFAULT_TEST_FILE);
    o->epochs = DEFAULT_EPOCHS;
    cli_model_opts_init(&o->model);

    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_train_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--data")) {
            if (a.value) snprintf(o->data, sizeof o->data, "%s", a.value);
        } else if (cli_opt(&a, "--test")) {
            if (a.value) snprintf(o->test, sizeof o->test, "%s", a.value);
        } else if (cli_opt(&a, "--device")) {
            o->device = a.value;
        } else if (cli_model_opt(&a, &o->model)) {
            /* matched a model flag */
        } else if (cli_opt(&a, "--epochs")) {
            if (a.value) cli_long(&a, 1, 1000000, &o->epochs);
        } else if (cli_opt(&a, "--limit")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->limit);
        } else if (cli_opt(&a, "--test-limit")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->test_limit);
        } else if (cli_flag(&a, "--json")) {
            o->json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;

    int rc = cli_model_opts_finish("train", &o->model);
    if (rc >= 0) return rc;
    o->cfg = o->model.cfg;
    return -1;
}

static clae_status load(const char *path, long limit, const clae_model_config *cfg, clae_dataset **out)
{
    clae_status st = clae_dataset_load_idx(path, out);
    if (st != CLAE_OK) return st;
    if (limit > 0) clae_dataset_truncate(*out, (size_t)limit);
    st = clae_model_config_check_data(cfg, *out);
    if (st != CLAE_OK) {
        clae_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

static int test_mse(clae_model *m, const clae_dataset *test, float *err, double *mse)
{
    if (clae_model_row_errors(m, test->x, test->rows, err) != CLAE_OK) return -1;
    double sum = 0.0;
    for (size_t r = 0; r < test->rows; r++) sum += (double)err[r];
    *mse = sum / (double)test->rows;
    return 0;
}

typedef struct train_result {
    long epochs_done;
    double train_loss, test_mse;
    double train_seconds, seconds;
    size_t samples;
    int interrupted;
    char variant[256]; /* clae_model_describe() */
    double penalty;    /* the regularizers' share of the last step's loss */
    double code_mean;  /* mean code activation over the test set (sparse variants), else NAN */
} train_result;

static void print_layers(FILE *out, const clae_model_config *cfg)
{
    for (int l = 0; l <= cfg->n_layers; l++) fprintf(out, "%s%d", l ? "," : "", cfg->sizes[l]);
}

static int print_json(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r,
                      const clae_dataset *train, const clae_dataset *test)
{
    const clae_model_config *c = &o->cfg;
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON *j = cJSON_CreateObject();
    cJSON *layers = cJSON_CreateArray();
    int ok = j && layers && cJSON_AddStringToObject(j, "device", dev->name) &&
             cJSON_AddStringToObject(j, "device_id", dev->id) &&
             cJSON_AddNumberToObject(j, "epochs", (double)r->epochs_done) &&
             cJSON_AddNumberToObject(j, "steps", (double)clae_model_steps(m)) &&
             cJSON_AddNumberToObject(j, "batch", c->batch);
    if (ok) {
        cJSON_AddItemToObject(j, "layers", layers);
        for (int l = 0; ok && l <= c->n_layers; l++) {
            cJSON *n = cJSON_CreateNumber(c->sizes[l]);
            ok = n && cJSON_AddItemToArray(layers, n);
        }
    } else {
        cJSON_Delete(layers);
    }
    ok = ok && cJSON_AddStringToObject(j, "activation", clae_activation_name(c->activation[0])) &&
         cJSON_AddStringToObject(j, "output_activation", clae_activation_name(c->activation[c->n_layers - 1])) &&
         cJSON_AddStringToObject(j, "loss", clae_loss_name(c->loss)) &&
         cJSON_AddStringToObject(j, "optimizer", clae_optimizer_name(c->optimizer)) &&
         cJSON_AddNumberToObject(j, "lr", cli_clean_float(c->lr)) &&
         cJSON_AddStringToObject(j, "variant", r->variant) &&
         cJSON_AddNumberToObject(j, "penalty", r->penalty) &&
         cJSON_AddNumberToObject(j, "train_loss", r->train_loss) &&
         cJSON_AddNumberToObject(j, "test_mse", r->test_mse) &&
         cJSON_AddNumberToObject(j, "samples_per_sec",
                                 r->train_seconds > 0 ? round((double)r->samples / r->train_seconds * 10) / 10 : 0) &&
         cJSON_AddNumberToObject(j, "seconds", round(r->seconds * 1000) / 1000) &&
         /* Raw keeps a 64-bit seed exact; a JSON double would round it above 2^53. */
         cJSON_AddRawToObject(j, "seed", seed) &&
         cJSON_AddNumberToObject(j, "train_rows", (double)train->rows) &&
         cJSON_AddNumberToObject(j, "test_rows", (double)test->rows) &&
         cJSON_AddBoolToObject(j, "interrupted", r->interrupted) &&
         (isnan(r->code_mean) || cJSON_AddNumberToObject(j, "code_mean_activation", r->code_mean));
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        fprintf(stderr, "clae train: out of memory building JSON\n");
        return -1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

static void print_summary(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r)
{
    printf("device      %s (%s)\n", dev->name, dev->id);
    printf("layers      ");
    print_layers(stdout, &o->cfg);
    printf("\nloss        %s, %s lr %g\n", clae_loss_name(o->cfg.loss), clae_optimizer_name(o->cfg.optimizer),
           cli_clean_float(o->cfg.lr));
    printf("epochs      %ld%s\n", r->epochs_done, r->interrupted ? " (interrupted)" : "");
    printf("steps       %llu\n", (unsigned long long)clae_model_steps(m));
    printf("variant     %s\n", r->variant);
    if (r->penalty != 0.0) printf("penalty     %.6g\n", r->penalty);
    if (!isnan(r->code_mean)) printf("code mean   %.6g\n", r->code_mean);
    printf("train_loss  %.6g\n", r->train_loss);
    printf("test_mse    %.6g\n", r->test_mse);
    printf("samples/s   %.0f\n", r->train_seconds > 0 ? (double)r->samples / r->train_seconds : 0.0);
    printf("seconds     %.2f\n", r->seconds);
}

/* The mean code activation over the test set: what sparsity targets (ρ). */
static int code_mean(clae_model *m, const clae_dataset *test, double *out)
{
    clae_model_config c;
    clae_model_get_config(m, &c);
    size_t H = (size_t)c.sizes[c.code_layer];
    float *codes = malloc(test->rows * H * sizeof *codes);
    if (!codes || clae_model_encode(m, test->x, test->rows, codes) != CLAE_OK) {
        free(codes);
        return -1;
    }
    double sum = 0.0;
    for (size_t i = 0; i < test->rows * H; i++) sum += codes[i];
    *out = sum / (double)(test->rows * H);
    free(codes);
    return 0;
}

/* The epoch loop. Returns 0, or -1 after a library failure (message in clae_last_error()). */
static int run_epochs(const train_opts *o, clae_model *m, const clae_dataset *train, const clae_dataset *test,
                      train_result *r)
{
    const size_t rows = train->rows, cols = train->cols, batch = (size_t)o->cfg.batch;
    const size_t steps = (rows + batch - 1) / batch;
    size_t *order = malloc(rows * sizeof *order);
    float *xb = malloc(batch * cols * sizeof *xb);
    uint32_t *ids = malloc(batch * sizeof *ids);
    float *err = malloc(test->rows * sizeof *err);
    int rc = 0;
    if (!order || !xb || !ids || !err) {
        fprintf(stderr, "clae train: out of memory for %zu rows of %zu\n", rows, cols);
        rc = -2;
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, stderr, o->quiet);
    const double t0 = cli_now();
    for (long e = 0; e < o->epochs && !interrupted; e++) {
        const double te = cli_now();
        clae_shuffle_order(rows, o->cfg.seed, (uint32_t)e, order);
        cli_progress_epoch(&prog, (int)e + 1, (int)o->epochs, steps);
        double loss_sum = 0.0;
        size_t seen = 0, s = 0;
        while (s < steps) {
            size_t n = rows - s * batch < batch ? rows - s * batch : batch;
            float loss = 0.0f;
            /* The rows' data-set indices key the noise of denoising variants. */
            for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)order[s * batch + k];
            if (clae_dataset_gather(train, order + s * batch, n, xb) != CLAE_OK ||
                clae_model_train_step_rows(m, xb, ids, n, &loss) != CLAE_OK) {
                cli_progress_clear(&prog);
                rc = -1;
                goto done;
            }
            /* Weighted by rows so a short last batch counts for what it is. */
            loss_sum += (double)loss * (double)n;
            seen += n;
            s++;
            cli_progress_step(&prog, s, seen, loss_sum / (double)seen);
            if (interrupted) break;
        }
        r->train_seconds += cli_now() - te;
        r->samples += seen;
        r->train_loss = loss_sum / (double)seen;
        cli_progress_clear(&prog);
        if (interrupted && s < steps) {
            r->interrupted = 1;
            if (!o->quiet) fprintf(stderr, "interrupted after step %zu/%zu of epoch %ld; testing\n", s, steps, e + 1);
        } else {
            r->epochs_done = e + 1;
        }
        char note[96];
        snprintf(note, sizeof note, "epoch %ld/%ld  testing on %zu images", e + 1, o->epochs, test->rows);
        cli_progress_status(&prog, note);
        int tf = test_mse(m, test, err, &r->test_mse);
        cli_progress_clear(&prog);
        if (tf != 0) {
            rc = -1;
            goto done;
        }
        if (!o->quiet)
            fprintf(stderr, "epoch %ld/%ld  train_loss %.6g  test_mse %.6g  (%.1f s)\n", e + 1, o->epochs,
                    r->train_loss, r->test_mse, cli_now() - te);
    }
    /* A Ctrl-C that lands during the last test pass still asks for exit 130. */
    if (interrupted) r->interrupted = 1;
    r->penalty = clae_model_last_penalty(m);
    if (o->cfg.sparsity != CLAE_SPARSITY_NONE && code_mean(m, test, &r->code_mean) != 0) {
        rc = -1;
        goto done;
    }
    r->seconds = cli_now() - t0;
done:
    free(order);
    free(xb);
    free(ids);
    free(err);
    return rc;
}

int cli_train(int argc, char **argv)
{
    train_opts o;
    int rc = parse_train_args(argc, argv, &o);
    if (rc >= 0) return rc;

    clae_dataset *train = NULL, *test = NULL;
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_device_info dev;
    train_result r;
    memset(&r, 0, sizeof r);
    r.code_mean = NAN;
    struct sigaction sa, old_sa;
    int handler = 0;

    /* Data before device: a wrong path or width is reported at once instead of
     * after the device has compiled (or loaded) its kernels. */
    clae_status st = load(o.data, o.limit, &o.cfg, &train);
    if (st == CLAE_OK) st = load(o.test, o.test_limit, &o.cfg, &test);
    if (st != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (clae_runtime_open(o.device, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK ||
        clae_model_create(rt, &o.cfg, &m) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    clae_model_describe(m, r.variant, sizeof r.variant);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* One-shot: the second Ctrl-C gets the default action and ends the process. */
    sa.sa_flags = SA_RESETHAND;
    interrupted = 0;
    handler = sigaction(SIGINT, &sa, &old_sa) == 0;

    int er = run_epochs(&o, m, train, test, &r);
    if (er != 0) {
        rc = er == -1 ? cli_fail_lib() : CLI_EXIT_FAIL;
        goto done;
    }
    if (o.json) {
        if (print_json(&o, &dev, m, &r, train, test) != 0) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else {
        print_summary(&o, &dev, m, &r);
    }
    fflush(stdout);
    rc = r.interrupted ? CLI_EXIT_INTERRUPT : CLI_EXIT_OK;
done:
    if (handler) sigaction(SIGINT, &old_sa, NULL);
    clae_model_destroy(m);
    clae_runtime_close(rt);
    clae_dataset_free(train);
    clae_dataset_free(test);
    return rc;
}
