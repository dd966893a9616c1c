#!/bin/sh
# Runs a program on 2 ranks in two network namespaces joined by a veth pair,
# so that Open MPI's TCP transport carries every message (no shared memory):
# the multi-machine path, on one machine. Needs root (ip netns). mpirun runs
# in the first namespace; the second "host" is reached through a launch
# agent that enters its namespace instead of using ssh. Both "hosts" are
# this machine and each would bind its rank to its first core, putting both
# ranks on one core: instead Open MPI binds nothing and each "host" is
# pinned to a core of its own with taskset (rank 0 and mpirun on core 0,
# rank 1 on core 1), so each rank runs one thread, as on two machines.
#   sudo sh tools/netns_mpi.sh build/bench/bench_distributed 2 64
# Extra arguments go to the program. The namespaces are removed at the end.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "netns_mpi.sh: needs root (ip netns)"; exit 1; }
program=$(realpath "$1")
shift
a=ingot-ns0 b=ingot-ns1
work=$(mktemp -d)
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add ingot-veth0 type veth peer name ingot-veth1
ip link set ingot-veth0 netns "$a"
ip link set ingot-veth1 netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev ingot-veth0
ip -n "$b" addr add 10.77.0.2/24 dev ingot-veth1
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set ingot-veth0 up
ip -n "$b" link set ingot-veth1 up
# The launch agent: called as "agent HOST COMMAND...", like ssh.
cat >"$work/agent" <<EOF
#!/bin/sh
host=\$1
shift
case "\$host" in
  10.77.0.2) exec ip netns exec $b taskset -c 1 sh -c "\$*" ;;
  *) exec sh -c "\$*" ;;
esac
EOF
chmod +x "$work/agent"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hosts"
echo "netns_mpi: rank 0 in $a (10.77.0.1), rank 1 in $b (10.77.0.2), TCP over veth"
ip netns exec "$a" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  taskset -c 0 mpirun -np 2 --hostfile "$work/hosts" --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
  --bind-to none "$program" "$@"
