#!/usr/bin/env bash
# Boots the appliance image (packer/build-image) in QEMU for
# tests/vm_appliance/ and tests/vm_powercut/, and reads its disk afterwards.
#
#   vm.sh prepare --image BASE.raw --out TEST.raw
#       A sparse copy of the image with the test-only units of this folder in
#       it (ovaboot-vmtest powers the guest off; the cluster drop-ins shorten
#       their wait) and mitigations=off on its kernel command line. The shipped
#       image itself is never written.
#   vm.sh boot --disk BACKING --out DIR [--ovf-env FILE] [--kubeconfig FILE] [--clock DATE]
#              [--config FILE]
#       Boots a copy-on-write qcow2 overlay of BACKING (DIR/overlay.qcow2;
#       BACKING is raw, or *.qcow2: another boot's overlay)
#       with the OVF environment on a CD labelled "OVF ENV" (vSphere's ISO
#       transport; without one, an empty CD drive), the serial console in
#       DIR/serial.log; then copies the overlay's disk to DIR/after.raw and
#       reads it into DIR/disk/ (the files ovaboot writes, their modes and
#       digests in DIR/disk/stat.txt, the journal in DIR/disk/journal.txt).
#       --kubeconfig: a kubeconfig for a control plane on the host's loopback,
#       in fw_cfg for ovaboot-vmtest to put where k3s would; the guest then
#       reaches the host's 127.0.0.1 as 10.0.2.2.
#       --clock: the guest's clock (its RTC) at power-on, UTC, e.g.
#       2029-02-10T12:00:00 (QEMU's -rtc base=); else now.
#       --config: the config ovaboot's units read in the test copy, in fw_cfg
#       for ovaboot-vmtest-early to put in place; else the test copy's own.
#   vm.sh cut --disk BACKING --out DIR --trigger TEXT --delay-ms N --iops-write N
#             [--ovf-env FILE] [--kubeconfig FILE] [--config FILE]
#       Boots as boot does, the disk's writes throttled to N requests a
#       second, with ovaboot's fsyncs and renames traced on the console
#       (ovaboot-vmtest-early); N milliseconds after the first console line
#       containing TEXT, kills QEMU with SIGKILL (a power cut: what the guest
#       had not flushed is lost). Each console line is stamped with the
#       host's clock as it arrives (DIR/serial.times: "SECONDS LINE"), and
#       the cut's instant is in DIR/cut.at (absent when the guest powered
#       off first). Then reads the disk like boot, mounted read-write so ext4
#       replays its journal as the next boot would (on a copy: the overlay
#       stays as the cut left it, for the next boot). Exit status 0 after a
#       cut or a power-off, 3 when TEXT never showed, 124 on time-out.
#   vm.sh put --disk RAW --file PATH --from FILE
#       Writes FILE into the disk's file system at PATH (mode 0644).
#
# Needs root, qemu-system-x86, qemu-utils, xorriso, util-linux, systemd
# (journalctl). The VM is killed after OVABOOT_VM_TIMEOUT seconds (default
# 480). Exit status: QEMU's (0 after the guest powered off), 124 on time-out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
# packer/build-image's layout: one partition from 1 MiB.
part_offset=$((1024 * 1024))
log() { echo "vm.sh: $*" >&2; }
die() { log "error: $*"; exit 2; }

cmd=${1:-}
shift || true
image="" out="" disk="" env="" kubeconfig="" file="" from="" clock="" config=""
trigger="" delay="" iops_write=""
while [ $# -gt 0 ]; do
    case "$1" in
    --image) image=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --ovf-env) env=$2; shift 2 ;;
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --clock) clock=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --trigger) trigger=$2; shift 2 ;;
    --delay-ms) delay=$2; shift 2 ;;
    --iops-write) iops_write=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
    esac
done

