#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ one after the other, on one core, and fails when a target finds
# a crash, a panic, a timeout or a memory blow-up.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
#   The default, 20 seconds for each of the 6 targets, is the short run of the test command. For a
#   long run pass a larger number, for example `scripts/fuzz.sh 1800`.
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizers). Installs cargo-fuzz when it is
# missing. Corpora live in fuzz/corpus/<target> (not committed) and are seeded from fuzz/seeds/
# and tests/fixtures/ on every run. Crash inputs land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds_per_target="${1:-20}"
cargo_fuzz_version="0.13.2"
targets=(stage_status agent_status settings rules delivery_settings template)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: the nightly Rust toolchain is missing: install it with 'rustup toolchain install nightly'" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

# Writes one seed: the selector line, a newline, then the file's bytes.
seed() {
  local target="$1" selector="$2" file="$3"
  local name
  name="fixture-$(basename "$(dirname "$file")")-$(basename "$file")-$selector"
  { printf '%s\n' "$selector"; cat "$file"; } >"fuzz/corpus/$target/$name"
}

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  cp fuzz/seeds/"$target"/* "fuzz/corpus/$target/"
done

# Fixture bodies, each under every API version that could carry it. The 200 KB bench body is left
# out: libFuzzer sizes its inputs after the largest seed, and executions that large are slow.
shopt -s nullglob
for file in tests/fixtures/stage-status/* tests/fixtures/bench/flat.json \
  tests/fixtures/bench/api-4.0-2k.json tests/fixtures/bench/api-4.0-20k.json; do
  for version in 1.0 2.0 3.0 4.0; do
    seed stage_status "$version" "$file"
  done
done
for file in tests/fixtures/agent-status/*; do
  for version in 3.0 4.0; do
    seed agent_status "$version" "$file"
  done
done
for file in tests/fixtures/settings/*; do
  for selector in validate changed stored; do
    seed settings "$selector" "$file"
  done
done
shopt -u nullglob

# The sanitizer build of every dependency takes many minutes, so it lives outside the checkout
# where later runs and fresh clones on the same machine can reuse it.
target_dir="${HERALD_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/herald/fuzz-target}"
echo "fuzz: building ${#targets[@]} targets in $target_dir"
cargo +nightly fuzz build --target-dir "$target_dir"

for target in "${targets[@]}"; do
  echo "fuzz: running $target for ${seconds_per_target}s"
  # One job on one core, as the machine is shared. -timeout counts one input, in seconds.
  cargo +nightly fuzz run --target-dir "$target_dir" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds_per_target" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: no crash in ${#targets[@]} targets after ${seconds_per_target}s each"
