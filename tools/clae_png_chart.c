/* clae_png_chart.c — the CLI's charts: loss-curve line plots and score histograms on one plot area with nice
 * ticks, grid lines, dashed lines, markers and a legend. */
#include "clae_png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae_png_draw.h"

static const rgb GRID = {225, 225, 225};    /* chart grid lines */
static const rgb BAR = {70, 130, 180};      /* histogram bars */
static const rgb THRESH = {220, 30, 30};    /* the threshold line */

/* Distinct colours for chart lines (the matplotlib "tab10" start), so plots
 * look the way most readers expect. */
static const rgb PALETTE[8] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                               {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};

#define CHART_W 640
#define CHART_H 400

/* A plot area and the data ranges mapped onto it. */
typedef struct chart {
    canvas c;
    int x0, x1, y0, y1; /* plot area in pixels, inclusive; y0 at the top */
    double xlo, xhi, ylo, yhi;
    double xstep, ystep; /* tick spacing */
    int xtick_limited;   /* x ticks stop at xtick_hi (a histogram's tail bar lies beyond) */
    double xtick_hi;
    int ylog;            /* y holds log10 values: ticks are labelled 10^v */
} chart;

static double map_x(const chart *ch, double x)
{
    return ch->x0 + (x - ch->xlo) / (ch->xhi - ch->xlo) * (ch->x1 - ch->x0);
}

static double map_y(const chart *ch, double y)
{
    return ch->y1 - (y - ch->ylo) / (ch->yhi - ch->ylo) * (ch->y1 - ch->y0);
}

/* 1, 2 or 5 × 10^k near range/target, the spacing people read easily. */
static double nice_step(double range, int target, int whole)
{
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
    if (whole && step < 1.0) step = 1.0;
    return step;
}

/* Widens an empty range so a single value or a constant series still gets an axis. */
static void widen(double *lo, double *hi)
{
    if (*hi > *lo) return;
    double pad = fabs(*lo) > 0.0 ? fabs(*lo) * 0.1 : 1.0;
    *lo -= pad;
    *hi += pad;
}

/* Tick label for v on an axis with spacing step: as many decimals as the step
 * needs, exponent form for very large or small numbers ("2.5e-5"). */
static void tick_label(char *buf, size_t cap, double v, double step, double maxabs)
{
    if (fabs(v) < step * 1e-9) v = 0.0; /* no "-0" */
    if (maxabs >= 1e6 || step < 1e-4) {
        int d = (int)(floor(log10(maxabs)) - floor(log10(step)));
        if (d < 0) d = 0;
        if (d > 4) d = 4;
        char raw[64];
        snprintf(raw, sizeof raw, "%.*e", d, v);
        /* "2.5e-05" -> "2.5e-5", "1.0e+06" -> "1.0e6": shorter under the axis. */
        if (v == 0.0) {
            snprintf(buf, cap, "0");
            return;
        }
        /* Judged on what has been kept so far, so "e+06" loses both the
         * sign and the zero. */
        size_t o = 0;
        for (const char *p = raw; *p && o + 1 < cap; p++) {
            int after_e = o > 0 && buf[o - 1] == 'e';
            int after_e_minus = o > 1 && buf[o - 1] == '-' && buf[o - 2] == 'e';
            if (*p == '+' && after_e) continue;
            if (*p == '0' && (after_e || after_e_minus) && p[1]) continue;
            buf[o++] = *p;
        }
        buf[o] = '\0';
    } else {
        int d = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, cap, "%.*f", d, v);
    }
}

/* Ticks are drawn at the multiples of step inside [lo, hi]. */
static double first_tick(double lo, double step) { return ceil(lo / step - 1e-9) * step; }

static void chart_init_area(chart *ch)
{
    ch->x0 = 72;
    ch->x1 = CHART_W - 18;
    ch->y0 = 44;
    ch->y1 = CHART_H - 48;
}

