/* clae_bench.c — `clae bench`: the standard workloads (the reference dense model and one of each variant
 * family) trained on one device, timed per step. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_steps.h"


const char cli_bench_help[] =
    "usage: clae bench [--device SPEC] [--steps N] [--batch N] [--only NAME] [--data PATH] [--json] [--quiet]\n"
    "\n"
    "Times the standard workloads on one device: the reference dense autoencoder\n"
    "(784,256,64,256,784, relu, sigmoid output, bce, Adam 1e-3) and one of each variant\n"
    "family on the same shape:\n"
    "  dense         the reference model\n"
    "  sparse-kl     KL sparsity rho=0.05 beta=3, sigmoid hidden units\n"
    "  k-sparse      k=25 of the 64 codes, linear hidden units\n"
    "  wta           winner-take-all, 5% of the batch per code unit\n"
    "  denoising     mask noise, 25% of the inputs dropped\n"
    "  contractive   contractive penalty 0.1, sigmoid hidden units\n"
    "  conv          the convolutional autoencoder of Masci et al. (2011):\n"
    "                " CLI_CONV_AE_SPEC "\n"
    "                (tools/bench_torch_conv.py times the same net in PyTorch on the CPU)\n"
    "Each trains --steps steps on consecutive batches of the first batch*steps rows of\n"
    "Fashion-MNIST (rows wrap around when the file has fewer). MS/STEP and SAMPLES/S\n"
    "exclude the first step as warm-up when --steps > 1. There is no GEMM row: libclae\n"
    "has no public GEMM entry point ('make bench-gemm' times the GEMM engines alone),\n"
    "and the dense workload's time is mostly its GEMMs.\n"
    "\n"
    "Options:\n"
    "  --device SPEC           P:D index, type word (gpu, cpu, cpu-ref) or name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --steps N               steps per workload (default 20)\n"
    "  --batch N               rows per step (default 256)\n"
    "  --only NAME             run only that workload (e.g. conv)\n"
    "  --data PATH             rows with 784 columns (default $CLAE_DATA_DIR or\n"
    "                          " CLI_DEFAULT_DATA_DIR "/" CLI_DEFAULT_TRAIN_FILE ")\n"
    "  --json                  one JSON object: device, device_id, platform,\n"
    "                          driver_version, build_seconds, programs_from_cache,\n"
    "                          steps, timed_steps, batch, layers (an array of widths)\n"
    "                          and workloads: an array of {name, variant, status,\n"
    "                          error (failed only), ms_per_step, samples_per_sec,\n"
    "                          final_loss}\n"
    "  --quiet, -q             no progress lines on stderr\n"
    "  --help                  show this help\n"
    "\n"
    "Exit status: 0 when every workload ran, 1 when the device or any workload failed\n"
    "(the other workloads still run), 2 for a bad command line.\n";


typedef struct workload {
    const char *name;
    void (*setup)(clae_model_config *c);
    const char *arch; /* a spec string instead of the reference shape, or NULL */
} workload;

static void wl_dense(clae_model_config *c) { (void)c; }

