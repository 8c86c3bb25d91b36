/* clae_grid.c — `clae grid`: a grid search over `clae train` options (h2o.grid's cartesian strategy), one worker
 * per device, each model saved beside a resumable state file, the models ranked by test MSE. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_train.h"
#include "io/safetensors.h" /* clae_atomic_*: grid.json is replaced whole or not at all */

extern char **environ;

#define DEFAULT_OUT "grid-out"
#define STATE_FILE "grid.json"
#define MAX_PARAMS 16
#define MAX_VALUES 256
#define MAX_COMBOS 100000
#define MAX_DEVICES 64
#define MAX_BASE 256
#define SHORT_NAME_MAX 96

const char cli_grid_help[] =
    "usage: clae grid --param NAME=VALUES [--param ...] [clae train flags]\n"
    "                 [--devices all|SPEC,...] [--out DIR] [--restart] [--max-runs N]\n"
    "                 [--json | --csv] [--quiet]\n"
    "\n"
    "Trains one model per combination of the --param values (the cartesian product,\n"
    "the first --param varying slowest), each exactly as 'clae train' with the other\n"
    "flags and that combination's would: the same seed, data and test rows, so an\n"
    "entry's test MSE is the one the single 'clae train' run reports. Each model is\n"
    "written to DIR/NNN-<params>.safetensors; DIR/grid.json records the grid and\n"
    "every finished combination. Prints the models ranked by test MSE (ties by grid\n"
    "index): rank, grid index, the params, test MSE, final train loss, seconds,\n"
    "device and model file.\n"
    "\n"
    "  --param NAME=VALUES     a 'clae train' option without its dashes and its\n"
    "                          values, separated by '/' when any '/' is present\n"
    "                          (for values with commas: layers=784,64/784,128),\n"
    "                          else by ','; a switch (tied, no-shuffle) takes\n"
    "                          on/off. Not data, test, device, out, checkpoint,\n"
    "                          checkpoint-every, resume, plot, json, quiet\n"
    "  --devices LIST          'all' (every OpenCL device of 'clae devices', cpu-ref\n"
    "                          left out) or specs separated by commas; one worker per\n"
    "                          device, the combinations dealt out in grid order\n"
    "                          (default: the default device, as 'clae train')\n"
    "  --out DIR               the models and grid.json (default " DEFAULT_OUT "; made if\n"
    "                          missing)\n"
    "  --restart               forget the finished combinations in DIR and start over\n"
    "  --max-runs N            train at most N combinations now; a rerun trains the\n"
    "                          rest\n"
    "  --json                  a JSON array, one object per model in rank order:\n"
    "                          rank, index, params (name: value), test_mse,\n"
    "                          train_loss, seconds, device, device_id, model,\n"
    "                          trained (false: finished by an earlier run), resumed\n"
    "  --csv                   a header line, then one line per model: the same\n"
    "                          fields, a column per param, no resumed\n"
    "  --quiet, -q             no progress lines on stderr\n"
    "\n"
    "Any other flag is passed to every 'clae train' run (e.g. --epochs 2 --data P\n"
    "--limit N --sparsity kl); see 'clae train --help'.\n"
    "\n"
    "Resuming: a rerun of the same command skips the combinations grid.json lists\n"
    "whose model file is still there and trains the rest. A different grid (params\n"
    "or flags) into the same DIR is refused unless --restart. Ctrl-C stops after the\n"
    "combinations running now, keeping every finished one (exit 130); a second\n"
    "Ctrl-C interrupts those too (their results are not kept).\n"
    "\n"
    "Exit status: 0 every combination ran (or was already done), 1 a run failed\n"
    "(the others still run and are listed), 2 a bad command line or grid, 130\n"
    "interrupted.\n";

/* `clae train`'s options by kind, so the grid can pass them through and check a
 * --param name before anything runs. The grid's own or per-run flags are refused
 * as params and as pass-through flags (the grid sets them per combination). */
static const char *const train_value_opts[] = {
    "epochs", "steps", "limit", "test-limit", "scale", "validation-split", "pretrain", "pretrain-epochs",
    "pretrain-lr", "init", "skip-columns", "label-column", "data", "test",
    /* cli_model_opt's */
    "layers", "arch", "model", "select", "vae-beta", "prior", "disc", "lr-disc", "lr-gen", "activation",
    "output-activation", "loss", "optimizer", "lr", "momentum", "adam-beta1", "adam-beta2", "adam-eps",
    "adadelta-rho", "adadelta-eps", "batch", "seed", "sparsity", "rho", "beta", "lambda", "ksparse",
    "ksparse-alpha", "ksparse-schedule", "wta-rate", "noise", "contractive"};
static const char *const train_switches[] = {"tied", "no-shuffle"};
static const char *const per_run_opts[] = {"device", "out", "checkpoint", "checkpoint-every", "resume", "plot",
                                           "json", "quiet", "help"};
/* Data and test rows are the same for every combination, by definition of the grid. */
static const char *const not_params[] = {"data", "test"};