# Runs "$@" with the disk's file system mounted at $mnt; unmounts and
# detaches in the same script (mounts do not outlive one command here).
mnt="" loop=""
release() {
    if [ -n "$mnt" ]; then
        mountpoint -q "$mnt" && umount "$mnt"
        rmdir "$mnt"
    fi
    [ -n "$loop" ] && losetup -d "$loop"
    mnt="" loop=""
}
trap release EXIT
with_fs() {
    local raw=$1 mode=$2
    shift 2
    mnt=$(mktemp -d)
    if [ "$mode" = ro ]; then
        loop=$(losetup --find --show --read-only --offset "$part_offset" "$raw")
        mount -o ro,noload "$loop" "$mnt"
    else
        loop=$(losetup --find --show --offset "$part_offset" "$raw")
        mount "$loop" "$mnt"
    fi
    "$@"
    release
}

inject() {
    install -D -m 0755 "$here/ovaboot-vmtest" "$mnt/usr/local/sbin/ovaboot-vmtest"
    install -D -m 0644 "$here/ovaboot-vmtest.service" "$mnt/etc/systemd/system/ovaboot-vmtest.service"
    mkdir -p "$mnt/etc/systemd/system/multi-user.target.wants"
    ln -sfn ../ovaboot-vmtest.service "$mnt/etc/systemd/system/multi-user.target.wants/ovaboot-vmtest.service"
    install -D -m 0644 "$here/ovaboot-cluster-vmtest.conf" "$mnt/etc/systemd/system/ovaboot-cluster.service.d/vmtest.conf"
    install -D -m 0644 "$here/ovaboot-host-vmtest.conf" "$mnt/etc/systemd/system/ovaboot-host.service.d/vmtest.conf"
    install -D -m 0644 "$here/ovaboot-reconfigure-cluster-vmtest.conf" \
        "$mnt/etc/systemd/system/ovaboot-reconfigure-cluster.service.d/vmtest.conf"
    install -D -m 0644 "$here/ovaboot.toml" "$mnt/etc/ovaboot-vmtest/ovaboot.toml"
    install -D -m 0755 "$here/ovaboot-vmtest-early" "$mnt/usr/local/sbin/ovaboot-vmtest-early"
    install -D -m 0644 "$here/ovaboot-vmtest-early.service" "$mnt/etc/systemd/system/ovaboot-vmtest-early.service"
    mkdir -p "$mnt/etc/systemd/system/sysinit.target.wants"
    ln -sfn ../ovaboot-vmtest-early.service "$mnt/etc/systemd/system/sysinit.target.wants/ovaboot-vmtest-early.service"
    # No CPU vulnerability mitigations in the test copy: under TCG they cost
    # about a tenth of a boot's CPU time (measured) and change nothing ovaboot does.
    local conf=$mnt/boot/extlinux/extlinux.conf
    grep -q '^ *APPEND ' "$conf" || die "$conf has no APPEND line"
    sed -i 's/^\( *APPEND .*\)$/\1 mitigations=off/' "$conf"
}

put() {
    install -D -m 0644 "$from" "$mnt$file"
}

extract() {
    local dest=$1 path
    rm -rf "$dest"
    mkdir -p "$dest/files"
    # What ovaboot writes, and what it must leave alone.
    for path in etc/hostname etc/hosts etc/machine-id etc/systemd/network etc/ovaboot \
        etc/sysctl.d etc/systemd/system/k3s.service.d etc/systemd/timesyncd.conf.d etc/issue.d \
        etc/shadow root/.ssh var/lib/ovaboot; do
        [ -e "$mnt/$path" ] || continue
        mkdir -p "$dest/files/$(dirname "$path")"
        cp -a "$mnt/$path" "$dest/files/$path"
    done
    # Path, mode, owner, group, mtime and digest of every such file.
    (
        cd "$mnt"
        for path in etc/hostname etc/hosts etc/systemd/network etc/ovaboot etc/sysctl.d \
            etc/systemd/timesyncd.conf.d etc/shadow root/.ssh var/lib/ovaboot; do
            if [ -e "$path" ]; then find "$path" -type f; fi
        done | sort | while read -r f; do
            echo "$f $(stat -c '%a %u %g %Y' "$f") $(sha256sum "$f" | cut -d' ' -f1)"
        done
    ) >"$dest/stat.txt"
    if [ -d "$mnt/var/log/journal" ]; then
        journalctl -D "$mnt/var/log/journal" -o short-monotonic --no-pager >"$dest/journal.txt" 2>&1 || true
    else
        echo "no persistent journal" >"$dest/journal.txt"
    fi
}

