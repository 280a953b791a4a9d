#!/usr/bin/env bash
# Installs what the gateway itself needs at run time beyond the .NET runtime, idempotently, on Debian 12:
#   ffmpeg (ffprobe and ffmpeg: the stream checks probe cameras' RTSP streams and grab frames with them)
set -euo pipefail

# dpkg -s, not command -v: a binary of the same name elsewhere on PATH (a static ffmpeg build) is not the package.
# grep without -q reads all of dpkg's output, so pipefail never sees dpkg die of SIGPIPE.
installed() { dpkg -s "$1" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null; }

missing=()
for pkg in ffmpeg; do
  installed "$pkg" || missing+=("$pkg")
done
bash "$(dirname "$0")/install-apt-packages.sh" install-runtime-deps "${missing[@]}"