static int in_list(const char *name, size_t len, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strlen(list[k]) == len && strncmp(list[k], name, len) == 0) return 1;
    return 0;
}
#define IN(name, len, list) in_list(name, len, list, sizeof list / sizeof list[0])

typedef struct grid_param {
    char *name;   /* without dashes */
    char *values; /* the VALUES text, split in place */
    char *v[MAX_VALUES];
    int n;
    int is_switch;
} grid_param;

typedef struct grid_entry {
    int done;    /* a result is here */
    int trained; /* by this run (0: read from grid.json) */
    int failed;
    int running;
    double test_mse, train_loss, seconds;
    char device[256], device_id[32];
    char model[1200];
} grid_entry;

typedef struct grid {
    grid_param p[MAX_PARAMS];
    int np;
    const char *base[MAX_BASE]; /* the pass-through train flags, as given */
    int nbase;
    const char *devices, *out;
    int json, csv, quiet, restart;
    long max_runs;
    char dev[MAX_DEVICES][128];
    int ndev; /* 0: the default device (no --device) */
    long n;   /* combinations */
    grid_entry *e;
    char *definition; /* the grid's definition as compact JSON, compared on resume */
    char state[1100];
    char exe[4096];
    /* shared by the workers */
    pthread_mutex_t lock;
    long next, started, finished_now, to_train;
    double t0;
    int state_failed;
} grid;

static volatile sig_atomic_t stop_requests;
/* The running children, so a second Ctrl-C can pass the interrupt on to them. */
static volatile pid_t child_pids[MAX_DEVICES];

static void on_sigint(int sig)
{
    (void)sig;
    stop_requests++;
    if (stop_requests >= 2) {
        for (int k = 0; k < MAX_DEVICES; k++)
            if (child_pids[k] > 0) kill(child_pids[k], SIGINT);
        signal(SIGINT, SIG_DFL); /* a third one ends the grid at once */
    }
}

/* The value of combination idx for param k: the first param varies slowest. */
static int value_index(const grid *g, long idx, int k)
{
    for (int j = g->np - 1; j > k; j--) idx /= g->p[j].n;
    return (int)(idx % g->p[k].n);
}

static int parse_param(grid *g, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1]) {
        fprintf(stderr, "clae grid: --param %s: expected NAME=VALUES, e.g. lr=0.001,0.01 or layers=784,64/784,128\n",
                text);
        return -1;
    }
    size_t len = (size_t)(eq - text);
    if (strncmp(text, "--", 2) == 0) {
        text += 2;
        len -= 2;
    }
    if (IN(text, len, per_run_opts) || IN(text, len, not_params)) {
        fprintf(stderr, "clae grid: --param %.*s: the grid sets --%.*s itself (or it must be the same for every "
                        "combination); give it, if at all, as a flag of its own\n", (int)len, text, (int)len, text);
        return -1;
    }
    int sw = IN(text, len, train_switches);
    if (!sw && !IN(text, len, train_value_opts)) {
        fprintf(stderr, "clae grid: --param %.*s: 'clae train' has no option --%.*s (see 'clae train --help')\n",
                (int)len, text, (int)len, text);
        return -1;
    }
    if (g->np == MAX_PARAMS) {
        fprintf(stderr, "clae grid: more than %d --param\n", MAX_PARAMS);
        return -1;
    }
    for (int k = 0; k < g->np; k++)
        if (strlen(g->p[k].name) == len && strncmp(g->p[k].name, text, len) == 0) {
            fprintf(stderr, "clae grid: --param %.*s is given twice; list all its values in one\n", (int)len, text);
            return -1;
        }
    grid_param *p = &g->p[g->np];
    p->name = malloc(len + 1);
    p->values = strdup(eq + 1);
    if (!p->name || !p->values) {
        free(p->name);
        free(p->values);
        fprintf(stderr, "clae grid: out of memory\n");
        return -1;
    }
    memcpy(p->name, text, len);
    p->name[len] = '\0';
    p->is_switch = sw;
    g->np++;
    /* Values that hold commas (layers, disc) need another separator: '/' when any is present. */
    const char sep = strchr(p->values, '/') ? '/' : ',';
    for (char *s = p->values;;) {
        char *end = strchr(s, sep);
        if (end) *end = '\0';
        if (!*s) {
            fprintf(stderr, "clae grid: --param %s: an empty value (two '%c' in a row, or one at an end)\n", p->name,
                    sep);
            return -1;
        }
        if (p->n == MAX_VALUES) {
            fprintf(stderr, "clae grid: --param %s: more than %d values\n", p->name, MAX_VALUES);
            return -1;
        }
        for (int k = 0; k < p->n; k++)
            if (strcmp(p->v[k], s) == 0) {
                fprintf(stderr, "clae grid: --param %s: the value %s is given twice\n", p->name, s);
                return -1;
            }
        if (sw && strcmp(s, "on") != 0 && strcmp(s, "off") != 0) {
            fprintf(stderr, "clae grid: --param %s=%s: --%s is a switch: its values are on and off\n", p->name, s,
                    p->name);
            return -1;
        }
        p->v[p->n++] = s;
        if (!end) break;
        s = end + 1;
    }
    return 0;
}

