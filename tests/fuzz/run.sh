#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the libFuzzer targets (clang, ASan+UBSan, in
# build-fuzz/) and runs one, or all of them, for a bounded time.
#   tests/fuzz/run.sh TARGET SECONDS   one target (fuzz_request, ... or "all")
#   tests/fuzz/run.sh list             the targets
# Each run starts from the seed corpus tests/fuzz/corpus/TARGET and the
# regression inputs tests/fuzz/regress/TARGET (crashes found before, which
# must stay fixed); what it finds new goes to build-fuzz/corpus/TARGET, a
# crash, leak or sanitizer report to build-fuzz/findings/, and the exit
# status is then 1. It prints, per target, "ok" with the executions per
# second and the coverage (edges, features) reached, or "FAIL" with the
# report's summary, then "N passed, N failed". (clang warns of positional
# initializers that leave members out, which the code does on purpose;
# every other warning is an error here too.)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

FUZZ_BUILD=${UMS_FUZZ_BUILD:-$ROOT/build-fuzz}
HERE=$ROOT/tests/fuzz
TARGETS=$(sed -n 's|.*tests/fuzz/\(fuzz_[a-z_]*\).*|\1|p' "$HERE/local.am" | sed -n '1,/^$/p' |
    sort -u | tr '\n' ' ')

usage() { die "usage: tests/fuzz/run.sh TARGET|all SECONDS (targets: $TARGETS)"; }

build_fuzz() {
    command -v clang >/dev/null || die "clang is not installed (apt-get install clang libclang-rt-14-dev)"
    if [ ! -x "$ROOT/configure" ] || [ "$ROOT/configure.ac" -nt "$ROOT/configure" ]; then
        (cd "$ROOT" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed"
    fi
    mkdir -p "$FUZZ_BUILD"
    if [ ! -f "$FUZZ_BUILD/Makefile" ]; then
        say "configure ($FUZZ_BUILD) CC=clang --enable-fuzzing"
        (cd "$FUZZ_BUILD" && CC=clang CFLAGS="-g -O1 -Wno-missing-field-initializers" "$ROOT/configure" -q --enable-werror \
            --enable-fuzzing 2>&1 | { grep -v "cannot remove 'core'" || true; }) ||
            die "configure failed"
    fi
    local goals=()
    for t in $TARGETS; do goals+=("tests/fuzz/$t"); done
    make -s -C "$FUZZ_BUILD" -j2 "${goals[@]}" \
        >"$FUZZ_BUILD/build.log" 2>&1 || { tail -n 40 "$FUZZ_BUILD/build.log"; die "building the fuzz targets failed"; }
}

# run TARGET SECONDS: 0 when nothing was found.
run_one() {
    local t=$1 secs=$2 work="$FUZZ_BUILD/corpus/$1" out="$FUZZ_BUILD/findings/$1" log
    local dirs=("$work" "$HERE/corpus/$t")
    mkdir -p "$work" "$out"
    log="$out/run.log"
    [ -d "$HERE/regress/$t" ] && dirs+=("$HERE/regress/$t")
    [ -d "$HERE/corpus/$t" ] || die "no seed corpus for $t ($HERE/corpus/$t)"
    # Leaks count (detect_leaks), sanitizer reports abort; -rss_limit_mb and
    # -timeout bound each input; -max_total_time bounds the run.
    if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$FUZZ_BUILD/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$out/" \
        -dict="$HERE/ums.dict" "${dirs[@]}" >"$log" 2>&1; then
        awk -v t="$t" '
            /^#[0-9]+/ && / cov: / { for (i = 1; i <= NF; i++) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1); if ($i == "corp:") corp = $(i + 1) } }
            /stat::number_of_executed_units/ { runs = $2 }
            /stat::average_exec_per_sec/ { eps = $2 }
            /stat::peak_rss_mb/ { rss = $2 }
            END { printf "ok   %-14s %10d runs %8d exec/s  cov %5d edges  ft %6d  corpus %s  rss %d MB\n", t, runs, eps, cov, ft, corp, rss }' "$log"
        return 0
    fi
    echo "FAIL $t: a crash, leak or sanitizer report (log: $log)"
    grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written|deadly signal' "$log" | head -n 20 || tail -n 30 "$log"
    return 1
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
    echo "$TARGETS"
    exit 0
fi
[ $# -eq 2 ] || usage
case $2 in '' | *[!0-9]*) usage ;; esac
build_fuzz
if [ "$1" = all ]; then
    set -- "$TARGETS" "$2"
else
    case " $TARGETS " in *" $1 "*) ;; *) usage ;; esac
fi
passed=0 failed=0
for t in $1; do
    if run_one "$t" "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
