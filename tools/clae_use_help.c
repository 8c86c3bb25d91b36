/* clae_use_help.c — the --help texts of encode, score and reconstruct (tools/clae_use.c), kept apart so
 * the commands' code stays short. */
#include "clae_cli.h"

#define USE_COMMON_HELP                                                                                 \
    "  --model PATH            a model file or checkpoint written by clae train;\n"                 \
    "                          its stored scaling is applied to the data first;\n"                    \
    "                          or weights alone (layers.<i>.weight out x in and\n"                    \
    "                          layers.<i>.bias, as safetensors.torch.save_file\n"                     \
    "                          writes a PyTorch model's), whose architecture comes\n"                 \
    "                          from the three flags below\n"                                          \
    "  --layers L --activation A --output-activation A\n"                                             \
    "                          a weights-only model's widths (default: read from\n"                   \
    "                          the tensors) and units (default relu, sigmoid)\n"                      \
    "  --data PATH             IDX, CSV (header optional) or NPY (float32, float64,\n"              \
    "                          uint8), any of them gzip'd, or - for stdin: rows as\n"               \
    "                          wide as the input once columns are dropped; bytes\n"                 \
    "                          (IDX, uint8) are divided by 255, all else is as stored\n"            \
    CLI_DATA_FLAGS_HELP                                                                                 \
    "  --limit N               use only the first N rows\n"                                           \
    "  --device SPEC           P:D, gpu, cpu, cpu-ref or a device name part\n"                       \
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"             \
    "  --json                  the summary as one JSON object on stdout (below)\n"                \
    "  --quiet, -q             nothing on stderr but errors\n"                                       \
    "  --help                  show this help\n"

const char cli_encode_help[] =
    "usage: clae encode --model M --data P --out FILE [--layer L] [options]\n"
    "\n"
    "Writes the deep features of every row of P (h2o.deepfeatures): the activations\n"
    "of layer L of the model, one row per data row. A summary line goes to stderr;\n"
    "--json prints {model, data, out, format, rows, layer, code_layer, width,\n"
    "layers} on stdout instead.\n"
    "\n"
    "  --out FILE              codes.csv (a header f0,f1,... then a line per row,\n"
    "                          numbers that read back as the same floats) or\n"
    "                          codes.npy (float32, rows x width), by the extension\n"
    "  --layer L               whose outputs: 1 (the first hidden layer) to the\n"
    "                          number of weight layers (the last is the\n"
    "                          reconstruction); default the code layer\n" USE_COMMON_HELP
    "\n"
    "Exit status: 0 success, 1 a file, data or device error, 2 a bad command line.\n";

const char cli_score_help[] =
    "usage: clae score --model M --data P [--out scores.csv]\n"
    "                  [--threshold-percentile Q] [--plot hist.png] [--json]\n"
    "\n"
    "Scores every row of P by its reconstruction error (h2o.anomaly): the MSE\n"
    "(1/D) sum_i (xhat_i - x_i)^2 over the D columns, in the model's scaled space.\n"
    "Rows scoring above the Q-th percentile of all scores are flagged; the percentile\n"
    "interpolates linearly between the sorted scores, as numpy.percentile does by\n"
    "default: position (Q/100)(n-1) in the sorted list.\n"
    "\n"
    "  --out FILE              CSV of columns row,score,flagged: row counts the data\n"
    "                          rows from 0; flagged is 1 when score > threshold;\n"
    "                          with --label-column a fourth column, label, holds it\n"
    "  --threshold-percentile Q  a number from 0 to 100 (default 99)\n"
    "  --nll                   variational models: score by -log p(x) in nats, the\n"
    "                          importance-weighted estimate of --samples draws\n"
    "                          (Burda et al. 2015) instead of the MSE\n"
    "  --recon-prob            variational models: score by minus the reconstruction\n"
    "                          probability of An & Cho (2015), the mean log p(x|z)\n"
    "                          over --samples draws z ~ q(z|x)\n"
    "  --samples K             draws per row for --nll and --recon-prob (default 64)\n"
    "  --plot FILE             PNG histogram of the scores with the threshold line,\n"
    "                          counts on a log scale so single rows stay visible; a\n"
    "                          tail of outliers far beyond the threshold is gathered\n"
    "                          into one last bar so the bulk keeps the width\n"
    "  (--json: model, data, layers, rows, mean, min, max, percentile, threshold,\n"
    "                          flagged, and out and plot when written)\n" USE_COMMON_HELP
    "\n"
    "The summary (rows, mean, min, max, threshold, flagged count) goes to stdout.\n"
    "Exit status: 0 success, 1 a file, data or device error, 2 a bad command line.\n";

const char cli_reconstruct_help[] =
    "usage: clae reconstruct --model M --data P --out grid.png|recon.csv|recon.npy\n"
    "                        [--count N] [--first K] [options]\n"
    "\n"
    "Reconstructs rows of P with the model and maps them back through the model's\n"
    "stored scaling (the inverse of train --scale: x = x'/scale + offset per\n"
    "column) into the data's own units, the units P is loaded in.\n"
    "\n"
    "As a PNG (--out *.png): rows drawn as square grayscale images, each original\n"
    "above its reconstruction; the data's width must be a square number (784 =\n"
    "28x28). Pixels are clamped to [0,1]; when the originals shown lie outside\n"
    "[0,1] (e.g. 0..255 pixels), both are first mapped from the originals' range\n"
    "onto [0,1]. As CSV (*.csv: the data's own CSV header, else x0,x1,..., then\n"
    "one line per row, numbers that read back as the same floats) or NPY (*.npy:\n"
    "float32, rows x width): the reconstructions themselves, unclamped, one row\n"
    "per data row.\n"
    "\n"
    "  --out FILE              the file to write; its extension picks the format\n"
    "  --count N               how many rows (default 16 for a PNG, every row from\n"
    "                          --first on for CSV and NPY)\n"
    "  --first K               start at row K, counting from 0 (default 0)\n"
    "  (--json: model, data, out, format, first, rows, cols, scale, layers)\n" USE_COMMON_HELP
    "\n"
    "Exit status: 0 success, 1 a file, data or device error, 2 a bad command line.\n";
