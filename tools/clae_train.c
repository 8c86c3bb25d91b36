/* clae_train.c — `clae train`: fit a dense autoencoder to IDX, CSV or NPY data and report the test error,
 * with model files, checkpoints and exact resume. Progress goes to stderr; the summary to stdout. */
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_png.h"
#include "clae_progress.h"

#define DEFAULT_EPOCHS 5
#define PLOT_TRAIN_ROWS 10000 /* rows of the training data whose MSE --plot draws each epoch */
#define PLOT_STEP_POINTS 200  /* the per-step curve is averaged down to about this many points */
/* A batch loss this many times the run's first (plus a floor for a first loss
 * near 0) is divergence: training has only ever made the loss smaller. */
#define DIVERGE_FACTOR 1e3
#define DIVERGE_FLOOR 1e-3

const char cli_train_help[] =
    "usage: clae train [options]\n"
    "\n"
    "Trains a dense autoencoder and tests the per-row reconstruction MSE after each\n"
    "epoch. Progress goes to stderr (on a terminal a bar as wide as it, otherwise a\n"
    "line per epoch and at most one more every 10 s), the summary to stdout.\n"
    "\n"
    "Data (IDX; CSV, header optional; NPY f4/f8/u1; any of them gzip'd; - is stdin).\n"
    "Values are taken as stored, except bytes (IDX, NPY u1), which are divided by\n"
    "255: CSV pixels 0..255 stay 0..255 (use --scale minmax, or write them /255).\n"
    "  --data PATH             training data (default " CLI_DEFAULT_TRAIN_FILE "\n"
    "                          in $CLAE_DATA_DIR, else in\n"
    "                          " CLI_DEFAULT_DATA_DIR ")\n"
    "  --test PATH             test data (default " CLI_DEFAULT_TEST_FILE " there,\n"
    "                          but for CSV, NPY or stdin --data the training data)\n"
    "  --validation-split F    no --test: hold out the last fraction F (0 < F < 1) of\n"
    "                          the training rows (after --limit) as the test set,\n"
    "                          in file order as Keras does; the rest trains\n"
    "  --limit N, --test-limit N  use only the first N rows\n"
    CLI_DATA_FLAGS_HELP
    "  --scale KIND            per-column scaling fitted on the training rows,\n"
    "                          applied to both sets, stored with the model:\n"
    "                          none (default), minmax (x-min)/(max-min),\n"
    "                          zscore (x-mean)/std, normalize (x-mean)/(max-min)\n"
    "                          (h2o's; the column mean becomes 0)\n"
    "\n"
    "Model:\n"
    CLI_MODEL_FLAGS_HELP
    "\n"
    "Training:\n"
    "  --epochs N              passes over the training data (default 5)\n"
    "  --steps N               stop after N optimizer steps (resumed ones count);\n"
    "                          0 trains nothing: with --init and --out it converts a\n"
    "                          weights-only file (e.g. PyTorch's) into a clae model\n"
    "  --no-shuffle            batches in file order (default: shuffled by the seed)\n"
    "  --init PATH             start from a model file's weights (same layer shapes),\n"
    "                          or from weights alone (layers.<i>.weight/bias, as\n"
    "                          safetensors.torch.save_file writes them); without\n"
    "                          --layers the widths are read from the file\n"
    "\n"
    "Files (safetensors, written to a temporary name and renamed):\n"
    "  --out PATH              the trained model, also after Ctrl-C\n"
    "  --checkpoint PATH       weights, optimizer state and position, written at the\n"
    "                          end, on Ctrl-C and every --checkpoint-every N steps\n"
    "  --resume                continue from --checkpoint if it exists: every model\n"
    "                          flag is read from it (flags given again must agree);\n"
    "                          bit-identical to a run never interrupted\n"
    "  --plot PATH             PNG of the test MSE and train MSE (first 10000 rows)\n"
    "                          by epoch (solid with squares, dashed with diamonds)\n"
    "                          and the training batches' MSE per step (thin), for\n"
    "                          every loss\n"
    "\n"
    "Run:\n"
    "  --device SPEC           P:D, gpu, cpu, cpu-ref or a device name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --json                  the summary as one JSON object (model, checkpoint and\n"
    "                          plot name the files written)\n"
    "  --quiet, -q             nothing on stderr but errors\n"
    "\n"
    "Ctrl-C stops after the current step, writes --checkpoint and --out, tests,\n"
    "prints the summary and exits 130; a second Ctrl-C kills at once.\n";

