#!/usr/bin/env bash
# bench_scale.sh — `make bench-scale`: how data-parallel training scales on this machine, one process against
# mpirun -np 2 --mpi and one device against --devices X,X, on cpu-ref and on PoCL, in interleaved rounds.
#
# Environment: BUILD (build), ROUNDS (5), DATA (Fashion-MNIST t10k images), CLAE_DATA_DIR, REF_LIMIT/REF_EPOCHS
# (cpu-ref's rows and epochs: 4000, 1), OCL_LIMIT/OCL_EPOCHS (PoCL's: 10000, 3), OCL_DEVICE (cpu), BATCH (256),
# LAYERS (784,256,64). Each round runs, per device, the single run, then the MPI pair's and the --devices pair's
# second halves, so each ratio compares runs seconds apart under the same load. Bash: arrays.
set -eu

BUILD=${BUILD:-build}
CLAE=$BUILD/clae
ROUNDS=${ROUNDS:-5}
DATA=${DATA:-${CLAE_DATA_DIR:-/usr/share/datasets/fashion-mnist}/t10k-images-idx3-ubyte.gz}
REF_LIMIT=${REF_LIMIT:-4000}
REF_EPOCHS=${REF_EPOCHS:-1}
OCL_LIMIT=${OCL_LIMIT:-10000}
OCL_EPOCHS=${OCL_EPOCHS:-3}
OCL_DEVICE=${OCL_DEVICE:-cpu}
BATCH=${BATCH:-256}
LAYERS=${LAYERS:-784,256,64}

[ -x "$CLAE" ] || { echo "bench-scale: $CLAE is not built (make $CLAE)" >&2; exit 1; }
[ -r "$DATA" ] || { echo "bench-scale: no data at $DATA (set DATA or CLAE_DATA_DIR)" >&2; exit 1; }
[ "$ROUNDS" -ge 3 ] || { echo "bench-scale: ROUNDS=$ROUNDS: at least 3, for a median" >&2; exit 1; }

# mpirun refuses root unless told; only then, so a normal user's environment is left alone.
ASROOT=()
if [ "$(id -u)" = 0 ]; then ASROOT=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1); fi
MPIRUN=("${ASROOT[@]}" mpirun -np 2 --oversubscribe)
have_mpi=1
if ! command -v mpirun >/dev/null 2>&1; then
    echo "bench-scale: mpirun is not on PATH: the MPI rows are left out (apt-get install openmpi-bin libopenmpi-dev)"
    have_mpi=0
elif "${ASROOT[@]}" mpirun -np 1 "$CLAE" train --mpi --device cpu-ref --data "$DATA" --limit 2 \
        --batch 2 --steps 1 --layers 784,4 -q 2>&1 | grep -q "built without MPI"; then
    echo "bench-scale: $CLAE was built without MPI: the MPI rows are left out"
    have_mpi=0
fi

flags() { # device → the workload's flags on it
    if [ "$1" = cpu-ref ]; then l=$REF_LIMIT e=$REF_EPOCHS; else l=$OCL_LIMIT e=$OCL_EPOCHS; fi
    echo "train --data $DATA --limit $l --epochs $e --batch $BATCH --layers $LAYERS --seed 1 --test-limit 100 -q --json"
}

key() { # json key → the number (the JSON is one line)
    sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"
}

# A run's JSON, or a stop with its stderr: a failed run must not become a figure.
run() {
    local out
    if ! out=$("$@" 2>/tmp/bench-scale.err.$$); then
        echo "bench-scale: failed: $*" >&2
        cat /tmp/bench-scale.err.$$ >&2
        rm -f /tmp/bench-scale.err.$$
        exit 1
    fi
    rm -f /tmp/bench-scale.err.$$
    printf '%s\n' "$out" | grep '^{' | tail -n 1
}

cores=$(nproc)
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "machine: $cores cores ($(grep -c '^processor' /proc/cpuinfo) logical CPUs listed), ${model:-unknown CPU}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clae: $CLAE; $ROUNDS interleaved rounds"
echo "commands (DEV = cpu-ref, then $OCL_DEVICE):"
for dev in cpu-ref "$OCL_DEVICE"; do
    f=$(flags "$dev")
    echo "  $CLAE $f --device $dev"
    [ $have_mpi = 0 ] || echo "  ${MPIRUN[*]} $CLAE $f --device $dev --mpi"
    echo "  $CLAE $f --devices $dev,$dev"
