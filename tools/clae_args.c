/* clae_args.c — the clae tool's argument cursor, numeric parsers and small shared helpers.
 * Every message names the subcommand and the option so a script's log says what to fix. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"

void cli_args_init(cli_args *a, int argc, char **argv)
{
    a->cmd = argc > 0 ? argv[0] : "?";
    a->argc = argc;
    a->argv = argv;
    a->i = 1;
    a->opt = NULL;
    a->value = NULL;
    a->failed = 0;
    a->n_known = 0;
}

void cli_known(cli_args *a, const char *name)
{
    for (int k = 0; k < a->n_known; k++)
        if (a->known[k] == name || strcmp(a->known[k], name) == 0) return;
    if (a->n_known < CLI_MAX_KNOWN) a->known[a->n_known++] = name;
}

int cli_next(const cli_args *a) { return !a->failed && a->i < a->argc; }

int cli_flag(cli_args *a, const char *name)
{
    cli_known(a, name);
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        fprintf(stderr, "clae %s: %s takes no value\n", a->cmd, name);
        a->failed = 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    a->opt = name;
    a->i++;
    return 1;
}

int cli_opt(cli_args *a, const char *name)
{
    cli_known(a, name);
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '=')) return 0;
    a->opt = name;
    if (arg[n] == '=') {
        a->value = arg + n + 1;
        a->i++;
        return 1;
    }
    /* The next word is the value even if it starts with '-', so `--lr -1` is
     * reported as an out-of-range rate rather than as an unknown option. */
    if (a->i + 1 >= a->argc) {
        fprintf(stderr, "clae %s: %s needs a value\n", a->cmd, name);
        a->failed = 1;
        a->value = NULL;
        return 1;
    }
    a->value = a->argv[a->i + 1];
    a->i += 2;
    return 1;
}

/* Optimal string alignment distance (Levenshtein plus swaps of neighbours),
 * over the first n bytes of a and all of b; words longer than 63 bytes are
 * never typos of an option. */
static int edit_distance(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b);
    if (n > 63 || m > 63) return 1000;
    int d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *cli_closest(const char *word, const char *const *names, size_t n)
{
    size_t len = strcspn(word, "=");
    size_t core = len;
    for (const char *p = word; *p == '-' && core > 0; p++) core--;
    if (core == 0) return NULL;
    /* About one slip per four letters: "--epoch" finds "--epochs", while
     * "--foo" finds nothing rather than a random short flag. */
    int limit = core <= 4 ? 1 : core <= 8 ? 2 : 3;
    const char *best = NULL, *prefix_of = NULL;
    int best_d = limit + 1, prefixes = 0;
    for (size_t k = 0; k < n; k++) {
        int d = edit_distance(word, len, names[k]);
        if (d < best_d) {
            best_d = d;
            best = names[k];
        }
        if (core >= 3 && strlen(names[k]) > len && strncmp(names[k], word, len) == 0) {
            prefix_of = names[k];
            prefixes++;
        }
    }
    if (best) return best;
    return prefixes == 1 ? prefix_of : NULL;
}

void cli_unknown(cli_args *a)
{
    const char *arg = a->argv[a->i];
    const char *near = cli_closest(arg, a->known, (size_t)a->n_known);
    if (!near && arg[0] != '-') {
        /* "epochs 5" for "--epochs 5": the word itself is a flag's name. */
        char dashed[80];
        snprintf(dashed, sizeof dashed, "--%.*s", (int)strcspn(arg, "="), arg);
        for (int k = 0; k < a->n_known && !near; k++)
            if (strcmp(a->known[k], dashed) == 0) near = a->known[k];
    }
    char hint[160] = "";
    if (near) snprintf(hint, sizeof hint, "; did you mean %s?", near);
    if (arg[0] == '-')
        fprintf(stderr, "clae %s: unknown option '%s'%s (see 'clae %s --help')\n", a->cmd, arg, hint, a->cmd);
    else
        fprintf(stderr, "clae %s: unexpected argument '%s'%s (see 'clae %s --help')\n", a->cmd, arg, hint, a->cmd);
    a->failed = 1;
}

void cli_bad_value(cli_args *a, const char *msg)
{
    fprintf(stderr, "clae %s: %s: %s\n", a->cmd, a->opt ? a->opt : "?", msg);
    a->failed = 1;
}