typedef struct train_opts {
    char data[1024], test[1024];
    int data_given, test_given;
    const char *device;
    long epochs, limit, test_limit; /* limits: 0 = all rows */
    long max_steps;                 /* 0 = no limit */
    int no_training;                /* --steps 0: build (or convert) the model, test and save it */
    long checkpoint_every;          /* 0 = only at the end */
    int no_shuffle, resume;
    const char *out, *init, *checkpoint, *plot;
    clae_scale_kind scale;
    int scale_given;
    cli_data_opts cols;      /* --skip-columns, --label-column */
    double validation_split; /* 0: none */
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
    cli_default_data_path(CLI_DEFAULT_TRAIN_FILE, o->data, sizeof o->data);
    cli_default_data_path(CLI_DEFAULT_TEST_FILE, o->test, sizeof o->test);
    o->epochs = DEFAULT_EPOCHS;
    cli_model_opts_init(&o->model);
    o->model.allow_auto = 1; /* --layers auto,...: the width comes from --data */

    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_train_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--data")) {
            if (a.value) snprintf(o->data, sizeof o->data, "%s", a.value);
            o->data_given = 1;
        } else if (cli_opt(&a, "--test")) {
            if (a.value) snprintf(o->test, sizeof o->test, "%s", a.value);
            o->test_given = 1;
        } else if (cli_opt(&a, "--device")) {
            o->device = a.value;
        } else if (cli_model_opt(&a, &o->model)) {
            /* matched a model flag */
        } else if (cli_opt(&a, "--epochs")) {
            if (a.value) cli_long(&a, 1, 1000000, &o->epochs);
        } else if (cli_opt(&a, "--steps")) {
            if (a.value && cli_long(&a, 0, LONG_MAX, &o->max_steps) == 0) o->no_training = o->max_steps == 0;
        } else if (cli_opt(&a, "--limit")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->limit);
        } else if (cli_opt(&a, "--test-limit")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->test_limit);
        } else if (cli_opt(&a, "--scale")) {
            if (a.value && clae_scale_kind_parse(a.value, &o->scale) != CLAE_OK)
                cli_bad_value(&a, "expected none, minmax, zscore or normalize");
            o->scale_given = 1;
        } else if (cli_data_opt(&a, &o->cols)) {
            /* matched a column flag */
        } else if (cli_opt(&a, "--validation-split")) {
            if (a.value && (cli_positive_double(&a, &o->validation_split) != 0 || o->validation_split >= 1.0) &&
                !a.failed)
                cli_bad_value(&a, "expected a fraction of the rows, 0 < F < 1 (e.g. 0.2)");
        } else if (cli_flag(&a, "--no-shuffle")) {
            o->no_shuffle = 1;
        } else if (cli_opt(&a, "--init")) {
            o->init = a.value;
        } else if (cli_opt(&a, "--out")) {
            o->out = a.value;
        } else if (cli_opt(&a, "--checkpoint")) {
            o->checkpoint = a.value;
        } else if (cli_opt(&a, "--checkpoint-every")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &o->checkpoint_every);
        } else if (cli_flag(&a, "--resume")) {
            o->resume = 1;
        } else if (cli_opt(&a, "--plot")) {
            o->plot = a.value;
        } else if (cli_flag(&a, "--json")) {
            o->json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            o->quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    /* An empty path would only fail later, after the whole training run. */
    const struct {
        const char *flag, *value;
    } paths[] = {{"--out", o->out}, {"--init", o->init}, {"--checkpoint", o->checkpoint}, {"--plot", o->plot}};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        if (paths[k].value && !*paths[k].value) {
            fprintf(stderr, "clae train: %s: the path is empty\n", paths[k].flag);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->validation_split > 0.0 && o->test_given) {
        fprintf(stderr, "clae train: --validation-split holds out training rows as the test set; with --test %s "
                        "there is one already: give one or the other\n", o->test);
        return CLI_EXIT_USAGE;
    }
    if (o->test_given && o->data_given && strcmp(o->data, "-") == 0 && strcmp(o->test, "-") == 0) {
        fprintf(stderr, "clae train: --data - and --test -: standard input can be read only once; give the test "
                        "set as a file, or use --validation-split\n");
        return CLI_EXIT_USAGE;
    }
    if (!o->data[0] || !o->test[0]) {
        fprintf(stderr, "clae train: %s: the path is empty\n", !o->data[0] ? "--data" : "--test");
        return CLI_EXIT_USAGE;
    }
    if (o->checkpoint_every && !o->checkpoint) {
        fprintf(stderr, "clae train: --checkpoint-every needs --checkpoint PATH\n");
        return CLI_EXIT_USAGE;
    }
    if (o->resume && !o->checkpoint) {
        fprintf(stderr, "clae train: --resume needs --checkpoint PATH (the file to resume from)\n");
        return CLI_EXIT_USAGE;
    }

    /* Before the first step: a run must not train for an hour and then find it
     * cannot write its results. */
    const struct {
        const char *flag, *value;
    } outs[] = {{"--out", o->out}, {"--checkpoint", o->checkpoint}, {"--plot", o->plot}};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++)
        if (outs[k].value && cli_check_output("train", outs[k].flag, outs[k].value) != 0) return CLI_EXIT_USAGE;

    int rc;
    if (o->resume && access(o->checkpoint, F_OK) == 0) {
        /* The checkpoint's settings, with only the flags given again laid over
         * them: make_model then names any that disagree. */
        clae_model_config fc;
        if (clae_model_read_config(o->checkpoint, &fc) != CLAE_OK) {
            fprintf(stderr, "clae train: --resume: %s\n", clae_last_error());
            return CLI_EXIT_FAIL;
        }
        rc = cli_model_opts_replay("train", &o->model, &fc);
    } else {
        if (o->init && !o->model.layers &&
            clae_model_config_from_weights(o->init, &o->model.cfg) != CLAE_OK) {
            fprintf(stderr, "clae train: --init: %s\n", clae_last_error());
            return CLI_EXIT_FAIL;
        }
        rc = cli_model_opts_finish("train", &o->model);
    }
    if (rc >= 0) return rc;
    o->cfg = o->model.cfg;
    return -1;
}

