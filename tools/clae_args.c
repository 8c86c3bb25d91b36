/* clae_args.c — the clae tool's argument cursor, numeric parsers and small shared helpers.
 * Every message names the subcommand and the option so a script's log says what to fix. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

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
}

int cli_next(const cli_args *a) { return !a->failed && a->i < a->argc; }

int cli_flag(cli_args *a, const char *name)
{
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

void cli_unknown(cli_args *a)
{
    const char *arg = a->argv[a->i];
    if (arg[0] == '-')
        fprintf(stderr, "clae %s: unknown option '%s' (see 'clae %s --help')\n", a->cmd, arg, a->cmd);
    else
        fprintf(stderr, "clae %s: unexpected argument '%s' (see 'clae %s --help')\n", a->cmd, arg, a->cmd);
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

int cli_fail_lib(void)
{
    fprintf(stderr, "clae: %s\n", clae_last_error());
    return CLI_EXIT_FAIL;
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
