#!/usr/bin/env bash
# Build memdump twice and run every test (unit and end-to-end) in both builds:
#   build/       warnings are errors (-DMEMDUMP_WERROR=ON)
#   build-asan/  AddressSanitizer + UBSan (-DMEMDUMP_SANITIZE=ON), leak detection on
# Exits non-zero as soon as a build or a test run fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

run() {
	echo "+ $*"
	"$@"
}

run cmake -B build -DMEMDUMP_WERROR=ON
run cmake --build build -j"$JOBS"
run ctest --test-dir build --output-on-failure

run cmake -B build-asan -DMEMDUMP_WERROR=ON -DMEMDUMP_SANITIZE=ON
run cmake --build build-asan -j"$JOBS"
# abort_on_error gives a core-like stop at the first report instead of a log line
# that a passing exit status could hide
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	run ctest --test-dir build-asan --output-on-failure

echo "all tests passed in build/ and build-asan/"
