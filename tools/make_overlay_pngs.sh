#!/usr/bin/env bash
# Renders the README's vitoverlay pictures (plugins/gst/doc/overlay-*.png) with the built plugin
# and the shipped Fashion-MNIST model: a black frame, a white frame, and a busy test pattern with
# long UTF-8 labels (a labels file made here) that vitoverlay must shorten with an ellipsis.
# Usage: bash tools/make_overlay_pngs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=plugins/gst/doc
model=models/fmnist-vit-tiny
export GST_PLUGIN_PATH=$build/plugins/gst
labels=$(mktemp)
trap 'rm -f "$labels"' EXIT
for name in "T-Shirt/Top — Baumwolle, Größe M" "Hose — Jeans, weiß gewaschen" \
            "Pullover — Strickware aus Schafwolle, ärmellos" "Kleid — Abendkleid, Seide" \
            "Mantel — Wintermantel mit Kapuze und Reißverschluss, wasserabweisend, für Übergröße" \
            "Sandale — Riemchen, Sohle aus Kork" "Hemd — Oxford, Knopfleiste" \
            "Turnschuh — Laufschuh für Straße und Gelände, atmungsaktiv" \
            "Tasche — Umhängetasche aus Leder, naturbelassen, handgenäht in Südtirol" \
            "Stiefelette — Chelsea, Wildleder, Absatz 4 cm"; do
  echo "$name"
done >"$labels"

render() { # NAME PATTERN [vitclassify properties...]
  local name=$1 pattern=$2
  shift 2
  gst-launch-1.0 -q videotestsrc pattern="$pattern" num-buffers=1 \
    ! video/x-raw,width=640,height=360 ! videoconvert \
    ! vitclassify model="$model" "$@" ! vitoverlay ! videoconvert \
    ! pngenc ! filesink location="$out/overlay-$name.png"
  echo "wrote $out/overlay-$name.png"
}
render dark black
render bright white
render utf8-long smpte labels="$labels"
