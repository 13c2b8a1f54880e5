#!/usr/bin/env bash
# Create .venv and install searchapp into it, with the right torch build:
#   NVIDIA GPU (nvidia-smi lists one)  -> torch from PyPI (CUDA build)
#   macOS                              -> torch from PyPI (CPU/MPS)
#   anything else                      -> torch's CPU build, never the CUDA packages
# Usage: scripts/setup.sh [dev]      ("dev" adds the test tools)
# Env:   PYTHON (default python3), TORCH_VERSION (2.13.0),
#        TORCH_INDEX_URL (CPU wheels, default https://download.pytorch.org/whl/cpu)
# Installs skip pip's byte-compiling of every file (about a minute for torch and the rest);
# Python compiles the modules it imports on first use and caches them (app.sh and test.sh
# unset PYTHONDONTWRITEBYTECODE so that it may).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"

say() { printf '[setup] %s\n' "$*" >&2; }
has_nvidia_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  # The pip that ships with Python lags (and has known advisories); the audit checks it too.
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2> >(grep -v "is neither a file nor a directory" >&2)
fi
PY="$VENV/bin/python"

# System packages: Tesseract with its English and Russian models (OCR of scanned PDF
# pages) and Debian's word list (whole-word repair of PDF text). Without them ingest still
# works, but scanned pages stay unread and split words stay split.
APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus wamerican)
missing_apt() { for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || return 0; done; return 1; }
if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  if missing_apt; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    say "installing Debian packages: ${APT_PACKAGES[*]}"
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null; }; then
      say "could not install ${APT_PACKAGES[*]}: OCR and whole-word repair stay off until they are installed"
    fi
  fi
elif ! command -v tesseract >/dev/null 2>&1; then
  say "no Tesseract: scanned PDF pages will not be read (macOS: brew install tesseract tesseract-lang)"
fi

stamp="$VENV/.searchapp-installed"
want="$(sha256sum pyproject.toml | cut -c1-16)${EXTRAS:+-$EXTRAS}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "import searchapp, torch" 2>/dev/null; then
  say "environment is up to date ($VENV)"
  exit 0
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
  if has_nvidia_gpu; then
    say "NVIDIA GPU found: installing torch $TORCH_VERSION (CUDA build)"
    "$PY" -m pip install "torch==$TORCH_VERSION"
  elif [ "$(uname -s)" = "Darwin" ]; then
    say "macOS: installing torch $TORCH_VERSION"
    "$PY" -m pip install "torch==$TORCH_VERSION"
  else
    say "no NVIDIA GPU: installing torch $TORCH_VERSION, CPU build"
    # A local wheel (pip's find-links) satisfies torch==X+cpu without any network;
    # otherwise PyTorch's CPU index does. Plain PyPI would bring several GB of CUDA.
    if ! "$PY" -m pip install --no-compile "torch==$TORCH_VERSION+cpu" 2>/dev/null; then
      "$PY" -m pip install --no-compile "torch==$TORCH_VERSION+cpu" --extra-index-url "$TORCH_INDEX_URL" || {
        say "could not install torch $TORCH_VERSION+cpu. Point TORCH_INDEX_URL at PyTorch's CPU wheels"
        say "(or a mirror), or put the wheel in a pip find-links directory, and run this again."
        exit 1
      }
    fi
  fi
fi

say "installing searchapp${EXTRAS:+ [$EXTRAS]}"
"$PY" -m pip install --quiet --no-compile -e ".${EXTRAS:+[$EXTRAS]}" 2> >(grep -v "is neither a file nor a directory" >&2)

if ! has_nvidia_gpu && "$PY" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  say "CUDA packages were installed on a machine without an NVIDIA GPU; remove $VENV and check TORCH_INDEX_URL"
  exit 1
fi
echo "$want" > "$stamp"
"$PY" -c "import torch; print('[setup] torch', torch.__version__, '| CUDA available:', torch.cuda.is_available())" >&2
