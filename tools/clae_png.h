/* clae_png.h — the CLI's pictures: image grids (originals above reconstructions), line charts of the
 * loss curves and score histograms, drawn into memory and written as PNG through libpng. */
#ifndef CLAE_PNG_H
#define CLAE_PNG_H

#include <stddef.h>

/* Every function returns 0 on success, or non-zero with a message naming the
 * path in err (errcap bytes, may be 0 with err NULL). Files are written to
 * "<path>.tmp.<pid>" and renamed, so a failed or interrupted write never
 * leaves half a PNG under the final name. Text is drawn in a built-in 5×7
 * font of digits, capital letters and common punctuation; lower-case letters
 * are shown as capitals and characters without a glyph as '?'. */

/* A grid of n grayscale images, each h × w floats row-major in [0,1] (values
 * outside are clamped, NaN is drawn black), `cols` images per grid row (0:
 * about square). Images are separated and framed by 1-pixel lines in a blue
 * grey that no grayscale pixel can be mistaken for; images no larger than
 * 32×32 are drawn at ×2 so 28×28 digits stay legible. RGB PNG. */
int clae_png_write_gray_grid(const char *path, const float *images, size_t n, size_t h, size_t w, size_t cols,
                             char *err, size_t errcap);

/* Originals above their reconstructions: n pairs (orig[i], recon[i], each
 * h × w in [0,1]), `per_row` pairs across (0: up to 10). Each group is two
 * grid rows — originals on top, their reconstructions directly below — with
 * a thicker gap between groups and "ORIG" / "RECON" written at the left of
 * the rows. Same pixel rules as clae_png_write_gray_grid. */
int clae_png_write_pairs(const char *path, const float *orig, const float *recon, size_t n, size_t h, size_t w,
                         size_t per_row, char *err, size_t errcap);

/* How a series marks its points. */
typedef enum clae_png_marker {
    CLAE_PNG_MARK_AUTO = 0, /* a filled square at each point when the series has at most 60 */
    CLAE_PNG_MARK_NONE,
    CLAE_PNG_MARK_SQUARE,   /* filled */
    CLAE_PNG_MARK_DIAMOND,  /* hollow, so a square under it still shows */
    CLAE_PNG_MARK_CIRCLE    /* hollow */
} clae_png_marker;

/* One line of a chart: n points (x[i], y[i]); a non-finite point breaks the
 * line. The style fields may all be left 0 (a solid line in the series'
 * colour, AUTO markers). */
typedef struct clae_png_series {
    const char *name; /* legend text */
    const double *x;
    const double *y;
    size_t n;
    clae_png_marker marker; /* an explicit marker is drawn at every point, or at
                               every k-th when there are more than 60 */
    int dash;               /* 0: solid; else dashes of this many pixels, gaps of 2/3 that */
    int thin;               /* 1: a 1-pixel line in a lighter tint, drawn beneath the
                               other series (dense per-step data) */
} clae_png_series;

/* A 640×400 RGB line chart of k series (up to 8 distinct colours, then they
 * repeat) with a title, axes, "nice" ticks (1, 2 or 5 × 10^k; whole numbers
 * only when every x is whole, as for epochs), light grid lines, the axis
 * labels (either may be NULL) and a legend showing each series' colour, dash
 * and marker. Series are drawn in order (thin ones first), so a later one
 * lies on top where two coincide: give them different dashes and markers to
 * keep both visible. Fails if no series has a finite point. */
int clae_png_plot_lines(const char *path, const char *title, const clae_png_series *series, size_t k,
                        const char *xlabel, const char *ylabel, char *err, size_t errcap);

/* Options of clae_png_histogram. */
#define CLAE_PNG_HIST_LOG_COUNT 1u /* counts on a log axis (1, 10, 100, ...), so a bin of
                                      one value stays visible beside bins of thousands */
#define CLAE_PNG_HIST_CLIP_TAIL 2u /* when a tail of outliers would squeeze the bulk into
                                      less than half the width, the x axis ends a little
                                      past the bulk (the larger of the threshold and
                                      Q3 + 3·IQR) and every value beyond is counted in
                                      one last bar of another colour, with its range
                                      in the legend */

/* A 640×400 RGB histogram of the finite values among values[0..n) in `bins`
 * equal bins (0: about √n, 10 to 60) spanning their range, with count ticks,
 * the x-axis label (may be NULL) and, when threshold is finite, a red vertical
 * line there and a legend giving the threshold and how many values lie above
 * it. flags: CLAE_PNG_HIST_* or 0. Fails if no value is finite. */
int clae_png_histogram(const char *path, const char *title, const char *xlabel, const float *values, size_t n,
                       size_t bins, double threshold, unsigned flags, char *err, size_t errcap);

#endif
