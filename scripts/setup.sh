#!/usr/bin/env bash
# Installs the system packages Firedrill needs on Debian 12 (idempotent).
set -euo pipefail
packages=(libssh2-1-dev pkg-config openssh-server openssh-client coreutils procps curl openssl bsdutils iproute2 postgresql sudo python3)
# The lab's EHR database is a real PostgreSQL, reached with sudo -u postgres.
# The tests also render HTML reports in a real headless browser, and drive sudo and a TTY prompt (tmux).
if [ "${1:-}" = "--tests" ]; then packages+=(chromium util-linux python3 python3-icalendar sudo tmux poppler-utils prometheus); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
