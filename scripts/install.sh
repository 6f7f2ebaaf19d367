#!/usr/bin/env bash
# Builds a release binary of Firedrill and installs it with its shell completions.
#   bash scripts/install.sh            # into /usr/local (bin/firedrill, completions)
#   PREFIX=$HOME/.local bash scripts/install.sh
# The binary carries the Swift runtime (--static-swift-stdlib): it needs only system
# libraries (libssh2, OpenSSL, SQLite, zlib, libc), and runs from any folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-${1:-/usr/local}}
bash scripts/setup.sh
swift build -c release --static-swift-stdlib --product firedrill
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)/firedrill
install -d "$PREFIX/bin" "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions" "$PREFIX/share/fish/vendor_completions.d"
install -m 755 "$bin" "$PREFIX/bin/firedrill"
"$PREFIX/bin/firedrill" --generate-completion-script bash > "$PREFIX/share/bash-completion/completions/firedrill"
"$PREFIX/bin/firedrill" --generate-completion-script zsh > "$PREFIX/share/zsh/site-functions/_firedrill"
"$PREFIX/bin/firedrill" --generate-completion-script fish > "$PREFIX/share/fish/vendor_completions.d/firedrill.fish"
# It must run from anywhere, pointing into nothing of this checkout.
(cd / && "$PREFIX/bin/firedrill" --version >/dev/null)
echo "installed $PREFIX/bin/firedrill ($("$PREFIX/bin/firedrill" --version)) and its bash, zsh and fish completions under $PREFIX/share"
