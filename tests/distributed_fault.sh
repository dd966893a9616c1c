#!/bin/sh
# distributed_fault.sh MPIRUN PROGRAM MODE: runs PROGRAM on 2 ranks, rank 1
# failing in MODE, and passes when the job ends within 60 s with a non-zero
# status, rank 0 did not finish, and (for an exception) the error is
# printed with the failing rank.
mpirun=$1 program=$2 mode=$3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
timeout 60 "$mpirun" -np 2 "$program" "$mode" >"$out" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
cat "$out"
echo "distributed_fault: mode $mode, exit status $status after ${elapsed} s"
if [ "$status" -eq 124 ]; then echo "FAIL: the job hung (killed after 60 s)"; exit 1; fi
if [ "$status" -eq 0 ]; then echo "FAIL: the job exited 0"; exit 1; fi
if grep -q "finished: rank 1 did not fail" "$out"; then echo "FAIL: rank 0 finished training"; exit 1; fi
if [ "$mode" = throw ] && ! grep -q "ingot: rank 1 of 2: injected failure at step 3" "$out"; then
  echo "FAIL: the error and its rank are not in the output"; exit 1
fi
exit 0
