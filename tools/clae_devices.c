/* clae_devices.c — `clae devices`: the devices clae can run on, as a table or as JSON.
 * The ids printed here are what --device accepts, so the table leads with them. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"

const char cli_devices_help[] =
    "usage: clae devices [--verbose] [--json] [--quiet]\n"
    "\n"
    "Lists every device of every OpenCL platform, then cpu-ref (the plain-C reference\n"
    "path, always present). '*' marks the device every command uses when no --device\n"
    "is given: the one CLAE_DEVICE selects when it is set, else the first GPU, else\n"
    "the first OpenCL CPU, else cpu-ref. Any ID, a type word (gpu, cpu, accelerator,\n"
    "cpu-ref) or a case-insensitive part of a NAME can be passed to --device.\n"
    "\n"
    "Columns: ID, TYPE, NAME, PLATFORM, CU (compute units), GLOBAL (global memory, MiB),\n"
    "LOCAL (local memory, KiB), OPENCL C (the device's OpenCL C version).\n"
    "\n"
    "Options:\n"
    "  --verbose, -v   every property of each device, in the manner of clinfo:\n"
    "                  platform name, vendor, version, profile and extensions;\n"
    "                  device and driver versions, compute units, clock, global,\n"
    "                  cache, local and constant memory, largest allocation, base\n"
    "                  address alignment, work-group and work-item limits, vector\n"
    "                  widths, floating-point configs, fp64, queue properties,\n"
    "                  extensions; and what clae derives: its kernel build options,\n"
    "                  work-group size, buffer alignment and GEMM engine\n"
    "  --json          a JSON array of objects instead (memory in bytes; 'default'\n"
    "                  is true for the '*' device; with --verbose each object also\n"
    "                  has 'properties', an object of the properties above)\n"
    "  --quiet, -q     no warning on stderr (e.g. a CLAE_DEVICE that matches nothing)\n"
    "  --help          show this help\n";

static const char *or_dash(const char *s) { return (s && *s) ? s : "-"; }

/* The properties of device id as a JSON object: numbers as numbers. */
static cJSON *properties_json(const char *id)
{
    clae_device_property *p = NULL;
    size_t n = 0;
    if (clae_device_properties(id, &p, &n) != CLAE_OK) return NULL;
    cJSON *o = cJSON_CreateObject();
    for (size_t k = 0; o && k < n; k++) {
        int ok = p[k].numeric ? cJSON_AddNumberToObject(o, p[k].key, p[k].number) != NULL
                              : cJSON_AddStringToObject(o, p[k].key, p[k].value) != NULL;
        if (!ok) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    clae_free(p);
    return o;
}

static int print_json(const clae_device_info *list, size_t count, long chosen, int verbose)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) goto nomem;
    for (size_t k = 0; k < count; k++) {
        const clae_device_info *d = &list[k];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) goto nomem;
        /* Byte counts are JSON numbers (doubles): exact up to 2^53 bytes, far above any device. */
        if (!cJSON_AddStringToObject(o, "id", d->id) ||
            !cJSON_AddStringToObject(o, "type", clae_device_type_string(d->type)) ||
            !cJSON_AddStringToObject(o, "name", d->name) || !cJSON_AddStringToObject(o, "platform", d->platform) ||
            !cJSON_AddStringToObject(o, "platform_version", d->platform_version) ||
            !cJSON_AddStringToObject(o, "vendor", d->vendor) ||
            !cJSON_AddStringToObject(o, "driver_version", d->driver_version) ||
            !cJSON_AddStringToObject(o, "opencl_c_version", d->opencl_c_version) ||
            !cJSON_AddNumberToObject(o, "compute_units", (double)d->compute_units) ||
            !cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem_bytes) ||
            !cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem_bytes) ||
            !cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc_bytes) ||
            !cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_work_group_size) ||
            !cJSON_AddBoolToObject(o, "default", (long)k == chosen))
            goto nomem;
        if (verbose) {
            cJSON *props = properties_json(d->id);
            if (!props) {
                fprintf(stderr, "clae devices: %s: %s\n", d->id, clae_last_error());
                cJSON_Delete(arr);
                return CLI_EXIT_FAIL;
            }
            cJSON_AddItemToObject(o, "properties", props);
        }
    }
    char *text = cJSON_Print(arr);
    if (!text) goto nomem;
    puts(text);
    cJSON_free(text);
    cJSON_Delete(arr);
    return CLI_EXIT_OK;
