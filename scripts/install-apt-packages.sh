#!/usr/bin/env bash
# Installs the Debian packages it is given, `apt-get update` first, as root or through sudo; with none, does nothing.
# The other install-*.sh scripts decide what is missing and pass it on:
#   bash scripts/install-apt-packages.sh NAME-OF-CALLER PACKAGE...
set -euo pipefail
caller=$1
shift
[ $# -gt 0 ] || exit 0

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

echo "$caller: installing $*"
sudo_if_needed apt-get update -qq
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
