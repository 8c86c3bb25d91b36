/* clae_progress.c — the training progress report (see clae_progress.h).
 * A terminal gets one line, as wide as it fits, redrawn at most ten times a second; a pipe a line per 10 s. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clae_cli.h"
#include "clae_progress.h"

#define BAR_MIN 10
#define BAR_MAX 40
#define REDRAW_SECONDS 0.1

void cli_progress_init(cli_progress *p, FILE *out, int quiet)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    p->tty = isatty(fileno(out));
}

void cli_progress_epoch(cli_progress *p, int epoch, int epochs, size_t steps)
{
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->t_start = cli_now();
    p->t_drawn = -1.0;
    p->t_logged = p->t_start;
    p->first_step = 0;
}

void cli_progress_resume(cli_progress *p, size_t done) { p->first_step = done; }

void cli_format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "?");
        return;
    }
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

int cli_terminal_columns(FILE *out)
{
    int cols = 0;
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) cols = ws.ws_col;
    if (cols <= 0) {
        const char *env = getenv("COLUMNS");
        if (env && *env) cols = atoi(env);
    }
    if (cols <= 0) cols = 80;
    return cols < 20 ? 20 : cols;
}

void cli_progress_format(char *buf, size_t cap, int columns, int epoch, int epochs, size_t step, size_t steps,
                         double rate, double loss, const char *eta)
{
    /* A line that reaches the last column makes some terminals wrap, and the
     * next \r then redraws one row lower every time. */
    const int room = columns - 1;
    char head[48], pct[8], stepf[48], ratef[40], tail[80];
    snprintf(head, sizeof head, "epoch %d/%d", epoch, epochs);
    snprintf(pct, sizeof pct, "%3d%%", steps ? (int)(100.0 * (double)step / (double)steps) : 100);
    snprintf(stepf, sizeof stepf, "  step %zu/%zu", step, steps);
    snprintf(ratef, sizeof ratef, "  %.0f samples/s", rate);
    snprintf(tail, sizeof tail, "  loss %.4g  ETA %s", loss, eta);
    /* Shed the least useful fields first: the rate, then the step count. */
    for (int drop = 0; drop <= 2; drop++) {
        const char *sf = drop >= 2 ? "" : stepf, *rf = drop >= 1 ? "" : ratef;
        int fixed = (int)(strlen(head) + 1 + strlen(pct) + strlen(sf) + strlen(rf) + strlen(tail));
        int bar = room - fixed - 3; /* " [" and "]" */
        if (bar >= BAR_MIN || drop == 2) {
            if (bar > BAR_MAX) bar = BAR_MAX;
            char b[BAR_MAX + 4] = "";
            if (bar >= BAR_MIN) {
                int fill = steps ? (int)((double)bar * (double)step / (double)steps) : bar;
                b[0] = ' ';
                b[1] = '[';
                for (int k = 0; k < bar; k++) b[2 + k] = k < fill ? '#' : '.';
                b[2 + bar] = ']';
                b[3 + bar] = '\0';
            }
            char line[512];
            snprintf(line, sizeof line, "%s%s %s%s%s%s", head, b, pct, sf, rf, tail);
            if ((int)strlen(line) > room) line[room > 0 ? room : 0] = '\0';
            snprintf(buf, cap, "%s", line);
            return;
        }
    }
}

void cli_progress_step(cli_progress *p, size_t step, size_t samples, double loss)
{
    if (p->quiet || p->steps == 0) return;
    double now = cli_now();
    int last = step >= p->steps;
    if (p->tty) {
        if (!last && p->t_drawn >= 0 && now - p->t_drawn < REDRAW_SECONDS) return;
    } else {
        if (last || now - p->t_logged < CLI_PROGRESS_LOG_SECONDS) return;
        p->t_logged = now;
    }
    p->t_drawn = now;

    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)samples / elapsed : 0.0;
    char eta[32];
    /* Only the steps taken since the (re)start were timed. */
    size_t timed = step > p->first_step ? step - p->first_step : 1;
    cli_format_duration(elapsed / (double)timed * (double)(p->steps - step), eta, sizeof eta);

    if (p->tty) {
        char line[512];
        cli_progress_format(line, sizeof line, cli_terminal_columns(p->out), p->epoch, p->epochs, step, p->steps,
                            rate, loss, eta);
        /* \033[K erases what a longer previous line left behind. */
        fprintf(p->out, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(p->out, "epoch %d/%d  %3d%%  step %zu/%zu  %.0f samples/s  loss %.4g  ETA %s\n", p->epoch,
                p->epochs, (int)(100.0 * (double)step / (double)p->steps), step, p->steps, rate, loss, eta);
    }
    fflush(p->out);
}

void cli_progress_status(cli_progress *p, const char *text)
{
    if (p->quiet || !p->tty) return;
    int room = cli_terminal_columns(p->out) - 1;
    fprintf(p->out, "\r%.*s\033[K", room, text);
    fflush(p->out);
    p->drawn = 1;
}

void cli_progress_clear(cli_progress *p)
{
    if (p->drawn) {
        fprintf(p->out, "\r\033[K");
        fflush(p->out);
        p->drawn = 0;
    }
}