/* The flags of combination idx for `clae train` (without the program and "train"): the base flags, then the
 * params. Names are dashed into names[] (one per param). Returns the count. */
static int combo_argv(const grid *g, long idx, char names[][72], const char **argv)
{
    int n = 0;
    for (int k = 0; k < g->nbase; k++) argv[n++] = g->base[k];
    for (int k = 0; k < g->np; k++) {
        const grid_param *p = &g->p[k];
        const char *v = p->v[value_index(g, idx, k)];
        snprintf(names[k], 72, "--%s", p->name);
        if (p->is_switch) {
            if (strcmp(v, "on") == 0) argv[n++] = names[k];
        } else {
            argv[n++] = names[k];
            argv[n++] = v;
        }
    }
    return n;
}

/* Runs train's own parser over argv (argv[0] "train"); 0 when it takes them. */
static int train_accepts(int argc, const char **argv)
{
    train_opts *o = malloc(sizeof *o);
    if (!o) return -1;
    int rc = cli_train_parse(argc, (char **)argv, o);
    free(o);
    return rc >= 0 ? -1 : 0;
}

/* Before any training: the base flags, each param value alone, then each whole combination, through train's
 * parser, so a bad value is named with its param. Returns 0 or -1 after printing why. */
static int check_grid(const grid *g)
{
    const char *argv[MAX_BASE + 2 * MAX_PARAMS + 2];
    char names[MAX_PARAMS][72];
    argv[0] = "train";
    for (int k = 0; k < g->nbase; k++) argv[1 + k] = g->base[k];
    if (train_accepts(1 + g->nbase, argv) != 0) {
        fprintf(stderr, "clae grid: 'clae train' refuses the flags above (every combination gets them)\n");
        return -1;
    }
    for (int k = 0; k < g->np; k++) {
        const grid_param *p = &g->p[k];
        snprintf(names[k], sizeof names[k], "--%s", p->name);
        for (int v = 0; v < p->n; v++) {
            int n = 1 + g->nbase;
            if (p->is_switch) {
                if (strcmp(p->v[v], "on") == 0) argv[n++] = names[k];
            } else {
                argv[n++] = names[k];
                argv[n++] = p->v[v];
            }
            if (train_accepts(n, argv) != 0) {
                fprintf(stderr, "clae grid: --param %s: 'clae train' refuses the value %s (above)\n", p->name,
                        p->v[v]);
                return -1;
            }
        }
    }
    for (long i = 0; i < g->n; i++) {
        int n = 1 + combo_argv(g, i, names, argv + 1);
        if (train_accepts(n, argv) != 0) {
            fprintf(stderr, "clae grid: combination %ld (", i);
            for (int k = 0; k < g->np; k++)
                fprintf(stderr, "%s%s=%s", k ? ", " : "", g->p[k].name, g->p[k].v[value_index(g, i, k)]);
            fprintf(stderr, "): 'clae train' refuses it (above)\n");
            return -1;
        }
    }
    return 0;
}

/* DIR/NNN-name=value_name=value.safetensors, the values' commas as '-', anything a file name should not hold as
 * '_'. */
static void model_path(const grid *g, long idx, char *buf, size_t cap)
{
    char name[SHORT_NAME_MAX + 1];
    size_t n = 0;
    for (int k = 0; k < g->np && n < SHORT_NAME_MAX; k++) {
        char part[512];
        snprintf(part, sizeof part, "%s%s=%s", k ? "_" : "", g->p[k].name, g->p[k].v[value_index(g, idx, k)]);
        for (const char *s = part; *s && n < SHORT_NAME_MAX; s++) {
            char c = *s;
            if (c == ',') c = '-';
            else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '-' || c == '=' || c == '_'))
                c = '_';
            name[n++] = c;
        }
    }
    name[n] = '\0';
    snprintf(buf, cap, "%s/%03ld-%s.safetensors", g->out, idx, name);
}

static cJSON *params_json(const grid *g, long idx)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < g->np; k++)
        if (!cJSON_AddStringToObject(o, g->p[k].name, g->p[k].v[value_index(g, idx, k)])) {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}

/* What makes two grids the same: the params with their values in order, and the pass-through flags. */
static char *definition_json(const grid *g)
{
    cJSON *d = cJSON_CreateObject(), *ps = d ? cJSON_AddArrayToObject(d, "params") : NULL;
    cJSON *fl = ps ? cJSON_AddArrayToObject(d, "flags") : NULL;
    int ok = fl != NULL;
    for (int k = 0; ok && k < g->np; k++) {
        cJSON *p = cJSON_CreateObject(), *vs = NULL;
        ok = p && cJSON_AddItemToArray(ps, p);
        if (!ok) cJSON_Delete(p);
        ok = ok && cJSON_AddStringToObject(p, "name", g->p[k].name) && (vs = cJSON_AddArrayToObject(p, "values"));
        for (int v = 0; ok && v < g->p[k].n; v++) ok = cJSON_AddItemToArray(vs, cJSON_CreateString(g->p[k].v[v]));
    }
    for (int k = 0; ok && k < g->nbase; k++) ok = cJSON_AddItemToArray(fl, cJSON_CreateString(g->base[k]));
    char *s = ok ? cJSON_PrintUnformatted(d) : NULL;
    cJSON_Delete(d);
    return s;
}

