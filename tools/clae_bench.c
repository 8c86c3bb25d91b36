/* clae_bench.c — `clae bench`: the standard workloads (the reference dense model, one of each variant
 * family, the conv and wide nets) trained on one device, timed per step, and its inference timed per call. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_steps.h"


const char cli_bench_help[] =
    "usage: clae bench [--device SPEC] [--steps N] [--batch N] [--layers W,W,...]\n"
    "                  [--only NAME] [--data PATH] [--json] [--quiet]\n"
    "\n"
    "Times the standard workloads on one device: the reference dense autoencoder\n"
    "(784,256,64,256,784, relu, sigmoid output, bce, Adam 1e-3) and one of each variant\n"
    "family on the same shape (--layers changes that shape):\n"
    "  dense         the reference model\n"
    "  sparse-kl     KL sparsity rho=0.05 beta=3, sigmoid hidden units\n"
    "  k-sparse      k=25 of the 64 codes, linear hidden units (another code width\n"
    "                keeps the fraction: k = round(25/64 of it))\n"
    "  wta           winner-take-all, 5% of the batch per code unit\n"
    "  denoising     mask noise, 25% of the inputs dropped\n"
    "  contractive   contractive penalty 0.1, sigmoid hidden units\n"
    "  conv          the convolutional autoencoder of Masci et al. (2011):\n"
    "                " CLI_CONV_AE_SPEC "\n"
    "                (tools/bench_torch_conv.py times the same net in PyTorch on the CPU)\n"
    "  wide          the dense model at 784,2048,512,2048,784 whatever --layers says\n"
    "  infer         inference: clae_model_reconstruct (the forward pass to the\n"
    "                sigmoid outputs, no training) of the dense model at --layers,\n"
    "                one call per step on --batch rows; MS/STEP is ms per call,\n"
    "                SAMPLES/S rows/s\n"
    "(tools/bench_torch.py runs dense, wide and infer against PyTorch's same nets.)\n"
    "Each trains --steps steps on consecutive batches of the first batch*steps rows of\n"
    "Fashion-MNIST (rows wrap around when the file has fewer). MS/STEP and\n"
    "SAMPLES/S exclude the first step (or call) as warm-up when --steps > 1 (it also\n"
    "builds, or loads from clae's cache, the kernel programs the workload is first to\n"
    "use: programs are built on first use, and the 'kernels' line and build_seconds\n"
    "add up those of the workloads that ran). There is no GEMM row: libclae has no\n"
    "public GEMM entry point ('make bench-gemm' times the GEMM engines alone), and\n"
    "the dense workload's time is mostly its GEMMs.\n"
    "\n"
    "Options:\n"
    "  --device SPEC           P:D index, type word (gpu, cpu, cpu-ref) or name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --steps N               steps (infer: calls) per workload (default 20)\n"
    "  --batch N               rows per step or call (default 256)\n"
    "  --layers W,W,...        widths of the dense workloads (all but conv and wide),\n"
    "                          e.g. 784,2048,512,2048,784 or the symmetric shorthand\n"
    "                          784,2048,512 (default 784,256,64,256,784); relu hidden\n"
    "                          units and a sigmoid output as in the reference\n"
    "  --only NAME             run only that workload (e.g. conv, wide, infer)\n"
    "  --data PATH             rows with 784 columns (default $CLAE_DATA_DIR or\n"
    "                          " CLI_DEFAULT_DATA_DIR "/" CLI_DEFAULT_TRAIN_FILE ")\n"
    "  --json                  one JSON object: device, device_id, platform,\n"
    "                          driver_version, build_seconds, programs_from_cache,\n"
    "                          steps, timed_steps, batch, layers (an array of the\n"
    "                          --layers widths) and workloads: an array of {name,\n"
    "                          variant, mode (train or infer), layers (the\n"
    "                          workload's widths; null for conv), status, error\n"
    "                          (failed only), ms_per_step, samples_per_sec,\n"
    "                          final_loss (null for infer)}; an infer workload adds\n"
    "                          ms_per_call and rows_per_sec (the same figures)\n"
    "  --quiet, -q             no progress lines on stderr\n"
    "  --help                  show this help\n"
    "\n"
    "Exit status: 0 when every workload ran, 1 when the device or any workload failed\n"
    "(the other workloads still run), 2 for a bad command line.\n";

/* The wider net of the performance targets (README, Comparing devices and benchmarks): its GEMMs
 * are large enough that the time is the GEMM engine's, where the reference's is launch overhead too. */
#define BENCH_WIDE_LAYERS "784,2048,512,2048,784"


typedef struct workload {
    const char *name;
    void (*setup)(clae_model_config *c);
    const char *arch;   /* a spec string instead of the dense shape, or NULL */
    const char *layers; /* fixed widths instead of --layers, or NULL */
    int infer;          /* time clae_model_reconstruct instead of training steps */
} workload;

