#!/usr/bin/env bash
# Builds the otwatch appliance images: dist/otwatch-arm64.img and
# dist/otwatch-armv7.img (see firmware/README.md). Run from anywhere; as root
# it installs the host tools and Debian's foreign architectures it needs.
#
#   firmware/build-image.sh            both images
#   ARCHES=arm64 firmware/build-image.sh
#
# Environment: VERSION (default git describe), SOURCE_DATE_EPOCH (default
# the last commit's time), OTWATCH_SIGNING_KEY (default the public TEST key
# firmware/keys/test-signing.key), OTWATCH_FW_CACHE (downloaded .deb files,
# default /var/cache/otwatch-firmware), DIST (default dist), KERNEL_PKG (pin the
# kernel package), KEEP_BUILD=1 (keep the unpacked packages in dist/build-*).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FW=$ROOT/firmware
DIST=${DIST:-$ROOT/dist}
CACHE=${OTWATCH_FW_CACHE:-/var/cache/otwatch-firmware}
KEY=${OTWATCH_SIGNING_KEY:-$FW/keys/test-signing.key}
ARCHES=${ARCHES:-arm64 armv7}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)}
export SOURCE_DATE_EPOCH TZ=UTC LC_ALL=C
GO=${GO:-go}
DATA_MIB=${DATA_MIB:-16}   # data partition placeholder; see README ("Flashing")
umask 022

log() { echo "build-image: $*" >&2; }

# ---- host tools ----
need_pkgs=()
for t in mksquashfs:squashfs-tools sfdisk:fdisk mke2fs:e2fsprogs readelf:binutils gzip:gzip; do
	command -v "${t%%:*}" >/dev/null || need_pkgs+=("${t#*:}")
done
# (no `| grep -q` under pipefail: grep's early exit gives the writer SIGPIPE)
foreign=" $(dpkg --print-foreign-architectures | tr '\n' ' ') "
for a in arm64 armhf; do
	case $foreign in *" $a "*) ;; *) need_arch+=" $a" ;; esac