static int bad_number(cli_args *a, const char *expected)
{
    fprintf(stderr, "clae %s: %s: expected %s, got '%s'\n", a->cmd, a->opt, expected, a->value);
    a->failed = 1;
    return -1;
}

int cli_long(cli_args *a, long min, long max, long *out)
{
    char expected[96];
    snprintf(expected, sizeof expected, "an integer from %ld to %ld", min, max);
    const char *s = a->value;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max) return bad_number(a, expected);
    *out = v;
    return 0;
}

int cli_u64(cli_args *a, uint64_t *out)
{
    const char *s = a->value;
    const char *expected = "a non-negative integer below 2^64 (decimal or 0x hex)";
    /* strtoull quietly wraps "-1" to 2^64-1; a seed typed as negative is a mistake. */
    if (s[0] == '-' || s[0] == '+' || s[0] == ' ' || s[0] == '\0') return bad_number(a, expected);
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (end == s || *end != '\0' || errno == ERANGE) return bad_number(a, expected);
    *out = (uint64_t)v;
    return 0;
}

int cli_positive_double(cli_args *a, double *out)
{
    const char *s = a->value;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v <= 0.0)
        return bad_number(a, "a positive finite number");
    *out = v;
    return 0;
}

int cli_json_add_layers(cJSON *obj, const clae_model_config *cfg)
{
    cJSON *layers = cJSON_AddArrayToObject(obj, "layers");
    for (int l = 0; layers && l <= cfg->n_layers; l++) {
        cJSON *n = cJSON_CreateNumber(cfg->sizes[l]);
        if (!n || !cJSON_AddItemToArray(layers, n)) return 0;
    }
    return layers != NULL;
}

