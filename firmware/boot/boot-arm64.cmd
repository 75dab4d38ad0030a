# otwatch appliance, arm64: U-Boot boot script (boot.scr on the boot partition).
# U-Boot's distro boot runs it with devtype, devnum and distro_bootpart set.
# The kernel is a gzip'd Image: booti unpacks it through kernel_comp_addr_r,
# which many board environments (and qemu_arm64's) do not define.
echo "otwatch: booting from ${devtype} ${devnum}:${distro_bootpart}"
if test -z "${kernel_comp_addr_r}"; then setexpr kernel_comp_addr_r ${ramdisk_addr_r} + 0x4000000; fi
if test -z "${kernel_comp_size}"; then setenv kernel_comp_size 0x3000000; fi
load ${devtype} ${devnum}:${distro_bootpart} ${ramdisk_addr_r} /initrd.img
setenv otwatch_initrd_size ${filesize}
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} /vmlinuz
setenv otwatch_fdt ${fdtcontroladdr}
if test -n "${fdtfile}"; then
	if load ${devtype} ${devnum}:${distro_bootpart} ${fdt_addr_r} /dtbs/${fdtfile}; then setenv otwatch_fdt ${fdt_addr_r}; fi
fi
setenv bootargs "rootwait panic=10 ${otwatch_extra_bootargs}"
booti ${kernel_addr_r} ${ramdisk_addr_r}:${otwatch_initrd_size} ${otwatch_fdt}
