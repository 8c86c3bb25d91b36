#!/bin/sh
# run.sh — `make fuzz`'s runner: each harness in turn for RUNS executions on a copy of its seed corpus,
# then one line per harness with executions, coverage (libFuzzer's cov:/ft:) and the result.
# Usage: tests/fuzz/run.sh BUILD RUNS TIMEOUT TARGET...   (BUILD holds the fuzz_TARGET binaries)
set -u
build=$1 runs=$2 timeout=$3
shift 3

# The longest input per format: enough for every structure the reader knows (a few tensors, a
# multi-line CSV, an NPY header and rows) while keeping executions fast.
max_len() {
    case $1 in
    safetensors) echo 4096 ;;
    csv) echo 2048 ;;
    cache) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

failed=0
summary=""
for t in "$@"; do
    bin=$build/fuzz_$t
    work=$build/corpus/$t # new inputs land here, never in the committed seeds
    art=$build/artifacts/$t
    log=$build/fuzz_$t.log
    mkdir -p "$work" "$art"
    echo "fuzz_$t: $runs runs, max_len $(max_len "$t"), log $log"
    # -rss_limit_mb: a reader that holds more than this for a few KB of input is a finding;
    # -malloc_limit_mb above ASan's cap (fuzz_common.h) so that cap answers first, as malloc would.
    "$bin" -seed=1 -runs="$runs" -max_len="$(max_len "$t")" -timeout="$timeout" -rss_limit_mb=2560 \
        -malloc_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc; artifacts in $art, see $log)"
        failed=1
    fi
    line=$(printf 'fuzz_%-12s execs %-9s cov %-5s ft %-6s %4ss  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${secs:-?}" "$result")
    echo "$line"
    summary="$summary$line
"
done
echo "---- fuzz summary ($(date -u +%Y-%m-%d)) ----"
printf '%s' "$summary"
exit $failed
