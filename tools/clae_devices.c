/* clae_devices.c — `clae devices`: the devices clae can run on, as a table or as JSON.
 * The ids printed here are what --device accepts, so the table leads with them. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"

const char cli_devices_help[] =
    "usage: clae devices [--json]\n"
    "\n"
    "Lists every device of every OpenCL platform, then cpu-ref (the plain-C reference\n"
    "path, always present). '*' marks the device used when no --device is given and\n"
    "CLAE_DEVICE is unset. Any ID, a type word (gpu, cpu, accelerator, cpu-ref) or a\n"
    "case-insensitive part of a NAME can be passed to --device.\n"
    "\n"
    "Columns: ID, TYPE, NAME, PLATFORM, CU (compute units), GLOBAL (global memory, MiB),\n"
    "LOCAL (local memory, KiB), OPENCL C (the device's OpenCL C version).\n"
    "\n"
    "Options:\n"
    "  --json   print a JSON array of objects instead (all fields, memory in bytes)\n"
    "  --help   show this help\n";

static const char *or_dash(const char *s) { return (s && *s) ? s : "-"; }

static int print_json(const clae_device_info *list, size_t count)
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
            !cJSON_AddBoolToObject(o, "default", d->is_default != 0))
            goto nomem;
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

static void print_table(const clae_device_info *list, size_t count)
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
        printf("%c %-*s  %-*s  %-*s  %-*s  %4u  %10llu  %9llu  %s\n", d->is_default ? '*' : ' ', w_id, d->id,
               w_type, clae_device_type_string(d->type), w_name, d->name, w_plat, or_dash(d->platform),
               d->compute_units, (unsigned long long)(d->global_mem_bytes >> 20),
               (unsigned long long)(d->local_mem_bytes >> 10), or_dash(d->opencl_c_version));
    }
}

int cli_devices(int argc, char **argv)
{
    int json = 0;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_devices_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_flag(&a, "--json"))
            json = 1;
        else
            cli_unknown(&a);
    }
    if (a.failed) return CLI_EXIT_USAGE;

    clae_device_info *list = NULL;
    size_t count = 0;
    if (clae_devices(&list, &count) != CLAE_OK) return cli_fail_lib();
    int rc = CLI_EXIT_OK;
    if (json)
        rc = print_json(list, count);
    else
        print_table(list, count);
    clae_free(list);
    return rc;
}
