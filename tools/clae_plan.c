/* clae_plan.c — `clae plan`: print the buffer plan of a model on a device without training it.
 * A table of tensors with their bytes, arena offsets and lifetimes, then peak against bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"

const char cli_plan_help[] =
    "usage: clae plan [options]\n"
    "\n"
    "Plans every tensor a training step and an inference pass touch (parameters,\n"
    "gradients, optimizer state, activations, loss scratch, GEMM workspace, variant\n"
    "tensors) for a model on a device, and prints the plan: each tensor's bytes, its\n"
    "offset in the device arena and the schedule positions where it is live. Tensors\n"
    "never live at the same time share memory.\n"
    "\n"
    "Summary lines: the planned peak (the arena), the lower bound (the most bytes live\n"
    "at any one schedule position: no placement can use less), the unplanned sum\n"
    "(every tensor on its own), and the peak of an inference-only model.\n"
    "\n"
    "Lifetimes are not declared by hand: the model runs one training step and one\n"
    "inference pass as a dry run, in which every op records the tensors it touches\n"
    "instead of launching; the table after the tensors prints that traced schedule.\n"
    "\n"
    "Model:\n" CLI_MODEL_FLAGS_HELP
    "\n"
    "Run:\n"
    "  --device SPEC           the device whose alignment and GEMM workspace count\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --inference             plan an inference-only model (no gradients or optimizer state)\n"
    "  --unplanned             every tensor in its own allocation (as CLAE_PLAN=off)\n"
    "  --json                  one JSON object: device, device_id, layers (an array\n"
    "                          of widths), arch (the spec string), batch, inference, the summary fields,\n"
    "                          steps, tensors\n"
    "  --quiet, -q             nothing on stderr but errors\n"
    "  --help                  show this help\n"
    "\n"
    "Exit status 1 (after printing) when the plan does not fit the device.\n";

static void print_table(clae_model *m, const clae_plan_summary *s)
{
    printf("%-34s %12s %12s  %-18s %-18s\n", "TENSOR", "BYTES", "OFFSET", "FIRST USE", "LAST USE");
    for (int i = 0; i < s->n_tensors; i++) {
        clae_plan_entry e;
        if (clae_model_plan_entry(m, i, &e) != CLAE_OK || !e.bytes) continue;
        int always = e.persistent;
        printf("%-34s %12llu %12llu  %-18s %-18s\n", e.name, (unsigned long long)e.bytes,
               (unsigned long long)e.offset, always ? "(persistent)" : clae_model_plan_step_name(m, e.first),
               always ? "" : clae_model_plan_step_name(m, e.last));
    }
}

/* The schedule the model's dry run traced: each position, the bytes live there, and the tensors whose
 * life starts or ends there. */
static void print_schedule(clae_model *m, const clae_plan_summary *s)
{
    printf("\n%-4s %-22s %12s  %s\n", "POS", "TRACED SCHEDULE", "LIVE BYTES", "BORN (+) / LAST USE (-)");
    for (int p = 0; p < s->n_steps; p++) {
        unsigned long long live = 0;
        char events[1024] = "";
        size_t len = 0;
        for (int i = 0; i < s->n_tensors; i++) {
            clae_plan_entry e;
            if (clae_model_plan_entry(m, i, &e) != CLAE_OK || !e.bytes) continue;
            if (e.persistent || (e.first <= p && p <= e.last)) live += e.bytes;
            if (e.persistent) continue;
            if (e.first == p && len < sizeof events)
                len += (size_t)snprintf(events + len, sizeof events - len, " +%s", e.name);
            if (e.last == p && len < sizeof events)
                len += (size_t)snprintf(events + len, sizeof events - len, " -%s", e.name);
        }
        printf("%-4d %-22s %12llu %s\n", p, clae_model_plan_step_name(m, p), live, events);
    }
}

static void print_summary(FILE *f, const clae_plan_summary *s, const char *lb_step)
{
    double mib = 1048576.0;
    fprintf(f, "\n%-22s %14llu bytes  %9.2f MiB%s\n", s->planned ? "planned peak" : "allocated (unplanned)",
            (unsigned long long)s->peak_bytes, s->peak_bytes / mib, s->planned ? "  (one arena)" : "");
    fprintf(f, "%-22s %14llu bytes  %9.2f MiB  (at %s)\n", "lower bound", (unsigned long long)s->lower_bound_bytes,
            s->lower_bound_bytes / mib, lb_step);
    fprintf(f, "%-22s %14llu bytes  %9.2f MiB\n", "unplanned sum", (unsigned long long)s->unplanned_bytes,
            s->unplanned_bytes / mib);
    fprintf(f, "%-22s %14llu bytes  %9.2f MiB\n", "inference-only peak", (unsigned long long)s->inference_peak_bytes,
            s->inference_peak_bytes / mib);
    fprintf(f, "peak / lower bound %.3f, peak / unplanned %.3f, alignment %llu bytes, %d tensors, %d positions\n",
            (double)s->peak_bytes / (double)(s->lower_bound_bytes ? s->lower_bound_bytes : 1),
            (double)s->peak_bytes / (double)(s->unplanned_bytes ? s->unplanned_bytes : 1),
            (unsigned long long)s->align_bytes, s->n_tensors, s->n_steps);
}

