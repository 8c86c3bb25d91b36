/* clae_train.c — `clae train`: fit a dense autoencoder to IDX, CSV or NPY data with the library's trainer and
 * report the test error, with model files, checkpoints and exact resume. Progress to stderr, summary to stdout. */
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clae_cli.h"
#include "clae_progress.h"
#include "clae_train.h"

#define DEFAULT_EPOCHS 5
#define PLOT_TRAIN_ROWS 10000 /* rows of the training data whose MSE --plot draws each epoch */
#define PLOT_STEP_POINTS 200  /* the per-step curve is averaged down to about this many points */
/* A batch loss this many times the run's first (plus a floor for a first loss
 * near 0) is divergence: training has only ever made the loss smaller. */
#define DIVERGE_FACTOR 1e3
#define DIVERGE_FLOOR 1e-3
#define DEFAULT_PRETRAIN_EPOCHS 5

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
    "  --pretrain KIND         before training, pretrain the encoder layer by layer\n"
    "                          from the input (a symmetric net of dense layers):\n"
    "                          layerwise, each layer a shallow autoencoder (denoising\n"
    "                          with --noise) on the codes of the one below; rbm, each\n"
    "                          an RBM trained by CD-1 (sigmoid layers, the code and\n"
    "                          output may be linear); then unrolled into the net\n"
    "  --pretrain-epochs N     epochs per pretrained layer (default 5)\n"
    "  --pretrain-lr R         their rate (default: layerwise --lr; rbm 0.1, 0.001 for\n"
    "                          a linear code, with momentum 0.5 then 0.9)\n"
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
    "  --devices SPEC,SPEC,... data-parallel in this process: each batch split into\n"
    "                          contiguous parts, one per device (a thread each), the\n"
    "                          parts' gradients summed (weighted by their rows, in\n"
    "                          device order) before one update; the same model as one\n"
    "                          device within float rounding. The first device's model\n"
    "                          is the one tested and written\n"
    "  --mpi                   data-parallel across the processes mpirun starts (e.g.\n"
    "                          mpirun -np 2 clae train --mpi ...): rank r trains part\n"
    "                          r of every batch, gradients all-reduced (MPI_Allreduce)\n"
    "                          per layer; rank 0 tests, prints and writes the files;\n"
    "                          --resume with the same number of ranks\n"
    "  --json                  the summary as one JSON object (model, checkpoint and\n"
    "                          plot name the files written)\n"
    "  --quiet, -q             nothing on stderr but errors\n"
    "\n"
    "Ctrl-C stops after the current step, writes --checkpoint and --out, tests,\n"
    "prints the summary and exits 130; a second Ctrl-C kills at once.\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* --devices' comma-separated specs into o (the first also becomes o->device); -1 after printing why. */
static int parse_devices(const char *list, train_opts *o)
{
    o->n_devices = 0;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof o->devices[0] || o->n_devices == CLI_MAX_DEVICES) {
            fprintf(stderr, "clae train: --devices %s: expected 2 to %d device specs separated by commas%s\n", list,
                    CLI_MAX_DEVICES, len == 0 ? " (an empty one)" : "");
            return -1;
        }
        memcpy(o->devices[o->n_devices], p, len);
        o->devices[o->n_devices++][len] = '\0';
        if (!comma) break;
        p = comma + 1;
    }
    if (o->n_devices < 2) {
        fprintf(stderr, "clae train: --devices %s: name at least two devices (one is --device)\n", list);
        return -1;
    }
    o->device = o->devices[0];
    return 0;
}

