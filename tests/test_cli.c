/* test_cli.c — the cli suite: runs the built `clae` binary as a user would and checks exit
 * statuses, messages on stderr and the JSON on stdout, including one tiny real training run. */
#define _XOPEN_SOURCE 700 /* posix_openpt, for the progress bar on a pseudo-terminal */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

START_TEST(version_and_help)
{
    run_result r = run_clae("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "clae " CLAE_VERSION_STRING "\n");
    run_free(&r);

    r = run_clae("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "train");
    ck_assert_contains(r.out, "devices");
    run_free(&r);

    r = run_clae("train --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--layers");
    ck_assert_contains(r.out, "--optimizer");
    run_free(&r);

    /* `help train` and `train --help` are the same text. */
    run_result h = run_clae("help train");
    r = run_clae("train --help");
    ck_assert_int_eq(h.status, 0);
    ck_assert_str_eq(h.out, r.out);
    run_free(&h);
    run_free(&r);

    r = run_clae("devices --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--json");
    run_free(&r);

    /* Every subcommand takes --json and -q/--quiet. */
    static const char *const cmds[] = {"devices", "train", "plan",    "encode", "score",
                                       "reconstruct", "compare", "bench", "import"};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[k]);
        r = run_clae(a);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strstr(r.out, "--json") && strstr(r.out, "--quiet"), "%s lacks --json or --quiet:\n%s", a,
                      r.out);
        run_free(&r);
    }
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    run_result r = run_clae("frobnicate");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "frobnicate");
    run_free(&r);

    r = run_clae("");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "usage");
    run_free(&r);

    r = run_clae("train --no-such-flag");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--no-such-flag");
    run_free(&r);

    r = run_clae("train --optimizer bogus");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--optimizer");
    ck_assert_contains(r.err, "bogus");
    ck_assert_contains(r.err, "adam");
    run_free(&r);

    r = run_clae("train --batch=0");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--batch");
    run_free(&r);

    r = run_clae("train --lr");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--lr needs a value");
    run_free(&r);

    r = run_clae("train --loss bce --output-activation tanh");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "sigmoid");
    run_free(&r);
}
END_TEST

START_TEST(devices_json)
{
    run_result r = run_clae("devices --json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL && cJSON_IsArray(j), "not a JSON array:\n%s", r.out);
    int ref = 0, defaults = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, j)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        ck_assert(cJSON_IsString(id));
        ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "name")));
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "global_mem_bytes")));
        ref += strcmp(id->valuestring, "cpu-ref") == 0;
        defaults += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "default"));
    }
    ck_assert_int_eq(ref, 1);
    ck_assert_int_eq(defaults, 1);
    cJSON_Delete(j);
    run_free(&r);

    r = run_clae("devices");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "cpu-ref");
    ck_assert_contains(r.out, "\n*");
    run_free(&r);
}
END_TEST

START_TEST(bad_data_files)
{
    char missing[512], junk[512];
    snprintf(missing, sizeof missing, "%s", test_tmp_path("missing-images.gz"));
    snprintf(junk, sizeof junk, "%s", test_tmp_path("junk.idx"));
    run_result r = run_clae(with_path("train --device cpu-ref --data %s", missing));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, missing);
    ck_assert_contains(r.err, "No such file or directory");
    run_free(&r);

    FILE *f = fopen(junk, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an IDX file at all\n", f);
    fclose(f);
    r = run_clae(with_path("train --device cpu-ref --test %s", junk));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, junk);
    ck_assert_contains(r.err, "not an IDX file");
    run_free(&r);
}
END_TEST

START_TEST(dimension_mismatch)
{
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_clae(with_path("train --device cpu-ref --data %s --layers 100,50", t10k));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, t10k);
    ck_assert_contains(r.err, "data has 784 columns but the model's input layer has 100");
    run_free(&r);
}
END_TEST

