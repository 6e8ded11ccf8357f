#!/usr/bin/env bash
# The Debian tools iotids drives: Argus (argus-server: `argus`, argus-client: `ra`) for
# `--meter argus`, and the traffic lab's tcpdump, mosquitto, nmap, hping3 and OpenSSH.
# Installs what is missing; needs root or password-less sudo.
set -euo pipefail
tools=(argus ra tcpdump mosquitto mosquitto_passwd nmap hping3 sshd ssh ssh-keygen)
missing=0
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || missing=1
done
[ "$missing" -eq 0 ] && exit 0
packages=(argus-server argus-client tcpdump mosquitto nmap hping3 openssh-server openssh-client)
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "install-tools: tools missing and no root or sudo to install ${packages[*]}; install them by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || { echo "install-tools: $tool still missing" >&2; exit 1; }
done
