#!/bin/busybox sh
# /init of the VM test's initramfs (tests/vm/boot.sh builds it). Loads the
# kernel modules the transports need, runs ovaboot for the scenario named on
# the kernel command line (ovaboot_vm=...), prints every step between markers
# on the serial console, and powers off.
#
# Output protocol (read by tests/vm_transports.rs):
#   @@vm begin NAME: ARGV      a step starts
#   out| LINE                  its standard output, line by line
#   err| LINE                  its standard error, line by line
#   @@vm end NAME rc=N         its exit status
#   @@vm done                  every step ran; powering off
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /usr/sbin /sbin
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

scenario=$(sed -n 's/.*ovaboot_vm=\([a-z_]*\).*/\1/p' /proc/cmdline)
echo "@@vm scenario $scenario"

# In dependency order (boot.sh resolved it from each module's .modinfo).
# sr_mod is loaded before virtio_scsi and the kernel scans SCSI synchronously
# (scsi_mod.scan=sync), so /dev/sr0 exists once virtio_scsi's insmod returns.
while read -r module; do
    insmod "/lib/modules/$module.ko" || echo "@@vm insmod-failed $module"
done </etc/ovaboot-vm/modules
# Kernel messages stay off the console from here, so steps print unmixed.
dmesg -n 1

step() {
    name=$1
    shift
    echo "@@vm begin $name: $*"
    "$@" >/tmp/step.out 2>/tmp/step.err
    rc=$?
    awk '{ print "out| " $0 }' /tmp/step.out
    awk '{ print "err| " $0 }' /tmp/step.err
    echo "@@vm end $name rc=$rc"
}

case "$scenario" in
fw_cfg | none)
    step props ovaboot -v props --json
    ;;
iso)
    step devices ls /dev/sr0
    step props ovaboot -v props --json
    # The medium must be unmounted and the private directory gone.
    step mounts cat /proc/mounts
    step run-dir ls -a /run
    ;;
firstboot)
    step hostname-before hostname
    step sysctl-before cat /proc/sys/net/ipv4/ip_unprivileged_port_start
    step firstboot ovaboot -v firstboot --phase host --sample --root /
    step hostname hostname
    step sysctl cat /proc/sys/net/ipv4/ip_unprivileged_port_start
    step etc-hostname cat /etc/hostname
    step etc-hosts cat /etc/hosts
    step network cat /etc/systemd/network/10-ovaboot.network
    step sysctl-drop-in cat /etc/sysctl.d/60-ovaboot-envoy-ports.conf
    step tls-key-mode stat -c '%a %u' /etc/ovaboot/tls/tls.key
    ;;
*)
    echo "@@vm unknown-scenario $scenario"
    ;;
esac
echo "@@vm done"
sync
poweroff -f