/* Writes grid.json whole (temporary file and rename): the definition and every finished combination. Called
 * with g->lock held. Returns 0 or -1 after printing why. */
static int write_state(grid *g)
{
    cJSON *st = cJSON_CreateObject(), *def = cJSON_Parse(g->definition), *rs = NULL;
    int ok = st && def && cJSON_AddNumberToObject(st, "clae_grid", 1) && cJSON_AddNumberToObject(st, "combinations",
                                                                                                 (double)g->n);
    if (ok) {
        ok = cJSON_AddItemToObject(st, "definition", def) != 0;
        if (ok) def = NULL;
    }
    ok = ok && (rs = cJSON_AddArrayToObject(st, "results")) != NULL;
    for (long i = 0; ok && i < g->n; i++) {
        const grid_entry *e = &g->e[i];
        if (!e->done) continue;
        cJSON *r = cJSON_CreateObject(), *ps = NULL;
        ok = r && cJSON_AddItemToArray(rs, r);
        if (!ok) {
            cJSON_Delete(r);
            break;
        }
        ok = (ps = params_json(g, i)) != NULL && cJSON_AddNumberToObject(r, "index", (double)i) &&
             cJSON_AddItemToObject(r, "params", ps);
        if (!ok) {
            cJSON_Delete(ps);
            break;
        }
        ok = cJSON_AddStringToObject(r, "model", e->model) && cJSON_AddNumberToObject(r, "test_mse", e->test_mse) &&
             cJSON_AddNumberToObject(r, "train_loss", e->train_loss) &&
             cJSON_AddNumberToObject(r, "seconds", e->seconds) && cJSON_AddStringToObject(r, "device", e->device) &&
             cJSON_AddStringToObject(r, "device_id", e->device_id);
    }
    char *text = ok ? cJSON_Print(st) : NULL;
    cJSON_Delete(st);
    cJSON_Delete(def);
    if (!text) {
        fprintf(stderr, "clae grid: out of memory writing %s\n", g->state);
        return -1;
    }
    clae_atomic_file af;
    int rc = 0;
    if (clae_atomic_open(&af, g->state) != CLAE_OK) {
        rc = -1;
    } else {
        fputs(text, af.fp);
        fputc('\n', af.fp);
        clae_atomic_note(&af);
        if (clae_atomic_commit(&af) != CLAE_OK) rc = -1;
    }
    if (rc) fprintf(stderr, "clae grid: %s\n", clae_last_error());
    cJSON_free(text);
    return rc;
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void json_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(buf, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* A run's figures as `train --json` gives them, or as grid.json keeps them (the same field names). */
static void read_result(const cJSON *o, grid_entry *e)
{
    e->test_mse = json_num(o, "test_mse");
    e->train_loss = json_num(o, "train_loss");
    e->seconds = json_num(o, "seconds");
    json_str(o, "device", e->device, sizeof e->device);
    json_str(o, "device_id", e->device_id, sizeof e->device_id);
}

/* Reads DIR/grid.json when there is one: refuses another grid's, and marks the combinations whose model file is
 * still there as done. Returns -1 to go on, or an exit status after printing why. */
static int read_state(grid *g)
{
    if (g->restart || access(g->state, F_OK) != 0) return -1;
    char *text = NULL;
    FILE *f = fopen(g->state, "rb");
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)len + 1)) != NULL && fread(text, 1, (size_t)len, f) == (size_t)len)
        text[len] = '\0';
    else {
        free(text);
        text = NULL;
    }
    if (f) fclose(f);
    cJSON *st = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *def = st ? cJSON_GetObjectItemCaseSensitive(st, "definition") : NULL;
    const cJSON *rs = st ? cJSON_GetObjectItemCaseSensitive(st, "results") : NULL;
    char *theirs = def ? cJSON_PrintUnformatted(def) : NULL;
    if (!theirs || !cJSON_IsArray(rs)) {
        fprintf(stderr, "clae grid: %s cannot be read as a grid's state; remove it, or give --restart\n", g->state);
        cJSON_free(theirs);
        cJSON_Delete(st);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(theirs, g->definition) != 0) {
        fprintf(stderr,
                "clae grid: --out %s holds another grid (%s); this command's is %s. Use another --out, or "
                "--restart to start over there\n",
                g->out, theirs, g->definition);
        cJSON_free(theirs);
        cJSON_Delete(st);
        return CLI_EXIT_USAGE;
    }
    cJSON_free(theirs);
    const cJSON *r;
    cJSON_ArrayForEach(r, rs)
    {
        double idx = json_num(r, "index");
        if (!(idx >= 0 && idx < (double)g->n) || idx != floor(idx)) continue;
        grid_entry *e = &g->e[(long)idx];
        json_str(r, "model", e->model, sizeof e->model);
        /* A model deleted since is trained again. */
        if (!e->model[0] || access(e->model, R_OK) != 0) {
            e->model[0] = '\0';
            continue;
        }
        e->done = 1;
        read_result(r, e);
    }
    cJSON_Delete(st);
    return -1;
}