/* Grid lines, frame, ticks, tick labels, title and axis labels. */
static void chart_axes(chart *ch, const char *title, const char *xlabel, const char *ylabel)
{
    canvas *c = &ch->c;
    char buf[64];
    double xmax = fmax(fabs(ch->xlo), fabs(ch->xhi)), ymax = fmax(fabs(ch->ylo), fabs(ch->yhi));
    double t0 = first_tick(ch->xlo, ch->xstep);
    const double xend = ch->xtick_limited ? ch->xtick_hi : ch->xhi;
    for (int i = 0; i < 100; i++) {
        double v = t0 + i * ch->xstep;
        if (v > xend + ch->xstep * 1e-9) break;
        int x = (int)lround(map_x(ch, v));
        pic_fill(c, x, ch->y0, x + 1, ch->y1, GRID);
        pic_fill(c, x, ch->y1, x + 1, ch->y1 + 5, INK);
        tick_label(buf, sizeof buf, v, ch->xstep, xmax);
        pic_text(c, x - pic_text_width(buf, 1) / 2, ch->y1 + 8, buf, 1, INK);
    }
    t0 = first_tick(ch->ylo, ch->ystep);
    for (int i = 0; i < 100; i++) {
        double v = t0 + i * ch->ystep;
        if (v > ch->yhi + ch->ystep * 1e-9) break;
        int y = (int)lround(map_y(ch, v));
        pic_fill(c, ch->x0, y, ch->x1, y + 1, GRID);
        pic_fill(c, ch->x0 - 5, y, ch->x0, y + 1, INK);
        if (ch->ylog) {
            double p = pow(10.0, v);
            if (p < 1e5) snprintf(buf, sizeof buf, "%.0f", p);
            else snprintf(buf, sizeof buf, "1E%d", (int)lround(v));
        } else {
            tick_label(buf, sizeof buf, v, ch->ystep, ymax);
        }
        pic_text(c, ch->x0 - 8 - pic_text_width(buf, 1), y - 3, buf, 1, INK);
    }
    pic_frame(c, ch->x0, ch->y0, ch->x1, ch->y1, INK);
    if (title && *title) {
        /* Cut a long title rather than let it run off the picture. */
        char t[96];
        int room = (CHART_W - 20) / 12;
        snprintf(t, sizeof t, "%.*s", room < 95 ? room : 95, title);
        pic_text(c, (CHART_W - pic_text_width(t, 2)) / 2, 10, t, 2, INK);
    }
    if (xlabel && *xlabel) pic_text(c, (ch->x0 + ch->x1 - pic_text_width(xlabel, 1)) / 2, CHART_H - 16, xlabel, 1, INK);
    if (ylabel && *ylabel) pic_text(c, 8, ch->y0 - 13, ylabel, 1, INK);
}

/* A line from (ax, ay) to (bx, by) in pixel coordinates, clipped to the plot
 * area: two pixels wide, or one when thin. With dash > 0 it is drawn on for
 * dash pixels and off for 2/3 of that; *phase carries the pattern's position
 * from one segment to the next so a polyline's dashes run on evenly. */
static void chart_line(chart *ch, double ax, double ay, double bx, double by, rgb col, int thin, int dash,
                       double *phase)
{
    double dx = bx - ax, dy = by - ay;
    double len = sqrt(dx * dx + dy * dy);
    int steps = (int)ceil(fmax(fabs(dx), fabs(dy)));
    if (steps < 1) steps = 1;
    const int wide = thin ? 1 : 2;
    const double gap = dash > 0 ? fmax(2.0, dash * 2.0 / 3.0) : 0.0, period = dash + gap;
    double p0 = phase ? *phase : 0.0;
    for (int i = 0; i <= steps; i++) {
        if (dash > 0 && fmod(p0 + len * i / steps, period) >= dash) continue;
        int x = (int)lround(ax + dx * i / steps), y = (int)lround(ay + dy * i / steps);
        for (int oy = 0; oy < wide; oy++)
            for (int ox = 0; ox < wide; ox++) {
                int px = x + ox, py = y + oy;
                if (px > ch->x0 && px < ch->x1 && py > ch->y0 && py < ch->y1) pic_put(&ch->c, px, py, col);
            }
    }
    if (phase) *phase = p0 + len;
}

/* A marker centred on (cx, cy), clipped to the plot area. */
static void chart_marker(chart *ch, int cx, int cy, clae_png_marker m, rgb col)
{
    for (int oy = -4; oy <= 4; oy++)
        for (int ox = -4; ox <= 4; ox++) {
            int on = 0, d = abs(ox) + abs(oy), r2 = ox * ox + oy * oy;
            if (m == CLAE_PNG_MARK_SQUARE || m == CLAE_PNG_MARK_AUTO) on = abs(ox) <= 2 && abs(oy) <= 2;
            else if (m == CLAE_PNG_MARK_DIAMOND) on = d == 4 || d == 3;
            else if (m == CLAE_PNG_MARK_CIRCLE) on = r2 >= 6 && r2 <= 13;
            int px = cx + ox, py = cy + oy;
            if (on && px > ch->x0 && px < ch->x1 && py > ch->y0 && py < ch->y1) pic_put(&ch->c, px, py, col);
        }
}

