#!/bin/sh
# Fetches the panel's front-end libraries from npm and copies the files the panel serves, with their licences, into
# web/static/vendor/. Run by hand when a version changes; the result is committed, so the box needs no internet.
set -eu
HTMX=2.0.11
UPLOT=1.6.32
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack -q "htmx.org@$HTMX" "uplot@$UPLOT" >/dev/null
mkdir htmx uplot
tar xzf "htmx.org-$HTMX.tgz" -C htmx
tar xzf "uplot-$UPLOT.tgz" -C uplot
out="$here/web/static/vendor"
mkdir -p "$out/htmx" "$out/uplot"
cp htmx/package/dist/htmx.min.js htmx/package/LICENSE "$out/htmx/"
cp uplot/package/dist/uPlot.iife.min.js uplot/package/dist/uPlot.min.css uplot/package/LICENSE "$out/uplot/"
printf 'htmx.org %s\nuplot %s\n' "$HTMX" "$UPLOT" > "$out/VERSIONS"