int cli_json_print(const char *cmd, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        fprintf(stderr, "clae %s: out of memory building JSON\n", cmd);
        return -1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

int cli_fail_lib(void)
{
    fprintf(stderr, "clae: %s\n", clae_last_error());
    return CLI_EXIT_FAIL;
}

void cli_runtime_note(const clae_runtime *rt, int quiet)
{
    static char printed[1024];
    const char *note = clae_runtime_note(rt);
    if (quiet || !*note || strncmp(printed, note, sizeof printed - 1) == 0) return;
    snprintf(printed, sizeof printed, "%s", note);
    fprintf(stderr, "note: %s\n", note);
}

clae_status cli_runtime_open(const char *spec, int quiet, clae_runtime **out)
{
    clae_status st = clae_runtime_open(spec, out);
    if (st == CLAE_OK) cli_runtime_note(*out, quiet);
    return st;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cli_clean_float(float f)
{
    if (!isfinite(f)) return (double)f;
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

void cli_default_data_path(const char *file, char *buf, size_t cap)
{
    const char *dir = getenv("CLAE_DATA_DIR");
    if (!dir || !*dir) dir = CLI_DEFAULT_DATA_DIR;
    snprintf(buf, cap, "%s/%s", dir, file);
}

clae_status cli_load_data(const char *path, long limit, const clae_model_config *cfg, clae_dataset **out)
{
    clae_status st = clae_dataset_load(path, out);
    if (st != CLAE_OK) return st;
    if (limit > 0) clae_dataset_truncate(*out, (size_t)limit);
    st = clae_model_config_check_data(cfg, *out);
    if (st != CLAE_OK) {
        clae_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

int cli_data_opt(cli_args *a, cli_data_opts *d)
{
    if (cli_opt(a, "--skip-columns")) {
        d->skip = a->value;
        if (a->value && !*a->value) cli_bad_value(a, "the list is empty; expected e.g. 1 or 1,3-5 or id");
    } else if (cli_opt(a, "--label-column")) {
        d->label = a->value;
        if (a->value && (!*a->value || strchr(a->value, ',')))
            cli_bad_value(a, "expected one column, a number from 1 or a header name");
    } else {
        return 0;
    }
    return 1;
}

/* Digits only, as a number from 1; 0 when s is not that. */
static size_t column_number(const char *s, size_t len)
{
    if (len == 0 || len > 18) return 0;
    size_t v = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9') return 0;
        v = v * 10 + (size_t)(s[k] - '0');
    }
    return v;
}

/* One column named by its number (from 1) or its header name, as an index
 * from 0. Prints why and returns -1 when it names none. */
static int resolve_column(const char *cmd, const char *flag, const clae_dataset *ds, const char *s, size_t len,
                          size_t *out)
{
    size_t num = column_number(s, len);
    if (num > 0) {
        if (num > ds->cols) {
            fprintf(stderr, "clae %s: %s: column %zu does not exist: %s has %zu columns (counted from 1)\n", cmd, flag,
                    num, ds->path, ds->cols);
            return -1;
        }
        *out = num - 1;
        return 0;
    }
    if (len == 1 && s[0] == '0') {
        fprintf(stderr, "clae %s: %s: columns are counted from 1, so 0 names none\n", cmd, flag);
        return -1;
    }
    if (!ds->names) {
        fprintf(stderr, "clae %s: %s: '%.*s' is not a column number, and %s has no header to find it by name; "
                        "give column numbers counted from 1\n", cmd, flag, (int)len, s, ds->path);
        return -1;
    }
    for (size_t j = 0; j < ds->cols; j++) {
        if (strlen(ds->names[j]) == len && strncmp(ds->names[j], s, len) == 0) {
            *out = j;
            return 0;
        }
    }
    fprintf(stderr, "clae %s: %s: %s has no column named '%.*s' (its header: ", cmd, flag, ds->path, (int)len, s);
    for (size_t j = 0; j < ds->cols && j < 8; j++) fprintf(stderr, "%s'%s'", j ? ", " : "", ds->names[j]);
    fprintf(stderr, "%s)\n", ds->cols > 8 ? ", ..." : "");
    return -1;
}

/* The columns a --skip-columns list names, appended to idx, each once (seen:
 * ds->cols flags), so at most ds->cols of the cap = ds->cols + 1 entries are
 * used and one stays free for --label-column. Returns the new count, or -1
 * after a message. */
static long resolve_columns(const char *cmd, const clae_dataset *ds, const char *list, size_t *idx, size_t n,
                            size_t cap, unsigned char *seen)
{
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            fprintf(stderr, "clae %s: --skip-columns: '%s' has an empty entry\n", cmd, list);
            return -1;
        }
        const char *dash = memchr(p, '-', len);
        size_t lo = 0, hi = 0;
        if (dash && column_number(p, (size_t)(dash - p)) && column_number(dash + 1, len - (size_t)(dash - p) - 1)) {
            /* N-M, both numbers: a range. A name with a dash in it ("x-1")
             * is not all digits on both sides, so it is looked up as a name. */
            if (resolve_column(cmd, "--skip-columns", ds, p, (size_t)(dash - p), &lo) != 0 ||
                resolve_column(cmd, "--skip-columns", ds, dash + 1, len - (size_t)(dash - p) - 1, &hi) != 0)
                return -1;
            if (hi < lo) {
                fprintf(stderr, "clae %s: --skip-columns: the range '%.*s' runs backwards\n", cmd, (int)len, p);
                return -1;
            }
        } else {
            if (resolve_column(cmd, "--skip-columns", ds, p, len, &lo) != 0) return -1;
            hi = lo;
        }
        for (size_t j = lo; j <= hi; j++) {
            if (seen[j] || n + 1 >= cap) continue;
            seen[j] = 1;
            idx[n++] = j;
        }
        if (!p[len]) break;
        p += len + 1;
    }
    return (long)n;
}

int cli_load_data_ex(const char *cmd, const char *path, long limit, const cli_data_opts *d,
                     const clae_model_config *cfg, clae_dataset **out, float **labels)
{
    *out = NULL;
    if (labels) *labels = NULL;
    clae_dataset *ds = NULL;
    if (clae_dataset_load(path, &ds) != CLAE_OK) return cli_fail_lib();
    int rc = -1;
    size_t *idx = NULL;
    unsigned char *seen = NULL;
    float *lab = NULL;
    if (d && (d->skip || d->label)) {
        const size_t cap = ds->cols + 1;
        idx = malloc(cap * sizeof *idx);
        seen = calloc(cap, 1);
        if (!idx || !seen) {
            fprintf(stderr, "clae %s: out of memory\n", cmd);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        long n = 0;
        if (d->skip) n = resolve_columns(cmd, ds, d->skip, idx, 0, cap, seen);
        if (n >= 0 && d->label) {
            size_t j;
            if (resolve_column(cmd, "--label-column", ds, d->label, strlen(d->label), &j) != 0) {
                n = -1;
            } else {
                idx[n++] = j;
                if (labels) {
                    lab = malloc(ds->rows * sizeof *lab);
                    if (!lab) {
                        fprintf(stderr, "clae %s: out of memory\n", cmd);
                        rc = CLI_EXIT_FAIL;
                        goto done;
                    }
                    for (size_t r = 0; r < ds->rows; r++) lab[r] = ds->x[r * ds->cols + j];
                }
            }
        }
        if (n < 0) {
            rc = CLI_EXIT_USAGE;
            goto done;
        }
        if (clae_dataset_drop_columns(ds, idx, (size_t)n) != CLAE_OK) {
            rc = cli_fail_lib();
            goto done;
        }
    }
    if (limit > 0) clae_dataset_truncate(ds, (size_t)limit);
    if (cfg && clae_model_config_check_data(cfg, ds) != CLAE_OK) {
        rc = cli_fail_lib();
        goto done;
    }
done:
    free(idx);
    free(seen);
    if (rc >= 0) {
        free(lab);
        clae_dataset_free(ds);
        return rc;
    }
    *out = ds;
    if (labels) *labels = lab;
    return -1;
}

int cli_expand_layers(const char *cmd, cli_model_opts *o, const char **layers, char *buf, size_t cap)
{
    o->auto_input = 0;
    const char *l = *layers;
    if (!l || strncmp(l, "auto", 4) != 0 || (l[4] != ',' && l[4] != '\0')) return 0;
    if (!o->allow_auto) {
        fprintf(stderr, "clae %s: --layers %s: 'auto' takes the input width from --data, which 'clae %s' does not "
                        "read; give the width (e.g. 784,256,64)\n", cmd, l, cmd);
        return -1;
    }
    /* The encoder's widths, mirrored here rather than by the library's
     * shorthand, whose rule (a list that does not end at its input width is
     * mirrored) would depend on the width the data turns out to have. */
    enum { MAXW = CLAE_MAX_LAYERS };
    long w[MAXW];
    int n = 0;
    const char *p = l[4] ? l + 5 : l + 4;
    while (*p) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (strncmp(p, "auto", 4) == 0) {
            fprintf(stderr, "clae %s: --layers %s: 'auto' stands only for the first (input) width; the output "
                            "width is the input's\n", cmd, l);
            return -1;
        }
        if (end == p || v <= 0 || v > 1000000000L || (*end && *end != ',') || (*end == ',' && !end[1])) {
            fprintf(stderr, "clae %s: --layers %s: entry %d is not a positive width\n", cmd, l, n + 2);
            return -1;
        }
        if (n == MAXW / 2) {
            fprintf(stderr, "clae %s: --layers %s: more than %d hidden widths\n", cmd, l, MAXW / 2);
            return -1;
        }
        w[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        fprintf(stderr, "clae %s: --layers %s: needs at least a code width, e.g. auto,64\n", cmd, l);
        return -1;
    }
    /* Width 1 stands in for the data's until cli_set_input_width. */
    size_t len = (size_t)snprintf(buf, cap, "1");
    for (int k = 0; k < n && len < cap; k++) len += (size_t)snprintf(buf + len, cap - len, ",%ld", w[k]);
    for (int k = n - 2; k >= 0 && len < cap; k--) len += (size_t)snprintf(buf + len, cap - len, ",%ld", w[k]);
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, ",1");
    if (len >= cap) {
        fprintf(stderr, "clae %s: --layers %s: too long\n", cmd, l);
        return -1;
    }
    *layers = buf;
    o->auto_input = 1;
    return 0;
}

int cli_set_input_width(const char *cmd, clae_model_config *cfg, size_t cols)
{
    if (cols > 1000000000u) {
        fprintf(stderr, "clae %s: --layers auto: the data has %zu columns, more than a layer can have\n", cmd, cols);
        return CLI_EXIT_USAGE;
    }
    cfg->sizes[0] = cfg->sizes[cfg->n_layers] = (int)cols;
    if (clae_model_config_validate(cfg) != CLAE_OK) {
        fprintf(stderr, "clae %s: %s\n", cmd, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    return -1;
}

int cli_check_output(const char *cmd, const char *flag, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "clae %s: %s %s: is a directory; give a file name\n", cmd, flag, path);
        return -1;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "clae %s: %s %s: the directory %s does not exist (%s)\n", cmd, flag, path, dir,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "clae %s: %s %s: %s is not a directory\n", cmd, flag, path, dir);
        return -1;
    }
    /* A real probe, as the final write will do it (a temporary file beside the
     * target): access() says yes to root even on a read-only file system. */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.clae-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "clae %s: %s %s: cannot create files in %s (%s)\n", cmd, flag, path, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int cli_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}
