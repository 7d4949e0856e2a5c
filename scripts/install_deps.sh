#!/usr/bin/env bash
# Installs jacnet's build, test and demo dependencies from Debian 12 packages. Idempotent: packages
# already present are skipped. Runs apt directly as root, through sudo otherwise.
# JACNET_WITH_TORCH=1 also installs the peers: PyTorch (parity tests, bench/compare_pytorch.py),
# libtorch C++ (bench/compare_libtorch.cpp; CMake package Torch) and the pthread OpenBLAS they use.
# JACNET_WITH_AD_PEERS=1 also installs the scalar-AD peers of bench/bench_ad.cpp (libceres-dev for
# Ceres' Jet, libadolc-dev for ADOL-C); bench_ad builds without them.
# Open MPI (libopenmpi-dev, openmpi-bin) is always installed: jacnet::mpi, the tests in tests/dist.
# cairo (libcairo2-dev, found through pkg-config): the main job's figures (apps/fashion/plot.cpp).
set -euo pipefail
pkgs=(g++ cmake make libeigen3-dev libxsimd-dev catch2 libbenchmark-dev nlohmann-json3-dev
      zlib1g-dev libstb-dev dataset-fashion-mnist python3 libopenmpi-dev openmpi-bin
      pkg-config libcairo2-dev)
if [[ "${JACNET_WITH_TORCH:-0}" == 1 ]]; then pkgs+=(python3-torch libtorch-dev libopenblas0-pthread); fi
# JACNET_WITH_AD_PEERS=1: the scalar-AD peers of bench_ad (Ceres' Jet, ADOL-C); optional, not CI.
if [[ "${JACNET_WITH_AD_PEERS:-0}" == 1 ]]; then pkgs+=(libceres-dev libadolc-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#pkgs[@]} packages present"
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
