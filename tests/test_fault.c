/* test_fault.c — the fault suite: `clae` under the faults a real run meets — SIGKILL while writing
 * checkpoints, a full disk, two processes filling one cold program cache, a model too large for the device. */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS, mount: the full-disk test's private tmpfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "test_util.h"

#define T10K "t10k-images-idx3-ubyte.gz"

/* Kill tries of kill_checkpoint: enough that the uniform delays land before
 * the first checkpoint, between checkpoints and during their writes (one per
 * step), yet the whole test stays near 20 s on two busy cores. */
#define KILL_TRIES 24
/* Its run: 100 rows at batch 4 are 25 steps an epoch; 300 steps span 12
 * epochs (shuffles), with a checkpoint after every step. Steps this small
 * make the checkpoint writes a large share of the training time, so kills
 * land inside one (a writer that is not atomic fails this test at once). */
#define KILL_STEPS 300
#define KILL_STEPS_PER_EPOCH 25
/* Kill tries on the OpenCL device: a few, since each PoCL run costs more. */
#define KILL_TRIES_CL 3
/* Rounds of shared_cold_cache, each with a fresh cache directory. */
#define CACHE_ROUNDS 3

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* xorshift32: the kill delays must be the same on every run, so a failure can be replayed. */
static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static const char *clae_bin(void)
{
    static char bin[1024];
    snprintf(bin, sizeof bin, "%s/clae", test_build_dir());
    return bin;
}

/* How a spawned clae differs from the environment's: all optional. */
typedef struct spawn_opts {
    const char *err_path;  /* stderr goes here (stdout to /dev/null) */
    const char *cache_dir; /* CLAE_CACHE_DIR of the child only, so this process's own cache is untouched */
    rlim_t fsize;          /* RLIMIT_FSIZE of the child; 0: none */
    int gate_fd;           /* > 0: block on reading it before exec, so children start together */
    int gate_write;        /* > 0: the gate's write end, closed in the child or its read never ends */
} spawn_opts;

/* Forks and execs `clae argv[1..]`. Between fork and exec only async-signal-safe
 * calls (and setenv, harmless in the single-threaded child); failures exit 127. */
