/* test_standalone.c — the standalone suite: the repository refers to nothing outside itself. Its
 * sources, README and help texts state the math they follow (README, "The math") and cite papers. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

/* What a reference to a file a user of the repository does not have looks like. Each needle is
 * split in two so that this file does not contain it. */
static const char *const needle_parts[][2] = {
    {"VARIANTS", ".md"}, /* the design notes the code was first written from */
    {"../", "shared"},   /* a sibling directory of the checkout */
    {"shared", "/"},     /* ... however it is reached */
    {"/work", "/"},      /* the machine the project was developed on */
};
#define N_NEEDLES (sizeof needle_parts / sizeof needle_parts[0])

/* A section sign before a number points into a document that is not here; a paper is cited by
 * its own words ("Section 3", "eq. 16"). Returns the match or NULL. */
static const char *section_ref(const char *line)
{
    for (const char *p = strstr(line, "\xc2\xa7"); p; p = strstr(p + 2, "\xc2\xa7")) {
        const char *q = p + 2;
        while (*q == ' ') q++;
        if (isdigit((unsigned char)*q)) return p;
    }
    return NULL;
}

typedef struct finds {
    int n;
    char text[4096];
} finds;

static void note(finds *f, const char *where, long line, const char *what, const char *text)
{
    f->n++;
    size_t len = strlen(f->text);
    if (len + 200 >= sizeof f->text) return;
    snprintf(f->text + len, sizeof f->text - len, "  %s:%ld: %s in \"%.100s\"\n", where, line, what, text);
}

/* Checks every line of one text (a file or a command's output) named `where`. */
static void scan_text(finds *f, const char *where, const char *text)
{
    char needle[N_NEEDLES][32];
    for (size_t k = 0; k < N_NEEDLES; k++)
        snprintf(needle[k], sizeof needle[k], "%s%s", needle_parts[k][0], needle_parts[k][1]);
    long line = 1;
    for (const char *p = text; *p; line++) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char buf[1024];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        for (size_t k = 0; k < N_NEEDLES; k++)
            if (strstr(buf, needle[k])) note(f, where, line, needle[k], buf);
        if (section_ref(buf)) note(f, where, line, "a section sign before a number (cite a paper as \"Section N\")", buf);
        if (!end) break;
        p = end + 1;
    }
}

static void scan_path(finds *f, const char *path, int *files)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s not found: the suite runs from the repository root", path);
    if (S_ISREG(st.st_mode)) {
        char *text = test_slurp_text(path);
        scan_text(f, path, text);
        free(text);
        (*files)++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "cannot list %s", path);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ".", "..", editor and VCS files */
        /* Python's bytecode caches (git-ignored) record the absolute path of their source. */
        if (strcmp(e->d_name, "__pycache__") == 0) continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        scan_path(f, child, files);
    }
    closedir(d);
}

/* Everything a user of the repository reads: the README, the public header, the library, the
 * kernels, the CLI, the tests, the Makefile and the CI script. */
START_TEST(sources_refer_to_nothing_outside)
{
    static const char *const roots[] = {"README.md", "Makefile", "include", "lib", "cl", "tools", "tests", ".ci"};
    finds f = {0, ""};
    int files = 0;
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) scan_path(&f, roots[i], &files);
    ck_assert_msg(files >= 50, "only %d files scanned: not the repository root?", files);
    ck_assert_msg(f.n == 0, "%d reference(s) to something outside the repository:\n%s", f.n, f.text);
}
END_TEST

/* The help a user sees: `clae --help` and `clae <command> --help` for every command it lists. */
START_TEST(help_refers_to_nothing_outside)
{
    run_result top = run_clae("--help");
    ck_assert_int_eq(top.status, 0);
    finds f = {0, ""};
    scan_text(&f, "clae --help", top.out);
    int commands = 0;
    const char *p = strstr(top.out, "Commands:\n");
    ck_assert_msg(p != NULL, "no command list in:\n%s", top.out);
    for (p = strchr(p, '\n') + 1; p[0] == ' ' && p[1] == ' ' && isalpha((unsigned char)p[2]);) {
        char name[32] = "";
        sscanf(p + 2, "%31[a-z_-]", name);
        char args[64];
        snprintf(args, sizeof args, "%s --help", name);
        run_result r = run_clae(args);
        ck_assert_msg(r.status == 0, "clae %s exited %d", args, r.status);
        char where[80];
        snprintf(where, sizeof where, "clae %s", args);
        scan_text(&f, where, r.out);
        scan_text(&f, where, r.err);
        run_free(&r);
        commands++;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    run_free(&top);
    ck_assert_msg(commands >= 8, "only %d commands found in clae --help", commands);
    ck_assert_msg(f.n == 0, "%d reference(s) to something outside the repository:\n%s", f.n, f.text);
}
END_TEST

Suite *suite_standalone(void)
{
    Suite *s = suite_create("standalone");
    TCase *src = tcase_create("sources");
    tcase_add_test(src, sources_refer_to_nothing_outside);
    suite_add_tcase(s, src);
    TCase *help = tcase_create("help");
    tcase_add_checked_fixture(help, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(help, help_refers_to_nothing_outside);
    suite_add_tcase(s, help);
    return s;
}