static void wl_sparse_kl(clae_model_config *c)
{
    clae_model_config_set_activations(c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
    c->sparsity = CLAE_SPARSITY_KL;
}

static void wl_ksparse(clae_model_config *c)
{
    /* Makhzani & Frey's k-sparse codes are linear; k=25 of the 64 code units. */
    clae_model_config_set_activations(c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
    c->ksparse_k = 25;
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
    {"dense", wl_dense, NULL},       {"sparse-kl", wl_sparse_kl, NULL}, {"k-sparse", wl_ksparse, NULL},
    {"wta", wl_wta, NULL},           {"denoising", wl_denoising, NULL}, {"contractive", wl_contractive, NULL},
    {"conv", wl_dense, CLI_CONV_AE_SPEC},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

typedef struct bench_result {
    char variant[256];
    int skipped; /* not the --only workload */
    int failed;
    char error[1024];
    cli_step_stats st;
} bench_result;

int cli_bench(int argc, char **argv)
{
    const char *device = NULL, *only = NULL;
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
    clae_dataset *ds = NULL;
    /* Only the rows the steps use are kept; a shorter file wraps around. */
    long limit = steps > LONG_MAX / batch ? LONG_MAX : steps * batch;
    if (cli_load_data(data, limit, &base, &ds) != CLAE_OK) return cli_fail_lib();

    clae_runtime *rt = NULL;
    clae_device_info dev;
    clae_runtime_stats rs;
    if (clae_runtime_open(device, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK ||
        clae_runtime_stats_get(rt, &rs) != CLAE_OK) {
        clae_runtime_close(rt);
        clae_dataset_free(ds);
        return cli_fail_lib();
    }

    bench_result res[N_WORKLOADS];
    memset(res, 0, sizeof res);
    int failed = 0;
    for (size_t w = 0; w < N_WORKLOADS; w++) {
        bench_result *r = &res[w];
        r->skipped = only && strcmp(workloads[w].name, only);
        if (r->skipped) continue;
        clae_model_config c = base;
        workloads[w].setup(&c);
        clae_model *m = NULL;
        clae_status made = workloads[w].arch ? clae_model_create_arch(rt, &c, workloads[w].arch, 0, &m)
                                             : clae_model_config_validate(&c) == CLAE_OK ? clae_model_create(rt, &c, &m)
                                                                                         : CLAE_ERR_ARG;
        if (made != CLAE_OK ||
            clae_model_fit_feature_stats(m, ds) != CLAE_OK) {
            r->failed = 1;
            cli_copy_message(r->error, sizeof r->error, clae_last_error());
        } else {
            clae_model_describe(m, r->variant, sizeof r->variant);
            if (!quiet) fprintf(stderr, "bench: %s (%s): %ld steps\n", workloads[w].name, r->variant, steps);
            if (cli_run_steps(m, ds, CLAE_BATCHES_WRAP, steps, &r->st) != 0) {
                r->failed = 1;
                cli_copy_message(r->error, sizeof r->error, clae_last_error());
            }
        }
        clae_model_destroy(m);
        failed += r->failed;
        if (!quiet && r->failed) fprintf(stderr, "bench: %s FAILED: %s\n", workloads[w].name, r->error);
    }

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
            const bench_result *r = &res[w];
            if (r->skipped) continue;
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddItemToArray(arr, o) && cJSON_AddStringToObject(o, "name", workloads[w].name) &&
                 cJSON_AddStringToObject(o, "variant", r->variant) &&
                 cJSON_AddStringToObject(o, "status", r->failed ? "failed" : "ok") &&
                 (!r->failed || cJSON_AddStringToObject(o, "error", r->error)) &&
                 cli_json_add_num(o, "ms_per_step", !r->failed, cli_round_sig(cli_ms_per_step(&r->st), 6)) &&
                 cli_json_add_num(o, "samples_per_sec", !r->failed, cli_round_sig(cli_samples_per_sec(&r->st), 6)) &&
                 cli_json_add_num(o, "final_loss", !r->failed, (double)r->st.final_loss);
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
        printf("        ms/step and samples/s %s\n\n",
               steps > 1 ? "leave out the first step (warm-up)" : "time the only step");
        int wv = 7;
        for (size_t w = 0; w < N_WORKLOADS; w++) wv = cli_col_width(wv, res[w].failed ? "-" : res[w].variant);
        printf("%-11s  %-*s  %9s  %9s  %10s  %s\n", "WORKLOAD", wv, "VARIANT", "MS/STEP", "SAMPLES/S", "FINAL LOSS",
               "STATUS");
        for (size_t w = 0; w < N_WORKLOADS; w++) {
            const bench_result *r = &res[w];
            if (r->skipped) continue;
            if (r->failed) {
                printf("%-11s  %-*s  %9s  %9s  %10s  FAILED: %s\n", workloads[w].name, wv, "-", "-", "-", "-",
                       r->error);
            } else {
                printf("%-11s  %-*s  %9.2f  %9.0f  %10.6g  ok\n", workloads[w].name, wv, r->variant,
                       cli_ms_per_step(&r->st), cli_samples_per_sec(&r->st), (double)r->st.final_loss);
            }
        }
    }
    fflush(stdout);
    clae_runtime_close(rt);
    clae_dataset_free(ds);
    return rc;
}
