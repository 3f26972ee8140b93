#!/usr/bin/env bash
# Boots a Debian kernel in QEMU (TCG) with an initramfs holding busybox and
# the given ovaboot binary, hands it an OVF environment over one transport,
# and leaves the serial console in OUT/serial.log (tests/vm/init.sh says
# what the guest runs and prints). tests/vm_transports.rs drives it.
#
#   boot.sh --scenario fw_cfg|iso|none|firstboot --ovaboot BIN --out DIR \
#           [--cache DIR] [--contour-manifest FILE]
#
# Needs qemu-system-x86, xorriso, cpio and apt-get (Debian): the kernel
# (linux-image-amd64's current image) and busybox-static are fetched with
# `apt-get download` into the cache and unpacked there, never installed.
# The VM is killed after OVABOOT_VM_TIMEOUT seconds (default 120; a boot
# takes 6-15 s under TCG).
# Exit status: QEMU's (0 after the guest powered off), 124 on time-out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { echo "boot.sh: $*" >&2; }
die() { log "$*"; exit 2; }
source "$here/lib.sh"
scenario="" ovaboot="" out="" cache="${OVABOOT_VM_CACHE:-/var/cache/ovaboot-vm}" manifest=""
while [ $# -gt 0 ]; do
    case "$1" in
    --scenario) scenario=$2; shift 2 ;;
    --ovaboot) ovaboot=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --contour-manifest) manifest=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
    esac
done
case "$scenario" in
fw_cfg | iso | none | firstboot) ;;
*) die "--scenario must be fw_cfg, iso, none or firstboot" ;;
esac
[ -x "$ovaboot" ] || die "--ovaboot $ovaboot is not an executable"
[ -n "$out" ] || die "--out is required"
if [ "$scenario" = firstboot ] && [ ! -f "$manifest" ]; then
    die "the firstboot scenario needs --contour-manifest FILE"
fi
vm_need qemu-system-x86_64 xorriso cpio apt-get dpkg-deb

# --- The guest's kernel, modules and busybox, fetched once into the cache ---
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
    log "apt has no linux-image-amd64 yet: apt-get update"
    apt-get update -qq
    pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on"
guest="$cache/$pkg"
if [ ! -f "$guest/.unpacked" ]; then
    log "fetching $pkg and busybox-static into $cache"
    rm -rf "$cache"/linux-image-* "$cache/debs" # older kernels too
    mkdir -p "$cache/debs"
    download() { (cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" busybox-static); }
    if ! download; then
        # Stale package lists name a kernel the mirror has dropped: refresh once.
        log "download failed: apt-get update and look the kernel up again"
        apt-get update -qq
        pkg=$(kernel_pkg)
        [ -n "$pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on"
        guest="$cache/$pkg"
        download
    fi
    mkdir -p "$guest"
    for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$guest"; done
    rm -rf "$cache/debs"
    touch "$guest/.unpacked"
fi
flock -u 9
kver=${pkg#linux-image-}
vmlinuz="$guest/boot/vmlinuz-$kver"
moddir="$guest/lib/modules/$kver"
[ -f "$vmlinuz" ] && [ -d "$moddir" ] || die "$pkg has no vmlinuz or modules"

# --- The initramfs ---
rm -rf "$out"
mkdir -p "$out/root"
root="$out/root"
mkdir -p "$root"/{bin,usr/bin,etc/ovaboot-vm,lib/modules,proc,sys,dev,run,tmp}
cp "$guest/bin/busybox" "$root/bin/busybox"
install -m 0755 "$here/init.sh" "$root/init"
install -m 0755 "$ovaboot" "$root/usr/bin/ovaboot"
# The binary's shared libraries and loader, at the paths ldd names.
for lib in $(ldd "$ovaboot" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# A typical /etc/hosts, which the host step must keep.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
if [ "$scenario" = firstboot ]; then
    # Where the appliance image ships it ([contour] manifest's default).
    mkdir -p "$root/usr/share/ovaboot/contour"
    cp "$manifest" "$root/usr/share/ovaboot/contour/contour-v1.33.6.yaml"
fi

# Kernel modules with their dependencies first (from each .ko's modinfo),
# flat in /lib/modules; the order is the order init.sh loads them in.
declare -A ko_path=() loaded=()
while IFS= read -r ko; do
    name=$(basename "$ko" .ko)
    ko_path[${name//-/_}]=$ko
done < <(find "$moddir/kernel" -name '*.ko')
order=()
add_module() {
    local name=${1//-/_} dep
    [ -n "${loaded[$name]:-}" ] && return
    [ -n "${ko_path[$name]:-}" ] || die "module $name not in $pkg"
    loaded[$name]=1
    for dep in $(tr '\0' '\n' <"${ko_path[$name]}" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    order+=("$name")
    cp "${ko_path[$name]}" "$root/lib/modules/$name.ko"
}
# fw_cfg in sysfs; ISO 9660; the CD-ROM driver before the SCSI host it sits
# on (see init.sh); a virtio NIC for the host step's first Ethernet interface.
for module in qemu_fw_cfg isofs sr_mod virtio_pci virtio_scsi virtio_net; do
    add_module "$module"
done
printf '%s\n' "${order[@]}" >"$root/etc/ovaboot-vm/modules"

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out/initramfs.cpio"
rm -rf "$root"

# --- The scenario's devices ---
qemu_args=(
    -machine pc,vmport=on -m 1024 -nodefaults
    -chardev "file,id=console,path=$out/serial.log" -serial chardev:console
    -kernel "$vmlinuz" -initrd "$out/initramfs.cpio"
    # QEMU's VMware backdoor port: its trace shows whether the guest used it.
    -trace "enable=vmport_*,file=$out/vmport-trace.log"
    -append "console=ttyS0 panic=-1 scsi_mod.scan=sync ovaboot_vm=$scenario"
)
case "$scenario" in
fw_cfg)
    qemu_args+=(-fw_cfg "name=opt/ovaboot/ovf-env,file=$here/fixtures/fw-cfg-static-network-with-proxy-credentials.xml")
    # props checks the static address as render does: it needs an interface.
    qemu_args+=(-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0,romfile=)
    ;;
iso)
    # Plain ISO 9660 names, no Joliet or Rock Ridge: the transport must find them too.
    vm_ovf_iso "$here/fixtures/iso-cd-dhcp-with-ntp.xml" "$out/ovf-env.iso"
    qemu_args+=(
        -device virtio-scsi-pci,id=scsi0
        -drive "if=none,id=cd0,media=cdrom,readonly=on,format=raw,file=$out/ovf-env.iso"
        -device scsi-cd,drive=cd0,bus=scsi0.0
    )
    ;;
none)
    # An empty CD-ROM drive: the ISO transport must skip it without waiting.
    qemu_args+=(
        -device virtio-scsi-pci,id=scsi0
        -drive if=none,id=cd0,media=cdrom
        -device scsi-cd,drive=cd0,bus=scsi0.0
    )
    ;;
firstboot)
    # No host traffic: the NIC only has to exist for the static address.
    qemu_args+=(-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0,romfile=)
    ;;
esac

rc=0
vm_qemu "$scenario ($pkg)" "${OVABOOT_VM_TIMEOUT:-120}" "${qemu_args[@]}" || rc=$?
exit "$rc"
