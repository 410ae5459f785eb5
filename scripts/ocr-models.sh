#!/usr/bin/env bash
# Fetches the three PP-OCR models the ID card reader (idcard/) runs, from the
# one place they may come from: the PyPI wheel rapidocr-onnxruntime 1.4.4
# (Apache-2.0; see idcard/MODELS.md). Unzips them into the cache directory and
# checks each file's SHA-256 against idcard/models.sha256; anything else fails.
# Quick when the cache already holds the right files. Prints the directory.
#
# Cache: $BEATBOOK_OCR_MODELS, else $CARGO_TARGET_DIR/ocr-models, else
# target/ocr-models (where the crate's tests look, in the same order).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
digests=$root/idcard/models.sha256
wheel_sha256=971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf
dest=${BEATBOOK_OCR_MODELS:-${CARGO_TARGET_DIR:-$root/target}/ocr-models}

if [[ -d $dest ]] && (cd "$dest" && sha256sum --quiet --check "$digests") >/dev/null 2>&1; then
  echo "$dest"
  exit 0
fi

pip=()
if command -v pip >/dev/null 2>&1; then pip=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
else
  echo "ocr-models: needs pip (Debian: apt-get install python3-pip) to download the wheel from PyPI" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "ocr-models: downloading rapidocr-onnxruntime 1.4.4 from PyPI" >&2
# The wheel's own digest (PyPI's, recorded in idcard/MODELS.md) is checked by pip.
echo "rapidocr-onnxruntime==1.4.4 --hash=sha256:$wheel_sha256" >"$work/requirements.txt"
if ! "${pip[@]}" download --quiet --no-deps --no-cache-dir --disable-pip-version-check \
  --only-binary=:all: --require-hashes -r "$work/requirements.txt" -d "$work" >&2; then
  echo "ocr-models: could not download the wheel from PyPI — check the network or pip's index settings" >&2
  exit 1
fi
wheel=$(ls "$work"/rapidocr_onnxruntime-1.4.4-*.whl)
mkdir -p "$work/models"
python3 - "$wheel" "$work/models" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("rapidocr_onnxruntime/models/") and name.endswith(".onnx"):
            (out / pathlib.Path(name).name).write_bytes(z.read(name))
PY

if ! (cd "$work/models" && sha256sum --check "$digests" >&2); then
  echo "ocr-models: the models in the wheel do not match idcard/models.sha256 — not installed." >&2
  echo "  Someone changed the wheel or the digests; see idcard/MODELS.md before updating either." >&2
  exit 1
fi
mkdir -p "$dest"
for f in "$work"/models/*.onnx; do
  mv -f "$f" "$dest/"
done
echo "$dest"