static pid_t spawn_clae(char **argv, const spawn_opts *o)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
    int err = o->err_path ? open(o->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 2;
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
    if (o->cache_dir && (setenv("CLAE_CACHE_DIR", o->cache_dir, 1) != 0 || unsetenv("CLAE_CACHE") != 0)) _exit(127);
    if (o->fsize) {
        /* Ignored, SIGXFSZ turns into EFBIG from write(), the error path under test. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {o->fsize, o->fsize};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(127);
    }
    if (o->gate_fd > 0) {
        char c;
        if (o->gate_write > 0) close(o->gate_write);
        while (read(o->gate_fd, &c, 1) < 0 && errno == EINTR) {
        }
        close(o->gate_fd);
    }
    argv[0] = (char *)clae_bin();
    execv(argv[0], argv);
    _exit(127);
}

static int wait_for(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* The whole file (malloc'd, *len bytes), or NULL when it cannot be read. No
 * ck_assert: the full-disk namespace child uses it too. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int copy_file(const char *from, const char *to)
{
    size_t n = 0;
    unsigned char *b = read_file(from, &n);
    if (!b) return -1;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    free(b);
    return ok ? 0 : -1;
}

/* 1 when both files exist and hold the same bytes. */
static int same_bytes(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Names in dir containing `part`, space-separated into buf; returns how many. */
static int names_with(const char *dir, const char *part, char *buf, size_t cap)
{
    int n = 0;
    buf[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, part)) continue;
        n++;
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", used ? " " : "", e->d_name);
    }
    closedir(d);
    return n;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The name of the first persistent tensor (weights, optimizer and variant
 * state) of a that differs from b's in any bit, "steps" when the step counts
 * differ, or NULL when all are equal; *compared counts the tensors. */
static const char *tensors_differ_n(clae_model *a, clae_model *b, int *compared)
{
    static char name[48];
    *compared = 0;
    if (clae_model_steps(a) != clae_model_steps(b)) return "steps";
    clae_plan_summary ps;
    ck_assert_int_eq(clae_model_plan_summary(a, &ps), CLAE_OK);
    for (int i = 0; i < ps.n_tensors; i++) {
        clae_plan_entry e;
        ck_assert_int_eq(clae_model_plan_entry(a, i, &e), CLAE_OK);
        if (!e.persistent) continue;
        int nd;
        size_t shape[2] = {1, 1};
        ck_assert_msg(clae_model_tensor_info(a, e.name, &nd, shape) == CLAE_OK, "%s", clae_last_error());
        size_t n = shape[0] * (nd == 2 ? shape[1] : 1);
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        ck_assert(x && y);
        ck_assert_msg(clae_model_tensor_get(a, e.name, x, n) == CLAE_OK, "%s", clae_last_error());
        ck_assert_msg(clae_model_tensor_get(b, e.name, y, n) == CLAE_OK, "%s: %s", e.name, clae_last_error());
        int same = memcmp(x, y, n * sizeof *x) == 0;
        free(x);
        free(y);
        if (!same) {
            snprintf(name, sizeof name, "%s", e.name);
            return name;
        }
        (*compared)++;
    }
    return NULL;
}

static const char *tensors_differ(clae_model *a, clae_model *b)
{
    int n;
    return tensors_differ_n(a, b, &n);
}

/* Every persistent tensor of a equals b's bit for bit, and so does the step count. */
static void assert_same_tensors(clae_model *a, clae_model *b, const char *what)
{
    int compared;
    const char *d = tensors_differ_n(a, b, &compared);
    ck_assert_msg(d == NULL, "%s: %s differs", what, d);
    /* At least the two weights and two biases: not a vacuous loop. */
    ck_assert_msg(compared >= 4, "%s: only %d persistent tensors compared", what, compared);
}

static clae_model *load_or_fail(const char *path, unsigned flags)
{
    clae_model *m = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, flags, 0, &m, NULL) == CLAE_OK, "loading %s: %s", path,
                  clae_last_error());
    return m;
}

/* ------------------------------------------------------------------------ */

/* The train command of kill_checkpoint on dev, into argv (NULL-terminated); resume adds --resume. */
static void kill_argv(char **argv, const char *dev, const char *data, const char *ck, const char *out, int resume)
{
    static char steps[16];
    snprintf(steps, sizeof steps, "%d", KILL_STEPS);
    const char *a[] = {"clae",  "train",   "--device", dev,       "--data",   data,   "--limit",        "100",
                       "--test-limit", "50", "--batch", "4",     "--layers", "784,16", "--seed",       "7",
                       "--epochs", "1000", "--steps", steps,      "-q",       "--checkpoint-every", "1",
                       "--checkpoint", ck, "--out",    out,       resume ? "--resume" : NULL, NULL};
    size_t n = sizeof a / sizeof a[0];
    for (size_t i = 0; i < n; i++) argv[i] = (char *)a[i];
}

/* Runs the kill_checkpoint command to its end (exit 0 asserted); returns its wall time. */
static double run_to_end(char **argv, const spawn_opts *so, const char *what)
{
    double t0 = now_s();
    int st = wait_for(spawn_clae(argv, so));
    double t = now_s() - t0;
    char *text = test_slurp_text(so->err_path);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d\n%s", what, st, text);
    free(text);
    return t;
}

/* `tries` kills of the command on dev at delays uniform in [0, 1.2 T] (T: the
 * uninterrupted run's time), each followed by the checks and the resume of
 * kill_checkpoint; prints the summary line and returns how many landed mid-run. */
