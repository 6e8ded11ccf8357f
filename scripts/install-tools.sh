#!/usr/bin/env bash
# The Debian tools iotids drives: Argus (argus-server: `argus`, argus-client: `ra`).
# Installs them when missing; needs root or password-less sudo.
set -euo pipefail
if command -v argus >/dev/null && command -v ra >/dev/null; then
    exit 0
fi
packages=(argus-server argus-client)
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "install-tools: argus/ra missing and no root or sudo to install ${packages[*]}; install them by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v argus >/dev/null && command -v ra >/dev/null