START_TEST(unknown_device)
{
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_clae(with_path("train --data %s --test-limit 16 --device no-such-device --limit 16", t10k));
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "no-such-device");
    ck_assert_contains(r.err, "cpu-ref");
    run_free(&r);

    /* A type word with no such device says which type is missing and what exists. */
    clae_device_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(clae_devices(&list, &n), CLAE_OK);
    int gpus = 0, accels = 0;
    for (size_t i = 0; i < n; i++) {
        gpus += list[i].type == CLAE_DEVICE_GPU;
        accels += list[i].type == CLAE_DEVICE_ACCELERATOR;
    }
    if (!gpus) {
        r = run_clae("plan --device gpu");
        ck_assert_int_eq(r.status, 1);
        ck_assert_contains(r.err, "no GPU device found");
        ck_assert_contains(r.err, "cpu-ref");
        for (size_t i = 0; i < n; i++) ck_assert_contains(r.err, list[i].id);
        run_free(&r);
        clae_device_info d;
        ck_assert_int_eq(clae_device_resolve("GPU", &d), CLAE_ERR_DEVICE);
        ck_assert_contains(clae_last_error(), "no GPU device found");
    }
    if (!accels) {
        r = run_clae("plan --device accelerator");
        ck_assert_int_eq(r.status, 1);
        ck_assert_contains(r.err, "no accelerator device found");
        run_free(&r);
    }
    /* A bad CLAE_DEVICE is named as the environment's. */
    setenv("CLAE_DEVICE", "still-no-such-device", 1);
    r = run_clae("plan");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "'still-no-such-device' (from CLAE_DEVICE)");
    run_free(&r);
    unsetenv("CLAE_DEVICE");
    clae_free(list);
}
END_TEST