/* A colour mixed halfway toward white, for thin background lines. */
static rgb tint(rgb c)
{
    return (rgb){(unsigned char)((c.r + 255) / 2), (unsigned char)((c.g + 255) / 2), (unsigned char)((c.b + 255) / 2)};
}

/* One legend entry: a line sample (with its dash and marker) or a filled box. */
typedef struct legend_entry {
    const char *name;
    rgb col;
    int box;
    int dash, thin;
    clae_png_marker marker;
} legend_entry;

/* A legend box in the top-right corner of the plot area. */
static void chart_legend(chart *ch, const legend_entry *e, size_t k)
{
    int wmax = 0;
    for (size_t i = 0; i < k; i++) {
        int tw = pic_text_width(e[i].name, 1);
        if (tw > wmax) wmax = tw;
    }
    int bw = 8 + 24 + 6 + wmax + 8, bh = 6 + (int)k * 14 + 2;
    int bx = ch->x1 - 8 - bw, by = ch->y0 + 8;
    pic_fill(&ch->c, bx, by, bx + bw, by + bh, WHITE);
    pic_frame(&ch->c, bx, by, bx + bw, by + bh, (rgb){160, 160, 160});
    for (size_t i = 0; i < k; i++) {
        int y = by + 6 + (int)i * 14;
        if (e[i].box) {
            pic_fill(&ch->c, bx + 14, y, bx + 26, y + 8, e[i].col);
        } else {
            /* Drawn through chart_line's clipping, so the sample lies inside the plot area as the legend does. */
            double phase = 0.0;
            chart_line(ch, bx + 8, y + 3, bx + 31, y + 3, e[i].col, e[i].thin, e[i].dash, &phase);
            if (e[i].marker != CLAE_PNG_MARK_NONE && !(e[i].marker == CLAE_PNG_MARK_AUTO && e[i].thin))
                chart_marker(ch, bx + 20, y + 3, e[i].marker, e[i].col);
        }
        pic_text(&ch->c, bx + 38, y, e[i].name, 1, INK);
    }
}

/* Legend text: at most 28 characters so the box stays small. */
#define LEGEND_CHARS 28
/* More points than this and markers go on every k-th point only. */
#define MARKS_MAX 60

