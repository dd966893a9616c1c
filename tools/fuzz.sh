#!/bin/sh
# Builds a libFuzzer target for each reader (IDX, CSV, .npy, safetensors)
# with Debian's clang 19 and runs each for a given time.
#   tools/fuzz.sh [seconds per target (default 600)] [target ...]
#   FUZZ_SANITIZE=unsigned-integer-overflow tools/fuzz.sh 300
# Targets: idx csv npy safetensors. Each starts from the small seeds in
# tools/fuzz/corpus/<target> and keeps what it finds in build-fuzz/corpus;
# a crash is written to build-fuzz/crashes/<target>-* and ends that run.
# The readers include nothing of the expression core, so clang builds them
# alone. The last line per target is libFuzzer's "Done N runs in S second(s)".
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-idx csv npy safetensors}
sanitize=${FUZZ_SANITIZE:-address,undefined}

need=""
for p in clang-19 libclang-rt-19-dev zlib1g-dev nlohmann-json3-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  echo "fuzz: installing$need"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # shellcheck disable=SC2086
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $need >/dev/null
fi

extra=""
case "$sanitize" in
  *unsigned-integer-overflow*) extra="-fsanitize-ignorelist=tools/fuzz/unsigned_ignorelist.txt" ;;
esac
out=build-fuzz
mkdir -p "$out/crashes"
for t in $targets; do
  bin="$out/fuzz_$t-$(echo "$sanitize" | tr ',' '_')"
  # shellcheck disable=SC2086
  clang++-19 -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,"$sanitize" -fno-sanitize-recover=all $extra \
    -Iinclude "tools/fuzz/fuzz_$t.cpp" -lz -o "$bin"
  mkdir -p "$out/corpus/$t"
  echo "fuzz: $t for ${seconds}s ($sanitize)"
  "$bin" "$out/corpus/$t" "tools/fuzz/corpus/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -timeout=10 -artifact_prefix="$out/crashes/$t-" -print_final_stats=1 2>"$out/$t.log" || {
    echo "fuzz: $t FOUND A CRASH (see $out/$t.log and $out/crashes/)"
    tail -40 "$out/$t.log"
    exit 1
  }
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$out/$t.log" | tr '\n' ' '
  echo
done