nomem:
    cJSON_Delete(arr);
    fprintf(stderr, "clae devices: out of memory building JSON\n");
    return CLI_EXIT_FAIL;
}

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void print_table(const clae_device_info *list, size_t count, long chosen)
{
    int w_id = 2, w_type = 4, w_name = 4, w_plat = 8;
    for (size_t k = 0; k < count; k++) {
        w_id = width(w_id, list[k].id);
        w_type = width(w_type, clae_device_type_string(list[k].type));
        w_name = width(w_name, list[k].name);
        w_plat = width(w_plat, or_dash(list[k].platform));
    }
    printf("  %-*s  %-*s  %-*s  %-*s  %4s  %10s  %9s  %s\n", w_id, "ID", w_type, "TYPE", w_name, "NAME", w_plat,
           "PLATFORM", "CU", "GLOBAL MiB", "LOCAL KiB", "OPENCL C");
    for (size_t k = 0; k < count; k++) {
        const clae_device_info *d = &list[k];
        printf("%c %-*s  %-*s  %-*s  %-*s  %4u  %10llu  %9llu  %s\n", (long)k == chosen ? '*' : ' ', w_id, d->id,
               w_type, clae_device_type_string(d->type), w_name, d->name, w_plat, or_dash(d->platform),
               d->compute_units, (unsigned long long)(d->global_mem_bytes >> 20),
               (unsigned long long)(d->local_mem_bytes >> 10), or_dash(d->opencl_c_version));
    }
}

/* How the device multiplies matrices: its GEMM engine and, for the tiled engine, the tile table that earlier
 * runs searched (opening a runtime builds no kernel, so this costs next to nothing). */
static void print_gemm(const char *id)
{
    clae_runtime *rt = NULL;
    static char report[CLI_GEMM_REPORT_BYTES];
    if (clae_runtime_open(id, &rt) != CLAE_OK || clae_runtime_gemm_report(rt, report, sizeof report) != CLAE_OK) {
        printf("  %-42s %s\n", "GEMM", clae_last_error());
    } else {
        char *save = NULL;
        for (char *line = strtok_r(report, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            printf("  %s%s\n", line[0] == ' ' ? "  " : "", line);
    }
    clae_runtime_close(rt);
}

/* clinfo's layout: a heading per device, then one "label  value" line per property. */
static int print_verbose(const clae_device_info *list, size_t count, long chosen)
{
    for (size_t k = 0; k < count; k++) {
        clae_device_property *p = NULL;
        size_t n = 0;
        if (clae_device_properties(list[k].id, &p, &n) != CLAE_OK) {
            fprintf(stderr, "clae devices: %s: %s\n", list[k].id, clae_last_error());
            return CLI_EXIT_FAIL;
        }
        printf("%sDevice %s%s\n", k ? "\n" : "", list[k].id, (long)k == chosen ? "  (* used when no --device is given)" : "");
        for (size_t i = 0; i < n; i++) {
            printf("  %-42s %s", p[i].label, *p[i].value ? p[i].value : "-");
            size_t kl = strlen(p[i].key);
            /* Sizes also in binary units, as clinfo writes them. */
            if (p[i].numeric && kl > 6 && strcmp(p[i].key + kl - 6, "_bytes") == 0 && p[i].number >= 1024.0) {
                static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
                double v = p[i].number / 1024.0;
                int u = 0;
                while (v >= 1024.0 && u < 3) {
                    v /= 1024.0;
                    u++;
                }
                printf(" (%.4g %s)", v, unit[u]);
            }
            putchar('\n');
        }
        clae_free(p);
        print_gemm(list[k].id);
    }
    return CLI_EXIT_OK;
}

int cli_devices(int argc, char **argv)
{
    int json = 0, verbose = 0, quiet = 0;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_devices_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_flag(&a, "--json"))
            json = 1;
        else if (cli_flag(&a, "--verbose") || cli_flag(&a, "-v"))
            verbose = 1;
        else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q"))
            quiet = 1;
        else
            cli_unknown(&a);
    }
    if (a.failed) return CLI_EXIT_USAGE;

    clae_device_info *list = NULL;
    size_t count = 0;
    if (clae_devices(&list, &count) != CLAE_OK) return cli_fail_lib();
    /* The device a command without --device gets, CLAE_DEVICE included. */
    long chosen = -1;
    clae_device_info sel;
    if (clae_device_resolve(NULL, &sel) == CLAE_OK) {
        for (size_t k = 0; k < count; k++)
            if (strcmp(list[k].id, sel.id) == 0) chosen = (long)k;
    } else if (!quiet) {
        fprintf(stderr, "warning: commands without --device will fail: %s\n", clae_last_error());
    }
    /* Only cpu-ref listed: say why there is no OpenCL device, so a missing driver is not mistaken for a bug. */
    char absence[512] = "";
    if (!quiet && clae_opencl_absence(absence, sizeof absence) == CLAE_OK && absence[0])
        fprintf(stderr, "note: %s: only cpu-ref, the plain C reference path, is available\n", absence);
    int rc = CLI_EXIT_OK;
    if (json)
        rc = print_json(list, count, chosen, verbose);
    else if (verbose)
        rc = print_verbose(list, count, chosen);
    else
        print_table(list, count, chosen);
    clae_free(list);
    return rc;
}
