#!/usr/bin/env bash
# Builds the otwatch appliance images: dist/otwatch-arm64.img,
# dist/otwatch-armv7.img (U-Boot boards) and dist/otwatch-rpi-arm64.img
# (Raspberry Pi 3/4 and their compute modules), and the update bundles
# dist/otwatch-arm64.otwb and dist/otwatch-armv7.otwb (see
# firmware/README.md). Run from anywhere; as root it installs the host tools
# and Debian's foreign architectures (and the non-free-firmware component,
# for raspi-firmware) it needs.
#
#   firmware/build-image.sh            all three images
#   ARCHES="arm64 rpi" firmware/build-image.sh
#
# Environment: VERSION (default git describe), SOURCE_DATE_EPOCH (default
# the last commit's time), OTWATCH_SIGNING_KEY (default the public TEST key
# firmware/keys/test-signing.key), OTWATCH_FW_CACHE (downloaded .deb files,
# default /var/cache/otwatch-firmware), DIST (default dist), KERNEL_PKG (pin the
# kernel package), KEEP_BUILD=1 (keep the unpacked packages in dist/build-*),
# ROOT_MIB (size of each root slot, default 24), OTWATCH_VERIFY_KEY (the
# public key the image trusts for updates, default the TEST key's).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FW=$ROOT/firmware
DIST=${DIST:-$ROOT/dist}
CACHE=${OTWATCH_FW_CACHE:-/var/cache/otwatch-firmware}
KEY=${OTWATCH_SIGNING_KEY:-$FW/keys/test-signing.key}
ARCHES=${ARCHES:-arm64 armv7 rpi}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)}
export SOURCE_DATE_EPOCH TZ=UTC LC_ALL=C
GO=${GO:-go}
DATA_MIB=${DATA_MIB:-16}   # data partition placeholder; see README ("Flashing")
ROOT_MIB=${ROOT_MIB:-24}   # each of the two root slots: room for the root to grow
PUBKEY=${OTWATCH_VERIFY_KEY:-$FW/keys/test-signing.pub}
umask 022

log() { echo "build-image: $*" >&2; }

# ---- host tools ----
need_pkgs=()
for t in mksquashfs:squashfs-tools sfdisk:fdisk readelf:binutils gzip:gzip mkfs.fat:dosfstools mcopy:mtools; do
	command -v "${t%%:*}" >/dev/null || need_pkgs+=("${t#*:}")
done
# (no `| grep -q` under pipefail: grep's early exit gives the writer SIGPIPE)
foreign=" $(dpkg --print-foreign-architectures | tr '\n' ' ') "
for a in arm64 armhf; do
	case $foreign in *" $a "*) ;; *) need_arch+=" $a" ;; esac
done
# raspi-firmware is in Debian's non-free-firmware component: a sources entry
# beside the system's main one (same mirrors and suites), added once
nff=""
case " $ARCHES " in *" rpi "*)
	apt-cache show raspi-firmware >/dev/null 2>&1 || nff=1 ;;