static int kill_tries(const char *dev, int tries, uint32_t seed)
{
    char data[1024], ref_ck[1100], ref_out[1100], ref2[1100], err[1100], cache[1100];
    snprintf(data, sizeof data, "%s", test_data_path(T10K));
    snprintf(ref_ck, sizeof ref_ck, "%s/%s-ref.ck", test_tmp_path(""), dev);
    snprintf(ref_out, sizeof ref_out, "%s/%s-ref.st", test_tmp_path(""), dev);
    snprintf(ref2, sizeof ref2, "%s/%s-ref2.ck", test_tmp_path(""), dev);
    snprintf(err, sizeof err, "%s", test_tmp_path("stderr"));
    snprintf(cache, sizeof cache, "%s/%s-cache", test_tmp_path(""), dev);
    char *argv[40];
    /* A program cache of its own: on the OpenCL device the GEMM tiles the
     * first run's timed search picks are kept there, so every later run (and
     * resume) computes exactly as it did, whatever CLAE_CACHE says. */
    spawn_opts so = {err, cache, 0, -1, -1};

    /* Two uninterrupted runs: the reference must itself be reproducible, and
     * the faster time is the better estimate of T (the first may read the
     * data from a cold disk cache). */
    kill_argv(argv, dev, data, ref_ck, ref_out, 0);
    double T = run_to_end(argv, &so, "reference run");
    kill_argv(argv, dev, data, ref2, ref_out, 0);
    double T2 = run_to_end(argv, &so, "second reference run");
    if (T2 < T) T = T2;
    clae_model *ref = load_or_fail(ref_ck, 0), *ref_model = load_or_fail(ref_out, CLAE_MODEL_INFERENCE);
    clae_model *again = load_or_fail(ref2, 0);
    assert_same_tensors(ref, again, "two uninterrupted runs");
    clae_model_destroy(again);
    ck_assert_uint_eq(clae_model_steps(ref), KILL_STEPS);

    uint32_t rng = seed;
    int before = 0, mid = 0, after = 0, stale = 0;
    for (int t = 0; t < tries; t++) {
        /* A fresh path per try: a checkpoint found there can only be this try's. */
        char ck[1100], out[1110], dir[1100], ckname[64], litter[4096];
        snprintf(ckname, sizeof ckname, "%s-ck%d", dev, t);
        snprintf(ck, sizeof ck, "%s", test_tmp_path(ckname));
        snprintf(out, sizeof out, "%s.st", ck);
        snprintf(dir, sizeof dir, "%s", test_tmp_path(""));
        const double delay = T * 1.2 * (double)(xorshift32(&rng) >> 8) / 16777216.0;
        kill_argv(argv, dev, data, ck, out, 0);
        pid_t pid = spawn_clae(argv, &so);
        ck_assert_int_gt(pid, 0);
        sleep_s(delay);
        kill(pid, SIGKILL); /* unreaped, the pid cannot have been reused */
        int st = wait_for(pid);
        if (WIFEXITED(st)) {
            char *text = test_slurp_text(err);
            ck_assert_msg(WEXITSTATUS(st) == 0, "%s try %d: exit %d before the kill\n%s", dev, t, WEXITSTATUS(st),
                          text);
            free(text);
            after++;
        } else if (!file_exists(ck)) {
            before++;
        } else {
            mid++;
        }
        if (file_exists(ck)) {
            clae_model *m = NULL;
            clae_train_position pos;
            ck_assert_msg(clae_model_load(test_rt_ref(), ck, 0, 0, &m, NULL) == CLAE_OK,
                          "%s try %d (kill after %.3f s): the checkpoint does not load: %s", dev, t, delay,
                          clae_last_error());
            ck_assert_msg(clae_model_restore_checkpoint(m, ck, &pos) == CLAE_OK,
                          "%s try %d (kill after %.3f s): the checkpoint does not restore: %s", dev, t, delay,
                          clae_last_error());
            ck_assert_uint_eq(pos.epoch * KILL_STEPS_PER_EPOCH + pos.step_in_epoch, clae_model_steps(m));
            ck_assert_uint_le(clae_model_steps(m), KILL_STEPS);
            clae_model_destroy(m);
        }
        /* What a kill inside a write leaves, made certain for every try: half a
         * checkpoint under the dead process's temporary name. */
        char tmpname[1200];
        snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", ck, (long)pid);
        if (file_exists(tmpname)) {
            stale++;
        } else {
            size_t n = 0;
            unsigned char *b = read_file(ref_ck, &n);
            ck_assert_ptr_nonnull(b);
            FILE *f = fopen(tmpname, "wb");
            ck_assert_ptr_nonnull(f);
            ck_assert_uint_eq(fwrite(b, 1, n / 2, f), n / 2);
            ck_assert_int_eq(fclose(f), 0);
            free(b);
        }

        kill_argv(argv, dev, data, ck, out, 1);
        char what[96];
        snprintf(what, sizeof what, "%s try %d (kill after %.3f s)", dev, t, delay);
        run_to_end(argv, &so, what);
        clae_model *m = load_or_fail(ck, 0), *saved = load_or_fail(out, CLAE_MODEL_INFERENCE);
        assert_same_tensors(ref, m, what);
        assert_same_tensors(ref_model, saved, what);
        clae_model_destroy(m);
        clae_model_destroy(saved);
        /* The resumed run's own temporary file was renamed; only the dead one's remains. */
        snprintf(tmpname, sizeof tmpname, "%s.tmp.", ckname);
        ck_assert_int_eq(names_with(dir, tmpname, litter, sizeof litter), 1);
    }
    fprintf(stderr,
            "kill_checkpoint: %s: %d tries (uninterrupted run %.2f s): %d before the first checkpoint, %d mid-run, "
            "%d after the end; %d kills left a partial ck.tmp.PID\n",
            dev, tries, T, before, mid, after, stale);
    clae_model_destroy(ref);
    clae_model_destroy(ref_model);
    return mid;
}