# Microseconds since the epoch, and back to seconds for read -t.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
seconds() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

# vm_qemu_cut DIR TIMEOUT TRIGGER DELAY_MS QEMU-ARGS...: runs QEMU with the
# serial console on a pipe read here, each line into DIR/serial.log and,
# stamped with the host's clock as it arrives, DIR/serial.times. DELAY_MS
# milliseconds after the first line containing TRIGGER, QEMU is killed with
# SIGKILL and the instant (host clock, seconds) written to DIR/cut.at. The
# waits are read's own time-outs: no helper process to race with QEMU.
# Returns 0 after a cut or a power-off, 3 when TRIGGER never showed, 124
# on time-out.
vm_qemu_cut() {
    local dir=$1 timeout_secs=$2 trigger=$3 delay_ms=$4
    shift 4
    local qemu console line now deadline cut_us="" limit status rc=0 killed=""
    log "booting $dir for a cut (TCG, $delay_ms ms after \"$trigger\", timeout ${timeout_secs}s)"
    exec {console}< <(exec qemu-system-x86_64 "${VM_QEMU_BASE[@]}" "$@" -serial stdio </dev/null 2>"$dir/qemu.err")
    qemu=$!
    limit=$(($(now_us) + timeout_secs * 1000000))
    while :; do
        deadline=$limit
        [ -z "$cut_us" ] || deadline=$cut_us
        now=$(now_us)
        status=0
        if [ "$now" -lt "$deadline" ]; then
            IFS= read -r -t "$(seconds $((deadline - now)))" -u "$console" line || status=$?
        else
            status=142 line=""
        fi
        if [ "$status" -gt 128 ]; then
            # A time-out: the cut's instant, or the whole boot's limit.
            [ -z "$line" ] || printf '%s\n' "$line" >>"$dir/serial.log"
            now=$EPOCHREALTIME
            kill -KILL "$qemu" 2>/dev/null || true
            if [ -n "$cut_us" ]; then
                echo "$now" >"$dir/cut.at"
                killed=cut
            else
                killed=timeout
            fi
            break
        fi
        [ "$status" = 0 ] || break # end of the console: QEMU exited
        now=$EPOCHREALTIME
        printf '%s\n' "$line" >>"$dir/serial.log"
        printf '%s %s\n' "$now" "$line" >>"$dir/serial.times"
        if [ -z "$cut_us" ] && [[ $line == *"$trigger"* ]]; then
            cut_us=$(($(now_us) + delay_ms * 1000))
        fi
    done
    wait "$qemu" || rc=$?
    exec {console}<&-
    case "$killed" in
    cut) log "$dir: cut $delay_ms ms after \"$trigger\" (QEMU killed: $rc)"; return 0 ;;
    timeout) log "$dir: timed out after ${timeout_secs}s"; return 124 ;;
    esac
    if [ -z "$cut_us" ]; then
        log "$dir: QEMU exited with $rc and \"$trigger\" never showed"
        return 3
    fi
    log "$dir: the guest powered off (QEMU exited with $rc) before the cut's instant"
    return "$rc"
}