int clae_png_plot_lines(const char *path, const char *title, const clae_png_series *series, size_t k,
                        const char *xlabel, const char *ylabel, char *err, size_t errcap)
{
    if (!path) return pic_fail(err, errcap, "png: no output path");
    if (!series || k == 0) return pic_fail(err, errcap, "%s: no series to plot", path);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int whole = 1;
    for (size_t s = 0; s < k; s++) {
        if (series[s].n > 0 && (!series[s].x || !series[s].y))
            return pic_fail(err, errcap, "%s: series %zu has no data arrays", path, s);
        for (size_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
            whole &= x == floor(x);
        }
    }
    if (!(xlo <= xhi)) return pic_fail(err, errcap, "%s: no finite point to plot", path);
    widen(&xlo, &xhi);
    widen(&ylo, &yhi);
    chart ch;
    memset(&ch, 0, sizeof ch);
    if (!pic_canvas_init(&ch.c, CHART_W, CHART_H, WHITE)) return pic_fail(err, errcap, "%s: out of memory", path);
    chart_init_area(&ch);
    ch.xstep = nice_step(xhi - xlo, 8, whole);
    ch.ystep = nice_step(yhi - ylo, 6, 0);
    /* The axes end on ticks, so the data never touches the frame unlabelled. */
    ch.xlo = floor(xlo / ch.xstep) * ch.xstep;
    ch.xhi = ceil(xhi / ch.xstep) * ch.xstep;
    ch.ylo = floor(ylo / ch.ystep) * ch.ystep;
    ch.yhi = ceil(yhi / ch.ystep) * ch.ystep;
    if (ch.xhi <= ch.xlo) ch.xhi = ch.xlo + ch.xstep;
    if (ch.yhi <= ch.ylo) ch.yhi = ch.ylo + ch.ystep;
    chart_axes(&ch, title, xlabel, ylabel);

    /* Thin (dense, background) series first, then the others in order. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t s = 0; s < k; s++) {
            const clae_png_series *se = &series[s];
            if ((se->thin != 0) != (pass == 0)) continue;
            rgb col = se->thin ? tint(PALETTE[s % 8]) : PALETTE[s % 8];
            int have_prev = 0;
            double px = 0, py = 0, phase = 0.0;
            for (size_t i = 0; i < se->n; i++) {
                if (!isfinite(se->x[i]) || !isfinite(se->y[i])) {
                    have_prev = 0;
                    continue;
                }
                double x = map_x(&ch, se->x[i]), y = map_y(&ch, se->y[i]);
                if (have_prev) chart_line(&ch, px, py, x, y, col, se->thin, se->dash, &phase);
                px = x;
                py = y;
                have_prev = 1;
            }
            /* Markers after the whole line, so the line never cuts through them. */
            size_t every = se->n > MARKS_MAX ? (se->n + MARKS_MAX - 1) / MARKS_MAX : 1;
            int marks = se->marker == CLAE_PNG_MARK_AUTO ? se->n <= MARKS_MAX : se->marker != CLAE_PNG_MARK_NONE;
            for (size_t i = 0; marks && i < se->n; i += every)
                if (isfinite(se->x[i]) && isfinite(se->y[i]))
                    chart_marker(&ch, (int)lround(map_x(&ch, se->x[i])), (int)lround(map_y(&ch, se->y[i])),
                                 se->marker, col);
        }

    /* The legend is drawn last so lines pass under it, not through its text. */
    char(*names)[LEGEND_CHARS + 1] = calloc(k, sizeof *names);
    legend_entry *le = calloc(k, sizeof *le);
    int rc;
    if (!names || !le) {
        rc = pic_fail(err, errcap, "%s: out of memory", path);
    } else {
        for (size_t s = 0; s < k; s++) {
            const clae_png_series *se = &series[s];
            snprintf(names[s], sizeof names[s], "%s", se->name ? se->name : "");
            int marks = se->marker == CLAE_PNG_MARK_AUTO ? se->n <= MARKS_MAX : se->marker != CLAE_PNG_MARK_NONE;
            le[s] = (legend_entry){names[s], se->thin ? tint(PALETTE[s % 8]) : PALETTE[s % 8], 0, se->dash, se->thin,
                                   marks ? se->marker : CLAE_PNG_MARK_NONE};
        }
        chart_legend(&ch, le, k);
        rc = pic_save(path, &ch.c, err, errcap);
    }
    free(names);
    free(le);
    free(ch.c.px);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted v[0..n), interpolated as numpy's default. */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]);
}

static const rgb TAIL = {230, 140, 40}; /* the gathered outlier bar */