/* Parses the command line into o. Returns -1 to go on, or an exit status. */
static int parse_train_args(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_default_data_path(CLI_DEFAULT_TRAIN_FILE, o->data, sizeof o->data);
    cli_default_data_path(CLI_DEFAULT_TEST_FILE, o->test, sizeof o->test);
    o->epochs = DEFAULT_EPOCHS;
    clae_pretrain_options_default(&o->pretrain);
    o->pretrain.epochs = DEFAULT_PRETRAIN_EPOCHS;
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
            o->device_given = 1;
        } else if (cli_opt(&a, "--devices")) {
            if (a.value && parse_devices(a.value, o) != 0) a.failed = 1;
        } else if (cli_flag(&a, "--mpi")) {
            o->mpi = 1;
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
        } else if (cli_opt(&a, "--pretrain")) {
            if (a.value && clae_pretrain_parse(a.value, &o->pretrain.kind) != CLAE_OK)
                cli_bad_value(&a, "expected none, layerwise or rbm");
        } else if (cli_opt(&a, "--pretrain-epochs")) {
            long e = 0;
            if (a.value && cli_long(&a, 1, 1000000, &e) == 0) o->pretrain.epochs = (uint64_t)e;
        } else if (cli_opt(&a, "--pretrain-lr")) {
            double lr = 0.0;
            if (a.value && cli_positive_double(&a, &lr) == 0) o->pretrain.lr = (float)lr;
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
    /* The flag, not the pointer: --devices sets `device` too, so a --device before it would vanish unseen. */
    if (o->n_devices && o->device_given) {
        fprintf(stderr, "clae train: give either --device or --devices (whose first device is the model's)\n");
        return CLI_EXIT_USAGE;
    }
    if (o->n_devices && o->mpi) {
        fprintf(stderr, "clae train: --devices and --mpi do not combine: split a batch across devices in one process "
                        "or across processes, not both\n");
        return CLI_EXIT_USAGE;
    }
    if ((o->n_devices || o->mpi) && o->pretrain.kind != CLAE_PRETRAIN_NONE) {
        fprintf(stderr, "clae train: --pretrain runs on one device: pretrain without %s (--steps 0 --out FILE), "
                        "then train with --init FILE\n", o->mpi ? "--mpi" : "--devices");
        return CLI_EXIT_USAGE;
    }
    if (o->checkpoint_every && !o->checkpoint) {
        fprintf(stderr, "clae train: --checkpoint-every needs --checkpoint PATH\n");
        return CLI_EXIT_USAGE;
    }
    if (o->pretrain.kind != CLAE_PRETRAIN_NONE && o->init) {
        fprintf(stderr, "clae train: --pretrain writes the weights --init %s would give; choose one\n", o->init);
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

int cli_train_parse(int argc, char **argv, train_opts *o) { return parse_train_args(argc, argv, o); }

static int mean_row_error(clae_model *m, const float *x, size_t rows, float *err, double *mse)
{
    if (clae_model_row_errors(m, x, rows, err) != CLAE_OK) return -1;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) sum += (double)err[r];
    *mse = sum / (double)rows;
    return 0;
}

/* What the run works on (the model, its data, where the files go) and what
 * the trainer's callbacks keep between steps. */
typedef struct train_ctx {
    const train_opts *o;
    clae_model *m;
    const clae_dataset *train, *test;
    const clae_scaling *scaling;
    train_result *r;
    cli_progress prog;
    float *err;       /* a row error per test or training row */
    double te;        /* when the epoch began: its summary line's time */
    uint64_t window;  /* steps per point of the per-step curve */
    uint64_t win_n;
    double win_sum;
    int measured;     /* an epoch's end was tested */
    clae_model **replicas; /* --devices: the models on the other devices */
    int n_replicas;
    int rc;           /* a callback's failure: -1 a library one (clae_last_error()), -2 one already reported */
} train_ctx;

/* One point of each per-epoch curve at x (in epochs); the test MSE also goes to r. */
static int measure(const train_ctx *c, double x, train_result *r)
{
    if (mean_row_error(c->m, c->test->x, c->test->rows, c->err, &r->test_mse) != 0) return -1;
    if (!c->o->plot) return 0;
    if (cli_curve_add(&r->test_curve, x, r->test_mse) != 0) return -2;
    /* Without a test file the test rows are training rows: one curve says it. */
    if (c->test->x == c->train->x) return 0;
    size_t n = c->train->rows < PLOT_TRAIN_ROWS ? c->train->rows : PLOT_TRAIN_ROWS;
    double train_mse = 0.0;
    if (mean_row_error(c->m, c->train->x, n, c->err, &train_mse) != 0) return -1;
    return cli_curve_add(&r->train_curve, x, train_mse) != 0 ? -2 : 0;
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

/* What a stopped, diverged run left behind, and what to try: the weights are
 * no use, so neither --out nor a final checkpoint was written, and the last
 * periodic checkpoint (if any) stays as it was. */
static void report_lost_run(const train_ctx *c, const clae_train_report *rep)
{
    const train_opts *o = c->o;
    if (o->out) fprintf(stderr, "clae train: --out %s was not written\n", o->out);
    if (o->checkpoint && rep->checkpoint_steps != UINT64_MAX)
        fprintf(stderr, "clae train: the last good checkpoint, %s (after step %llu), is kept\n", o->checkpoint,
                (unsigned long long)rep->checkpoint_steps);
    fprintf(stderr, "clae train: try a smaller --lr (now %g)%s\n", cli_clean_float(o->cfg.lr),
            o->cfg.loss == CLAE_LOSS_SSE && o->scale == CLAE_SCALE_NONE ? " or --scale minmax" : "");
}

/* A callback's failure: remembered, and training stops. */
static int callback_failed(train_ctx *c, int rc)
{
    cli_progress_clear(&c->prog);
    c->rc = rc;
    return 1;
}

/* A callback's answer (stop or go on). Under --mpi every rank runs each callback at the same point and must
 * stop at the same step (the others would wait in the next all-reduce), so the ranks agree: any one stops all. */
static int agreed(const train_ctx *c, int stop) { return c->o->mpi ? cli_mpi_any(stop) : stop; }

static int on_epoch_begin(const clae_train_report *ev, void *user)
{
    train_ctx *c = user;
    c->te = cli_now();
    cli_progress_epoch(&c->prog, (int)ev->epoch + 1, (int)c->o->epochs, (size_t)ev->steps_per_epoch);
    cli_progress_resume(&c->prog, (size_t)ev->step_in_epoch);
    return agreed(c, interrupted);
}

/* The progress line, and the per-step curve: one point per window of steps
 * so it stays readable, on the chart's scale (MSE per element) whatever the
 * loss: for sse the mean over the window of loss·2/D, which is the batch MSE,
 * for free; for bce the MSE of the window's last batch measured after its
 * step (one extra forward pass of a batch per window). */
static int step_here(const clae_train_report *ev, void *user)
{
    train_ctx *c = user;
    const size_t s = (size_t)ev->step_in_epoch, steps = (size_t)ev->steps_per_epoch;
    cli_progress_step(&c->prog, s, ev->epoch_rows, ev->epoch_loss);
    if (c->o->plot) {
        const int sse = c->o->cfg.loss == CLAE_LOSS_SSE;
        if (sse) c->win_sum += ((double)ev->loss - (double)ev->penalty) * 2.0 / (double)c->train->cols;
        if (++c->win_n == c->window || s == steps) {
            double y = c->win_sum / (double)c->win_n;
            if (!sse && mean_row_error(c->m, ev->x, ev->rows, c->err, &y) != 0) return callback_failed(c, -1);
            if (cli_curve_add(&c->r->step_curve, (double)ev->epoch + (double)s / (double)steps, y) != 0)
                return callback_failed(c, -2);
            c->win_sum = 0.0;
            c->win_n = 0;
        }
    }
    return interrupted;
}

static int on_step(const clae_train_report *ev, void *user) { return agreed(user, step_here(ev, user)); }

/* The epoch's test and summary line. A stopped run (ev->last) has its files
 * written already, so a second Ctrl-C during the test loses nothing. Under --mpi only rank 0 tests. */
static int epoch_end_here(const clae_train_report *ev, void *user)
{
    train_ctx *c = user;
    const train_opts *o = c->o;
    train_result *r = c->r;
    if (c->rc) return 1;
    const size_t s = (size_t)ev->step_in_epoch, steps = (size_t)ev->steps_per_epoch;
    r->train_seconds += ev->epoch_seconds;
    r->samples += ev->epoch_rows;
    r->train_loss = ev->epoch_rows ? ev->epoch_loss : NAN;
    r->disc_loss = ev->epoch_disc_loss, r->disc_accuracy = ev->epoch_disc_accuracy;
    r->gen_loss = ev->epoch_gen_loss, r->fooled = ev->epoch_fooled;
    cli_progress_clear(&c->prog);
    if (ev->last && interrupted) {
        r->interrupted = 1;
        if (!o->quiet)
            fprintf(stderr, "interrupted after step %zu/%zu of epoch %llu%s; testing\n", s, steps,
                    (unsigned long long)ev->epoch + 1, o->checkpoint ? ", checkpoint written" : "");
    }
    char note[96];
    snprintf(note, sizeof note, "epoch %llu/%ld  testing on %zu rows", (unsigned long long)ev->epoch + 1, o->epochs,
             c->test->rows);
    cli_progress_status(&c->prog, note);
    int tf = o->mpi_rank == 0 ? measure(c, (double)ev->epoch + (double)s / (double)steps, r) : 0;
    cli_progress_clear(&c->prog);
    if (tf != 0) return callback_failed(c, tf);
    c->measured = 1;
    char adv[96] = "";
    if (!isnan(r->disc_accuracy))
        snprintf(adv, sizeof adv, "  disc_loss %.4g  disc_acc %.3f  gen_loss %.4g", r->disc_loss, r->disc_accuracy,
                 r->gen_loss);
    if (!o->quiet)
        fprintf(stderr, "epoch %llu/%ld  train_loss %.6g  test_mse %.6g%s  (%.1f s)\n", (unsigned long long)ev->epoch + 1,
                o->epochs, r->train_loss, r->test_mse, adv, cli_now() - c->te);
    return interrupted;
}

static int on_epoch_end(const clae_train_report *ev, void *user) { return agreed(user, epoch_end_here(ev, user)); }

/* The epoch loop (clae_model_train), from r->start. Returns 0, -1 after a
 * library failure (message in clae_last_error()) or -2 after one already
 * reported. */
static int run_epochs(train_ctx *c, train_result *r)
{
    const train_opts *o = c->o;
    clae_model *m = c->m;
    const clae_dataset *train = c->train, *test = c->test;
    const size_t rows = train->rows, batch = (size_t)o->cfg.batch;
    const uint64_t steps = (rows + batch - 1) / batch, max_steps = (uint64_t)o->max_steps;
    size_t err_rows = test->rows > rows ? test->rows : rows;
    c->r = r;
    c->err = malloc(err_rows * sizeof *c->err);
    if (!c->err) {
        fprintf(stderr, "clae train: out of memory for %zu rows of %zu\n", rows, train->cols);
        return -2;
    }
    uint64_t planned = 0;
    if ((long)r->start.epoch < o->epochs)
        planned = (uint64_t)(o->epochs - (long)r->start.epoch) * steps - r->start.step_in_epoch;
    if (max_steps && clae_model_steps(m) < max_steps && max_steps - clae_model_steps(m) < planned)
        planned = max_steps - clae_model_steps(m);
    c->window = planned / PLOT_STEP_POINTS + 1;

    clae_trainer_options to;
    clae_trainer_options_default(&to);
    /* --steps 0 trains nothing, but still writes --out and --checkpoint. */
    to.epochs = o->no_training ? 0 : (uint64_t)o->epochs;
    to.max_steps = max_steps;
    to.order = o->no_shuffle ? CLAE_BATCHES_IN_ORDER : CLAE_BATCHES_SHUFFLED;
    to.start = r->start;
    /* Under --mpi every rank trains the same model; rank 0 alone writes it. */
    to.checkpoint_path = o->mpi_rank == 0 ? o->checkpoint : NULL;
    to.checkpoint_every = (uint64_t)o->checkpoint_every;
    to.model_path = o->mpi_rank == 0 ? o->out : NULL;
    if (o->mpi) {
        to.shard_index = o->mpi_rank;
        to.shard_count = o->mpi_size;
        to.reduce = cli_mpi_sum;
    }
    to.replicas = c->replicas;
    to.n_replicas = c->n_replicas;
    to.scaling = c->scaling;
    to.diverge_factor = DIVERGE_FACTOR;
    to.diverge_floor = DIVERGE_FLOOR;
    to.on_epoch_begin = on_epoch_begin;
    to.on_step = on_step;
    to.on_epoch_end = on_epoch_end;
    to.user = c;

    cli_progress_init(&c->prog, stderr, o->quiet);
    const double t0 = cli_now();
    const int nothing = to.epochs <= r->start.epoch || (max_steps && clae_model_steps(m) >= max_steps);
    int rc = 0;
    if (o->plot && !nothing) {
        /* The starting point, so even a one-epoch run draws a line. */
        rc = measure(c, (double)r->start.epoch + (double)r->start.step_in_epoch / (double)steps, r);
        if (rc != 0) goto done;
    }
    clae_train_report rep;
    clae_status st = clae_model_train(m, train, &to, &rep);
    cli_progress_clear(&c->prog);
    r->epochs_done = (long)rep.position.epoch;
    if (c->rc) {
        rc = c->rc;
        goto done;
    }
    if (st != CLAE_OK) {
        rc = -1;
        if (rep.diverged) {
            fprintf(stderr, "clae train: %s\n", clae_last_error());
            report_lost_run(c, &rep);
            rc = -2;
        }
        goto done;
    }
    /* A Ctrl-C that lands during a test pass still stops and asks for exit 130. */
    const int late_interrupt = interrupted && !r->interrupted;
    if (interrupted) r->interrupted = 1;
    if (late_interrupt && !o->quiet)
        fprintf(stderr, "interrupted after epoch %ld%s\n", r->epochs_done, o->checkpoint ? ", checkpoint written" : "");
    if (!c->measured) {
        /* Nothing left to train (a finished checkpoint, or --steps already
         * reached): still report the model's test error. */
        r->train_loss = NAN;
        if (mean_row_error(m, test->x, test->rows, c->err, &r->test_mse) != 0) {
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
    free(c->err);
    c->err = NULL;
    return rc;
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
        int differs = cli_train_config_mismatch(&fc, &o->cfg, why, sizeof why);
        if (!differs && (o->model.arch || o->model.tied) && strcmp(clae_model_arch(*m), o->model.spec)) {
            snprintf(why, sizeof why, "the net differs: the checkpoint has %.200s, the command line %.200s",
                     clae_model_arch(*m), o->model.spec);
            differs = 1;
        }
        if (differs) {
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
    /* The spec string again, now that --layers auto knows the data's width (--arch gives its own). */
    char spec[sizeof o->model.spec];
    if (o->model.arch) snprintf(spec, sizeof spec, "%s", o->model.spec);
    else if (clae_model_config_arch(&o->cfg, o->model.tied, spec, sizeof spec) != CLAE_OK) return cli_fail_lib();
    char *len0 = o->model.concrete ? strstr(spec, ":steps=0@") : NULL;
    if (len0) {
        /* The selector's temperature falls over exactly this run's steps. */
        unsigned long long total = (unsigned long long)o->epochs * steps;
        if (o->max_steps && (unsigned long long)o->max_steps < total) total = (unsigned long long)o->max_steps;
        char rest[sizeof spec];
        snprintf(rest, sizeof rest, "%s", len0 + 8);
        snprintf(len0, sizeof spec - (size_t)(len0 - spec), ":steps=%llu%s", total ? total : 1ULL, rest);
    }
    if (clae_model_create_arch(rt, &o->cfg, spec, 0, m) != CLAE_OK) return cli_fail_lib();
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

/* --pretrain: one line per layer and epoch on stderr. */
static int on_pretrain_epoch(const clae_pretrain_report *p, void *user)
{
    train_result *r = ((void **)user)[1];
    const train_opts *o = ((void **)user)[0];
    r->pretrained_layers = p->layer + 1;
    r->pretrain_mse[p->layer] = p->recon_mse;
    r->pretrain_seconds[p->layer] = p->seconds;
    if (!o->quiet)
        fprintf(stderr, "pretrain %s layer %d/%d epoch %llu/%llu  recon_mse %.6g  (%.1f s)\n",
                clae_pretrain_name(o->pretrain.kind), p->layer + 1, p->layers, (unsigned long long)p->epoch,
                (unsigned long long)p->epochs, p->recon_mse, p->seconds);
    return interrupted;
}

/* Pretrains a new model's encoder (a resumed one has it in its checkpoint already), then writes --checkpoint, so a
 * run stopped while fine-tuning resumes without pretraining again. Returns -1 to go on, or an exit status. */
static int pretrain(train_opts *o, clae_model *m, const clae_dataset *train, const clae_scaling *scaling,
                    train_result *r)
{
    if (r->resumed) {
        if (!o->quiet)
            fprintf(stderr, "note: --pretrain %s is not run again: the checkpoint holds the pretrained weights\n",
                    clae_pretrain_name(o->pretrain.kind));
        return -1;
    }
    if (o->no_training) return -1;
    void *ctx[2] = {o, r};
    o->pretrain.on_epoch = on_pretrain_epoch;
    o->pretrain.user = ctx;
    if (clae_model_pretrain(m, train, &o->pretrain, NULL) != CLAE_OK) return cli_fail_lib();
    if (interrupted) {
        fprintf(stderr, "interrupted while pretraining: nothing written\n");
        return CLI_EXIT_INTERRUPT;
    }
    if (o->checkpoint && clae_model_save_checkpoint(m, o->checkpoint, &r->start, scaling) != CLAE_OK)
        return cli_fail_lib();
    return -1;
}

int cli_train(int argc, char **argv)
{
    train_opts o;
    int rc = parse_train_args(argc, argv, &o);
    if (rc >= 0) return rc;
    o.mpi_size = 1;
    if (o.mpi) {
        if (cli_mpi_init(NULL, NULL, &o.mpi_rank, &o.mpi_size) != 0) return CLI_EXIT_USAGE;
        /* Rank 0 speaks for the run: the others say nothing but errors and write nothing. */
        if (o.mpi_rank != 0) {
            o.quiet = 1;
            o.json = 0;
            o.plot = NULL;
        }
    }
    clae_runtime *replica_rt[CLI_MAX_DEVICES] = {NULL};
    clae_model *replicas[CLI_MAX_DEVICES] = {NULL};

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
    r.disc_loss = r.disc_accuracy = r.gen_loss = r.fooled = NAN;
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
    if (cli_runtime_open(o.device, o.quiet, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK) {
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
    /* --devices: the same net on every other device; the trainer copies m's weights and state into each. */
    if (o.n_devices) snprintf(r.devices, sizeof r.devices, "%s", dev.name);
    for (int k = 1; k < o.n_devices; k++) {
        clae_model_config mc;
        clae_model_get_config(m, &mc);
        clae_device_info dk;
        if (cli_runtime_open(o.devices[k], o.quiet, &replica_rt[k - 1]) != CLAE_OK ||
            clae_runtime_device(replica_rt[k - 1], &dk) != CLAE_OK ||
            clae_model_create_arch(replica_rt[k - 1], &mc, clae_model_arch(m), 0, &replicas[k - 1]) != CLAE_OK) {
            fprintf(stderr, "clae train: --devices %s: ", o.devices[k]);
            rc = cli_fail_lib();
            goto done;
        }
        size_t len = strlen(r.devices);
        snprintf(r.devices + len, sizeof r.devices - len, ", %s", dk.name);
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* One-shot: the second Ctrl-C gets the default action and ends the process. */
    sa.sa_flags = SA_RESETHAND;
    interrupted = 0;
    handler = sigaction(SIGINT, &sa, &old_sa) == 0;
    if (o.pretrain.kind != CLAE_PRETRAIN_NONE && (rc = pretrain(&o, m, train, &scaling, &r)) >= 0) goto done;

    train_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = &o;
    ctx.m = m;
    ctx.train = train;
    ctx.test = test;
    ctx.scaling = &scaling;
    ctx.replicas = o.n_devices ? replicas : NULL;
    ctx.n_replicas = o.n_devices ? o.n_devices - 1 : 0;
    int er = run_epochs(&ctx, &r);
    r.comm_seconds = cli_mpi_comm_seconds();
    if (er != 0) {
        rc = er == -1 ? cli_fail_lib() : CLI_EXIT_FAIL;
        goto done;
    }
    if (o.plot && cli_train_write_plot(&o, &r) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (o.mpi_rank != 0) {
        /* rank 0 prints the summary */
    } else if (o.json) {
        if (cli_train_print_json(&o, &dev, m, &r, train, test) != 0) {
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    } else {
        cli_train_print_summary(&o, &dev, m, &r);
    }
    fflush(stdout);
    rc = r.interrupted ? CLI_EXIT_INTERRUPT : CLI_EXIT_OK;
done:
    if (handler) sigaction(SIGINT, &old_sa, NULL);
    /* A cache that refused the programs this run compiled: said once, at the end, whatever the outcome. */
    if (rt) cli_runtime_note(rt, o.quiet);
    for (int k = 0; k + 1 < o.n_devices; k++) {
        clae_model_destroy(replicas[k]);
        clae_runtime_close(replica_rt[k]);
    }
    clae_model_destroy(m);
    clae_runtime_close(rt);
    clae_scaling_free(&scaling);
    clae_dataset_free(train);
    clae_dataset_free(test_owned);
    cli_curve_free(&r.test_curve);
    cli_curve_free(&r.train_curve);
    cli_curve_free(&r.step_curve);
    if (o.mpi) {
        /* A rank that failed must not leave the others waiting in a collective. */
        if (rc != CLI_EXIT_OK && rc != CLI_EXIT_INTERRUPT) cli_mpi_abort(rc);
        cli_mpi_finalize();
    }
    return rc;
}
