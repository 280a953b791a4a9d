#!/usr/bin/env bash
# Installs what the gateway itself needs at run time beyond the .NET runtime, idempotently, on Debian 12:
#   ffmpeg (ffprobe and ffmpeg: the stream checks probe cameras' RTSP streams and grab frames with them)
set -euo pipefail

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# dpkg -s, not command -v: a binary of the same name elsewhere on PATH (a static ffmpeg build) is not the package.
# grep without -q reads all of dpkg's output, so pipefail never sees dpkg die of SIGPIPE.
installed() { dpkg -s "$1" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null; }

missing=()
for pkg in ffmpeg; do
  installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-runtime-deps: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
