#!/usr/bin/env bash
# gopacket-align.sh DIR — prints GOWORK=DIR/go.work for a 32-bit ARM build.
#
# gopacket v1.7.7's afpacket.TPacket keeps 64-bit counters that 32-bit ARM
# updates atomically at a 4-byte offset: otwatch run panics with "unaligned
# 64-bit atomic operation" on the first captured frame (upstream gopacket
# issue #133, fixed in an unreleased PR). Until a release carries the fix,
# 32-bit builds use a copy of the module with the two TPacket fields swapped,
# through a temporary workspace; go.mod, go.sum and the module cache stay
# untouched. Prints nothing when the module no longer needs it (or when
# OTWATCH_NO_GOPACKET_FIX is set), so callers can use the output as is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GO=${GO:-go}
log() { echo "gopacket-align: $*" >&2; }
mkdir -p "$1"
set -- "$(cd "$1" && pwd)"

[ -z "${OTWATCH_NO_GOPACKET_FIX:-}" ] || exit 0
dir=$($GO list -m -f '{{.Dir}}' github.com/gopacket/gopacket 2>/dev/null) || exit 0
ver=$($GO list -m -f '{{.Version}}' github.com/gopacket/gopacket)
src=$dir/afpacket/afpacket.go
[ "$(awk '/^type TPacket struct/{t=1} t&&/^\tifIndex int$/{print "bad"; exit} t&&/^\tstats Stats$/{exit}' "$src")" = bad ] || exit 0
rm -rf "$1/gopacket-otwatch-align"
cp -r "$dir" "$1/gopacket-otwatch-align"
chmod -R u+w "$1/gopacket-otwatch-align"
sed -e '/^type TPacket struct/,/^}/{/^\tifIndex int$/d}' -e '/^type TPacket struct/,/^}/{/^\tstats Stats$/a\
\tifIndex int
}' "$src" > "$1/gopacket-otwatch-align/afpacket/afpacket.go"
[ "$(awk '/^type TPacket struct/{t=1} t&&/^\t(stats Stats|ifIndex int)$/{printf "%s ", $1} t&&/^}/{exit}' "$1/gopacket-otwatch-align/afpacket/afpacket.go")" = "stats ifIndex " ] \
	|| { log "gopacket fix: patch did not apply"; exit 1; }
printf 'go %s\n\nuse %s\n\nreplace github.com/gopacket/gopacket %s => %s\n' \
	"$($GO list -m -f '{{.GoVersion}}' github.com/otwatch/otwatch)" "$ROOT" "$ver" ./gopacket-otwatch-align > "$1/go.work"
log "armv7: gopacket afpacket.TPacket field order fixed in a patched copy (see README)"
echo "GOWORK=$1/go.work"

