#!/bin/sh
# compile_fail.sh SOURCE EXPECT1 EXPECT2 -- COMPILER ARGS...
# Passes when SOURCE fails to compile and the compiler's output contains both
# expected strings within its first 40 lines (a readable error comes first).
src=$1; expect1=$2; expect2=$3; shift 3
[ "$1" = "--" ] && shift
out=$("$@" "$src" 2>&1)
status=$?
if [ $status -eq 0 ]; then
  echo "FAIL: $src compiled, but it must not"
  exit 1
fi
head=$(printf '%s\n' "$out" | head -n 40)
for want in "$expect1" "$expect2"; do
  if ! printf '%s\n' "$head" | grep -qF -- "$want"; then
    echo "FAIL: the first 40 lines of the compiler output lack: $want"
    printf '%s\n' "$out" | head -n 40
    exit 1
  fi
done
echo "ok: $src is rejected with the expected message"
printf '%s\n' "$head" | grep -F -e "error" | head -n 3