static int mean_row_error(clae_model *m, const float *x, size_t rows, float *err, double *mse)
{
    if (clae_model_row_errors(m, x, rows, err) != CLAE_OK) return -1;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) sum += (double)err[r];
    *mse = sum / (double)rows;
    return 0;
}

/* A growing list of chart points. */
typedef struct curve {
    double *x, *y;
    size_t n, cap;
} curve;

static int curve_add(curve *c, double x, double y)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        double *nx = realloc(c->x, cap * sizeof *nx);
        if (!nx) return -1;
        c->x = nx;
        double *ny = realloc(c->y, cap * sizeof *ny);
        if (!ny) return -1;
        c->y = ny;
        c->cap = cap;
    }
    c->x[c->n] = x;
    c->y[c->n] = y;
    c->n++;
    return 0;
}

static void curve_free(curve *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

typedef struct train_result {
    long epochs_done;
    double train_loss, test_mse;
    double train_seconds, seconds;
    size_t samples;
    int interrupted;
    int resumed;
    clae_train_position start; /* where this run began */
    char variant[256];         /* clae_model_describe() */
    double penalty;            /* the regularizers' share of the last step's loss */
    double code_mean;          /* mean code activation over the test set (sparse variants), else NAN */
    curve test_curve, train_curve, step_curve; /* --plot */
} train_result;

/* What the run works on: the model, its data and where the files go. */
typedef struct train_ctx {
    const train_opts *o;
    clae_model *m;
    const clae_dataset *train, *test;
    const clae_scaling *scaling;
    int saved;              /* the checkpoint and --out reflect the current weights */
    uint64_t checkpoint_at; /* the step count of the last checkpoint written (UINT64_MAX: none) */
} train_ctx;

/* The position after `done` steps of epoch e, in the canonical form a
 * checkpoint stores: a finished epoch is the start of the next one. */
static clae_train_position position_after(uint64_t e, size_t done, size_t steps_per_epoch)
{
    clae_train_position p;
    p.epoch = done >= steps_per_epoch ? e + 1 : e;
    p.step_in_epoch = done >= steps_per_epoch ? 0 : done;
    return p;
}

/* Writes the checkpoint (when asked for) at position p. Returns 0 or -1. */
static int write_checkpoint(const train_ctx *c, clae_train_position p)
{
    if (!c->o->checkpoint) return 0;
    return clae_model_save_checkpoint(c->m, c->o->checkpoint, &p, c->scaling) == CLAE_OK ? 0 : -1;
}

/* write_checkpoint for a periodic save, remembering the step so the final
 * save does not write the same state twice. */
static int write_periodic_checkpoint(train_ctx *c, clae_train_position p)
{
    if (write_checkpoint(c, p) != 0) return -1;
    c->checkpoint_at = clae_model_steps(c->m);
    return 0;
}

/* Writes the final checkpoint and the --out model once training has stopped
 * (for whatever reason), before the last test pass, so a second Ctrl-C during
 * testing loses nothing. */
static int write_outputs(train_ctx *c, clae_train_position p)
{
    if (c->saved) return 0;
    if (c->checkpoint_at != clae_model_steps(c->m) && write_checkpoint(c, p) != 0) return -1;
    if (c->o->out && clae_model_save(c->m, c->o->out, c->scaling) != CLAE_OK) return -1;
    c->saved = 1;
    return 0;
}

/* One point of each per-epoch curve at x (in epochs); the test MSE also goes to r. */
static int measure(const train_ctx *c, double x, float *err, train_result *r)
{
    if (mean_row_error(c->m, c->test->x, c->test->rows, err, &r->test_mse) != 0) return -1;
    if (!c->o->plot) return 0;
    if (curve_add(&r->test_curve, x, r->test_mse) != 0) return -2;
    /* Without a test file the test rows are training rows: one curve says it. */
    if (c->test->x == c->train->x) return 0;
    size_t n = c->train->rows < PLOT_TRAIN_ROWS ? c->train->rows : PLOT_TRAIN_ROWS;
    double train_mse = 0.0;
    if (mean_row_error(c->m, c->train->x, n, err, &train_mse) != 0) return -1;
    return curve_add(&r->train_curve, x, train_mse) != 0 ? -2 : 0;
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

/* Stops a run whose loss left the finite numbers or grew far past where it
 * began: the weights are then no use, so neither --out nor a final checkpoint
 * is written, and the last periodic checkpoint (if any) stays as it was. */
static void report_lost_run(const train_ctx *c);

static void report_divergence(const train_ctx *c, float loss, double first_loss, uint64_t e, size_t s, size_t steps)
{
    if (!isfinite(loss))
        fprintf(stderr, "clae train: the loss became %s at step %zu/%zu of epoch %llu (step %llu in all): training "
                        "stopped\n", isnan(loss) ? "NaN" : "infinite", s, steps, (unsigned long long)e + 1,
                (unsigned long long)clae_model_steps(c->m));
    else
        fprintf(stderr, "clae train: the loss diverged at step %zu/%zu of epoch %llu: %.6g, over %g times the "
                        "first step's %.6g: training stopped\n", s, steps, (unsigned long long)e + 1, (double)loss,
                DIVERGE_FACTOR, first_loss);
    report_lost_run(c);
}

/* What a stopped, diverged run left behind, and what to try. */
static void report_lost_run(const train_ctx *c)
{
    const train_opts *o = c->o;
    if (o->out) fprintf(stderr, "clae train: --out %s was not written\n", o->out);
    if (o->checkpoint && c->checkpoint_at != UINT64_MAX)
        fprintf(stderr, "clae train: the last good checkpoint, %s (after step %llu), is kept\n", o->checkpoint,
                (unsigned long long)c->checkpoint_at);
    fprintf(stderr, "clae train: try a smaller --lr (now %g)%s\n", cli_clean_float(o->cfg.lr),
            o->cfg.loss == CLAE_LOSS_SSE && o->scale == CLAE_SCALE_NONE ? " or --scale minmax" : "");
}

/* The epoch loop, from r->start. Returns 0, -1 after a library failure
 * (message in clae_last_error()) or -2 after one already reported. */
static int run_epochs(train_ctx *c, train_result *r)
{
    const train_opts *o = c->o;
    clae_model *m = c->m;
    const clae_dataset *train = c->train, *test = c->test;
    const size_t rows = train->rows, cols = train->cols, batch = (size_t)o->cfg.batch;
    const size_t steps = (rows + batch - 1) / batch;
    const uint64_t max_steps = (uint64_t)o->max_steps;
    size_t *order = malloc(rows * sizeof *order);
    float *xb = malloc(batch * cols * sizeof *xb);
    uint32_t *ids = malloc(batch * sizeof *ids);
    size_t err_rows = test->rows > rows ? test->rows : rows;
    float *err = malloc(err_rows * sizeof *err);
    int rc = 0, measured = 0;
    if (!order || !xb || !ids || !err) {
        fprintf(stderr, "clae train: out of memory for %zu rows of %zu\n", rows, cols);
        rc = -2;
        goto done;
    }
    /* The per-step curve, one point per window of steps so it stays
     * readable, on the chart's scale (MSE per element) whatever the loss: for
     * sse the mean over the window of loss·2/D, which is the batch MSE, for
     * free; for bce the MSE of the window's last batch measured after its
     * step (one extra forward pass of a batch per window). */
    const int step_curve = o->plot != NULL;
    const int sse = o->cfg.loss == CLAE_LOSS_SSE;
    uint64_t planned = 0;
    if ((long)r->start.epoch < o->epochs)
        planned = (uint64_t)(o->epochs - (long)r->start.epoch) * steps - r->start.step_in_epoch;
    if (max_steps && clae_model_steps(m) < max_steps && max_steps - clae_model_steps(m) < planned)
        planned = max_steps - clae_model_steps(m);
    const uint64_t window = planned / PLOT_STEP_POINTS + 1;
    double win_sum = 0.0;
    uint64_t win_n = 0;

    cli_progress prog;
    cli_progress_init(&prog, stderr, o->quiet);
    const double t0 = cli_now();
    int stop = o->no_training || (long)r->start.epoch >= o->epochs || (max_steps && clae_model_steps(m) >= max_steps);
    double first_loss = NAN; /* this run's first batch loss, the yardstick of divergence */
    if (o->plot && !stop) {
        /* The starting point, so even a one-epoch run draws a line. */
        int mf = measure(c, (double)r->start.epoch + (double)r->start.step_in_epoch / (double)steps, err, r);
        if (mf != 0) {
            rc = mf;
            goto done;
        }
    }
    for (uint64_t e = r->start.epoch; !stop && (long)e < o->epochs && !interrupted; e++) {
        const double te = cli_now();
        if (o->no_shuffle)
            for (size_t k = 0; k < rows; k++) order[k] = k;
        else
            clae_shuffle_order(rows, o->cfg.seed, (uint32_t)e, order);
        size_t s = e == r->start.epoch ? (size_t)r->start.step_in_epoch : 0;
        cli_progress_epoch(&prog, (int)e + 1, (int)o->epochs, steps);
        cli_progress_resume(&prog, s);
        double loss_sum = 0.0;
        size_t seen = 0;
        while (s < steps) {
            size_t n = rows - s * batch < batch ? rows - s * batch : batch;
            float loss = 0.0f;
            /* The rows' data-set indices key the noise of denoising variants. */
            for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)order[s * batch + k];
            clae_status st = clae_dataset_gather(train, order + s * batch, n, xb);
            if (st == CLAE_OK) st = clae_model_train_step_rows(m, xb, ids, n, &loss);
            if (st != CLAE_OK) {
                cli_progress_clear(&prog);
                rc = -1;
                if (st == CLAE_ERR_NUMERIC) {
                    /* The library caught a non-finite loss: the same stop as below. */
                    fprintf(stderr, "clae train: %s\n", clae_last_error());
                    report_lost_run(c);
                    rc = -2;
                }
                goto done;
            }
            c->saved = 0;
            if (isnan(first_loss)) first_loss = fabs((double)loss);
            if (!isfinite(loss) || fabs((double)loss) > DIVERGE_FACTOR * first_loss + DIVERGE_FLOOR) {
                cli_progress_clear(&prog);
                report_divergence(c, loss, first_loss, e, s + 1, steps);
                rc = -2;
                goto done;
            }
            /* Weighted by rows so a short last batch counts for what it is. */
            loss_sum += (double)loss * (double)n;
            seen += n;
            s++;
            cli_progress_step(&prog, s, seen, loss_sum / (double)seen);
            const uint64_t done_steps = clae_model_steps(m);
            if (step_curve) {
                if (sse) win_sum += ((double)loss - (double)clae_model_last_penalty(m)) * 2.0 / (double)cols;
                if (++win_n == window || s == steps) {
                    double y = win_sum / (double)win_n;
                    if (!sse && mean_row_error(m, xb, n, err, &y) != 0) {
                        cli_progress_clear(&prog);
                        rc = -1;
                        goto done;
                    }
                    if (curve_add(&r->step_curve, (double)e + (double)s / (double)steps, y) != 0) {
                        rc = -2;
                        goto done;
                    }
                    win_sum = 0.0;
                    win_n = 0;
                }
            }
            if (o->checkpoint_every && done_steps % (uint64_t)o->checkpoint_every == 0 &&
                write_periodic_checkpoint(c, position_after(e, s, steps)) != 0) {
                cli_progress_clear(&prog);
                rc = -1;
                goto done;
            }
            if (max_steps && done_steps >= max_steps) stop = 1;
            if (interrupted || stop) break;
        }
        r->train_seconds += cli_now() - te;
        r->samples += seen;
        r->train_loss = seen ? loss_sum / (double)seen : NAN;
        cli_progress_clear(&prog);
        if (s >= steps) r->epochs_done = (long)e + 1;
        if ((interrupted || stop) && write_outputs(c, position_after(e, s, steps)) != 0) {
            rc = -1;
            goto done;
        }
        if (interrupted) {
            r->interrupted = 1;
            if (!o->quiet)
                fprintf(stderr, "interrupted after step %zu/%zu of epoch %llu%s; testing\n", s, steps,
                        (unsigned long long)e + 1, o->checkpoint ? ", checkpoint written" : "");
        }
        char note[96];
        snprintf(note, sizeof note, "epoch %llu/%ld  testing on %zu rows", (unsigned long long)e + 1, o->epochs,
                 test->rows);
        cli_progress_status(&prog, note);
        int tf = measure(c, (double)e + (double)s / (double)steps, err, r);
        cli_progress_clear(&prog);
        if (tf != 0) {
            rc = tf;
            goto done;
        }
        measured = 1;
        if (!o->quiet)
            fprintf(stderr, "epoch %llu/%ld  train_loss %.6g  test_mse %.6g  (%.1f s)\n", (unsigned long long)e + 1,
                    o->epochs, r->train_loss, r->test_mse, cli_now() - te);
    }
    /* A Ctrl-C that lands during a test pass still stops and asks for exit 130. */
    const int late_interrupt = interrupted && !r->interrupted;
    if (interrupted) r->interrupted = 1;
    if (!c->saved) {
        /* Here training ended on an epoch boundary, or never started (the
         * position is then unchanged). */
        clae_train_position end = r->start;
        if ((uint64_t)r->epochs_done > r->start.epoch) {
            end.epoch = (uint64_t)r->epochs_done;
            end.step_in_epoch = 0;
        }
        if (write_outputs(c, end) != 0) {
            rc = -1;
            goto done;
        }
    }
    if (late_interrupt && !o->quiet)
        fprintf(stderr, "interrupted after epoch %ld%s\n", r->epochs_done, o->checkpoint ? ", checkpoint written" : "");
    if (!measured) {
        /* Nothing left to train (a finished checkpoint, or --steps already
         * reached): still report the model's test error. */
        r->train_loss = NAN;
        if (mean_row_error(m, test->x, test->rows, err, &r->test_mse) != 0) {
            rc = -1;
            goto done;
        }
    }
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

/* Draws --plot. Returns 0, or prints the problem and returns -1. */
static int write_plot(const train_opts *o, const train_result *r)
{
    /* Test and train often coincide (the same distribution, a small model):
     * a solid line with filled squares under a dashed one with hollow
     * diamonds keeps both visible, and the per-step curve lies beneath. */
    clae_png_series s[3];
    size_t k = 0;
    if (r->test_curve.n)
        s[k++] = (clae_png_series){"test MSE", r->test_curve.x, r->test_curve.y, r->test_curve.n,
                                   CLAE_PNG_MARK_SQUARE, 0, 0};
    if (r->train_curve.n)
        s[k++] = (clae_png_series){"train MSE", r->train_curve.x, r->train_curve.y, r->train_curve.n,
                                   CLAE_PNG_MARK_DIAMOND, 6, 0};
    if (r->step_curve.n)
        s[k++] = (clae_png_series){"train batch MSE, per step", r->step_curve.x, r->step_curve.y, r->step_curve.n,
                                   CLAE_PNG_MARK_NONE, 0, 1};
    if (k == 0) {
        fprintf(stderr, "clae train: --plot %s: nothing was trained, so there is no curve to draw\n", o->plot);
        return -1;
    }
    char err[512];
    const char *ylabel = o->scale == CLAE_SCALE_NONE ? "MSE per element" : "MSE per element (scaled data)";
    if (clae_png_plot_lines(o->plot, "clae train: reconstruction error", s, k, "epoch", ylabel, err, sizeof err) != 0) {
        fprintf(stderr, "clae train: --plot: %s\n", err);
        return -1;
    }
    return 0;
}

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
         /* NaN (nothing trained in this run) is written as null by cJSON. */
         cJSON_AddNumberToObject(j, "train_loss", r->train_loss) &&
         cJSON_AddNumberToObject(j, "test_mse", r->test_mse) &&
         cJSON_AddNumberToObject(j, "samples_per_sec",
                                 r->train_seconds > 0 ? round((double)r->samples / r->train_seconds * 10) / 10 : 0) &&
         cJSON_AddNumberToObject(j, "seconds", round(r->seconds * 1000) / 1000) &&
         /* Raw keeps a 64-bit seed exact; a JSON double would round it above 2^53. */
         cJSON_AddRawToObject(j, "seed", seed) &&
         cJSON_AddNumberToObject(j, "train_rows", (double)train->rows) &&
         cJSON_AddNumberToObject(j, "test_rows", (double)test->rows) &&
         cJSON_AddStringToObject(j, "scale", clae_scale_kind_name(o->scale)) &&
         cJSON_AddBoolToObject(j, "resumed", r->resumed) &&
         cJSON_AddBoolToObject(j, "interrupted", r->interrupted) &&
         (isnan(r->code_mean) || cJSON_AddNumberToObject(j, "code_mean_activation", r->code_mean)) &&
         (!o->out || cJSON_AddStringToObject(j, "model", o->out)) &&
         (!o->checkpoint || cJSON_AddStringToObject(j, "checkpoint", o->checkpoint)) &&
         (!o->plot || cJSON_AddStringToObject(j, "plot", o->plot));
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
    if (o->scale != CLAE_SCALE_NONE) printf("scale       %s\n", clae_scale_kind_name(o->scale));
    if (r->penalty != 0.0) printf("penalty     %.6g\n", r->penalty);
    if (!isnan(r->code_mean)) printf("code mean   %.6g\n", r->code_mean);
    printf("train_loss  %.6g\n", r->train_loss);
    printf("test_mse    %.6g\n", r->test_mse);
    printf("samples/s   %.0f\n", r->train_seconds > 0 ? (double)r->samples / r->train_seconds : 0.0);
    printf("seconds     %.2f\n", r->seconds);
    if (o->out) printf("model       %s\n", o->out);
    if (o->checkpoint) printf("checkpoint  %s\n", o->checkpoint);
    if (o->plot) printf("plot        %s\n", o->plot);
}

/* The first setting in which the checkpoint's model differs from the command
 * line's, as "--flag: file X, command line Y" in buf; 0 if none. A resumed run
 * is only exact when everything that shapes the steps is the same. */
static int config_mismatch(const clae_model_config *f, const clae_model_config *c, char *buf, size_t cap)
{
#define DIFF_INT(field, name)                                                                                 \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %lld, the command line %lld", name, (long long)f->field, \
                 (long long)c->field);                                                                      \
        return 1;                                                                                            \
    }