/* SIGKILL at a random moment of `train --checkpoint-every 1`, many times: the
 * checkpoint at the path is always absent or complete (it restores, its
 * position matches its step count), and resuming from it, with a killed
 * run's partial temporary file beside it, ends bit for bit where a run that
 * was never killed ends (every tensor of the checkpoint, Adam's state
 * included, and the --out model). On cpu-ref many times, on the OpenCL
 * device (deterministic once its GEMM tiles are chosen) a few. */
START_TEST(kill_checkpoint)
{
    int mid = kill_tries("cpu-ref", KILL_TRIES, 0x2545F491u);
    /* The delays are fixed, so this holds unless the run's timing changes a lot. */
    ck_assert_msg(mid >= KILL_TRIES / 3, "only %d of %d kills landed mid-run", mid, KILL_TRIES);
    kill_tries(test_device(), KILL_TRIES_CL, 0x9E3779B9u);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* One write of the full-disk test: `clae ARGS` writing `target` (a file name
 * in the full directory) over an earlier file copied from `earlier`. */
typedef struct disk_case {
    const char *name;
    const char *earlier; /* test_tmp file name */
    const char *target;  /* name in the full directory */
    const char *args[24];
} disk_case;

/* Runs one case in dir (tmpfs: filled up first; rlimit: the child gets
 * RLIMIT_FSIZE) and writes one line "NAME STATUS INTACT LITTER" to rep. Runs
 * in the namespace child: no ck_assert, failures go into the line. */
static void disk_run(const disk_case *c, const char *dir, int tmpfs, const char *outside, FILE *rep)
{
    char target[1200], earlier[1200], filler[1200], err[1200], litter[2048];
    snprintf(target, sizeof target, "%s/%s", dir, c->target);
    snprintf(earlier, sizeof earlier, "%s/%s", outside, c->earlier);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(err, sizeof err, "%s/%s.err", outside, c->name);
    if (copy_file(earlier, target) != 0) {
        fprintf(rep, "%s setup-copy-failed:%s\n", c->name, strerror(errno));
        return;
    }
    if (tmpfs) {
        /* Fill to ENOSPC, then give back 16 KiB: the new file starts but cannot finish. */
        int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        static char block[4096];
        off_t written = 0;
        ssize_t w;
        while (fd >= 0 && (w = write(fd, block, sizeof block)) > 0) written += w;
        int full = fd >= 0 && errno == ENOSPC;
        if (fd >= 0) close(fd);
        if (!full || truncate(filler, written > 16384 ? written - 16384 : 0) != 0) {
            fprintf(rep, "%s setup-fill-failed\n", c->name);
            return;
        }
    }
    char *argv[32];
    size_t n = 0;
    argv[n++] = "clae";
    for (size_t i = 0; c->args[i]; i++) argv[n++] = (char *)(strcmp(c->args[i], "@") == 0 ? target : c->args[i]);
    argv[n] = NULL;
    spawn_opts so = {err, NULL, tmpfs ? 0 : 16384, -1, -1};
    int st = wait_for(spawn_clae(argv, &so));
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    int intact = same_bytes(target, earlier);
    int nl = names_with(dir, ".tmp.", litter, sizeof litter);
    char probes[1024];
    nl += names_with(dir, ".clae-probe", probes, sizeof probes);
    fprintf(rep, "%s %d %d %s%s%s\n", c->name, code, intact, nl ? litter : "-", nl ? " " : "", nl ? probes : "");
    unlink(filler);
    unlink(target);
}

/* Mounts a 1 MiB tmpfs on dir in a private mount namespace of this (child)
 * process. Returns 0, or -1 where namespaces are not permitted. */
static int private_tmpfs(const char *dir)
{
    if (unshare(CLONE_NEWNS) != 0) {
        if (errno != EPERM) return -1;
        /* Unprivileged: a user namespace grants the mount, with ourselves mapped to its root. */
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return -1;
        char map[64];
        FILE *f;
        if ((f = fopen("/proc/self/setgroups", "w"))) {
            fputs("deny", f);
            fclose(f);
        }
        snprintf(map, sizeof map, "0 %ld 1", (long)uid);
        if (!(f = fopen("/proc/self/uid_map", "w")) || fputs(map, f) < 0 || fclose(f) != 0) return -1;
        snprintf(map, sizeof map, "0 %ld 1", (long)gid);
        if (!(f = fopen("/proc/self/gid_map", "w")) || fputs(map, f) < 0 || fclose(f) != 0) return -1;
    }
    /* Private propagation keeps the tmpfs out of the parent's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    return mount("tmpfs", dir, "tmpfs", 0, "size=1024k") == 0 ? 0 : -1;
}

/* A write that fails for want of space (a real full tmpfs where mount
 * namespaces are permitted, else RLIMIT_FSIZE: EFBIG) exits 1 naming the path
 * and the system's reason, leaves the earlier file byte for byte, and leaves
 * no temporary file: for a model (--out), a checkpoint and CSV/NPY features. */
START_TEST(full_disk)
{
    char outside[1100], dir[1100], data[1100], report[1100];
    snprintf(outside, sizeof outside, "%s", test_tmp_path(""));
    outside[strlen(outside) - 1] = '\0'; /* test_tmp_path("") ends in '/' */
    snprintf(dir, sizeof dir, "%s/full", outside);
    snprintf(data, sizeof data, "%s", test_data_path(T10K));
    snprintf(report, sizeof report, "%s/report", outside);
    ck_assert_int_eq(mkdir(dir, 0755), 0);

    /* The earlier files, each a different valid file of its kind. */
#define SMALL_TRAIN "train --device cpu-ref --data %s --limit 300 --batch 32 --layers 784,16 -q --steps 5"
    char dq[1200] = "";
    test_append_quoted(dq, sizeof dq, data);
    run_result r = run_expect(0, SMALL_TRAIN " --seed 8 --out %s --checkpoint %s", dq, q("old.st"), q("old.ck"));
    run_free(&r);
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 20 --out %s", q("old.st"), dq,
                   q("old.csv"));
    run_free(&r);
    r = run_expect(0, "encode --device cpu-ref --model %s --data %s --limit 20 --out %s", q("old.st"), dq,
                   q("old.npy"));
    run_free(&r);
    char model[1200];
    snprintf(model, sizeof model, "%s/old.st", outside);

    /* New files larger than the 16 KiB left free (the model 104 KB, the checkpoint 312 KB, the features
     * of 2000 rows 128 KB as NPY, more as CSV), so each write fails part way. */
    const disk_case cases[] = {
        {"out", "old.st", "m.st", {"train", "--device", "cpu-ref", "--data", data, "--limit", "300", "--batch", "32",
                                   "--layers", "784,16", "-q", "--steps", "5", "--seed", "9", "--out", "@", NULL}},
        {"checkpoint", "old.ck", "ck", {"train", "--device", "cpu-ref", "--data", data, "--limit", "300", "--batch",
                                        "32", "--layers", "784,16", "-q", "--steps", "5", "--seed", "9",
                                        "--checkpoint", "@", NULL}},
        {"csv", "old.csv", "x.csv", {"encode", "--device", "cpu-ref", "--model", model, "--data", data, "--limit",
                                     "2000", "--out", "@", NULL}},
        {"npy", "old.npy", "x.npy", {"encode", "--device", "cpu-ref", "--model", model, "--data", data, "--limit",
                                     "2000", "--out", "@", NULL}},
    };
    const size_t n_cases = sizeof cases / sizeof cases[0];

    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Exit 3: no namespace here, the parent falls back to RLIMIT_FSIZE. */
        if (private_tmpfs(dir) != 0) _exit(3);
        FILE *rep = fopen(report, "w");
        if (!rep) _exit(4);
        for (size_t i = 0; i < n_cases; i++) disk_run(&cases[i], dir, 1, outside, rep);
        _exit(fclose(rep) == 0 ? 0 : 4);
    }
    int st = wait_for(pid);
    ck_assert_msg(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3), "namespace child: status %d", st);
    const int tmpfs = WEXITSTATUS(st) == 0;
    if (!tmpfs) {
        FILE *rep = fopen(report, "w");
        ck_assert_ptr_nonnull(rep);
        for (size_t i = 0; i < n_cases; i++) disk_run(&cases[i], dir, 0, outside, rep);
        ck_assert_int_eq(fclose(rep), 0);
    }
    fprintf(stderr, "full_disk: %s\n",
            tmpfs ? "a full 1 MiB tmpfs in a private mount namespace (ENOSPC)"
                  : "no mount namespace permitted: RLIMIT_FSIZE 16 KiB (EFBIG)");
    const char *reason = strerror(tmpfs ? ENOSPC : EFBIG);

    char *rep = test_slurp_text(report);
    char *line = rep;
    for (size_t i = 0; i < n_cases; i++) {
        char *nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "report has %zu lines, not %zu:\n%s", i, n_cases, rep);
        *nl = '\0';
        char name[32], litter[1024];
        int code = -1, intact = -1;
        ck_assert_msg(sscanf(line, "%31s %d %d %1023[^\n]", name, &code, &intact, litter) == 4, "case %zu: %s",
                      i, line);
        ck_assert_str_eq(name, cases[i].name);
        char errp[1200], target[1200];
        snprintf(errp, sizeof errp, "%s/%s.err", outside, cases[i].name);
        snprintf(target, sizeof target, "%s/%s", dir, cases[i].target);
        char *err = test_slurp_text(errp);
        ck_assert_msg(code == 1, "%s: exit %d, stderr:\n%s", name, code, err);
        ck_assert_msg(intact == 1, "%s: the earlier %s changed", name, cases[i].earlier);
        ck_assert_msg(strcmp(litter, "-") == 0, "%s: left %s", name, litter);
        ck_assert_contains(err, target);
        ck_assert_contains(err, reason);
        free(err);
        line = nl + 1;
    }
    free(rep);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* Every entry of a program cache directory is whole: its file name is the
 * hash of the key in its header and clae_cache_load (magic, sizes, checksum)
 * accepts it. Returns how many; the first bad one fails the test. */
