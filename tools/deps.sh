#!/bin/sh
# Installs the Debian packages ingot's build, tests and examples need.
# Idempotent: when everything is present it only asks dpkg (a fraction of a
# second) and never touches apt.
set -e
packages="g++ meson ninja-build pkg-config libboost1.81-dev libxsimd-dev catch2 zlib1g-dev
nlohmann-json3-dev libcli11-dev dataset-fashion-mnist cmake clang-19 libclang-rt-19-dev openmpi-bin libopenmpi-dev"
missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
# shellcheck disable=SC2086
$sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