esac
if [ -n "${need_arch:-}" ] || [ ${#need_pkgs[@]} -gt 0 ] || [ -n "$nff" ]; then
	[ "$(id -u)" = 0 ] || { log "need root to install: ${need_pkgs[*]:-} foreign archs:${need_arch:-} ${nff:+non-free-firmware}"; exit 1; }
	for a in ${need_arch:-}; do dpkg --add-architecture "$a"; done
	if [ -n "$nff" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Components: main$/Components: non-free-firmware/' /etc/apt/sources.list.d/debian.sources \
			> /etc/apt/sources.list.d/otwatch-non-free-firmware.sources
	elif [ -n "$nff" ] && [ -f /etc/apt/sources.list ]; then
		sed -n 's/^\(deb .* main\).*$/\1/p' /etc/apt/sources.list | sed 's/ main$/ non-free-firmware/' \
			> /etc/apt/sources.list.d/otwatch-non-free-firmware.list
	fi
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
MODULES_COMMON="crc32c_generic squashfs ext4 evdev gpio_keys"
MODULES_arm64="virtio_mmio virtio_pci virtio_blk sdhci_esdhc_imx sdhci_am654 virtio_net fec ti_am65_cpsw_nuss"
MODULES_armv7="virtio_mmio virtio_pci virtio_blk sdhci_esdhc_imx sdhci_omap omap_hsmmc virtio_net fec ti_cpsw ti_cpsw_new"
# Raspberry Pi 3/CM3 (SD on sdhost or the Arasan SDHCI, Ethernet on USB:
# smsc95xx on the 3B, lan78xx on the 3B+) and 4/CM4 (emmc2, GENET on the
# SoC; USB behind the PCIe VL805). GENET is loaded before the USB drivers so
# that the board's own port is eth0 where there is one; the second NIC is a
# USB adapter: the usual chips (Realtek, ASIX, AX88179) and CDC Ethernet.
MODULES_rpi="sdhci_iproc bcm2835 genet phy_generic dwc2 pcie_brcmstb xhci_pci reset_raspberrypi
  smsc95xx lan78xx r8152 asix ax88179_178a cdc_ether"
# Device trees shipped on the boot partition (U-Boot picks one with fdtdir);
# qemu virt makes its own.
DTBS_arm64="freescale/imx8m*.dtb ti/k3-am65*.dtb ti/k3-am64*.dtb"
DTBS_armv7="am335x-*.dtb am57*.dtb imx6ul*.dtb imx7d-*.dtb stm32mp15*.dtb"
# Raspberry Pi: the firmware looks for the upstream names in the boot
# partition's root (upstream_kernel=1), as Debian's raspi-firmware installs them
DTBS_rpi="broadcom/bcm2837-rpi-3-*.dtb broadcom/bcm2837-rpi-cm3-*.dtb broadcom/bcm2711-rpi-4-b.dtb broadcom/bcm2711-rpi-cm4-*.dtb"
# The Pi's boot firmware: the GPU's boot loader and start files of the Pi 3
# family (start.elf) and the Pi 4 family (start4.elf)
RPI_FIRMWARE="bootcode.bin start.elf fixup.dat start4.elf fixup4.dat"


build_one() {
	# target: arm64, armv7 (U-Boot boards) or rpi (Raspberry Pi, arm64)
	local target=$1 arch debarch flavour goarch goarm="" triplet
	case $target in
	arm64 | rpi) arch=arm64 debarch=arm64 flavour=arm64 goarch=arm64 triplet=aarch64-linux-gnu ;;
	armv7) arch=armv7 debarch=armhf flavour=armmp goarch=arm goarm=7 triplet=arm-linux-gnueabihf ;;
	*) log "unknown target $target (arm64, armv7, rpi)"; exit 1 ;;
	esac
	local name=$arch
	[ "$target" = rpi ] && name=rpi-arm64
	local W=$DIST/build-$target
	rm -rf "$W"
	mkdir -p "$W"/{deb,initramfs,rootfs,boot}
	log "$target: Go binaries (otwatch $VERSION, epoch $SOURCE_DATE_EPOCH)"
	env GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.version=$VERSION" -o "$W/otwatch" ./cmd/otwatch
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.buildEpoch=$SOURCE_DATE_EPOCH -X main.version=$VERSION" -o "$W/init" ./firmware/init

	# ---- Debian packages ----
	local kpkg
	kpkg=${KERNEL_PKG:-$(apt-cache depends "linux-image-$flavour:$debarch" | awk '/Depends: linux-image-/ && !x {print $2; x=1}')}
	kpkg=${kpkg%%:*}
	log "$target: kernel package $kpkg"
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
	local fwdeb=""
	if [ "$target" = rpi ]; then
		fwdeb=$(fetch "raspi-firmware:all")
		dpkg-deb -x "$fwdeb" "$W/deb/raspi-firmware"
	fi

	# ---- initramfs: our init, the modules, nothing else ----
	local I=$W/initramfs
	install -m 0755 "$W/init" "$I/init"
	: > "$I/otwatch-initramfs"
	mkdir -p "$I"/{proc,sys,dev,newroot,lib/modules}
	local mods="$MODULES_COMMON"
	case $target in
	arm64) mods="$mods $MODULES_arm64" ;;
	armv7) mods="$mods $MODULES_armv7" ;;
	rpi) mods="$mods $MODULES_rpi" ;;
	esac
	"$TOOLS/imgtool" modules -moddir "$W/deb/kernel/lib/modules/$kver" -out "$I/lib/modules" $mods
	"$TOOLS/imgtool" cpio -root "$I" -out "$W/initrd.cpio" -epoch "$SOURCE_DATE_EPOCH"
	gzip -n -9 -c "$W/initrd.cpio" > "$W/boot/initrd.img"

	# ---- root file system (read-only squashfs; the same for arm64 and rpi) ----
	local R=$W/rootfs
	mkdir -p "$R"/{bin,sbin,usr/bin,usr/share/otwatch,usr/share/doc/otwatch,etc/otwatch,proc,sys,dev,run,tmp,data,lib}
	install -m 0755 "$W/init" "$R/sbin/init"
	install -m 0755 "$W/otwatch" "$R/usr/bin/otwatch"
	install -m 0755 "$W/deb/busybox/bin/busybox" "$R/bin/busybox"
	ln -s busybox "$R/bin/sh"
	install -m 0644 "$FW/rootfs/etc/otwatch/appliance.conf.default" "$FW/rootfs/etc/otwatch/otwatch.conf.default" "$R/etc/otwatch/"
	# the key this version trusts for the next update (firmware/update)
	install -m 0644 "$PUBKEY" "$R/etc/otwatch/update.pub"
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
			[ -n "$src" ] || { log "$target: $lib (needed by $f) not found"; exit 1; }
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

	# ---- boot partition (FAT): kernel, initramfs, device trees, boot script ----
	local B=$W/boot kimg=$W/deb/kernel/boot/vmlinuz-$kver
	local dtbsrc=$W/deb/kernel/usr/lib/linux-image-$kver pat
	case $target in
	arm64)
		gzip -n -9 -c "$kimg" > "$B/vmlinuz"   # Image.gz: qemu and U-Boot's booti unpack it
		(cd "$dtbsrc" && for pat in $DTBS_arm64; do for f in $pat; do [ -f "$f" ] && { mkdir -p "$B/dtbs/$(dirname "$f")"; cp "$f" "$B/dtbs/$f"; }; done; done)
		# booti needs kernel_comp_addr_r for a gzip'd Image: a boot script sets it
		"$TOOLS/imgtool" bootscr -in "$FW/boot/boot-arm64.cmd" -out "$B/boot.scr" -arch arm64 -epoch "$SOURCE_DATE_EPOCH"
		;;
	armv7)
		cp "$kimg" "$B/vmlinuz"                # zImage decompresses itself
		(cd "$dtbsrc" && for pat in $DTBS_armv7; do for f in $pat; do [ -f "$f" ] && { mkdir -p "$B/dtbs/$(dirname "$f")"; cp "$f" "$B/dtbs/$f"; }; done; done)
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
		;;
	rpi)
		# The Pi's firmware loads the kernel itself, uncompressed, as
		# Debian's raspi-firmware does with the same kernel package
		cp "$kimg" "$B/vmlinuz"
		(cd "$dtbsrc" && for pat in $DTBS_rpi; do for f in $pat; do [ -f "$f" ] && cp "$f" "$B/$(basename "$f")"; done; done)
		for f in $RPI_FIRMWARE; do install -m 0644 "$W/deb/raspi-firmware/usr/lib/raspi-firmware/$f" "$B/$f"; done
		install -m 0644 "$FW/boot/rpi-config.txt" "$B/config.txt"
		install -m 0644 "$FW/boot/rpi-cmdline.txt" "$B/cmdline.txt"
		;;
	esac
	find "$B" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	local bootkib; bootkib=$(du -sk --apparent-size "$B" | cut -f1)
	local boot_mib=$(( (bootkib * 11 / 10 + 1024) / 1024 + 2 ))
	rm -f "$W/boot.fat"
	# FAT16 (the Pi's boot ROM and firmware read FAT, so do U-Boot and
	# UEFI); --invariant and a fixed volume id make it reproducible, mcopy
	# -m keeps the files' times (the epoch)
	mkfs.fat --invariant -F 16 -i 6f747761 -n OTWATCHBOOT -C "$W/boot.fat" $((boot_mib * 1024)) >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -s -m -p -i "$W/boot.fat" "$B"/* ::/

	# ---- slots: the factory boot control record (slot a good, b empty) ----
	local root_bytes; root_bytes=$(stat -c %s "$W/root.sqfs")
	[ "$root_bytes" -le $((ROOT_MIB * 1048576)) ] || { log "$target: root is $root_bytes bytes, larger than a slot (ROOT_MIB=$ROOT_MIB)"; exit 1; }
	"$TOOLS/imgtool" slots -out "$W/slots.bin" -version "$VERSION" -epoch "$SOURCE_DATE_EPOCH" -payload "$W/root.sqfs"

	# ---- disk image: GPT, boot | slots | root-a | root-b | data ----
	# root-b and data stay zeroes: an update writes b, the init formats data
	local total_mib=$(( 1 + boot_mib + 1 + 2 * ROOT_MIB + DATA_MIB + 1 ))
	local img=$DIST/otwatch-$name.img
	rm -f "$img" "$img.manifest" "$img.manifest.sig" "$img.bmap"
	truncate -s "${total_mib}M" "$img"
	local root_type; [ "$arch" = arm64 ] && root_type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE || root_type=69DAD710-2CE4-4E3C-B16C-21A1D49ABED3
	local s1=2048
	local s2=$(( s1 + boot_mib * 2048 ))
	local s3=$(( s2 + 2048 ))
	local s4=$(( s3 + ROOT_MIB * 2048 ))
	local s5=$(( s4 + ROOT_MIB * 2048 ))
	sfdisk -q --no-reread --no-tell-kernel "$img" >&2 <<-EOF
	label: gpt
	label-id: 6F747761-7463-6864-6973-6B0000000000
	unit: sectors
	start=$s1, size=$(( boot_mib * 2048 )), type=BC13C2FF-59E6-4262-A352-B275FD6F7172, uuid=6F747761-7463-6862-6F6F-740000000003, name="otwatch-boot", attrs="LegacyBIOSBootable"
	start=$s2, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6F747761-7463-6873-6C6F-740000000006, name="otwatch-slots"
	start=$s3, size=$(( ROOT_MIB * 2048 )), type=$root_type, uuid=6F747761-7463-6872-6F6F-740000000004, name="otwatch-root-a"
	start=$s4, size=$(( ROOT_MIB * 2048 )), type=$root_type, uuid=6F747761-7463-6872-6F6F-740000000007, name="otwatch-root-b"
	start=$s5, size=$(( DATA_MIB * 2048 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6F747761-7463-6864-6174-610000000005, name="otwatch-data"
	EOF
	dd if="$W/boot.fat" of="$img" bs=512 seek=$s1 conv=notrunc status=none
	dd if="$W/slots.bin" of="$img" bs=512 seek=$s2 conv=notrunc status=none
	dd if="$W/root.sqfs" of="$img" bs=512 seek=$s3 conv=notrunc status=none
	if [ "$target" = rpi ]; then
		# the Pi's boot ROM reads the MBR only: a hybrid MBR shows it the
		# FAT partition; Linux and our init read the GPT
		"$TOOLS/imgtool" hybridmbr -image "$img" -part otwatch-boot
	fi

	# the kernel, initramfs (and, for the Pi, device tree) beside the image,
	# for qemu -kernel boots
	cp "$B/vmlinuz" "$DIST/otwatch-$name.vmlinuz"
	cp "$B/initrd.img" "$DIST/otwatch-$name.initrd"
	[ "$target" = rpi ] && cp "$B/bcm2837-rpi-3-b.dtb" "$DIST/otwatch-$name.dtb"

	local vers=(-version "otwatch=$VERSION" -version "arch=$arch" -version "kernel=$kver"
		-version "debian:$kpkg=$(debver "$kdeb")" -version "debian:busybox-static=$(debver "$bbdeb")"
		-version "debian:e2fsprogs=$(debver "${e2debs[0]}")" -version "debian:libc6=$(debver "${e2debs[5]}")"
		-version "go=$($GO env GOVERSION)" -version "source-date-epoch=$SOURCE_DATE_EPOCH")
	local ivers=("${vers[@]}")
	[ -n "$fwdeb" ] && ivers+=(-version "debian:raspi-firmware=$(debver "$fwdeb")" -version "target=rpi")
	"$TOOLS/imgtool" manifest -image "$img" -key "$KEY" \
		-tree "boot=$B" -tree "rootfs=$R" -tree "initramfs=$I" "${ivers[@]}"
	if command -v bmaptool >/dev/null; then bmaptool create -o "$img.bmap" "$img"; fi
	"$TOOLS/verify" -q -pubkey "$PUBKEY" "$img"
	# the update bundle: what an admin uploads to move a box to this version
	# (the Pi and the arm64 boards share one: the same root)
	if [ "$target" != rpi ]; then
		"$TOOLS/imgtool" bundle -payload "$W/root.sqfs" -tree "rootfs=$R" -key "$KEY" -out "$DIST/otwatch-$arch.otwb" \
			-epoch "$SOURCE_DATE_EPOCH" "${vers[@]}"
		"$TOOLS/verify" -q -pubkey "$PUBKEY" -bundle "$DIST/otwatch-$arch.otwb"
	fi
	# the unpacked packages are 300+ MiB; KEEP_BUILD=1 keeps them for debugging
	[ -n "${KEEP_BUILD:-}" ] || rm -rf "$W/deb"
	log "$target: $img $(stat -c %s "$img") bytes (boot ${boot_mib} MiB, slots 1 MiB, root ${ROOT_MIB} MiB x 2 holding $((root_bytes / 1024)) KiB, data ${DATA_MIB} MiB); sha256 $(sha256sum "$img" | cut -c1-16)…"
}

for a in $ARCHES; do build_one "$a"; done
