#!/usr/bin/env bash
# Makes sure the system packages the tests need are present: Debian's Chromium (Playwright
# cannot download browsers offline) and /usr/bin/python3 with torch, onnx, numpy, Pillow
# and pytest (the training tests). Installs what is missing when run as root; otherwise
# prints the exact command to run and fails.
set -euo pipefail

PY=/usr/bin/python3
missing=()

if [[ ! -x /usr/bin/chromium ]]; then
  missing+=(chromium)
fi

python_has() {
  [[ -x "$PY" ]] && "$PY" -c "import $1" >/dev/null 2>&1
}
python_has torch || missing+=(python3-torch)
python_has onnx || missing+=(python3-onnx)
python_has numpy || missing+=(python3-numpy)
python_has PIL || missing+=(python3-pil)
python_has pytest || missing+=(python3-pytest)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "ensure-test-deps: all system test dependencies are present."
  exit 0
fi

command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: installing ${missing[*]} (a few minutes on a new machine)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  exit 0
fi

echo "ensure-test-deps: missing system packages: ${missing[*]}" >&2
echo "Install them with:" >&2
echo "  sudo sh -c '$command'" >&2
exit 1