/* One `clae train` run of combination idx on worker w's device: its --json summary read from a pipe. Returns 0
 * (e filled), 1 interrupted, or -1 failed (after a message). */
static int run_one(grid *g, int w, long idx, grid_entry *e)
{
    const char *argv[MAX_BASE + 2 * MAX_PARAMS + 16];
    char names[MAX_PARAMS][72];
    int n = 0;
    argv[n++] = g->exe;
    argv[n++] = "train";
    n += combo_argv(g, idx, names, argv + n);
    argv[n++] = "--out";
    argv[n++] = e->model;
    if (g->ndev > 0) {
        argv[n++] = "--device";
        argv[n++] = g->dev[w];
    }
    argv[n++] = "--json";
    argv[n++] = "--quiet";
    argv[n] = NULL;

    int fd[2];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid = -1;
    int spawned = -1;
    /* Under the lock: no other worker's child may inherit this pipe's write end (it would hold the pipe open). */
    pthread_mutex_lock(&g->lock);
    if (pipe(fd) == 0) {
        fcntl(fd[0], F_SETFD, FD_CLOEXEC);
        fcntl(fd[1], F_SETFD, FD_CLOEXEC);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawnattr_init(&at);
        /* Its own process group: a Ctrl-C at the terminal reaches only the grid, which lets the runs in flight
         * finish (a second Ctrl-C passes it on). */
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        spawned = posix_spawn(&pid, g->exe, &fa, &at, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(fd[1]);
        if (spawned != 0) close(fd[0]);
        else child_pids[w] = pid;
    }
    pthread_mutex_unlock(&g->lock);
    if (spawned != 0) {
        fprintf(stderr, "clae grid: cannot start %s train: %s\n", g->exe, strerror(spawned > 0 ? spawned : errno));
        return -1;
    }
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    for (;;) {
        if (out && len + 1 == cap) {
            char *more = realloc(out, cap * 2);
            if (!more) {
                free(out);
                out = NULL;
            } else {
                out = more;
                cap *= 2;
            }
        }
        char sink[256];
        ssize_t got = out ? read(fd[0], out + len, cap - 1 - len) : read(fd[0], sink, sizeof sink);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (out) len += (size_t)got;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_pids[w] = 0;
    if (out) out[len] = '\0';
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == CLI_EXIT_INTERRUPT || (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)) {
        free(out);
        return 1;
    }
    cJSON *j = code == 0 && out ? cJSON_Parse(out) : NULL;
    free(out);
    if (!j) {
        fprintf(stderr, "clae grid: combination %ld failed (clae train %s %d%s)\n", idx,
                WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? code : WTERMSIG(status),
                code == 0 ? ", no JSON summary" : "; its message is above");
        return -1;
    }
    read_result(j, e);
    cJSON_Delete(j);
    return 0;
}

typedef struct worker {
    grid *g;
    int w;
    int failed, interrupted;
} worker;

static void progress(grid *g, long idx, const grid_entry *e)
{
    if (g->quiet) return;
    long done = 0;
    for (long i = 0; i < g->n; i++) done += g->e[i].done;
    const double el = cli_now() - g->t0;
    const long left = g->to_train - g->finished_now;
    fprintf(stderr, "[%ld/%ld] #%03ld", done, g->n, idx);
    for (int k = 0; k < g->np; k++)
        fprintf(stderr, "%s%s=%s", k ? ", " : " ", g->p[k].name, g->p[k].v[value_index(g, idx, k)]);
    fprintf(stderr, ": test_mse %.6g (%.1f s, %s)", e->test_mse, e->seconds, e->device_id);
    if (left > 0 && g->finished_now > 0) fprintf(stderr, "; ETA %.0f s", el / (double)g->finished_now * (double)left);
    fputc('\n', stderr);
}

static void *work(void *arg)
{
    worker *wk = arg;
    grid *g = wk->g;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        long idx = -1;
        if (!stop_requests && !g->state_failed && (g->max_runs <= 0 || g->started < g->max_runs)) {
            while (g->next < g->n && g->e[g->next].done) g->next++;
            if (g->next < g->n) {
                idx = g->next++;
                g->started++;
            }
        }
        pthread_mutex_unlock(&g->lock);
        if (idx < 0) break;
        grid_entry r;
        memset(&r, 0, sizeof r);
        model_path(g, idx, r.model, sizeof r.model);
        int rc = run_one(g, wk->w, idx, &r);
        pthread_mutex_lock(&g->lock);
        if (rc == 0) {
            r.done = r.trained = 1;
            g->e[idx] = r;
            g->finished_now++;
            if (write_state(g) != 0) g->state_failed = 1;
            progress(g, idx, &r);
        } else if (rc > 0) {
            wk->interrupted = 1;
        } else {
            g->e[idx].failed = 1;
            wk->failed = 1;
        }
        pthread_mutex_unlock(&g->lock);
    }
    return NULL;
}

