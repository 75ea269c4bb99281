#!/usr/bin/env bash
# vendor.sh fetches the dashboard's one third-party asset, uPlot, from npm and
# copies its minified build, stylesheet and licence into static/vendor, where
# the gateway embeds them. Run it from anywhere; it needs npm and tar.
set -euo pipefail
version=1.6.32
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
dst="$here/static/vendor"
mkdir -p "$dst"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$dst/"
cp "$tmp/package/LICENSE" "$dst/uPlot.LICENSE"
echo "uPlot $version vendored into $dst"
