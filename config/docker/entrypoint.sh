#!/bin/sh
# The container's command, run under tini. `exec` replaces this shell with node, so that
# tini's SIGTERM reaches gworker itself (a shell in between would not pass it on, and the
# stop would end in SIGKILL with every running job cut off).
#   <image> start /etc/gworker/gworker.yaml    (the default)
#   <image> check /etc/gworker/gworker.yaml    (any gworker command)
#   <image> sh                                 (anything else runs as given)
set -eu
home="${GWORKER_HOME:-/opt/gworker}"
case "${1:-}" in
  start | check | server | submit | admin | status | top | scale | pause | resume | reload | drain | --help | --version)
    exec node --single-threaded-gc "$home/bin/gworker.js" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