done
if [ -n "${need_arch:-}" ] || [ ${#need_pkgs[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { log "need root to install: ${need_pkgs[*]:-} foreign archs:${need_arch:-}"; exit 1; }
	for a in ${need_arch:-}; do dpkg --add-architecture "$a"; done
	apt-get update -q || log "apt-get update reported errors (mirror sync?); continuing with the lists we have"
	[ ${#need_pkgs[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# fetch PKG:ARCH into the cache once; prints the .deb path
fetch() {
	local pkg=${1%%:*} arch=${1#*:} f
	mkdir -p "$CACHE/debs"
	f=$(ls "$CACHE/debs/${pkg}_"*"_${arch}.deb" 2>/dev/null | sort | tail -1 || true)
	if [ -z "$f" ]; then
		# a mirror mid-sync or a dropped connection is retried before giving up
		local try
		for try in 1 2 3; do
			(cd "$CACHE/debs" && apt-get download -q "$pkg:$arch" >&2) && break
			[ $try = 3 ] && { log "apt-get download $pkg:$arch failed 3 times"; return 1; }
			sleep $((try * 5))
		done
		f=$(ls "$CACHE/debs/${pkg}_"*"_${arch}.deb" | sort | tail -1)
	fi
	echo "$f"
}
debver() { dpkg-deb -f "$1" Version; }

# ---- the two tools of ours, for this machine ----
mkdir -p "$DIST"
TOOLS=$DIST/build-tools
mkdir -p "$TOOLS"
CGO_ENABLED=0 $GO build -trimpath -o "$TOOLS/imgtool" ./firmware/imgtool
CGO_ENABLED=0 $GO build -trimpath -o "$TOOLS/verify" ./firmware/verify

# Modules: storage and file systems first (the init loads them in order),
# then the NICs of the boards we target and qemu virt, then the power key.
MODULES_COMMON="crc32c_generic virtio_mmio virtio_pci virtio_blk squashfs ext4 sdhci_esdhc_imx
  virtio_net fec evdev gpio_keys"
MODULES_arm64="sdhci_am654 ti_am65_cpsw_nuss"
MODULES_armv7="sdhci_omap omap_hsmmc ti_cpsw ti_cpsw_new"
# Device trees shipped on the boot partition (U-Boot picks one with fdtdir);
# qemu virt makes its own.
DTBS_arm64="freescale/imx8m*.dtb ti/k3-am65*.dtb ti/k3-am64*.dtb"
DTBS_armv7="am335x-*.dtb am57*.dtb imx6ul*.dtb imx7d-*.dtb stm32mp15*.dtb"


build_one() {
	local arch=$1 debarch flavour goarch goarm="" triplet
	case $arch in
	arm64) debarch=arm64 flavour=arm64 goarch=arm64 triplet=aarch64-linux-gnu ;;
	armv7) debarch=armhf flavour=armmp goarch=arm goarm=7 triplet=arm-linux-gnueabihf ;;
	*) log "unknown arch $arch"; exit 1 ;;
	esac
	local W=$DIST/build-$arch
	rm -rf "$W"
	mkdir -p "$W"/{deb,initramfs,rootfs,boot}
	log "$arch: Go binaries (otwatch $VERSION, epoch $SOURCE_DATE_EPOCH)"
	env GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.version=$VERSION" -o "$W/otwatch" ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.buildEpoch=$SOURCE_DATE_EPOCH" -o "$W/init" ./firmware/init

	# ---- Debian packages ----
	local kpkg
	kpkg=${KERNEL_PKG:-$(apt-cache depends "linux-image-$flavour:$debarch" | awk '/Depends: linux-image-/ && !x {print $2; x=1}')}
	kpkg=${kpkg%%:*}
	log "$arch: kernel package $kpkg"
	local kdeb; kdeb=$(fetch "$kpkg:$debarch")
	dpkg-deb -x "$kdeb" "$W/deb/kernel"
	local kver; kver=$(ls "$W/deb/kernel/lib/modules")
	local bbdeb; bbdeb=$(fetch "busybox-static:$debarch")
	dpkg-deb -x "$bbdeb" "$W/deb/busybox"
	local e2debs=() p
	for p in e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1 libc6; do
		e2debs+=("$(fetch "$p:$debarch")")
	done
	for p in "${e2debs[@]}"; do dpkg-deb -x "$p" "$W/deb/userland"; done

	# ---- initramfs: our init, the modules, nothing else ----
	local I=$W/initramfs
	install -m 0755 "$W/init" "$I/init"
	: > "$I/otwatch-initramfs"
	mkdir -p "$I"/{proc,sys,dev,newroot,lib/modules}
	local mods="$MODULES_COMMON"
	[ "$arch" = arm64 ] && mods="$mods $MODULES_arm64"
	[ "$arch" = armv7 ] && mods="$mods $MODULES_armv7"
	"$TOOLS/imgtool" modules -moddir "$W/deb/kernel/lib/modules/$kver" -out "$I/lib/modules" $mods
	"$TOOLS/imgtool" cpio -root "$I" -out "$W/initrd.cpio" -epoch "$SOURCE_DATE_EPOCH"
	gzip -n -9 -c "$W/initrd.cpio" > "$W/boot/initrd.img"

	# ---- root file system (read-only squashfs) ----
	local R=$W/rootfs
	mkdir -p "$R"/{bin,sbin,usr/bin,usr/share/otwatch,usr/share/doc/otwatch,etc/otwatch,proc,sys,dev,run,tmp,data,lib}
	install -m 0755 "$W/init" "$R/sbin/init"
	install -m 0755 "$W/otwatch" "$R/usr/bin/otwatch"
	install -m 0755 "$W/deb/busybox/bin/busybox" "$R/bin/busybox"
	ln -s busybox "$R/bin/sh"
	install -m 0644 "$FW/rootfs/etc/otwatch/appliance.conf.default" "$FW/rootfs/etc/otwatch/otwatch.conf.default" "$R/etc/otwatch/"
	install -m 0755 "$FW/rootfs/usr/share/otwatch/udhcpc.script" "$R/usr/share/otwatch/"
	install -m 0644 "$FW/README.md" "$R/usr/share/doc/otwatch/README.md"
	ln -s /run/resolv.conf "$R/etc/resolv.conf"
	printf 'root:x:0:0:root:/root:/bin/sh\notwatch:x:1000:1000:otwatch:/data/otwatch:/bin/false\n' > "$R/etc/passwd"
	printf 'root:x:0:\notwatch:x:1000:\n' > "$R/etc/group"
	printf 'NAME=otwatch\nID=otwatch\nVERSION_ID=%s\nPRETTY_NAME="otwatch appliance %s"\n' "$VERSION" "$VERSION" > "$R/etc/os-release"
	# mke2fs (ext4 with a journal for the data partition) and its libraries
	local U=$W/deb/userland
	install -m 0755 "$U/sbin/mke2fs" "$R/sbin/mke2fs"
	install -m 0644 "$U/etc/mke2fs.conf" "$R/etc/mke2fs.conf"
	local interp; interp=$(readelf -l "$U/sbin/mke2fs" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
	mkdir -p "$R/lib/$triplet" "$R$(dirname "$interp")"
	local todo="$U/sbin/mke2fs" done_libs="" lib f
	while [ -n "$todo" ]; do
		set -- $todo; f=$1; shift; todo="$*"
		for lib in $(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
			case " $done_libs " in *" $lib "*) continue ;; esac
			done_libs="$done_libs $lib"
			local src="" c
			for c in "$U/lib/$triplet/$lib" "$U/usr/lib/$triplet/$lib"; do [ -e "$c" ] && { src=$c; break; }; done
			[ -n "$src" ] || { log "$arch: $lib (needed by $f) not found"; exit 1; }
			cp -L "$src" "$R/lib/$triplet/$lib"
			chmod 0644 "$R/lib/$triplet/$lib"
			todo="$todo $src"
		done
	done
	cp -L "$U$interp" "$R$interp" 2>/dev/null || cp -L "$U/lib/$triplet/$(basename "$interp")" "$R$interp"
	chmod 0755 "$R$interp"
	find "$R" "$I" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	rm -f "$W/root.sqfs"
	mksquashfs "$R" "$W/root.sqfs" -comp xz -all-root -no-xattrs -noappend -quiet -no-progress >&2

	# ---- boot partition: kernel, initramfs, device trees, extlinux.conf ----
	local B=$W/boot kimg=$W/deb/kernel/boot/vmlinuz-$kver
	if [ "$arch" = arm64 ]; then
		gzip -n -9 -c "$kimg" > "$B/vmlinuz"   # Image.gz: qemu and U-Boot's booti unpack it
	else
		cp "$kimg" "$B/vmlinuz"                # zImage decompresses itself
	fi
	local dtbsrc=$W/deb/kernel/usr/lib/linux-image-$kver pat
	local dtbs; [ "$arch" = arm64 ] && dtbs=$DTBS_arm64 || dtbs=$DTBS_armv7
	(cd "$dtbsrc" && for pat in $dtbs; do for f in $pat; do [ -f "$f" ] && { mkdir -p "$B/dtbs/$(dirname "$f")"; cp "$f" "$B/dtbs/$f"; }; done; done)
	if [ "$arch" = arm64 ]; then
		# booti needs kernel_comp_addr_r for a gzip'd Image: a boot script sets it
		"$TOOLS/imgtool" bootscr -in "$FW/boot/boot-arm64.cmd" -out "$B/boot.scr" -arch arm64 -epoch "$SOURCE_DATE_EPOCH"
	else
		mkdir -p "$B/extlinux"
		cat > "$B/extlinux/extlinux.conf" <<-EOF
		# U-Boot distro boot (extlinux). The console comes from the device
		# tree's stdout-path; add console=... to append if it does not.
		default otwatch
		timeout 1
		label otwatch
		  menu label otwatch $VERSION
		  kernel /vmlinuz
		  initrd /initrd.img
		  fdtdir /dtbs
		  append rootwait panic=10
		EOF
	fi
	find "$B" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	local bootkib; bootkib=$(du -sk --apparent-size "$B" | cut -f1)
	local boot_mib=$(( (bootkib * 11 / 10 + 1024) / 1024 + 2 ))
	rm -f "$W/boot.ext2"
	E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -t ext2 -b 1024 -m 0 -L otwatch-boot \
		-U 6f747761-7463-6862-6f6f-740000000001 -E hash_seed=6f747761-7463-6862-6f6f-740000000002,root_owner=0:0 \
		-d "$B" "$W/boot.ext2" "${boot_mib}M" >&2
	# mke2fs -d copies each file's ctime (no tool sets it on the source) and
	# atime (reading the tree moves it): set both, and mtime, to the epoch
	(cd "$B" && find . -mindepth 1 | sort | sed 's|^\.||') | { echo /; cat; } | while read -r f; do
		for t in ctime atime mtime; do echo "sif $f $t @$SOURCE_DATE_EPOCH"; done
	done > "$W/times.debugfs"
	debugfs -w -f "$W/times.debugfs" "$W/boot.ext2" >/dev/null 2>&1

	# ---- disk image: GPT, boot | root | data (empty: formatted on first boot) ----
	local root_bytes; root_bytes=$(stat -c %s "$W/root.sqfs")
	local root_mib=$(( (root_bytes + 1048575) / 1048576 + 1 ))
	local total_mib=$(( 1 + boot_mib + root_mib + DATA_MIB + 1 ))
	local img=$DIST/otwatch-$arch.img
	rm -f "$img" "$img.manifest" "$img.manifest.sig"
	truncate -s "${total_mib}M" "$img"
	local root_type; [ "$arch" = arm64 ] && root_type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE || root_type=69DAD710-2CE4-4E3C-B16C-21A1D49ABED3
	local s1=2048 s2=$(( 2048 + boot_mib * 2048 )) s3=$(( 2048 + (boot_mib + root_mib) * 2048 ))
	sfdisk -q --no-reread --no-tell-kernel "$img" >&2 <<-EOF
	label: gpt
	label-id: 6F747761-7463-6864-6973-6B0000000000
	unit: sectors
	start=$s1, size=$(( boot_mib * 2048 )), type=BC13C2FF-59E6-4262-A352-B275FD6F7172, uuid=6F747761-7463-6862-6F6F-740000000003, name="otwatch-boot", attrs="LegacyBIOSBootable"
	start=$s2, size=$(( root_mib * 2048 )), type=$root_type, uuid=6F747761-7463-6872-6F6F-740000000004, name="otwatch-root"
	start=$s3, size=$(( DATA_MIB * 2048 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6F747761-7463-6864-6174-610000000005, name="otwatch-data"
	EOF
	dd if="$W/boot.ext2" of="$img" bs=512 seek=$s1 conv=notrunc status=none
	dd if="$W/root.sqfs" of="$img" bs=512 seek=$s2 conv=notrunc status=none
	# (the data partition stays zeroes: the init formats it on first boot)

	# the kernel and initramfs beside the image, for qemu -kernel boots
	cp "$B/vmlinuz" "$DIST/otwatch-$arch.vmlinuz"
	cp "$B/initrd.img" "$DIST/otwatch-$arch.initrd"

	"$TOOLS/imgtool" manifest -image "$img" -key "$KEY" \
		-tree "boot=$B" -tree "rootfs=$R" -tree "initramfs=$I" \
		-version "otwatch=$VERSION" -version "arch=$arch" -version "kernel=$kver" \
		-version "debian:$kpkg=$(debver "$kdeb")" -version "debian:busybox-static=$(debver "$bbdeb")" \
		-version "debian:e2fsprogs=$(debver "${e2debs[0]}")" -version "debian:libc6=$(debver "${e2debs[5]}")" \
		-version "go=$($GO env GOVERSION)" -version "source-date-epoch=$SOURCE_DATE_EPOCH"
	if command -v bmaptool >/dev/null; then bmaptool create -o "$img.bmap" "$img"; fi
	"$TOOLS/verify" -q -pubkey "${OTWATCH_VERIFY_KEY:-$FW/keys/test-signing.pub}" "$img"
	# the unpacked packages are 300+ MiB; KEEP_BUILD=1 keeps them for debugging
	[ -n "${KEEP_BUILD:-}" ] || rm -rf "$W/deb"
	log "$arch: $img $(stat -c %s "$img") bytes (boot ${boot_mib} MiB, root ${root_mib} MiB, data ${DATA_MIB} MiB); sha256 $(sha256sum "$img" | cut -c1-16)…"
}

for a in $ARCHES; do build_one "$a"; done