done
echo "note: PoCL runs its kernels on all $cores cores in one process, so two PoCL ranks (or two PoCL devices in one"
echo "      process) share the same cores and cannot scale here; cpu-ref runs on one thread, so two of them can."
echo

# Untimed, once: the OpenCL device compiles its programs and times its GEMM tiles for each batch shape (the full
# batch, the half one of a two-part split, the short last one) on first sight, which round 1 would otherwise pay.
read -r -a f <<<"$(flags "$OCL_DEVICE")"
run "$CLAE" "${f[@]}" --device "$OCL_DEVICE" --epochs 1 >/dev/null
run "$CLAE" "${f[@]}" --devices "$OCL_DEVICE,$OCL_DEVICE" --epochs 1 >/dev/null

declare -A sps share
for ((r = 1; r <= ROUNDS; r++)); do
    for dev in cpu-ref "$OCL_DEVICE"; do
        read -r -a f <<<"$(flags "$dev")"
        j=$(run "$CLAE" "${f[@]}" --device "$dev")
        sps[$dev,1,$r]=$(key "$j" samples_per_sec)
        if [ $have_mpi = 1 ]; then
            j=$(run "${MPIRUN[@]}" "$CLAE" "${f[@]}" --device "$dev" --mpi)
            sps[$dev,mpi,$r]=$(key "$j" samples_per_sec)
            share[$dev,$r]=$(awk -v c="$(key "$j" comm_seconds)" -v t="$(key "$j" train_seconds)" \
                'BEGIN { printf "%.3f", (t > 0 ? c / t : 0) }')
        fi
        j=$(run "$CLAE" "${f[@]}" --devices "$dev,$dev")
        sps[$dev,dev,$r]=$(key "$j" samples_per_sec)
        echo "round $r $dev: 1 process ${sps[$dev,1,$r]}/s, mpirun -np 2 ${sps[$dev,mpi,$r]:--}/s" \
            "(comm share ${share[$dev,$r]:--}), --devices $dev,$dev ${sps[$dev,dev,$r]}/s"
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -g | head -n 1; }

echo
printf '%-34s %12s %15s %12s %12s\n' config "min samp/s" "median samp/s" efficiency "comm share"
for dev in cpu-ref "$OCL_DEVICE"; do
    for kind in 1 mpi dev; do
        [ $kind != mpi ] || [ $have_mpi = 1 ] || continue
        case $kind in
            1) name="$dev, 1 process" ;;
            mpi) name="$dev, mpirun -np 2 --mpi" ;;
            dev) name="$dev, --devices $dev,$dev" ;;
        esac
        vals=() ratios=() shares=()
        for ((r = 1; r <= ROUNDS; r++)); do
            vals+=("${sps[$dev,$kind,$r]}")
            # The efficiency: this round's pair, samples/s(2) / (2 samples/s(1)).
            [ $kind = 1 ] || ratios+=("$(awk -v a="${sps[$dev,$kind,$r]}" -v b="${sps[$dev,1,$r]}" \
                'BEGIN { printf "%.3f", a / (2 * b) }')")
            [ $kind != mpi ] || shares+=("${share[$dev,$r]}")
        done
        mn=$(printf '%s\n' "${vals[@]}" | minimum)
        md=$(printf '%s\n' "${vals[@]}" | median)
        eff=-
        [ $kind = 1 ] || eff=$(printf '%s\n' "${ratios[@]}" | median)
        sh=-
        [ $kind != mpi ] || sh=$(printf '%s\n' "${shares[@]}" | median)
        printf '%-34s %12.0f %15.0f %12s %12s\n' "$name" "$mn" "$md" "$eff" "$sh"
    done
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows the 2-part runs most)"
echo "efficiency: the median over rounds of samples/s(2 parts) / (2 x samples/s(1 process)) within a round (1.0: linear)."
echo "comm share: rank 0's seconds in MPI_Allreduce (waiting for the slower rank included) / its training loop's seconds."