/* The worker devices: --devices resolved (so a typo stops the grid before any run), duplicates dropped.
 * Returns -1 to go on, or an exit status after printing why. */
static int plan_devices(grid *g)
{
    if (!g->devices) return -1; /* one worker on the default device, chosen by train as always */
    clae_device_info *list = NULL;
    size_t count = 0;
    if (strcmp(g->devices, "all") == 0) {
        if (clae_devices(&list, &count) != CLAE_OK) return cli_fail_lib();
        for (size_t k = 0; k < count && g->ndev < MAX_DEVICES; k++)
            if (list[k].type != CLAE_DEVICE_CPU_REF) snprintf(g->dev[g->ndev++], sizeof g->dev[0], "%s", list[k].id);
        clae_free(list);
        if (g->ndev == 0) {
            fprintf(stderr, "clae grid: --devices all: no OpenCL device (name cpu-ref to use the reference)\n");
            return CLI_EXIT_FAIL;
        }
        return -1;
    }
    char ids[MAX_DEVICES][32];
    for (const char *s = g->devices; *s;) {
        size_t len = strcspn(s, ",");
        char spec[128];
        snprintf(spec, sizeof spec, "%.*s", (int)len, s);
        s += len + (s[len] == ',');
        if (!spec[0]) continue;
        clae_device_info d;
        if (clae_device_resolve(spec, &d) != CLAE_OK) {
            fprintf(stderr, "clae grid: --devices %s: %s\n", spec, clae_last_error());
            return CLI_EXIT_USAGE;
        }
        int dup = 0;
        for (int k = 0; k < g->ndev; k++) dup |= strcmp(ids[k], d.id) == 0;
        if (dup) continue;
        if (g->ndev == MAX_DEVICES) break;
        snprintf(ids[g->ndev], sizeof ids[0], "%s", d.id);
        snprintf(g->dev[g->ndev++], sizeof g->dev[0], "%s", d.id);
    }
    if (g->ndev == 0) {
        fprintf(stderr, "clae grid: --devices: no device named\n");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static int parse_grid_args(int argc, char **argv, grid *g)
{
    g->out = DEFAULT_OUT;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_grid_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--param")) {
            if (a.value && parse_param(g, a.value) != 0) return CLI_EXIT_USAGE;
        } else if (cli_opt(&a, "--devices")) {
            if (a.value && !*a.value) cli_bad_value(&a, "expected 'all' or a comma-separated list of device specs");
            g->devices = a.value;
        } else if (cli_opt(&a, "--out")) {
            if (a.value && !*a.value) cli_bad_value(&a, "the path is empty");
            g->out = a.value;
        } else if (cli_opt(&a, "--max-runs")) {
            if (a.value) cli_long(&a, 1, LONG_MAX, &g->max_runs);
        } else if (cli_flag(&a, "--restart")) {
            g->restart = 1;
        } else if (cli_flag(&a, "--json")) {
            g->json = 1;
        } else if (cli_flag(&a, "--csv")) {
            g->csv = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            g->quiet = 1;
        } else {
            /* A `clae train` flag, passed to every run as given. */
            const char *w = a.argv[a.i];
            size_t len = strcspn(w, "=");
            const char *name = w + 2;
            if (strncmp(w, "--", 2) != 0 || len <= 2) {
                cli_unknown(&a);
                break;
            }
            len -= 2;
            if (IN(name, len, per_run_opts)) {
                fprintf(stderr, "clae grid: --%.*s is set per run by the grid%s\n", (int)len, name,
                        strncmp(name, "device", len) == 0 ? "; use --devices" : "");
                return CLI_EXIT_USAGE;
            }
            const int sw = IN(name, len, train_switches);
            if (!sw && !IN(name, len, train_value_opts)) {
                cli_unknown(&a);
                break;
            }
            if (g->nbase + 2 > MAX_BASE) {
                fprintf(stderr, "clae grid: too many flags\n");
                return CLI_EXIT_USAGE;
            }
            g->base[g->nbase++] = w;
            a.i++;
            if (!sw && !w[2 + len]) {
                if (a.i >= a.argc) {
                    fprintf(stderr, "clae grid: %s needs a value\n", w);
                    return CLI_EXIT_USAGE;
                }
                g->base[g->nbase++] = a.argv[a.i++];
            }
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (g->np == 0) {
        fprintf(stderr, "clae grid: no --param NAME=VALUES given; see 'clae grid --help'\n");
        return CLI_EXIT_USAGE;
    }
    if (g->json && g->csv) {
        fprintf(stderr, "clae grid: --json and --csv: choose one\n");
        return CLI_EXIT_USAGE;
    }
    /* Standard input can be read once, not once per run. */
    for (int k = 0; k < g->nbase; k++) {
        const char *w = g->base[k], *v = k + 1 < g->nbase ? g->base[k + 1] : "";
        int data = !strcmp(w, "--data") || !strcmp(w, "--test");
        if ((data && !strcmp(v, "-")) || !strcmp(w, "--data=-") || !strcmp(w, "--test=-")) {
            fprintf(stderr, "clae grid: %.6s -: every run reads the data again; give it as a file\n", w);
            return CLI_EXIT_USAGE;
        }
    }
    /* A param also given as a flag would be given twice to train; which one wins is not what a grid means. */
    for (int k = 0; k < g->nbase; k++) {
        const char *w = g->base[k];
        if (strncmp(w, "--", 2) != 0) continue;
        size_t len = strcspn(w + 2, "=");
        for (int j = 0; j < g->np; j++)
            if (strlen(g->p[j].name) == len && strncmp(g->p[j].name, w + 2, len) == 0) {
                fprintf(stderr, "clae grid: --%s is both a --param and a flag; give it once\n", g->p[j].name);
                return CLI_EXIT_USAGE;
            }
    }
    g->n = 1;
    for (int k = 0; k < g->np; k++) {
        g->n *= g->p[k].n;
        if (g->n > MAX_COMBOS) {
            fprintf(stderr, "clae grid: more than %d combinations\n", MAX_COMBOS);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

static const grid *sort_grid; /* qsort has no context argument in C11 */

/* Ascending test MSE (NaN last), ties by grid index. */
static int by_mse(const void *pa, const void *pb)
{
    const grid *g = sort_grid;
    const long a = *(const long *)pa, b = *(const long *)pb;
    const double x = g->e[a].test_mse, y = g->e[b].test_mse;
    if (isnan(x) != isnan(y)) return isnan(x) ? 1 : -1;
    if (x < y) return -1;
    if (x > y) return 1;
    return (a > b) - (a < b);
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static int print_results(const grid *g, const long *order, long m)
{
    if (g->json) {
        cJSON *arr = cJSON_CreateArray();
        int ok = arr != NULL;
        for (long r = 0; ok && r < m; r++) {
            const long i = order[r];
            const grid_entry *e = &g->e[i];
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddItemToArray(arr, o);
            if (!ok) {
                cJSON_Delete(o);
                break;
            }
            cJSON *ps = params_json(g, i);
            ok = ps && cJSON_AddNumberToObject(o, "rank", (double)(r + 1)) &&
                 cJSON_AddNumberToObject(o, "index", (double)i) && cJSON_AddItemToObject(o, "params", ps);
            if (!ok) {
                cJSON_Delete(ps);
                break;
            }
            ok = cJSON_AddNumberToObject(o, "test_mse", e->test_mse) &&
                 cJSON_AddNumberToObject(o, "train_loss", e->train_loss) &&
                 cJSON_AddNumberToObject(o, "seconds", e->seconds) && cJSON_AddStringToObject(o, "device", e->device) &&
                 cJSON_AddStringToObject(o, "device_id", e->device_id) &&
                 cJSON_AddStringToObject(o, "model", e->model) && cJSON_AddBoolToObject(o, "trained", e->trained) &&
                 cJSON_AddBoolToObject(o, "resumed", !e->trained);
        }
        if (!ok) {
            cJSON_Delete(arr);
            arr = NULL;
        }
        return cli_json_print("grid", arr);
    }
    if (g->csv) {
        fputs("rank,index", stdout);
        for (int k = 0; k < g->np; k++) {
            putchar(',');
            csv_field(g->p[k].name);
        }
        fputs(",test_mse,train_loss,seconds,device,device_id,model,trained\n", stdout);
        for (long r = 0; r < m; r++) {
            const long i = order[r];
            const grid_entry *e = &g->e[i];
            printf("%ld,%ld", r + 1, i);
            for (int k = 0; k < g->np; k++) {
                putchar(',');
                csv_field(g->p[k].v[value_index(g, i, k)]);
            }
            printf(",%.17g,%.17g,%.17g,", e->test_mse, e->train_loss, e->seconds);
            csv_field(e->device);
            putchar(',');
            csv_field(e->device_id);
            putchar(',');
            csv_field(e->model);
            printf(",%s\n", e->trained ? "true" : "false");
        }
        return 0;
    }
    int wp[MAX_PARAMS], wd = 6;
    for (int k = 0; k < g->np; k++) {
        wp[k] = (int)strlen(g->p[k].name);
        for (int v = 0; v < g->p[k].n; v++)
            if ((int)strlen(g->p[k].v[v]) > wp[k]) wp[k] = (int)strlen(g->p[k].v[v]);
    }
    for (long r = 0; r < m; r++)
        if ((int)strlen(g->e[order[r]].device_id) > wd) wd = (int)strlen(g->e[order[r]].device_id);
    printf("%4s %5s", "rank", "index");
    for (int k = 0; k < g->np; k++) printf("  %-*s", wp[k], g->p[k].name);
    printf("  %12s  %12s  %8s  %-*s  %s\n", "test_mse", "train_loss", "seconds", wd, "device", "model");
    for (long r = 0; r < m; r++) {
        const long i = order[r];
        const grid_entry *e = &g->e[i];
        printf("%4ld %5ld", r + 1, i);
        for (int k = 0; k < g->np; k++) printf("  %-*s", wp[k], g->p[k].v[value_index(g, i, k)]);
        printf("  %12.6g  %12.6g  %8.2f  %-*s  %s%s\n", e->test_mse, e->train_loss, e->seconds, wd, e->device_id,
               e->model, e->trained ? "" : " (earlier run)");
    }
    return 0;
}

/* The program to run `train` with: this very binary, so a grid entry is the run `clae train` would make. */
static int find_exe(grid *g)
{
    ssize_t n = readlink("/proc/self/exe", g->exe, sizeof g->exe - 1);
    if (n > 0) {
        g->exe[n] = '\0';
        return 0;
    }
    fprintf(stderr, "clae grid: cannot find the clae binary (/proc/self/exe: %s)\n", strerror(errno));
    return -1;
}

int cli_grid(int argc, char **argv)
{
    grid *g = calloc(1, sizeof *g);
    if (!g) {
        fprintf(stderr, "clae grid: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    long *order = NULL;
    pthread_t th[MAX_DEVICES];
    worker wk[MAX_DEVICES];
    int nth = 0, mutex = 0;
    struct sigaction sa, old_sa;
    int handler = 0;
    int rc = parse_grid_args(argc, argv, g);
    if (rc >= 0) goto done;
    if (check_grid(g) != 0) {
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = plan_devices(g);
    if (rc >= 0) goto done;
    if (find_exe(g) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    g->e = calloc((size_t)g->n, sizeof *g->e);
    order = malloc((size_t)g->n * sizeof *order);
    g->definition = definition_json(g);
    if (!g->e || !order || !g->definition) {
        fprintf(stderr, "clae grid: out of memory\n");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (mkdir(g->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "clae grid: --out %s: cannot make the directory: %s\n", g->out, strerror(errno));
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    snprintf(g->state, sizeof g->state, "%s/%s", g->out, STATE_FILE);
    if (cli_check_output("grid", "--out", g->state) != 0) {
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = read_state(g);
    if (rc >= 0) goto done;
    long already = 0;
    for (long i = 0; i < g->n; i++) already += g->e[i].done;
    g->to_train = g->n - already;
    if (g->max_runs > 0 && g->to_train > g->max_runs) g->to_train = g->max_runs;
    if (!g->quiet && already > 0)
        fprintf(stderr, "%s: %ld of %ld combinations done already; training %ld\n", g->state, already, g->n,
                g->to_train);

    pthread_mutex_init(&g->lock, NULL);
    mutex = 1;
    /* Written before the first run, so even an interrupted first run leaves a grid a rerun recognises. */
    if (write_state(g) != 0) {
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    stop_requests = 0;
    handler = sigaction(SIGINT, &sa, &old_sa) == 0;
    g->t0 = cli_now();
    const int nworkers = g->ndev > 0 ? g->ndev : 1;
    for (int k = 0; k < nworkers; k++) {
        wk[k].g = g;
        wk[k].w = k;
        wk[k].failed = wk[k].interrupted = 0;
        if (pthread_create(&th[k], NULL, work, &wk[k]) != 0) {
            fprintf(stderr, "clae grid: cannot start a worker thread for device %d\n", k);
            break;
        }
        nth++;
    }
    int failed = nth == 0, interrupted = 0;
    for (int k = 0; k < nth; k++) {
        pthread_join(th[k], NULL);
        failed |= wk[k].failed;
        interrupted |= wk[k].interrupted;
    }
    interrupted |= stop_requests > 0;
    long m = 0;
    for (long i = 0; i < g->n; i++)
        if (g->e[i].done) order[m++] = i;
    sort_grid = g;
    qsort(order, (size_t)m, sizeof *order, by_mse);
    if (print_results(g, order, m) != 0) failed = 1;
    fflush(stdout);
    if (!g->quiet) {
        if (interrupted) fprintf(stderr, "interrupted: %ld of %ld combinations done; rerun the same command to "
                                         "train the rest\n", m, g->n);
        else if (m < g->n && !failed)
            fprintf(stderr, "%ld of %ld combinations done (--max-runs); rerun the same command to train the rest\n",
                    m, g->n);
    }
    rc = g->state_failed || failed ? CLI_EXIT_FAIL : interrupted ? CLI_EXIT_INTERRUPT : CLI_EXIT_OK;
done:
    if (handler) sigaction(SIGINT, &old_sa, NULL);
    if (mutex) pthread_mutex_destroy(&g->lock);
    for (int k = 0; k < g->np; k++) {
        free(g->p[k].name);
        free(g->p[k].values);
    }
    cJSON_free(g->definition);
    free(g->e);
    free(order);
    free(g);
    return rc;
}
