/* clae_progress.c — the training progress report (see clae_progress.h).
 * A terminal gets one line redrawn at most ten times a second; a pipe gets a line per tenth. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "clae_cli.h"
#include "clae_progress.h"

#define BAR_WIDTH 24
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
    p->decile = 0;
    p->first_step = 0;
}

void cli_progress_resume(cli_progress *p, size_t done)
{
    p->first_step = done;
    p->decile = p->steps ? (int)(done * 10 / p->steps) : 0;
}

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

void cli_progress_step(cli_progress *p, size_t step, size_t samples, double loss)
{
    if (p->quiet || p->steps == 0) return;
    double now = cli_now();
    int last = step >= p->steps;
    if (p->tty) {
        if (!last && p->t_drawn >= 0 && now - p->t_drawn < REDRAW_SECONDS) return;
    } else {
        int decile = (int)(step * 10 / p->steps);
        if (decile <= p->decile) return;
        p->decile = decile;
    }
    p->t_drawn = now;

    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)samples / elapsed : 0.0;
    char eta[32];
    /* Only the steps taken since the (re)start were timed. */
    size_t timed = step > p->first_step ? step - p->first_step : 1;
    cli_format_duration(elapsed / (double)timed * (double)(p->steps - step), eta, sizeof eta);
    int pct = (int)(100.0 * (double)step / (double)p->steps);

    if (p->tty) {
        char bar[BAR_WIDTH + 1];
        int fill = (int)((double)BAR_WIDTH * (double)step / (double)p->steps);
        for (int k = 0; k < BAR_WIDTH; k++) bar[k] = k < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        /* \033[K erases what a longer previous line left behind. */
        fprintf(p->out, "\repoch %d/%d [%s] %3d%%  step %zu/%zu  %.0f samples/s  loss %.4g  ETA %s\033[K",
                p->epoch, p->epochs, bar, pct, step, p->steps, rate, loss, eta);
        p->drawn = 1;
    } else {
        fprintf(p->out, "epoch %d/%d  %3d%%  step %zu/%zu  %.0f samples/s  loss %.4g  ETA %s\n", p->epoch,
                p->epochs, pct, step, p->steps, rate, loss, eta);
    }
    fflush(p->out);
}

void cli_progress_status(cli_progress *p, const char *text)
{
    if (p->quiet || !p->tty) return;
    fprintf(p->out, "\r%s\033[K", text);
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