#define DIFF_FLOAT(field, name)                                                                               \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %.9g, the command line %.9g", name, cli_clean_float(f->field), \
                 cli_clean_float(c->field));                                                                \
        return 1;                                                                                            \
    }
#define DIFF_NAME(field, name, namefn)                                                                        \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %s, the command line %s", name, namefn(f->field),        \
                 namefn(c->field));                                                                         \
        return 1;                                                                                            \
    }
    int same_layers = f->n_layers == c->n_layers;
    for (int l = 0; same_layers && l <= f->n_layers; l++) same_layers = f->sizes[l] == c->sizes[l];
    if (!same_layers) {
        char a[256] = "", b[256] = "";
        for (int l = 0; l <= f->n_layers; l++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%d", l ? "," : "", f->sizes[l]);
        for (int l = 0; l <= c->n_layers; l++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%d", l ? "," : "", c->sizes[l]);
        snprintf(buf, cap, "--layers: the checkpoint has %s, the command line %s", a, b);
        return 1;
    }
    for (int l = 0; l < f->n_layers; l++) {
        const char *flag = l == f->n_layers - 1 ? "--output-activation" : "--activation";
        DIFF_NAME(activation[l], flag, clae_activation_name)
    }
    DIFF_INT(code_layer, "code layer")
    DIFF_NAME(loss, "--loss", clae_loss_name)
    DIFF_NAME(optimizer, "--optimizer", clae_optimizer_name)
    DIFF_NAME(init, "weight init", clae_init_name)
    DIFF_FLOAT(lr, "--lr")
    DIFF_FLOAT(momentum, "--momentum")
    DIFF_FLOAT(beta1, "--adam-beta1")
    DIFF_FLOAT(beta2, "--adam-beta2")
    DIFF_FLOAT(eps, "--adam-eps")
    DIFF_FLOAT(rho, "--adadelta-rho")
    DIFF_FLOAT(adadelta_eps, "--adadelta-eps")
    DIFF_INT(batch, "--batch")
    DIFF_INT(seed, "--seed")
    DIFF_NAME(sparsity, "--sparsity", clae_sparsity_name)
    if (f->sparsity != CLAE_SPARSITY_NONE) {
        DIFF_FLOAT(sparsity_rho, "--rho")
        DIFF_FLOAT(sparsity_beta, "--beta")
        DIFF_FLOAT(sparsity_lambda, "--lambda")
    }
    DIFF_INT(ksparse_k, "--ksparse")
    if (f->ksparse_k) {
        DIFF_FLOAT(ksparse_alpha, "--ksparse-alpha")
        DIFF_INT(ksparse_k_start, "--ksparse-schedule")
        DIFF_INT(ksparse_schedule_steps, "--ksparse-schedule")
    }
    DIFF_FLOAT(wta_rate, "--wta-rate")
    DIFF_NAME(noise, "--noise", clae_noise_name)
    DIFF_FLOAT(noise_level, "--noise")
    DIFF_FLOAT(contractive, "--contractive")
#undef DIFF_INT
#undef DIFF_FLOAT
#undef DIFF_NAME
    return 0;
}

/* Creates the model: from the checkpoint when resuming from one that exists,
 * else fresh from the flags (and --init). Fills *scaling (fitted on train, or
 * the checkpoint's) and r->start. Returns -1 to go on, or an exit status. */
static int make_model(train_opts *o, clae_runtime *rt, const clae_dataset *train, clae_model **m,
                      clae_scaling *scaling, train_result *r)
{
    const size_t steps = (train->rows + (size_t)o->cfg.batch - 1) / (size_t)o->cfg.batch;
    if (o->resume && access(o->checkpoint, F_OK) == 0) {
        /* batch 0: the file's, so a different --batch is reported below
         * rather than silently changing what a step is. */
        if (clae_model_load(rt, o->checkpoint, 0, 0, m, scaling) != CLAE_OK) return cli_fail_lib();
        clae_model_config fc;
        clae_model_get_config(*m, &fc);
        char why[512];
        if (config_mismatch(&fc, &o->cfg, why, sizeof why)) {
            fprintf(stderr, "clae train: --resume %s: %s; resume with the flags of the run that wrote it\n",
                    o->checkpoint, why);
            return CLI_EXIT_USAGE;
        }
        if (o->scale_given && o->scale != scaling->kind) {
            fprintf(stderr, "clae train: --resume %s: --scale: the checkpoint has %s, the command line %s\n",
                    o->checkpoint, clae_scale_kind_name(scaling->kind), clae_scale_kind_name(o->scale));
            return CLI_EXIT_USAGE;
        }
        o->scale = scaling->kind;
        if (clae_model_restore_checkpoint(*m, o->checkpoint, &r->start) != CLAE_OK) return cli_fail_lib();
        if (r->start.step_in_epoch >= steps) {
            fprintf(stderr,
                    "clae train: --resume %s: the checkpoint stopped after step %llu of an epoch, but %zu rows at "
                    "batch %d make %zu steps per epoch; resume with the --data and --limit of the run that wrote it\n",
                    o->checkpoint, (unsigned long long)r->start.step_in_epoch, train->rows, o->cfg.batch, steps);
            return CLI_EXIT_USAGE;
        }
        r->resumed = 1;
        if (o->init && !o->quiet)
            fprintf(stderr, "note: --init %s is not applied: resuming from the checkpoint's weights\n", o->init);
        if (!o->quiet)
            fprintf(stderr, "resuming from %s: epoch %llu, step %llu/%zu, %llu steps done\n", o->checkpoint,
                    (unsigned long long)r->start.epoch + 1, (unsigned long long)r->start.step_in_epoch, steps,
                    (unsigned long long)clae_model_steps(*m));
        return -1;
    }
    if (o->resume && !o->quiet) fprintf(stderr, "no checkpoint at %s yet: starting from the beginning\n", o->checkpoint);
    if (clae_model_create(rt, &o->cfg, m) != CLAE_OK) return cli_fail_lib();
    if (o->init && clae_model_load_weights(*m, o->init) != CLAE_OK) return cli_fail_lib();
    if (clae_scaling_fit(train, o->scale, scaling) != CLAE_OK) return cli_fail_lib();
    return -1;
}

/* Loads the training data and, unless the training rows must also serve as
 * the test set (*test NULL), the test set: --test, a --validation-split of
 * the training rows, or for IDX training data the default test file (image
 * data of the same kind). Patches an `--layers auto` width from the data.
 * Returns -1 to go on, or an exit status after a message. */
static int load_train_data(train_opts *o, clae_dataset **train, clae_dataset **test)
{
    int rc = cli_load_data_ex("train", o->data, o->limit, &o->cols, NULL, train, NULL);
    if (rc >= 0) return rc;
    if (o->model.auto_input) {
        rc = cli_set_input_width("train", &o->cfg, (*train)->cols);
        if (rc >= 0) return rc;
    }
    if (clae_model_config_check_data(&o->cfg, *train) != CLAE_OK) return cli_fail_lib();
    if (o->validation_split > 0.0) {
        /* Keras' rule: the first int(n·(1 − F)) rows train, the rest test. */
        const size_t n = (*train)->rows, keep = (size_t)((double)n * (1.0 - o->validation_split));
        if (keep == 0 || keep >= n) {
            fprintf(stderr, "clae train: --validation-split %g of %zu rows leaves %s; use more rows or another "
                            "fraction\n", o->validation_split, n, keep == 0 ? "no training rows" : "no test rows");
            return CLI_EXIT_USAGE;
        }
        if (clae_dataset_split(*train, keep, test) != CLAE_OK) return cli_fail_lib();
        if (o->test_limit > 0) clae_dataset_truncate(*test, (size_t)o->test_limit);
        if (!o->quiet)
            fprintf(stderr, "note: --validation-split %g: %zu rows train, the last %zu of %s test\n",
                    o->validation_split, keep, (*test)->rows, o->data);
        return -1;
    }
    if (o->test_given || !o->data_given || ((*train)->format == CLAE_FORMAT_IDX && strcmp(o->data, "-") != 0))
        return cli_load_data_ex("train", o->test, o->test_limit, &o->cols, &o->cfg, test, NULL);
    return -1;
}

/* Binary cross-entropy is a loss only for targets in [0, 1]: beyond them it
 * falls without bound (to -4e12 on z-scored data) while the error grows. */
static int check_bce_range(const train_opts *o, const clae_dataset *train)
{
    for (size_t i = 0; i < train->rows * train->cols; i++) {
        const float v = train->x[i];
        if (v >= -1e-6f && v <= 1.0f + 1e-6f) continue; /* minmax rounding */
        fprintf(stderr,
                "clae train: --loss bce needs training data in [0, 1], but %s row %zu, column %zu (from 1, of the "
                "columns kept) is %g%s%s; use "
                "--scale minmax (maps each column onto [0, 1]) or --loss sse --output-activation linear\n",
                o->data, i / train->cols + 1, i % train->cols + 1, (double)v, o->scale == CLAE_SCALE_NONE ? "" : " after --scale ",
                o->scale == CLAE_SCALE_NONE ? "" : clae_scale_kind_name(o->scale));
        return -1;
    }
    return 0;
}

int cli_train(int argc, char **argv)
{
    train_opts o;
    int rc = parse_train_args(argc, argv, &o);
    if (rc >= 0) return rc;

    clae_dataset *train = NULL, *test_owned = NULL;
    clae_dataset test_view; /* the training rows themselves, when there is no test file */
    const clae_dataset *test = NULL;
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_scaling scaling = {CLAE_SCALE_NONE, 0, NULL, NULL};
    clae_device_info dev;
    train_result r;
    memset(&r, 0, sizeof r);
    r.code_mean = NAN;
    struct sigaction sa, old_sa;
    int handler = 0;

    /* Data before device: a wrong path or width is reported at once instead of
     * after the device has compiled (or loaded) its kernels. */
    rc = load_train_data(&o, &train, &test_owned);
    if (rc >= 0) goto done;
    if (test_owned) {
        test = test_owned;
    } else {
        /* A view, not a copy: scaling the training data scales it too. */
        test_view = *train;
        if (o.test_limit > 0 && (size_t)o.test_limit < test_view.rows) test_view.rows = (size_t)o.test_limit;
        test = &test_view;
        if (!o.quiet)
            fprintf(stderr, "note: no --test given: test_mse is measured on %zu rows of the training data %s\n",
                    test_view.rows, o.data);
    }
    if (clae_runtime_open(o.device, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    rc = make_model(&o, rt, train, &m, &scaling, &r);
    if (rc >= 0) goto done;
    if (clae_scaling_apply(&scaling, train) != CLAE_OK ||
        (test_owned && clae_scaling_apply(&scaling, test_owned) != CLAE_OK)) {
        rc = cli_fail_lib();
        goto done;
    }
    /* Masking and salt-and-pepper write the scaled training mean / min / max; a resumed run
     * keeps the checkpoint's, so it corrupts exactly as the interrupted one did. */
    if (!r.resumed && clae_model_fit_feature_stats(m, train) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (o.cfg.loss == CLAE_LOSS_BCE && !o.no_training && check_bce_range(&o, train) != 0) {
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    clae_model_describe(m, r.variant, sizeof r.variant);
    r.epochs_done = (long)r.start.epoch;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* One-shot: the second Ctrl-C gets the default action and ends the process. */
    sa.sa_flags = SA_RESETHAND;
    interrupted = 0;
    handler = sigaction(SIGINT, &sa, &old_sa) == 0;

    train_ctx ctx = {&o, m, train, test, &scaling, 0, UINT64_MAX};
    int er = run_epochs(&ctx, &r);
    if (er != 0) {
        rc = er == -1 ? cli_fail_lib() : CLI_EXIT_FAIL;
        goto done;
    }
    if (o.plot && write_plot(&o, &r) != 0) {
        rc = CLI_EXIT_FAIL;
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
    clae_scaling_free(&scaling);
    clae_dataset_free(train);
    clae_dataset_free(test_owned);
    curve_free(&r.test_curve);
    curve_free(&r.train_curve);
    curve_free(&r.step_curve);
    return rc;
}
