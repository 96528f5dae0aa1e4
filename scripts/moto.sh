# Shared by scripts/demo and scripts/test: make sure the local AWS emulator is installed.
# Sourced, not run.

MOTO_VERSION="${MOTO_VERSION:-5.2.1}"

ensure_moto() {
  if command -v moto_server >/dev/null 2>&1 && python3 -c 'import moto, boto3' 2>/dev/null; then
    return 0
  fi
  echo "installing the local AWS emulator (moto[server]==$MOTO_VERSION) with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  hash -r
  if ! command -v moto_server >/dev/null 2>&1; then
    # pip may install scripts outside PATH (user installs, pyenv shims not refreshed).
    local bin
    bin="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    export PATH="$bin:$HOME/.local/bin:$PATH"
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  fi
  command -v moto_server >/dev/null 2>&1 || {
    echo "error: moto_server is still not on PATH after installing moto[server]" >&2
    return 1
  }
}