/* Unknown flags and subcommands name the closest known one. */
START_TEST(did_you_mean)
{
    static const struct {
        const char *args, *hint;
    } cases[] = {
        {"train --epoch 3", "did you mean --epochs?"},
        {"train --epochs=3 --btach 4", "did you mean --batch?"},
        {"train --lerning-rate 0.1", NULL},
        {"train epochs 3", "did you mean --epochs?"},
        {"train --ouptut-activation linear", "did you mean --output-activation?"},
        {"score --thresh 5", "did you mean --threshold-percentile?"},
        {"encode --layres 784,32", "did you mean --layers?"},
        {"devices --jsn", "did you mean --json?"},
        {"plan --infrence", "did you mean --inference?"},
        {"compare --device cpu", "did you mean --devices?"},
        {"bench --devices cpu", "did you mean --device?"},
        {"reconstruct --frist 3", "did you mean --first?"},
        {"trian", "did you mean 'train'?"},
        {"devcies", "did you mean 'devices'?"},
        {"help scroe", "did you mean 'score'?"},
        {"--verison", "did you mean --version?"},
        {"frobnicate", NULL},
        {"train --zz", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        run_result r = run_clae(cases[k].args);
        ck_assert_msg(r.status == 2, "clae %s: exit %d", cases[k].args, r.status);
        if (cases[k].hint)
            ck_assert_msg(strstr(r.err, cases[k].hint) != NULL, "clae %s: expected '%s' in:\n%s", cases[k].args,
                          cases[k].hint, r.err);
        else
            ck_assert_msg(strstr(r.err, "did you mean") == NULL, "clae %s: a far-fetched hint:\n%s", cases[k].args,
                          r.err);
        run_free(&r);
    }
}
END_TEST

/* The '*' of `clae devices` is the device a command without --device gets,
 * CLAE_DEVICE included; --verbose lists clinfo's properties and clae's build
 * options, which are those an opened runtime uses. */
START_TEST(devices_env_and_verbose)
{
    setenv("CLAE_DEVICE", "cpu-ref", 1);
    run_result r = run_clae("devices");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "\n* cpu-ref ");
    ck_assert_int_eq((int)(strchr(r.out, '*') == strrchr(r.out, '*')), 1); /* one star */
    run_free(&r);
    r = run_clae("devices --json");
    ck_assert_int_eq(r.status, 0);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert(cJSON_IsArray(j));
    const cJSON *d;
    int defaults = 0;
    cJSON_ArrayForEach(d, j)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "default"))) {
            defaults++;
            ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "id")), "cpu-ref");
        }
    }
    ck_assert_int_eq(defaults, 1);
    cJSON_Delete(j);
    run_free(&r);
    clae_device_info sel;
    ck_assert_int_eq(clae_device_resolve(NULL, &sel), CLAE_OK);
    ck_assert_str_eq(sel.id, "cpu-ref");

    /* Nothing matches: no star, a warning (silenced by -q), exit 0. */
    setenv("CLAE_DEVICE", "no-such-device", 1);
    r = run_clae("devices");
    ck_assert_int_eq(r.status, 0);
    ck_assert(strchr(r.out, '*') == NULL);
    ck_assert_contains(r.err, "no-such-device");
    run_free(&r);
    r = run_clae("devices -q");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    unsetenv("CLAE_DEVICE");

    r = run_clae("devices --verbose");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    static const char *const labels[] = {"Platform version",      "Driver version",       "Max compute units",
                                         "Max clock frequency",   "Global memory size",   "Local memory size",
                                         "Max work-group size",   "Max memory allocation",
                                         "Memory base address alignment",                  "Device extensions",
                                         "Double precision (fp64)", "clae build options", "Device cpu-ref"};
    for (size_t k = 0; k < sizeof labels / sizeof labels[0]; k++) ck_assert_contains(r.out, labels[k]);
    ck_assert_contains(r.out, "-DCLAE_WG="); /* the OpenCL device's (PoCL's) options */
    ck_assert_contains(r.out, "GEMM engine ref: plain C loops"); /* how each device multiplies matrices */
    ck_assert_msg(strstr(r.out, "GEMM engine tiled: tile ") || strstr(r.out, "GEMM engine clblast"),
                  "no GEMM engine line for the OpenCL device: %.300s", strstr(r.out, "GEMM") ? strstr(r.out, "GEMM") : "");
    run_free(&r);

    /* The options reported without opening are the ones an open uses. */
    clae_runtime *rt = test_rt_cl();
    clae_device_info dev;
    ck_assert_int_eq(clae_runtime_device(rt, &dev), CLAE_OK);
    clae_device_property *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(clae_device_properties(dev.id, &p, &n), CLAE_OK);
    const char *opts = NULL, *id = NULL;
    double cu = -1;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(p[i].key, "build_options")) opts = p[i].value;
        if (!strcmp(p[i].key, "id")) id = p[i].value;
        if (!strcmp(p[i].key, "compute_units") && p[i].numeric) cu = p[i].number;
    }
    ck_assert_ptr_nonnull(opts);
    ck_assert_str_eq(opts, clae_runtime_build_options(rt));
    ck_assert_str_eq(id, dev.id);
    ck_assert_double_eq(cu, dev.compute_units);
    clae_free(p);

    r = run_clae("devices --verbose --json");
    ck_assert_int_eq(r.status, 0);
    j = cJSON_Parse(r.out);
    ck_assert(cJSON_IsArray(j));
    cJSON_ArrayForEach(d, j)
    {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(d, "properties");
        ck_assert(cJSON_IsObject(props));
        ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(props, "build_options")));
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(props, "global_mem_bytes")));
    }
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* A pipe or file gets no progress lines for epochs shorter than 10 s: one
 * summary line per epoch, however many steps. */
START_TEST(progress_not_a_terminal)
{
    const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
    run_result r = run_clae(with_path("train --device cpu-ref --data %s --limit 400 --test-limit 50 --epochs 3 "
                                      "--batch 20 --layers 784,8", t10k));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    int lines = 0, epoch_lines = 0;
    for (const char *p = r.err; *p; p++) lines += *p == '\n';
    for (const char *p = r.err; (p = strstr(p, "epoch ")); p++) epoch_lines++;
    ck_assert_msg(epoch_lines == 3 && lines <= 3, "20 steps per epoch gave %d lines:\n%s", lines, r.err);
    ck_assert(strchr(r.err, '\r') == NULL);
    run_free(&r);
}
END_TEST

