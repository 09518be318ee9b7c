#!/bin/sh
# Tools `make bench` needs beyond the venv: wrk (Debian package) and WireMock's standalone jar
# (the npm package `wiremock`, installed into the git-ignored .bench-tools/). Java 17+ must be
# there already. Installs only what is missing.
set -e
if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq wrk
fi
if ! ls .bench-tools/node_modules/wiremock/build/wiremock-standalone-*.jar >/dev/null 2>&1; then
    npm install --silent --prefix .bench-tools wiremock
fi
command -v java >/dev/null 2>&1 || { echo "java (17+) is needed for WireMock" >&2; exit 1; }