int clae_png_histogram(const char *path, const char *title, const char *xlabel, const float *values, size_t n,
                       size_t bins, double threshold, unsigned flags, char *err, size_t errcap)
{
    if (!path) return pic_fail(err, errcap, "png: no output path");
    if (!values && n > 0) return pic_fail(err, errcap, "%s: no values", path);
    double lo = INFINITY, hi = -INFINITY;
    size_t nf = 0, above = 0;
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) continue;
        nf++;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        if (isfinite(threshold) && v > threshold) above++;
    }
    if (nf == 0) return pic_fail(err, errcap, "%s: no finite value to draw", path);
    const double vmax = hi;
    /* Where the bulk ends: beyond Q3 + 3·IQR lie only far outliers (Tukey's
     * "far out" fence). A threshold near the bulk stays on the axis; one
     * among the outliers (a percentile when they are more than 100 − Q % of
     * the rows) is drawn on the tail bar. */
    double clip = INFINITY;
    if ((flags & CLAE_PNG_HIST_CLIP_TAIL) && nf >= 4) {
        double *sorted = malloc(nf * sizeof *sorted);
        if (!sorted) return pic_fail(err, errcap, "%s: out of memory", path);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(values[i])) sorted[m++] = values[i];
        qsort(sorted, m, sizeof *sorted, cmp_double);
        double q1 = quantile(sorted, m, 0.25), q3 = quantile(sorted, m, 0.75);
        free(sorted);
        double bulk = q3 + 3.0 * (q3 - q1);
        if (isfinite(threshold) && threshold > bulk && threshold < lo + 2.0 * (bulk - lo)) bulk = threshold;
        if (bulk > lo && hi > lo + 2.0 * (bulk - lo)) clip = lo + 1.1 * (bulk - lo);
    }
    const int clipped = isfinite(clip);
    if (isfinite(threshold)) {
        lo = fmin(lo, threshold);
        hi = fmax(hi, threshold);
    }
    if (clipped) hi = clip;
    const int thr_in_tail = clipped && isfinite(threshold) && threshold >= clip;
    widen(&lo, &hi);
    if (bins == 0) {
        bins = (size_t)lround(sqrt((double)nf));
        if (bins < 10) bins = 10;
        if (bins > 60) bins = 60;
    }
    if (bins > 2000) bins = 2000; /* beyond the plot's width in pixels anyway */
    /* A clipped histogram has one more bin, right of the axis's end: the tail. */
    const size_t nb = bins + (clipped ? 1 : 0);
    size_t *count = calloc(nb, sizeof *count);
    if (!count) return pic_fail(err, errcap, "%s: out of memory", path);
    size_t cmax = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) continue;
        size_t b;
        if (clipped && v >= clip) {
            b = bins;
            tail++;
        } else {
            b = (size_t)((v - lo) / (hi - lo) * (double)bins);
            if (b >= bins) b = bins - 1; /* the maximum itself */
        }
        if (++count[b] > cmax) cmax = count[b];
    }

    chart ch;
    memset(&ch, 0, sizeof ch);
    if (!pic_canvas_init(&ch.c, CHART_W, CHART_H, WHITE)) {
        free(count);
        return pic_fail(err, errcap, "%s: out of memory", path);
    }
    chart_init_area(&ch);
    double bw = (hi - lo) / (double)bins;
    /* The x axis spans the data exactly, so the bars fill the plot; ticks
     * fall on the round values inside. The tail bar sits one bin further. */
    ch.xlo = lo;
    ch.xhi = clipped ? hi + bw : hi;
    ch.xstep = nice_step(hi - lo, 8, 0);
    ch.xtick_limited = clipped;
    ch.xtick_hi = hi;
    ch.ylog = (flags & CLAE_PNG_HIST_LOG_COUNT) != 0;
    if (ch.ylog) {
        /* From 0.5, so a bin of one value has a visible bar. */
        ch.ylo = log10(0.5);
        ch.yhi = ceil(log10((double)(cmax > 1 ? cmax : 2)) - 1e-9);
        if (ch.yhi < 1.0) ch.yhi = 1.0;
        ch.ystep = 1.0;
    } else {
        ch.ylo = 0.0;
        ch.ystep = nice_step((double)cmax, 6, 1);
        ch.yhi = ceil((double)cmax / ch.ystep) * ch.ystep;
        if (ch.yhi <= 0.0) ch.yhi = ch.ystep;
    }
    chart_axes(&ch, title, xlabel, ch.ylog ? "COUNT (LOG)" : "COUNT");

    for (size_t b = 0; b < nb; b++) {
        if (!count[b]) continue;
        int x0 = (int)lround(map_x(&ch, lo + (double)b * bw)), x1 = (int)lround(map_x(&ch, lo + (double)(b + 1) * bw));
        if (x1 - x0 >= 4) x1--; /* a 1-pixel gap between wide bars */
        if (x1 <= x0) x1 = x0 + 1;
        double h = ch.ylog ? log10((double)count[b]) : (double)count[b];
        int y = (int)lround(map_y(&ch, h));
        if (y >= ch.y1) y = ch.y1 - 1; /* a bin with one value in thousands still shows */
        pic_fill(&ch.c, x0 + 1, y, x1, ch.y1, b == bins ? TAIL : BAR);
    }
    free(count);

    char l0[64], l1[64], l2[64];
    snprintf(l0, sizeof l0, "VALUES (N=%zu)", nf);
    legend_entry le[3];
    size_t nleg = 0;
    le[nleg++] = (legend_entry){l0, BAR, 1, 0, 0, CLAE_PNG_MARK_NONE};
    if (isfinite(threshold)) {
        int x = (int)lround(map_x(&ch, thr_in_tail ? hi + bw / 2 : threshold));
        pic_fill(&ch.c, x, ch.y0 + 1, x + 2, ch.y1, THRESH);
        snprintf(l1, sizeof l1, "THRESHOLD %.4g%s: %zu ABOVE", threshold, thr_in_tail ? " (LAST BAR)" : "", above);
        le[nleg++] = (legend_entry){l1, THRESH, 0, 0, 0, CLAE_PNG_MARK_NONE};
    }
    if (clipped) {
        snprintf(l2, sizeof l2, "TAIL: %zu FROM %.3g TO %.3g", tail, clip, vmax);
        le[nleg++] = (legend_entry){l2, TAIL, 1, 0, 0, CLAE_PNG_MARK_NONE};
    }
    chart_legend(&ch, le, nleg);
    int rc = pic_save(path, &ch.c, err, errcap);
    free(ch.c.px);
    return rc;
}