static int assert_cache_entries_valid(const char *dir)
{
    static const char magic[] = "CLAECACHE1\n";
    const size_t ml = sizeof magic - 1;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 4 || strcmp(e->d_name + nl - 4, ".bin") != 0) continue;
        char path[2048], want[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        unsigned char *b = read_file(path, &len);
        ck_assert_msg(b != NULL, "%s: unreadable", path);
        ck_assert_msg(len >= ml + 8 && memcmp(b, magic, ml) == 0, "%s: no cache header", path);
        uint64_t kl = 0;
        for (int i = 7; i >= 0; i--) kl = (kl << 8) | b[ml + (size_t)i];
        ck_assert_msg(kl > 0 && kl < len - ml - 8, "%s: key length %llu of a %zu-byte file", path,
                      (unsigned long long)kl, len);
        char *key = malloc((size_t)kl + 1);
        ck_assert_ptr_nonnull(key);
        memcpy(key, b + ml + 8, (size_t)kl);
        key[kl] = '\0';
        free(b);
        clae_cache_entry_path(dir, key, want, sizeof want);
        ck_assert_str_eq(want, path);
        unsigned char *data = NULL;
        size_t size = 0;
        ck_assert_msg(clae_cache_load(dir, key, &data, &size) == CLAE_OK, "%s", clae_last_error());
        free(data);
        free(key);
        n++;
    }
    closedir(d);
    return n;
}