static void wl_dense(clae_model_config *c) { (void)c; }

static void wl_sparse_kl(clae_model_config *c)
{
    clae_model_config_set_activations(c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
    c->sparsity = CLAE_SPARSITY_KL;
}

static void wl_ksparse(clae_model_config *c)
{
    /* Makhzani & Frey's k-sparse codes are linear; k=25 of the 64 code units. Another --layers code
     * width keeps that fraction, so the workload stays a sparse code instead of failing (k above the
     * width) or keeping every unit. */
    clae_model_config_set_activations(c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
    int code = c->sizes[c->code_layer];
    c->ksparse_k = code == 64 ? 25 : (int)((25L * code + 32) / 64);
    if (c->ksparse_k < 1) c->ksparse_k = 1;
}

static void wl_wta(clae_model_config *c) { c->wta_rate = 0.05f; }

static void wl_denoising(clae_model_config *c)
{
    c->noise = CLAE_NOISE_MASK;
    c->noise_level = 0.25f;
}

static void wl_contractive(clae_model_config *c)
{
    clae_model_config_set_activations(c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
    c->contractive = 0.1f;
}

static const workload workloads[] = {
    {"dense", wl_dense, NULL, NULL, 0},
    {"sparse-kl", wl_sparse_kl, NULL, NULL, 0},
    {"k-sparse", wl_ksparse, NULL, NULL, 0},
    {"wta", wl_wta, NULL, NULL, 0},
    {"denoising", wl_denoising, NULL, NULL, 0},
    {"contractive", wl_contractive, NULL, NULL, 0},
    {"conv", wl_dense, CLI_CONV_AE_SPEC, NULL, 0},
    {"wide", wl_dense, NULL, BENCH_WIDE_LAYERS, 0},
    {"infer", wl_dense, NULL, NULL, 1},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

typedef struct bench_result {
    char variant[256];
    int skipped; /* not the --only workload */
    int failed;
    char error[1024];
    clae_model_config cfg; /* the workload's configuration (its widths for the table and JSON) */
    cli_step_stats st;
} bench_result;

/* Sets the dense shape of a configuration from a width list, with the reference's relu hidden units
 * and sigmoid output whatever the list's depth; CLAE_ERR_ARG naming the problem. */
static clae_status set_dense_layers(clae_model_config *c, const char *list)
{
    if (clae_model_config_set_layers(c, list) != CLAE_OK) return CLAE_ERR_ARG;
    clae_model_config_set_activations(c, CLAE_ACT_RELU, CLAE_ACT_SIGMOID);
    return clae_model_config_validate(c);
}

/* Times `calls` clae_model_reconstruct calls of m on consecutive rows of ds (wrapping around), the
 * first left out when there are more (it pays for first-use allocations, as a first training step
 * does). Rows are gathered before each call and only the call is timed, as the trainer times only
 * the step. 0, or -1 after a library failure (clae_last_error()). */
static int run_infer(clae_model *m, const clae_dataset *ds, size_t batch, long calls, cli_step_stats *st)
{
    memset(st, 0, sizeof *st);
    st->steps_wanted = calls;
    const size_t cols = ds->cols;
    float *x = malloc(batch * cols * sizeof *x), *out = malloc(batch * cols * sizeof *out);
    int rc = 0;
    if (!x || !out) {
        fprintf(stderr, "clae bench: out of memory for a batch of %zu rows\n", batch);
        rc = -1;
    }
    size_t next = 0;
    for (long s = 0; rc == 0 && s < calls; s++) {
        for (size_t r = 0; r < batch; r++, next = (next + 1) % ds->rows)
            memcpy(x + r * cols, ds->x + next * cols, cols * sizeof *x);
        double t0 = cli_now();
        if (clae_model_reconstruct(m, x, batch, out) != CLAE_OK) {
            rc = -1;
            break;
        }
        double dt = cli_now() - t0;
        st->steps_done = s + 1;
        if (s > 0 || calls == 1) {
            st->timed_steps++;
            st->timed_samples += batch;
            st->timed_seconds += dt;
        }
    }
    free(x);
    free(out);
    return rc;
}

int cli_bench(int argc, char **argv)
{
    const char *device = NULL, *only = NULL, *layers_opt = NULL;
    long steps = CLI_STEPS_DEFAULT, batch = 256;
    int json = 0, quiet = 0;
    char data[1024];
    cli_default_data_path(CLI_DEFAULT_TRAIN_FILE, data, sizeof data);

    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_bench_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--device")) {
            device = a.value;
        } else if (cli_opt(&a, "--steps")) {
            if (a.value) cli_long(&a, 1, CLI_STEPS_MAX, &steps);
        } else if (cli_opt(&a, "--batch")) {
            if (a.value) cli_long(&a, 1, 1L << 30, &batch);
        } else if (cli_opt(&a, "--layers")) {
            layers_opt = a.value;
        } else if (cli_opt(&a, "--data")) {
            if (a.value) snprintf(data, sizeof data, "%s", a.value);
        } else if (cli_opt(&a, "--only")) {
            only = a.value;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    int known = !only;
    for (size_t w = 0; only && w < N_WORKLOADS; w++) known |= !strcmp(workloads[w].name, only);
    if (!known) {
        fprintf(stderr, "clae bench: --only %s: no such workload; expected one of:", only);
        for (size_t w = 0; w < N_WORKLOADS; w++) fprintf(stderr, " %s", workloads[w].name);
        fputc('\n', stderr);
        return CLI_EXIT_USAGE;
    }

    clae_model_config base;
    clae_model_config_default(&base);
    base.batch = (int)batch;
    if (layers_opt && set_dense_layers(&base, layers_opt) != CLAE_OK) {
        /* The parser's messages start with "layers: ", as in every other command's --layers error. */
        const char *why = clae_last_error();
        if (strncmp(why, "layers", 6) == 0) fprintf(stderr, "clae bench: --%s\n", why);
        else fprintf(stderr, "clae bench: --layers %s: %s\n", layers_opt, why);
        return CLI_EXIT_USAGE;
    }
    clae_dataset *ds = NULL;
    /* Only the rows the steps use are kept; a shorter file wraps around. */
    long limit = steps > LONG_MAX / batch ? LONG_MAX : steps * batch;
    if (cli_load_data(data, limit, &base, &ds) != CLAE_OK) return cli_fail_lib();

    clae_runtime *rt = NULL;
    clae_device_info dev;
    clae_runtime_stats rs;
    if (cli_runtime_open(device, quiet, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK) {
        clae_runtime_close(rt);
        clae_dataset_free(ds);
        return cli_fail_lib();
    }

    bench_result res[N_WORKLOADS];
    memset(res, 0, sizeof res);
    int failed = 0;
    for (size_t w = 0; w < N_WORKLOADS; w++) {
        const workload *wl = &workloads[w];
        bench_result *r = &res[w];
        r->skipped = only && strcmp(wl->name, only);
        if (r->skipped) continue;
        clae_model_config *c = &r->cfg;
        *c = base;
        clae_status made = wl->layers ? set_dense_layers(c, wl->layers) : CLAE_OK;
        if (made == CLAE_OK) wl->setup(c);
        clae_model *m = NULL;
        if (made == CLAE_OK)
            made = wl->arch ? clae_model_create_arch(rt, c, wl->arch, 0, &m)
                            : clae_model_config_validate(c) == CLAE_OK ? clae_model_create(rt, c, &m) : CLAE_ERR_ARG;
        if (made != CLAE_OK || clae_model_fit_feature_stats(m, ds) != CLAE_OK) {
            r->failed = 1;
            cli_copy_message(r->error, sizeof r->error, clae_last_error());
        } else {
            clae_model_describe(m, r->variant, sizeof r->variant);
            if (!quiet)
                fprintf(stderr, "bench: %s (%s): %ld %s\n", wl->name, r->variant, steps,
                        wl->infer ? "reconstruct calls" : "steps");
            int ran = wl->infer ? run_infer(m, ds, (size_t)batch, steps, &r->st)
                                : cli_run_steps(m, ds, CLAE_BATCHES_WRAP, steps, &r->st);
            if (ran != 0) {
                r->failed = 1;
                cli_copy_message(r->error, sizeof r->error, clae_last_error());
            }
        }
        clae_model_destroy(m);
        failed += r->failed;
        if (!quiet && r->failed) fprintf(stderr, "bench: %s FAILED: %s\n", wl->name, r->error);
    }

    /* Read after the workloads: the runtime builds each program when a workload first needs it. */
    if (clae_runtime_stats_get(rt, &rs) != CLAE_OK) memset(&rs, 0, sizeof rs);
    char layers[512];
    cli_format_layers(&base, layers, sizeof layers);
    int rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON *arr = cJSON_CreateArray();
        int ok = j && arr && cJSON_AddStringToObject(j, "device", dev.name) &&
                 cJSON_AddStringToObject(j, "device_id", dev.id) &&
                 cJSON_AddStringToObject(j, "platform", dev.platform) &&
                 cJSON_AddStringToObject(j, "driver_version", dev.driver_version) &&
                 cJSON_AddNumberToObject(j, "build_seconds", cli_round_sig(rs.build_seconds, 4)) &&
                 cJSON_AddNumberToObject(j, "programs_from_cache", rs.programs_from_cache) &&
                 cJSON_AddNumberToObject(j, "steps", (double)steps) &&
                 cJSON_AddNumberToObject(j, "timed_steps", (double)(steps > 1 ? steps - 1 : 1)) &&
                 cJSON_AddNumberToObject(j, "batch", (double)batch) && cli_json_add_layers(j, &base);
        if (ok) cJSON_AddItemToObject(j, "workloads", arr);
        else cJSON_Delete(arr);
        for (size_t w = 0; ok && w < N_WORKLOADS; w++) {
            const workload *wl = &workloads[w];
            const bench_result *r = &res[w];
            if (r->skipped) continue;
            double ms = cli_round_sig(cli_ms_per_step(&r->st), 6), sps = cli_round_sig(cli_samples_per_sec(&r->st), 6);
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddItemToArray(arr, o) && cJSON_AddStringToObject(o, "name", wl->name) &&
                 cJSON_AddStringToObject(o, "variant", r->variant) &&
                 cJSON_AddStringToObject(o, "mode", wl->infer ? "infer" : "train") &&
                 (wl->arch ? cJSON_AddNullToObject(o, "layers") != NULL : cli_json_add_layers(o, &r->cfg)) &&
                 cJSON_AddStringToObject(o, "status", r->failed ? "failed" : "ok") &&
                 (!r->failed || cJSON_AddStringToObject(o, "error", r->error)) &&
                 cli_json_add_num(o, "ms_per_step", !r->failed, ms) &&
                 cli_json_add_num(o, "samples_per_sec", !r->failed, sps) &&
                 cli_json_add_num(o, "final_loss", !r->failed && !wl->infer, (double)r->st.final_loss) &&
                 (!wl->infer || (cli_json_add_num(o, "ms_per_call", !r->failed, ms) &&
                                 cli_json_add_num(o, "rows_per_sec", !r->failed, sps)));
        }
        char *text = ok ? cJSON_Print(j) : NULL;
        cJSON_Delete(j);
        if (!text) {
            fprintf(stderr, "clae bench: out of memory building JSON\n");
            rc = CLI_EXIT_FAIL;
        } else {
            puts(text);
            cJSON_free(text);
        }
    } else {
        printf("device  %s (%s), %s %s\n", dev.name, dev.id, cli_or_dash(dev.platform),
               cli_or_dash(dev.driver_version));
        if (dev.type == CLAE_DEVICE_CPU_REF)
            printf("kernels none (plain C)\n");
        else
            printf("kernels %.3f s to build or load (%u of %u programs from the cache)\n", rs.build_seconds,
                   rs.programs_from_cache, rs.programs_from_cache + rs.programs_built);
        printf("model   %s, bce, adam lr %g, batch %ld, %ld step%s on %zu rows of %s\n", layers,
               cli_clean_float(base.lr), batch, steps, steps == 1 ? "" : "s", ds->rows, ds->path);
        printf("        ms/step and samples/s %s; infer: ms per reconstruct call, rows/s\n\n",
               steps > 1 ? "leave out the first step (warm-up)" : "time the only step");
        /* A workload whose widths are not the --layers ones (wide) shows them beside its variant. */
        char shown[N_WORKLOADS][512];
        int wv = 7;
        for (size_t w = 0; w < N_WORKLOADS; w++) {
            const bench_result *r = &res[w];
            char wl_layers[200] = "";
            if (!r->failed && workloads[w].layers) cli_format_layers(&r->cfg, wl_layers, sizeof wl_layers);
            snprintf(shown[w], sizeof shown[w], "%.255s%s%.199s", r->failed ? "-" : r->variant, *wl_layers ? " " : "",
                     wl_layers);
            if (!r->skipped) wv = cli_col_width(wv, shown[w]);
        }
        printf("%-11s  %-*s  %9s  %9s  %10s  %s\n", "WORKLOAD", wv, "VARIANT", "MS/STEP", "SAMPLES/S", "FINAL LOSS",
               "STATUS");
        for (size_t w = 0; w < N_WORKLOADS; w++) {
            const bench_result *r = &res[w];
            if (r->skipped) continue;
            if (r->failed) {
                printf("%-11s  %-*s  %9s  %9s  %10s  FAILED: %s\n", workloads[w].name, wv, "-", "-", "-", "-",
                       r->error);
            } else if (workloads[w].infer) {
                printf("%-11s  %-*s  %9.3f  %9.0f  %10s  ok\n", workloads[w].name, wv, shown[w],
                       cli_ms_per_step(&r->st), cli_samples_per_sec(&r->st), "-");
            } else {
                printf("%-11s  %-*s  %9.2f  %9.0f  %10.6g  ok\n", workloads[w].name, wv, shown[w],
                       cli_ms_per_step(&r->st), cli_samples_per_sec(&r->st), (double)r->st.final_loss);
            }
        }
    }
    fflush(stdout);
    clae_runtime_close(rt);
    clae_dataset_free(ds);
    return rc;
}
