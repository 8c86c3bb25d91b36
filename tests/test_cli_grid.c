/* test_cli_grid.c — the cli_grid suite: `clae grid` run as a user would on cpu-ref and tiny data: its ranking
 * against single `clae train` runs, its JSON and CSV, resuming, and the grids it must refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* Two layer lists (commas inside, so '/' separates) by two rates: four runs of one short epoch each. */
#define GRID_PARAMS "--param layers=784,16/784,32 --param lr=0.001,0.01"
#define N_COMBOS 4
/* What every run shares; a single `clae train` run takes the same words. */
#define RUN_FLAGS "--limit 256 --test-limit 128 --epochs 1 --batch 64"

/* The data flags, quoted: the Fashion-MNIST files, as the other CLI suites use them. */
static const char *data_flags(void)
{
    static char buf[2400];
    buf[0] = '\0';
    strcat(buf, "--data ");
    test_append_quoted(buf, sizeof buf, test_data_path("train-images-idx3-ubyte.gz"));
    strcat(buf, " --test ");
    test_append_quoted(buf, sizeof buf, test_data_path("t10k-images-idx3-ubyte.gz"));
    return buf;
}

/* Runs the suite's grid into DIR with extra flags, expecting exit status want. */
static run_result grid_run(int want, const char *extra)
{
    return run_expect(want, "grid " GRID_PARAMS " %s " RUN_FLAGS " --devices cpu-ref --out %s %s", data_flags(),
                      q("g"), extra);
}

static cJSON *parse_array(const char *text, int n)
{
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(cJSON_IsArray(j), "not a JSON array:\n%s", text);
    ck_assert_int_eq(cJSON_GetArraySize(j), n);
    return j;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "key '%s' missing or not a number", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsString(v), "key '%s' missing or not a string", key);
    return v->valuestring;
}

static int is_true(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsBool(v), "key '%s' missing or not a bool", key);
    return cJSON_IsTrue(v);
}

/* Ranks 1..n in order, test MSE ascending, ties by grid index, every index once. */
static void check_ranking(const cJSON *arr)
{
    int seen[N_COMBOS] = {0};
    double prev = -1.0;
    long prev_index = -1;
    int rank = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        ck_assert_int_eq((int)num(o, "rank"), ++rank);
        const double mse = num(o, "test_mse");
        const long index = (long)num(o, "index");
        ck_assert(index >= 0 && index < N_COMBOS);
        ck_assert_msg(!seen[index], "index %ld listed twice", index);
        seen[index] = 1;
        ck_assert_msg(mse > prev || (mse == prev && index > prev_index), "rank %d out of order", rank);
        prev = mse;
        prev_index = index;
    }
}

START_TEST(grid_equals_single_runs)
{
    run_result r = grid_run(0, "--json -q");
    cJSON *arr = parse_array(r.out, N_COMBOS);
    run_free(&r);
    check_ranking(arr);
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        ck_assert(is_true(o, "trained"));
        ck_assert(!is_true(o, "resumed"));
        ck_assert_str_eq(str(o, "device_id"), "cpu-ref");
        ck_assert_msg(access(str(o, "model"), R_OK) == 0, "no model file %s", str(o, "model"));
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "params");
        const char *layers = str(ps, "layers"), *lr = str(ps, "lr");
        /* The same run by hand: its test MSE must be the grid's, bit for bit (same seed, data, rows). */
        run_result t = run_expect(0, "train --layers %s --lr %s %s " RUN_FLAGS " --device cpu-ref --json -q", layers,
                                  lr, data_flags());
        cJSON *tj = cJSON_Parse(t.out);
        ck_assert_ptr_nonnull(tj);
        ck_assert_msg(num(tj, "test_mse") == num(o, "test_mse"), "layers %s lr %s: train %.17g, grid %.17g", layers,
                      lr, num(tj, "test_mse"), num(o, "test_mse"));
        cJSON_Delete(tj);
        run_free(&t);
    }

    /* Again: everything is resumed from grid.json, nothing trains, the same ranking in CSV. */
    r = grid_run(0, "--csv");
    ck_assert_contains(r.err, "4 of 4 combinations done already");
    char *line = strtok(r.out, "\n");
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line, "rank,index,layers,lr,test_mse,train_loss,seconds,device,device_id,model,trained");
    int n = 0;
    while ((line = strtok(NULL, "\n")) != NULL) {
        ck_assert_int_lt(n, N_COMBOS);
        const cJSON *e = cJSON_GetArrayItem(arr, n);
        char want[256];
        snprintf(want, sizeof want, "%d,%ld,\"%s\",%s,", n + 1, (long)num(e, "index"),
                 str(cJSON_GetObjectItemCaseSensitive(e, "params"), "layers"),
                 str(cJSON_GetObjectItemCaseSensitive(e, "params"), "lr"));
        ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "line '%s', want it to start '%s'", line, want);
        ck_assert_msg(strtod(line + strlen(want), NULL) == num(e, "test_mse"), "line '%s'", line);
        ck_assert_msg(strstr(line, ",false") != NULL, "line '%s' should be resumed", line);
        n++;
    }
    ck_assert_int_eq(n, N_COMBOS);
    run_free(&r);

    /* The table: a header and a row per model naming its file. */
    r = grid_run(0, "");
    ck_assert_contains(r.out, "test_mse");
    ck_assert_contains(r.out, "train_loss");
    cJSON_ArrayForEach(o, arr) ck_assert_contains(r.out, str(o, "model"));
    run_free(&r);
    cJSON_Delete(arr);
}
END_TEST