/* On a terminal 70 columns wide every line (each redraw of the bar too) fits in 69. */
START_TEST(progress_fits_terminal)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_msg(master >= 0, "posix_openpt: %s", strerror(errno));
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    const char *name = ptsname(master);
    ck_assert_ptr_nonnull(name);
    int slave = open(name, O_RDWR | O_NOCTTY);
    ck_assert_int_ge(slave, 0);
    struct winsize ws = {0};
    ws.ws_col = 70;
    ws.ws_row = 24;
    ck_assert_int_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(slave, 2);
        close(master);
        /* COLUMNS must not decide when the terminal can say its width. */
        setenv("COLUMNS", "300", 1);
        const char *t10k = test_data_path("t10k-images-idx3-ubyte.gz");
        execl(bin, bin, "train", "--device", "cpu-ref", "--data", t10k, "--limit", "400", "--test-limit", "50",
              "--epochs", "2", "--batch", "20", "--layers", "784,8", (char *)NULL);
        _exit(127);
    }
    close(slave);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        ssize_t got = read(master, buf + len, cap - 1 - len);
        if (got <= 0) break; /* EIO once the child has closed the terminal */
        len += (size_t)got;
        if (len >= cap - 1) break;
    }
    buf[len] = '\0';
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "train on a pty failed:\n%s", buf);
    /* Each piece between \r and \n, the erase-to-end sequences removed. */
    int bars = 0;
    for (char *seg = buf; *seg;) {
        size_t n = strcspn(seg, "\r\n");
        char line[1024];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof line; i++) {
            if (seg[i] == '\033' && i + 2 < n && seg[i + 1] == '[' && seg[i + 2] == 'K') {
                i += 2;
                continue;
            }
            line[o++] = seg[i];
        }
        line[o] = '\0';
        ck_assert_msg(o <= 69, "a %zu-column line on a 70-column terminal: '%s'", o, line);
        bars += strstr(line, "] ") != NULL && strstr(line, "epoch ") == line;
        seg += n;
        while (*seg == '\r' || *seg == '\n') seg++;
    }
    ck_assert_msg(bars > 0, "no progress bar was drawn:\n%s", buf);
    free(buf);
}
END_TEST

/* "layers" of a --json object is the array of the widths, input first. */
static void assert_layers(const cJSON *j, const int *want, int n)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "layers");
    ck_assert_msg(cJSON_IsArray(l), "layers is not an array");
    ck_assert_int_eq(cJSON_GetArraySize(l), n);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(l, i);
        ck_assert(cJSON_IsNumber(v));
        ck_assert_double_eq(v->valuedouble, want[i]);
    }
}

static double json_number(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "key '%s' missing or not a number", key);
    return v->valuedouble;
}

#define TINY_RUN "train --device cpu-ref --limit 512 --test-limit 256 --epochs 1 --batch 64 --layers 784,32"

START_TEST(tiny_training_run)
{
    run_result r = run_clae(TINY_RUN " --json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL && cJSON_IsObject(j), "not one JSON object:\n%s", r.out);
    static const char *const keys[] = {"device", "device_id", "epochs", "steps", "batch", "layers", "loss",
                                       "optimizer", "lr", "train_loss", "test_mse", "samples_per_sec",
                                       "seconds", "seed"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(cJSON_HasObjectItem(j, keys[k]), "missing key '%s' in %s", keys[k], r.out);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "device_id")->valuestring, "cpu-ref");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "loss")->valuestring, "bce");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "optimizer")->valuestring, "adam");
    ck_assert_double_eq(json_number(j, "epochs"), 1);
    ck_assert_double_eq(json_number(j, "steps"), 8); /* 512 rows / 64 */
    ck_assert_double_eq(json_number(j, "batch"), 64);
    ck_assert_double_eq(json_number(j, "seed"), 42);
    ck_assert_double_eq_tol(json_number(j, "lr"), 0.001, 1e-12);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
    ck_assert_int_eq(cJSON_GetArraySize(layers), 3);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 0)->valuedouble, 784);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 1)->valuedouble, 32);
    ck_assert_double_eq(cJSON_GetArrayItem(layers, 2)->valuedouble, 784);
    double mse = json_number(j, "test_mse"), loss = json_number(j, "train_loss");
    ck_assert_msg(isfinite(mse) && mse > 0.0 && mse < 0.2, "test_mse %g", mse);
    ck_assert_msg(isfinite(loss) && loss > 0.0, "train_loss %g", loss);
    ck_assert(json_number(j, "samples_per_sec") > 0);
    /* Progress is not a TTY here: an epoch this short gives its report alone. */
    ck_assert(strstr(r.err, "step ") == NULL);
    ck_assert_contains(r.err, "epoch 1/1  train_loss");
    run_free(&r);

    /* The same run in text form with --quiet: nothing on stderr, and the same
     * numbers, since cpu-ref is deterministic for a given seed. */
    r = run_clae(TINY_RUN " --quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    char want[64];
    snprintf(want, sizeof want, "test_mse    %.6g\n", mse);
    ck_assert_contains(r.out, want);
    snprintf(want, sizeof want, "train_loss  %.6g\n", loss);
    ck_assert_contains(r.out, want);
    run_free(&r);

    /* Another seed gives another run. */
    r = run_clae(TINY_RUN " --json --quiet --seed 7");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j7 = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j7);
    ck_assert_double_eq(json_number(j7, "seed"), 7);
    ck_assert(json_number(j7, "test_mse") != mse);
    cJSON_Delete(j7);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* `clae plan`: the table and the JSON agree with the library's summary, and
 * a plan that cannot fit exits 1 with the bytes needed and available. */