case "$cmd" in
prepare)
    [ -f "$image" ] && [ -n "$out" ] || die "prepare needs --image BASE.raw --out TEST.raw"
    cp --sparse=always "$image" "$out.tmp"
    with_fs "$out.tmp" rw inject
    mv "$out.tmp" "$out"
    ;;
put)
    [ -f "$disk" ] && [ -n "$file" ] && [ -f "$from" ] || die "put needs --disk RAW --file PATH --from FILE"
    with_fs "$disk" rw put
    ;;
boot | cut)
    [ -f "$disk" ] && [ -n "$out" ] || die "$cmd needs --disk BACKING --out DIR"
    if [ "$cmd" = cut ]; then
        [ -n "$trigger" ] && [ -n "$delay" ] && [ -n "$iops_write" ] ||
            die "cut needs --trigger TEXT --delay-ms N --iops-write N"
    fi
    vm_need qemu-system-x86_64 qemu-img xorriso journalctl
    rm -rf "$out"
    mkdir -p "$out"
    backing_format=raw
    case "$disk" in *.qcow2) backing_format=qcow2 ;; esac
    qemu-img create -q -f qcow2 -F "$backing_format" -b "$(realpath "$disk")" "$out/overlay.qcow2"
    drive="file=$out/overlay.qcow2,if=virtio,format=qcow2"
    # A cut boot's writes are slowed so that the cut can land inside them.
    [ "$cmd" = boot ] || drive+=",throttling.iops-write=$iops_write"
    # Only the devices the tests use (-nodefaults): no VGA (its frame buffer
    # console, drawn in emulated code, costs seconds and nobody looks at it),
    # floppy or parallel port for the guest to probe.
    qemu_args=(-machine pc -m 2048 -nodefaults -drive "$drive")
    [ -z "$clock" ] || qemu_args+=(-rtc "base=$clock")
    if [ -n "$kubeconfig" ]; then
        # The guest's only way to the control plane: QEMU's user network
        # takes the gateway's address (10.0.2.2) to the host's loopback,
        # which restrict=on would refuse.
        qemu_args+=(
            -nic user,model=virtio-net-pci
            -fw_cfg "name=opt/ovaboot-vmtest/kubeconfig,file=$kubeconfig"
        )
    else
        # A NIC for the static address; no traffic to the host is needed.
        qemu_args+=(-nic user,model=virtio-net-pci,restrict=on)
    fi
    [ -z "$config" ] || qemu_args+=(-fw_cfg "name=opt/ovaboot-vmtest/ovaboot.toml,file=$config")
    # The CD-ROM drive the OVF descriptor gives the appliance: the OVF
    # environment in it, or empty.
    if [ -n "$env" ]; then
        vm_ovf_iso "$env" "$out/ovf-env.iso" -J -r
        qemu_args+=(-drive "file=$out/ovf-env.iso,if=ide,media=cdrom,readonly=on")
    else
        qemu_args+=(-drive if=ide,media=cdrom)
    fi
    rc=0
    if [ "$cmd" = boot ]; then
        vm_qemu "$out" "${OVABOOT_VM_TIMEOUT:-480}" -serial "file:$out/serial.log" "${qemu_args[@]}" || rc=$?
        mount_mode=ro
    else
        : >"$out/trace"
        qemu_args+=(-fw_cfg "name=opt/ovaboot-vmtest/trace,file=$out/trace")
        vm_qemu_cut "$out" "${OVABOOT_VM_TIMEOUT:-480}" "$trigger" "$delay" "${qemu_args[@]}" || rc=$?
        # As the next boot would find it: ext4 replays its journal.
        mount_mode=rw
    fi
    # The overlay over its backing file, as one raw disk to mount.
    qemu-img convert -O raw "$out/overlay.qcow2" "$out/after.raw"
    with_fs "$out/after.raw" "$mount_mode" extract "$out/disk"
    exit "$rc"
    ;;
*)
    die "usage: vm.sh prepare|boot|cut|put ... (see the comment at the top)"
    ;;
esac
