/* clae_cli.h — what the pieces of the clae command-line tool share: the command table,
 * exit codes and the small argument parser every subcommand uses. */
#ifndef CLAE_CLI_H
#define CLAE_CLI_H

#include <stdint.h>

#include "clae.h"

/* Exit statuses, the same for every subcommand so scripts can tell a typo from
 * a failure of the data or the device. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1        /* the library reported an error */
#define CLI_EXIT_USAGE 2       /* bad command line */
#define CLI_EXIT_INTERRUPT 130 /* SIGINT, after a clean stop (128 + SIGINT) */

/* One subcommand. run() gets argv with argv[0] = the subcommand's name. */
typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `clae --help` */
    int (*run)(int argc, char **argv);
    const char *help; /* full text for `clae help NAME` and `clae NAME --help` */
} cli_command;

/* The table lives in clae.c; subcommands look themselves up to print help. */
const cli_command *cli_find_command(const char *name);
void cli_print_help(const cli_command *cmd);

/* Subcommands, one file each. */
int cli_devices(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_encode(int argc, char **argv);
int cli_score(int argc, char **argv);
int cli_reconstruct(int argc, char **argv);
int cli_sample(int argc, char **argv);
int cli_select(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_pca(int argc, char **argv);
int cli_grid(int argc, char **argv);
extern const char cli_devices_help[];
extern const char cli_train_help[];
extern const char cli_plan_help[];
extern const char cli_encode_help[];
extern const char cli_score_help[];
extern const char cli_reconstruct_help[];
extern const char cli_sample_help[];
extern const char cli_select_help[];
extern const char cli_compare_help[];
extern const char cli_bench_help[];
extern const char cli_import_help[];
extern const char cli_pca_help[];
extern const char cli_grid_help[];

/* A cursor over a subcommand's arguments. Usage:
 *     cli_args a; cli_args_init(&a, argc, argv);
 *     while (cli_next(&a)) {
 *         if (cli_flag(&a, "--json")) json = 1;
 *         else if (cli_opt(&a, "--data")) path = a.value;
 *         else cli_unknown(&a);
 *     }
 *     if (a.failed) return CLI_EXIT_USAGE;
 * Each matcher consumes what it matched; any error is printed once, sets
 * failed and ends the loop. */
#define CLI_MAX_KNOWN 128
typedef struct cli_args {
    const char *cmd; /* argv[0], for messages */
    int argc;
    char **argv;
    int i;             /* next argument to look at */
    const char *opt;   /* the option last matched, e.g. "--batch" */
    const char *value; /* its value */
    int failed;
    /* Every name the matchers were asked about (string literals, not
     * copied): an unknown argument has been tried against all of them, so
     * cli_unknown can suggest the closest. */
    const char *known[CLI_MAX_KNOWN];
    int n_known;
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv);
int cli_next(const cli_args *a);
/* Matches `name` exactly (a switch without a value). */
int cli_flag(cli_args *a, const char *name);
/* Matches `name VALUE` or `name=VALUE` and sets a->value. */
int cli_opt(cli_args *a, const char *name);
/* Reports the current argument as unknown, with "did you mean X?" when one
 * of the names tried is close (see cli_closest). */
void cli_unknown(cli_args *a);
/* Adds a name to the candidates without matching it, for flags a command
 * recognises by hand rather than through cli_flag/cli_opt. */
void cli_known(cli_args *a, const char *name);

/* The name among names[0..n) closest to word (a typo, a missing letter, two
 * letters swapped, a missing dash or a unique prefix), or NULL when none is
 * close enough to be worth suggesting. For options only the part of word
 * before an '=' counts. */
const char *cli_closest(const char *word, const char *const *names, size_t n);

/* Parse a->value as a number within [min, max]; on failure print an error
 * naming a->opt and what it expects, set failed and return -1. */
int cli_long(cli_args *a, long min, long max, long *out);
int cli_u64(cli_args *a, uint64_t *out);
int cli_positive_double(cli_args *a, double *out);
/* Prints "clae CMD: OPT: msg" and sets failed (for values only the caller can judge). */
void cli_bad_value(cli_args *a, const char *msg);

/* The help lines of the model flags, for concatenation into a command's help text. */
#define CLI_MODEL_FLAGS_HELP                                                                            \
    "  --layers L              layer widths, e.g. 784,256,64,256,784, or the symmetric\n"           \
    "                          shorthand 784,256,64 (default 784,256,64,256,784); the\n"            \
    "                          first width must equal the data's column count, or be\n"             \
    "                          'auto' to take it from the data: auto,256,64 is\n"                   \
    "                          D,256,64,256,D for D columns\n"                                      \
    "  --activation A          hidden units: linear, sigmoid, tanh, relu (default relu)\n"          \
    "  --output-activation A   output units (default sigmoid; bce needs sigmoid)\n"                 \
    "  --loss sse|bce          training loss (default bce)\n"                                       \
    "  --optimizer O           sgd, momentum, nesterov, adam, adadelta (default adam)\n"            \
    "  --lr X                  learning rate (default 0.001, whatever the optimizer;\n"             \
    "                          adadelta ignores it)\n"                                              \
    "  --momentum M            momentum/nesterov coefficient mu (default 0.9)\n"                  \
    "  --adam-beta1 B1 --adam-beta2 B2 --adam-eps E\n"                                              \
    "                          Adam's moment decays and epsilon (0.9, 0.999, 1e-8)\n"              \
    "  --adadelta-rho R --adadelta-eps E\n"                                                         \
    "                          ADADELTA's decay and epsilon, h2o's rho and epsilon\n"              \
    "                          (0.99, 1e-8)\n"                                                      \
    "  --batch N               rows per step (default 256; the last step of an epoch\n"             \
    "                          takes what is left)\n"                                               \
    "  --seed S                weights, shuffle order and noise (default 42); the same\n"           \
    "                          seed gives the same run on every device\n"                          \
    "\n"                                                                                             \
    "Variants (formulas: README, The math; combine where the math allows):\n"                       \
    "  --sparsity kl|l1|l2|h2o code-layer sparsity: KL toward mean --rho with weight\n"              \
    "                          --beta; L1/L2 activation penalties with weight --lambda;\n"          \
    "                          h2o (on every hidden layer): average_activation --rho,\n"         \
    "                          sparsity_beta --beta\n"                                            \
    "  --rho R --beta B        target mean activation (0.05) and KL/h2o weight (3)\n"              \
    "  --lambda L              L1/L2 activation penalty weight (0.001)\n"                          \
    "  --ksparse K             k-sparse: keep the K largest codes of each row\n"                  \
    "  --ksparse-alpha A       at inference keep round(A*K) (default 1)\n"                        \
    "  --ksparse-schedule K0:S start at K0 and reach K linearly after S steps\n"                 \
    "  --wta-rate P            winner-take-all: each code unit fires for its top P%\n"            \
    "                          of the batch, P in [1, 100] (e.g. 5 or 5%): ceil(P*B/100)\n"       \
    "                          winners of B rows\n"                                              \
    "  --noise KIND:V          denoising: gaussian:SIGMA, mask:P (to the feature's\n"            \
    "                          training mean) or saltpepper:P (its training min/max)\n"          \
    "  --contractive L         contractive penalty L*||J||^2 on every encoder layer\n"             \
    "  --model ae|vae|aae|concrete|mdl\n"                                                      \
    "                          vae: a variational autoencoder, the code layer a Gaussian\n"     \
    "                          layer (mu and log-variance heads, z = mu + sigma*eps in\n"     \
    "                          training, mu at inference, loss + beta*KL; README, The\n"     \
    "                          spec string: gauss)\n"                                          \
    "  --vae-beta B            the KL weight beta of --model vae (default 1)\n"             \
    "                          aae: an adversarial autoencoder, the code layer linear\n"  \
    "                          and matched against a prior by a discriminator that\n"     \
    "                          learns to tell prior draws from codes while the encoder\n" \
    "                          learns to fool it (README, Adversarial autoencoders)\n"    \
    "  --prior gauss|mix:K     the prior of --model aae: N(0, I) (default) or a mixture\n" \
    "                          of K Gaussians around a circle in each pair of code units\n" \
    "  --disc W1,W2,...        the discriminator's relu widths (default 256,256)\n"       \
    "  --lr-disc R --lr-gen R  the rates of its discriminator and generator phases\n"    \
    "                          (default half of --lr, which --model aae sets to 1e-4)\n" \
    "                          concrete: a concrete autoencoder, --select K input\n"      \
    "                          features picked by a Gumbel-softmax whose temperature\n"   \
    "                          falls from 10 to 0.01 over the run, then a decoder of\n"   \
    "                          --layers D,H1,... (default 784,320): dense H1..., D\n"   \
    "  --select K              the number of features --model concrete picks\n"        \
    "                          mdl: a minimum-description-length code: the code layer\n"  \
    "                          linear and rounded, its rate in bits under a learned\n"   \
    "                          logistic prior added to the loss (sse); train --json\n"  \
    "                          reports code_length_bits per test row\n"                  \
    "  --tied                  decoder layers use the mirror encoder layer's weight\n"            \
    "                          transposed (needs symmetric --layers)\n"                            \
    "\n"                                                                                             \
    "  --arch SPEC             the whole net as a spec string instead of --layers,\n"             \
    "                          --activation and the variant flags (README, The spec\n"           \
    "                          string), e.g. 784,dense:256:relu,dense:64:relu@code+l1:1e-4,\n"   \
    "                          dense:256:relu,dense:784:sigmoid\n"

/* The convolutional autoencoder the README, `clae bench` and the PyTorch peer script use. */
#define CLI_CONV_AE_SPEC                                                                                \
    "1x28x28,conv:16:3:p1:relu,maxpool:2,conv:8:3:p1:relu,maxpool:2@code,unpool,conv:16:3:p1:relu,unpool,"   \
    "conv:1:3:p1:sigmoid"

/* --model aae's rate when --lr is not given: adversarial training needs small steps. */
#define CLI_AAE_LR 1e-4

/* The model flags shared by train, plan and the other model-building commands
 * (tools/clae_model_opts.c). Usage: cli_model_opts_init(&o); in the argument
 * loop `else if (cli_model_opt(&a, &o)) ;`; after it cli_model_opts_finish(). */
#define CLI_MODEL_MAX_ARGS 128
typedef struct cli_model_opts {
    clae_model_config cfg;
    clae_activation hidden, output;
    int activations_given; /* --activation or --output-activation seen */
    const char *layers;
    long batch;
    double lr;
    /* The words of the model flags as given, so they can be laid again over
     * another configuration (a checkpoint's) by cli_model_opts_replay(). */
    char *given[CLI_MODEL_MAX_ARGS];
    int n_given;
    /* --layers auto,H1,...: the input width comes from the data. A command
     * that reads data sets allow_auto before parsing; finish then puts a
     * placeholder width in cfg and sets auto_input, and the command calls
     * cli_set_input_width() once the data is loaded. */
    int allow_auto, auto_input;
    const char *arch;  /* --arch SPEC */
    int tied;          /* --tied */
    int vae;           /* --model vae: the code layer is a gauss layer */
    int concrete;      /* --model concrete: a concrete selector of --select K input features */
    int mdl;           /* --model mdl: the code rounded, its rate under a learned prior in the loss */
    int loss_given;    /* --loss seen */
    long select_k;     /* --select K */
    float vae_beta;    /* --vae-beta B (1) */
    int aae;           /* --model aae: an adv layer matches the (linear) code against a prior */
    const char *disc;  /* --disc W1,W2,...: the adversary's widths (NULL: its default) */
    long prior_modes;  /* --prior mix:K (0: gauss) */
    float lr_disc, lr_gen; /* --lr-disc, --lr-gen (0: half the model's rate) */
    int lr_given;      /* --lr seen */
    int replayed;      /* laid over a checkpoint's configuration (cli_model_opts_replay) */
    int net_flags;     /* --layers, --activation or a variant flag given (they and --arch exclude each other) */
    char spec[2048];   /* after finish: the net's canonical spec string (from --arch or the shorthand) */
} cli_model_opts;

void cli_model_opts_init(cli_model_opts *o);
/* Matches one model flag; returns 1 if it did (errors set a->failed). */
int cli_model_opt(cli_args *a, cli_model_opts *o);
/* Builds and validates o->cfg; prints the problem and returns CLI_EXIT_USAGE, or -1 to go on. */
int cli_model_opts_finish(const char *cmd, cli_model_opts *o);
/* Starts again from `base` (a checkpoint's configuration) and applies only the
 * model flags the command line gave, then finishes as above; so a resumed run
 * takes every setting from the file, and a flag given again that disagrees
 * shows up as a difference between base and o->cfg. */
int cli_model_opts_replay(const char *cmd, cli_model_opts *o, const clae_model_config *base);

/* Where the default data lives (env CLAE_DATA_DIR overrides the directory). */
#define CLI_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define CLI_DEFAULT_TRAIN_FILE "train-images-idx3-ubyte.gz"
#define CLI_DEFAULT_TEST_FILE "t10k-images-idx3-ubyte.gz"

/* buf = $CLAE_DATA_DIR (or CLI_DEFAULT_DATA_DIR) + "/" + file. */
void cli_default_data_path(const char *file, char *buf, size_t cap);

/* Loads IDX, CSV or NPY data, keeps the first `limit` rows (0: all) and checks
 * that its width fits cfg; on failure *out is NULL and clae_last_error() says why. */
clae_status cli_load_data(const char *path, long limit, const clae_model_config *cfg, clae_dataset **out);

/* The column flags of every data-reading command (--skip-columns, --label-column). */
typedef struct cli_data_opts {
    const char *skip;  /* --skip-columns LIST, or NULL */
    const char *label; /* --label-column COL, or NULL */
} cli_data_opts;

#define CLI_DATA_FLAGS_HELP                                                                             \
    "  --skip-columns LIST     drop these columns before anything else: numbers\n"                  \
    "                          counted from 1, ranges N-M, or names from a CSV\n"                   \
    "                          header, comma-separated (e.g. 1,id or 3-5)\n"                        \
    "  --label-column COL      a column (number or header name) that is a label,\n"                 \
    "                          not a feature: dropped from the input\n"

/* Matches --skip-columns or --label-column; returns 1 if it did. */
int cli_data_opt(cli_args *a, cli_data_opts *d);

/* cli_load_data with the column flags: loads path ("-": standard input),
 * drops the --skip-columns and --label-column columns (when labels is not
 * NULL and there is a label column, its values are returned in *labels, one
 * per row, malloc'd; the first `limit` of them belong to the rows kept), then
 * keeps `limit` rows and, when cfg is not NULL, checks the width. Returns -1
 * to go on, or an exit status after printing why ("clae CMD: ..."); *out
 * (and *labels) are then NULL. d may be NULL. */
int cli_load_data_ex(const char *cmd, const char *path, long limit, const cli_data_opts *d,
                     const clae_model_config *cfg, clae_dataset **out, float **labels);

/* For cli_model_opts_finish: when *layers is "auto,H1,...,Hk" (and
 * o->allow_auto), writes the full list with a placeholder input width into
 * buf, points *layers at it and sets o->auto_input; otherwise clears
 * auto_input and leaves *layers. Returns 0, or -1 after printing why. */
int cli_expand_layers(const char *cmd, cli_model_opts *o, const char **layers, char *buf, size_t cap);

/* For --layers auto,...: the input and output width become cols, and cfg is
 * validated again. Prints "clae CMD: ..." and returns CLI_EXIT_USAGE on a
 * failure, -1 to go on. */
int cli_set_input_width(const char *cmd, clae_model_config *cfg, size_t cols);

/* Checks, before any work, that an output file can be written where path
 * says: not a directory, its directory exists and takes new files (probed with
 * a temporary file, as the atomic write will need). Prints "clae CMD: FLAG
 * PATH: why" and returns -1 when not; 0 when it can. */
int cli_check_output(const char *cmd, const char *flag, const char *path);
/* 1 if s ends with suffix, case aside (the extension that picks a file's format). */
int cli_ends_with(const char *s, const char *suffix);

/* JSON shared by every --json: "layers" is always this array of the widths,
 * input first (e.g. [784,256,64,256,784]). Adds it to obj; 0 when out of memory. */
struct cJSON;
int cli_json_add_layers(struct cJSON *obj, const clae_model_config *cfg);
/* Prints obj on one line to stdout and deletes it; 0, or -1 after "clae CMD:
 * out of memory building JSON" (obj NULL counts as out of memory). */
int cli_json_print(const char *cmd, struct cJSON *obj);

/* Prints "clae: <clae_last_error()>" and returns CLI_EXIT_FAIL. */
int cli_fail_lib(void);

/* clae_runtime_open(spec, out), then its note (clae_runtime_note: e.g. no OpenCL, so cpu-ref) on stderr unless
 * quiet. The caller closes *out; on failure *out is NULL and clae_last_error() says why. */
clae_status cli_runtime_open(const char *spec, int quiet, clae_runtime **out);
/* rt's note on stderr ("note: …") unless quiet or the same note was printed before (a cache that cannot be
 * written shows only once work has been compiled, so long commands call this again at their end). */
void cli_runtime_note(const clae_runtime *rt, int quiet);

/* ---- MPI (clae_mpi.c; real only when built with Open MPI, CLAE_WITH_MPI) ---------------------------------- */

/* 1 when this clae was built with MPI. */
int cli_mpi_built(void);
/* MPI_Init; this process's rank and the number of ranks. -1 after printing why (not built with MPI). */
int cli_mpi_init(int *argc, char ***argv, int *rank, int *size);
/* The trainer's reduce hook (clae_gradient_reduce_fn): values summed over all ranks, in place. */
clae_status cli_mpi_sum(float *values, size_t n, void *user);
/* 1 when flag is set in any rank (a collective: every rank calls it at the same point). */
int cli_mpi_any(int flag);
/* Seconds spent in this process's collectives so far. */
double cli_mpi_comm_seconds(void);
/* Ends every rank with rc (a rank that fails must not leave the others waiting in a collective). */
void cli_mpi_abort(int rc);
void cli_mpi_finalize(void);

/* Seconds from an arbitrary fixed point (monotonic). */
double cli_now(void);

/* The shortest decimal that reads back as f, as a double, so JSON shows 0.001
 * rather than 0.0010000000474974513. */
double cli_clean_float(float f);

/* Room for a GEMM report (clae_runtime_gemm_report: up to 1024 tile-table lines; clae_model_gemm_report). */
#define CLI_GEMM_REPORT_BYTES (1024 * 256)

#endif