START_TEST(plan_command)
{
    run_result r = run_clae("plan --device cpu-ref --layers 784,1000,500,250,30 --batch 256");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_contains(r.out, "layers.0.weight");
    ck_assert_contains(r.out, "adam.v.layers.7.weight");
    ck_assert_contains(r.out, "planned peak");
    ck_assert_contains(r.out, "lower bound");
    ck_assert_contains(r.out, "unplanned sum");
    /* The GEMMs of a step and of inference, with the engine that runs them. */
    ck_assert_contains(r.out, "GEMMs (pass, op, shape");
    ck_assert_contains(r.out, "training  NT M=256 N=1000 K=784: ref");
    ck_assert_contains(r.out, "training  TN M=1000 N=784 K=256: ref");
    ck_assert_contains(r.out, "inference NT M=256 N=1000 K=784: ref");
    run_free(&r);

    /* On the OpenCL device the tiled engine names a tile for each (searched or not yet). */
    r = run_clae(with_path("plan --device %s --layers 33,17,5 --batch 8", test_device()));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    const char *gemms = strstr(r.out, "GEMMs (pass");
    ck_assert_msg(gemms != NULL, "no GEMM table");
    ck_assert_msg(strstr(gemms, "training  NT M=8 N=17 K=33: tiled: gemm_nt_8") ||
                      strstr(gemms, "training  NT M=8 N=17 K=33: clblast"),
                  "%.1500s", gemms);
    ck_assert_msg(strstr(gemms, "training  TN M=17 N=33 K=8: tiled: tile ") ||
                      strstr(gemms, "training  TN M=17 N=33 K=8: clblast"),
                  "%.1500s", gemms);
    run_free(&r);

    r = run_clae("plan --device cpu-ref --layers 33,17,5 --batch 8 --json -q");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON:\n%s", r.out);
    static const int want_layers[] = {33, 17, 5, 17, 33};
    assert_layers(j, want_layers, 5);
    ck_assert_double_eq(json_number(j, "batch"), 8);
    double peak = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "peak_bytes"));
    double bound = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "lower_bound_bytes"));
    double unplanned = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "unplanned_bytes"));
    ck_assert(bound > 0 && bound <= peak && peak < unplanned);
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(j, "tensors");
    ck_assert(cJSON_IsArray(tensors) && cJSON_GetArraySize(tensors) > 10);
    /* The same model through the library gives the same peak. */
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model_config_set_layers(&c, "33,17,5");
    c.batch = 8;
    clae_model *m;
    ck_assert_int_eq(clae_model_create_ex(test_rt_ref(), &c, CLAE_MODEL_PLAN_ONLY, &m), CLAE_OK);
    clae_plan_summary ps;
    clae_model_plan_summary(m, &ps);
    ck_assert(ps.peak_bytes == (uint64_t)peak);
    clae_model_destroy(m);
    cJSON_Delete(j);
    run_free(&r);

    r = run_clae("plan --device cpu-ref --batch 200000000");
    ck_assert_int_eq(r.status, 1);
    ck_assert_contains(r.err, "the plan needs");
    ck_assert_contains(r.err, "bytes of global memory");
    run_free(&r);
}
END_TEST