static int print_json(clae_model *m, const clae_plan_summary *s, const clae_device_info *dev, int fits,
                      const clae_model_config *cfg, int inference)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return cli_json_print("plan", NULL) != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    cJSON_AddStringToObject(j, "device", dev->name);
    cJSON_AddStringToObject(j, "device_id", dev->id);
    cli_json_add_layers(j, cfg);
    cJSON_AddStringToObject(j, "arch", clae_model_arch(m));
    cJSON_AddNumberToObject(j, "batch", cfg->batch);
    cJSON_AddBoolToObject(j, "inference", inference);
    cJSON_AddBoolToObject(j, "planned", s->planned);
    cJSON_AddBoolToObject(j, "fits", fits);
    cJSON_AddNumberToObject(j, "peak_bytes", (double)s->peak_bytes);
    cJSON_AddNumberToObject(j, "lower_bound_bytes", (double)s->lower_bound_bytes);
    cJSON_AddStringToObject(j, "lower_bound_at", clae_model_plan_step_name(m, s->lower_bound_step));
    cJSON_AddNumberToObject(j, "unplanned_bytes", (double)s->unplanned_bytes);
    cJSON_AddNumberToObject(j, "inference_peak_bytes", (double)s->inference_peak_bytes);
    cJSON_AddNumberToObject(j, "align_bytes", (double)s->align_bytes);
    cJSON *steps = cJSON_AddArrayToObject(j, "steps");
    for (int i = 0; i < s->n_steps; i++) cJSON_AddItemToArray(steps, cJSON_CreateString(clae_model_plan_step_name(m, i)));
    cJSON *tensors = cJSON_AddArrayToObject(j, "tensors");
    for (int i = 0; i < s->n_tensors; i++) {
        clae_plan_entry e;
        if (clae_model_plan_entry(m, i, &e) != CLAE_OK || !e.bytes) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", e.name);
        cJSON_AddNumberToObject(t, "bytes", (double)e.bytes);
        cJSON_AddNumberToObject(t, "offset", (double)e.offset);
        cJSON_AddNumberToObject(t, "first", e.first);
        cJSON_AddNumberToObject(t, "last", e.last);
        cJSON_AddBoolToObject(t, "persistent", e.persistent);
        cJSON_AddItemToArray(tensors, t);
    }
    return cli_json_print("plan", j) != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_plan(int argc, char **argv)
{
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *device = NULL;
    int json = 0, quiet = 0;
    unsigned flags = CLAE_MODEL_PLAN_ONLY;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            fputs(cli_plan_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_model_opt(&a, &mo)) {
            /* matched a model flag */
        } else if (cli_opt(&a, "--device")) {
            device = a.value;
        } else if (cli_flag(&a, "--inference")) {
            flags |= CLAE_MODEL_INFERENCE;
        } else if (cli_flag(&a, "--unplanned")) {
            flags |= CLAE_MODEL_UNPLANNED;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            quiet = 1; /* the runtime's note is plan's only non-error line on stderr */
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    int rc = cli_model_opts_finish("plan", &mo);
    if (rc >= 0) return rc;

    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_device_info dev;
    if (cli_runtime_open(device, quiet, &rt) != CLAE_OK || clae_runtime_device(rt, &dev) != CLAE_OK ||
        clae_model_create_arch(rt, &mo.cfg, mo.spec, flags, &m) != CLAE_OK) {
        rc = cli_fail_lib();
        clae_runtime_close(rt);
        return rc;
    }
    clae_plan_summary s;
    clae_model_plan_summary(m, &s);
    /* The same test model creation applies, without allocating anything. */
    int fits = !((dev.global_mem_bytes && s.peak_bytes > dev.global_mem_bytes) ||
                 (dev.max_alloc_bytes && s.planned && s.peak_bytes > dev.max_alloc_bytes));
    if (json) {
        rc = print_json(m, &s, &dev, fits, &mo.cfg, (flags & CLAE_MODEL_INFERENCE) != 0);
    } else {
        char desc[256];
        clae_model_describe(m, desc, sizeof desc);
        printf("plan for %s on %s (%s), batch %d, %s%s\n\n", desc, dev.name, dev.id, mo.cfg.batch,
               clae_optimizer_name(mo.cfg.optimizer), (flags & CLAE_MODEL_INFERENCE) ? ", inference only" : "");
        printf("net: %s\n\n", clae_model_arch(m));
        print_table(m, &s);
        print_schedule(m, &s);
        print_summary(stdout, &s, clae_model_plan_step_name(m, s.lower_bound_step));
        static char gemms[CLI_GEMM_REPORT_BYTES];
        if (clae_model_gemm_report(m, gemms, sizeof gemms) == CLAE_OK && gemms[0])
            printf("\nGEMMs (pass, op, shape: engine and how it runs them):\n%s", gemms);
        rc = CLI_EXIT_OK;
    }
    if (!fits) {
        fprintf(stderr, "clae plan: the plan needs %llu bytes but %s has %llu bytes of global memory and allows %llu "
                        "in one allocation\n",
                (unsigned long long)s.peak_bytes, dev.name, (unsigned long long)dev.global_mem_bytes,
                (unsigned long long)dev.max_alloc_bytes);
        rc = CLI_EXIT_FAIL;
    }
    clae_model_destroy(m);
    clae_runtime_close(rt);
    return rc;
}