/* Two `clae train` on the OpenCL device, released at one moment onto one
 * empty CLAE_CACHE_DIR, so both build the programs and store the same entries
 * at once: both succeed, no temporary file remains, every entry is whole, and
 * all three runs (the third on the warm directory) have the same weights bit
 * for bit. Each cold run times its own GEMM tile search and may pick other
 * tiles than the other, and the table left is the last writer's; a tile never
 * changes a bit (the ops suite's tile tests), which this checks end to end —
 * before the epilogue's edge lanes took the vector activation, about half the
 * rounds differed. */
START_TEST(shared_cold_cache)
{
    char data[1024];
    snprintf(data, sizeof data, "%s", test_data_path(T10K));
    const char *dev = test_device();
    for (int round = 0; round < CACHE_ROUNDS; round++) {
        char cache[1100], out[3][1100], err[3][1100], name[32];
        snprintf(name, sizeof name, "cache%d", round);
        snprintf(cache, sizeof cache, "%s", test_tmp_path(name));
        ck_assert_int_eq(mkdir(cache, 0755), 0);
        int gate[2];
        ck_assert_int_eq(pipe(gate), 0);
        pid_t pid[3];
        double t0 = now_s(), t1 = 0;
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "r%d-%d.st", round, k);
            snprintf(out[k], sizeof out[k], "%s", test_tmp_path(name));
            snprintf(name, sizeof name, "r%d-%d.err", round, k);
            snprintf(err[k], sizeof err[k], "%s", test_tmp_path(name));
            const char *a[] = {"clae", "train", "--device", dev, "--data", data, "--limit", "300", "--test-limit",
                               "50", "--batch", "32", "--layers", "784,16", "--seed", "7", "--epochs", "2", "-q",
                               "--out", out[k], NULL};
            char *argv[sizeof a / sizeof a[0]];
            memcpy(argv, a, sizeof a);
            spawn_opts so = {err[k], cache, 0, k < 2 ? gate[0] : -1, k < 2 ? gate[1] : -1};
            if (k == 2) {
                /* The third run starts after both have ended, on the cache they left. */
                close(gate[0]);
                close(gate[1]); /* releases both at once */
                for (int j = 0; j < 2; j++) {
                    int st = wait_for(pid[j]);
                    char *text = test_slurp_text(err[j]);
                    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d, run %d: status %d\n%s", round,
                                  j, st, text);
                    free(text);
                }
                t1 = now_s();
                char names[8192];
                ck_assert_msg(names_with(cache, ".tmp.", names, sizeof names) == 0, "round %d: left %s", round,
                              names);
            }
            pid[k] = spawn_clae(argv, &so);
            ck_assert_int_gt(pid[k], 0);
        }
        int st = wait_for(pid[2]);
        char *text = test_slurp_text(err[2]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d, third run: status %d\n%s", round, st, text);
        free(text);
        const int entries = assert_cache_entries_valid(cache);
        ck_assert_int_gt(entries, 0);

        clae_model *m[3];
        for (int k = 0; k < 3; k++) m[k] = load_or_fail(out[k], CLAE_MODEL_INFERENCE);
        const char *d0 = tensors_differ(m[2], m[0]), *d1 = tensors_differ(m[2], m[1]);
        ck_assert_msg(!d0 && !d1, "round %d: the warm run differs from the cold runs (%s, %s)", round,
                      d0 ? d0 : "-", d1 ? d1 : "-");
        for (int k = 0; k < 3; k++) clae_model_destroy(m[k]);
        fprintf(stderr, "shared_cold_cache: round %d: the two cold runs %.2f s; %d valid entries; all three runs' "
                        "weights identical\n", round, t1 - t0, entries);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */

/* A net far beyond the device's memory is refused before any work: exit 1,
 * the bytes needed (at least the two 784×20M weight matrices) and the
 * device's bytes named, no training, no --out. */
START_TEST(too_large)
{
    const char *devs[] = {"cpu-ref", test_device()};
    char dq[1200] = "";
    test_append_quoted(dq, sizeof dq, test_data_path(T10K));
    for (int k = 0; k < 2; k++) {
        double t0 = now_s();
        run_result r = run_expect(1, "train --device %s --data %s --limit 300 --batch 32 --layers 784,20000000 "
                                     "--epochs 1 --out %s",
                                  devs[k], dq, q("big.st"));
        double secs = now_s() - t0;
        const char *p = strstr(r.err, "model needs ");
        ck_assert_msg(p != NULL, "%s: no 'model needs' in:\n%s", devs[k], r.err);
        unsigned long long need = 0, have = 0;
        const char *q2 = strstr(p, " but ");
        const char *h = q2 ? strstr(q2, " has ") : NULL;
        ck_assert_msg(sscanf(p, "model needs %llu bytes", &need) == 1 && h && sscanf(h, " has %llu bytes", &have) == 1,
                      "%s: cannot read the byte counts:\n%s", devs[k], r.err);
        ck_assert_msg(need >= 2ull * 784 * 20000000 * 4, "%s: needs only %llu bytes", devs[k], need);
        ck_assert_msg(have > 0 && have < need, "%s: the device has %llu bytes, the model needs %llu", devs[k], have,
                      need);
        ck_assert_msg(strstr(r.err, "train_loss") == NULL && strstr(r.err, "epoch 1") == NULL,
                      "%s: trained before refusing:\n%s", devs[k], r.err);
        ck_assert_msg(!file_exists(test_tmp_path("big.st")), "%s: wrote --out", devs[k]);
        fprintf(stderr, "too_large: %s refused in %.2f s\n", devs[k], secs);
        run_free(&r);
    }
}
END_TEST

Suite *suite_fault(void)
{
    Suite *s = suite_create("fault");
    TCase *kc = tcase_create("kill_checkpoint");
    tcase_add_checked_fixture(kc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(kc, 120);
    tcase_add_test(kc, kill_checkpoint);
    suite_add_tcase(s, kc);

    TCase *fd = tcase_create("full_disk");
    tcase_add_checked_fixture(fd, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(fd, 60);
    tcase_add_test(fd, full_disk);
    suite_add_tcase(s, fd);

    TCase *cc = tcase_create("shared_cold_cache");
    tcase_add_checked_fixture(cc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(cc, 180);
    tcase_add_test(cc, shared_cold_cache);
    suite_add_tcase(s, cc);

    TCase *tl = tcase_create("too_large");
    tcase_add_checked_fixture(tl, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(tl, 60);
    tcase_add_test(tl, too_large);
    suite_add_tcase(s, tl);

    suite_add_tcase(s, tcase_fault_env());
    return s;
}
