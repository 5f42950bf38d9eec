#!/usr/bin/env bash
# Builds the libFuzzer targets of the core (clang, ASan + UBSan) into build/fuzz and runs each
# for FUZZ_SECONDS (default 30) on a scratch copy of its seed corpus, so the repository is
# never modified. One line per target; exit status 1 when any target failed.
#
#   bash tests/fuzz/run.sh                         all targets
#   FUZZ_SECONDS=10 bash tests/fuzz/run.sh postcode keyring
#
# Environment: FUZZ_SECONDS (per target), FUZZ_JOBS (targets run at once, default: CPUs),
# FUZZ_MAX_LEN (default 256), FUZZ_BUILD_ONLY=1 (build, run nothing: scripts/test builds while
# other stages run and fuzzes later, when the CPUs are free). Logs: build/fuzz/logs/<target>.log;
# a crashing input is saved under build/fuzz/artifacts/<target>/ (add it to
# tests/fuzz/corpus/<target>/ once fixed).
set -uo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd -- "$here/../.." && pwd -P)"
build="$root/build/fuzz"
seconds="${FUZZ_SECONDS:-30}"
max_len="${FUZZ_MAX_LEN:-256}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
all_targets=(postcode pseudo_id name_normalise keyring csv)

if ! [[ "$seconds" =~ ^[1-9][0-9]*$ && "$max_len" =~ ^[1-9][0-9]*$ && "$jobs" =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz: FUZZ_SECONDS, FUZZ_MAX_LEN and FUZZ_JOBS must be positive whole numbers" >&2
	exit 2
fi

(($# > 0)) || set -- "${all_targets[@]}"
targets=()
for arg in "$@"; do
	name="${arg#fuzz_}"
	known=no
	for t in "${all_targets[@]}"; do
		[[ "$t" == "$name" ]] && known=yes
	done
	if [[ $known == no ]]; then
		echo "fuzz: unknown target \"$arg\" (targets: ${all_targets[*]})" >&2
		exit 2
	fi
	targets+=("$name")
done

mkdir -p "$build/logs"
build_log="$build/logs/build.log"
if ! CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DOUTREACH_FUZZ=ON >"$build_log" 2>&1 ||
	! cmake --build "$build" --parallel "$jobs" --target "${targets[@]/#/fuzz_}" >>"$build_log" 2>&1; then
	echo "fuzz: build FAILED (log: $build_log)"
	tail -n 20 "$build_log"
	exit 1
fi
[[ "${FUZZ_BUILD_ONLY:-0}" == 1 ]] && exit 0

scratch="$(mktemp -d "${TMPDIR:-/tmp}/outreach-fuzz.XXXXXX")"
trap 'rm -rf -- "$scratch"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

run_one() {
	local t="$1" log="$build/logs/$1.log" artifacts="$build/artifacts/$1/"
	rm -rf -- "$artifacts"
	mkdir -p "$artifacts" "$scratch/$t"
	cp -R "$here/corpus/$t" "$scratch/$t/corpus"
	(cd "$scratch/$t" && "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$max_len" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
		"$scratch/$t/corpus") >"$log" 2>&1
	echo $? >"$scratch/$t/rc"
}

# Run up to $jobs targets at once, then report in the order given.
running=0
for t in "${targets[@]}"; do
	if ((running >= jobs)); then
		wait -n
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait

failed=0
for t in "${targets[@]}"; do
	log="$build/logs/$t.log"
	rc="$(cat "$scratch/$t/rc" 2>/dev/null || echo 1)"
	if [[ "$rc" == 0 ]] && ! grep -qE '^SUMMARY: |ERROR: (Address|Leak|Undefined)Sanitizer|runtime error: |property violated' "$log"; then
		runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
		echo "fuzz $t: ok (${runs:-?} runs)"
	else
		failed=1
		echo "fuzz $t: FAILED (exit $rc; log: $log)"
		tail -n 25 "$log" | sed 's/^/    /'
		for f in "$build/artifacts/$t"/*; do
			[[ -e "$f" ]] && echo "    input saved: $f"
		done
	fi
done
exit "$failed"