/* Every variant family trains from the CLI on cpu-ref and on the OpenCL device,
 * and --json names the variant and its penalty. */
START_TEST(variant_families_train)
{
    static const struct {
        const char *flags, *variant;
    } fam[] = {
        {"--sparsity kl --activation sigmoid", "sparse kl rho=0.05 beta=3"},
        {"--sparsity l1 --lambda 0.01", "sparse l1 lambda=0.01"},
        {"--ksparse 8 --activation linear", "k-sparse k=8"},
        {"--wta-rate 10", "winner-take-all 10%"},
        {"--noise saltpepper:0.2", "denoising saltpepper 0.2"},
        {"--contractive 0.1 --activation tanh", "contractive lambda=0.1"},
        {"--noise gaussian:0.1 --sparsity l2", "denoising gaussian 0.1 + sparse l2"},
    };
    const char *devices[] = {"cpu-ref", getenv("CLAE_TEST_DEVICE") && *getenv("CLAE_TEST_DEVICE") ? getenv("CLAE_TEST_DEVICE") : "cpu"};
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
            char args[512];
            snprintf(args, sizeof args,
                     "train --device %s --limit 256 --test-limit 128 --epochs 1 --batch 64 --layers 784,32 %s --json",
                     devices[d], fam[i].flags);
            run_result r = run_clae(args);
            ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
            cJSON *j = cJSON_Parse(r.out);
            ck_assert_msg(j != NULL, "%s: not JSON:\n%s", args, r.out);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "variant");
            ck_assert_msg(cJSON_IsString(v) && strstr(v->valuestring, fam[i].variant), "%s: variant %s", args,
                          cJSON_IsString(v) ? v->valuestring : "(missing)");
            ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "penalty")));
            double mse = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "test_mse"));
            ck_assert_msg(isfinite(mse) && mse < 0.2, "%s: test_mse %g", args, mse);
            cJSON_Delete(j);
            run_free(&r);
        }
    }
    /* Refused combinations and bad values are command-line errors naming the flag. */
    run_result r = run_clae("train --device cpu-ref --ksparse 8 --wta-rate 5");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--wta-rate");
    run_free(&r);
    r = run_clae("train --device cpu-ref --noise fog:0.1");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--noise");
    run_free(&r);
    r = run_clae("train --device cpu-ref --sparsity kl");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "sigmoid or tanh");
    run_free(&r);
    /* --wta-rate is a percent, with or without the sign; a fraction is refused with the
     * percent it would be, and below 1% written as such with the range alone. */
    r = run_clae("plan --device cpu-ref --wta-rate 5%");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_contains(r.out, "winner-take-all 5%");
    run_free(&r);
    r = run_clae("train --device cpu-ref --wta-rate 0.05");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "--wta-rate");
    ck_assert_contains(r.err, "did you mean 5");
    run_free(&r);
    r = run_clae("plan --device cpu-ref --wta-rate 0.5%");
    ck_assert_int_eq(r.status, 2);
    ck_assert_contains(r.err, "[1, 100]");
    ck_assert(strstr(r.err, "did you mean") == NULL);
    run_free(&r);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *usage = tcase_create("usage");
    tcase_add_checked_fixture(usage, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(usage, 60);
    tcase_add_test(usage, version_and_help);
    tcase_add_test(usage, usage_errors_exit_2);
    tcase_add_test(usage, devices_json);
    tcase_add_test(usage, plan_command);
    tcase_add_test(usage, devices_env_and_verbose);
    suite_add_tcase(s, usage);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(errors, 60);
    tcase_add_test(errors, bad_data_files);
    tcase_add_test(errors, dimension_mismatch);
    tcase_add_test(errors, unknown_device);
    tcase_add_test(errors, did_you_mean);
    suite_add_tcase(s, errors);

    TCase *train = tcase_create("train");
    tcase_add_checked_fixture(train, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(train, 120);
    tcase_add_test(train, tiny_training_run);
    tcase_add_test(train, variant_families_train);
    tcase_add_test(train, progress_not_a_terminal);
    tcase_add_test(train, progress_fits_terminal);
    suite_add_tcase(s, train);
    return s;
}