START_TEST(grid_resumes)
{
    /* Two runs now, as if interrupted; the rerun trains only the other two. */
    run_result r = grid_run(0, "--max-runs 2 --json");
    cJSON *arr = parse_array(r.out, 2);
    ck_assert_contains(r.err, "rerun the same command");
    cJSON_Delete(arr);
    run_free(&r);
    r = grid_run(0, "--json");
    arr = parse_array(r.out, N_COMBOS);
    check_ranking(arr);
    ck_assert_contains(r.err, "2 of 4 combinations done already; training 2");
    const cJSON *o;
    int trained = 0;
    double mse_of_3 = -1.0;
    cJSON_ArrayForEach(o, arr)
    {
        const long index = (long)num(o, "index");
        ck_assert_int_eq(is_true(o, "trained"), index >= 2); /* dealt out in grid order */
        trained += is_true(o, "trained");
        if (index == 3) mse_of_3 = num(o, "test_mse");
    }
    ck_assert_int_eq(trained, 2);
    run_free(&r);

    /* A model deleted since is trained again; only that one. */
    char path[1200] = "";
    cJSON_ArrayForEach(o, arr) if ((long)num(o, "index") == 3) snprintf(path, sizeof path, "%s", str(o, "model"));
    ck_assert_int_eq(unlink(path), 0);
    cJSON_Delete(arr);
    r = grid_run(0, "--json");
    arr = parse_array(r.out, N_COMBOS);
    cJSON_ArrayForEach(o, arr)
    {
        ck_assert_int_eq(is_true(o, "trained"), (long)num(o, "index") == 3);
        if ((long)num(o, "index") == 3) ck_assert(num(o, "test_mse") == mse_of_3);
    }
    ck_assert_int_eq(access(path, R_OK), 0);
    cJSON_Delete(arr);
    run_free(&r);

    /* grid.json names the grid and every result. */
    char *state = test_slurp_text(test_tmp_path("g/grid.json"));
    cJSON *st = cJSON_Parse(state);
    free(state);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "results")), N_COMBOS);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(st, "definition"));
    cJSON_Delete(st);

    /* Another grid into the same directory is refused; --restart starts it over. */
    r = run_expect(2, "grid --param lr=0.001,0.1 %s " RUN_FLAGS " --devices cpu-ref --out %s", data_flags(), q("g"));
    ck_assert_contains(r.err, "another grid");
    ck_assert_contains(r.err, "--restart");
    run_free(&r);
    r = run_expect(0, "grid --param lr=0.001,0.1 %s " RUN_FLAGS " --devices cpu-ref --out %s --restart --json -q",
                   data_flags(), q("g"));
    arr = parse_array(r.out, 2);
    cJSON_ArrayForEach(o, arr) ck_assert(is_true(o, "trained"));
    cJSON_Delete(arr);
    run_free(&r);
}
END_TEST

START_TEST(grid_refuses_bad_grids)
{
    static const struct {
        const char *args, *says, *also;
    } bad[] = {
        {"--param lrr=0.1,0.2", "lrr", "no option"},
        {"--param lr=0.1,abc", "lr", "abc"},
        {"--param layers=784,16/784,zz", "layers", "784,zz"},
        {"--param tied=yes", "tied", "on and off"},
        {"--param lr=0.1,,0.2", "lr", "empty"},
        {"--param lr=0.1 --param lr=0.2", "lr", "twice"},
        {"--param device=cpu,cpu-ref", "device", "grid sets"},
        {"--param lr=0.1 --lr 0.2", "--lr", "both"},
        {"--param lr=0.1 --device cpu-ref", "--device", "--devices"},
        {"--param lr=0.1 --bogus 3", "--bogus", "unknown"},
        {"--param lr", "lr", "NAME=VALUES"},
        {"--limit 5", "--param", "no --param"},
        {"--param lr=0.1 --json --csv", "--json", "--csv"},
        {"--param lr=0.1 --data -", "--data", "file"},
        {"--param lr=0.1 --devices nosuchdevice", "nosuchdevice", "--devices"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char args[1024];
        snprintf(args, sizeof args, "grid %s --out ", bad[k].args);
        test_append_quoted(args, sizeof args, test_tmp_path("bad"));
        run_result r = run_clae(args);
        ck_assert_msg(r.status == 2, "%s: exit %d, want 2\n%s", bad[k].args, r.status, r.err);
        ck_assert_msg(strstr(r.err, bad[k].says) && strstr(r.err, bad[k].also), "%s: want '%s' and '%s' in:\n%s",
                      bad[k].args, bad[k].says, bad[k].also, r.err);
        /* Refused before anything was made. */
        ck_assert_msg(access(test_tmp_path("bad"), F_OK) != 0, "%s: made --out", bad[k].args);
        run_free(&r);
    }

    /* A combination train's parser takes but the data does not fit fails alone: exit 1, the other one listed. */
    run_result r = run_expect(1, "grid --param layers=784,16/100,16 %s " RUN_FLAGS " --devices cpu-ref --out %s --json",
                              data_flags(), q("fails"));
    ck_assert_contains(r.err, "combination 1 failed");
    cJSON *arr = parse_array(r.out, 1);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(arr, 0), "index"), 0);
    cJSON_Delete(arr);
    run_free(&r);

    r = run_clae("grid --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_contains(r.out, "--param NAME=VALUES");
    ck_assert_contains(r.out, "--devices");
    ck_assert_contains(r.out, "grid.json");
    ck_assert_contains(r.out, "Exit status");
    run_free(&r);
    r = run_clae("--help");
    ck_assert_contains(r.out, "grid");
    run_free(&r);
}
END_TEST

Suite *suite_cli_grid(void)
{
    Suite *s = suite_create("cli_grid");
    TCase *tc = tcase_create("grid");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grid_equals_single_runs);
    tcase_add_test(tc, grid_resumes);
    tcase_add_test(tc, grid_refuses_bad_grids);
    suite_add_tcase(s, tc);
    return s;
}
