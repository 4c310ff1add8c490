#!/usr/bin/env bash
# The rooms meet only through plain C++ headers: http/ never includes CAF, actors/ never
# includes Beast or Asio, and config/ (the lowest room) includes neither.
set -u
root=$1
status=0
check() {
  local room=$1 pattern=$2
  [ -d "$root/$room" ] || return 0
  local hits
  hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" \
           --include='*.hpp' --include='*.cpp' "$root/$room" || true)
  if [ -n "$hits" ]; then
    echo "$room/ must not include $pattern:"
    echo "$hits"
    status=1
  fi
}
check http 'caf/'
check actors 'boost/beast|boost/asio'
check config 'caf/|boost/beast|boost/asio'
[ "$status" -eq 0 ] && echo "include firewall holds"
exit "$status"
