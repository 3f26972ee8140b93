# Shared by tests/vm/boot.sh and tests/vm/appliance/vm.sh: tool checks, the
# OVF environment CD and QEMU under a time limit. Sourced, never run; the
# sourcing script defines log() and die().

# The tools a script needs, or one line naming the missing one.
vm_need() {
    local tool
    for tool; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
    done
}

# vm_ovf_iso XML ISO [mkisofs options]: a CD labelled "OVF ENV" holding XML
# as ovf-env.xml, as vSphere's ISO transport presents the OVF environment.
vm_ovf_iso() {
    local xml=$1 iso=$2 dir
    shift 2
    dir=$(dirname "$iso")/cd
    mkdir -p "$dir"
    cp "$xml" "$dir/ovf-env.xml"
    xorriso -as mkisofs -V 'OVF ENV' "$@" -o "$iso" "$dir" >"$iso.log" 2>&1 ||
        { cat "$iso.log" >&2; die "xorriso failed"; }
}

# What every guest gets: TCG (no KVM needed; one host thread per guest), one
# CPU, no display, no reboot (a reboot would hide a crash), no user config.
VM_QEMU_BASE=(-accel tcg -cpu max -smp 1 -display none -no-reboot -no-user-config)

# vm_qemu NAME TIMEOUT QEMU-ARGS...: runs qemu-system-x86_64, killed after
# TIMEOUT seconds; returns QEMU's status (0 after the guest powered off, 124
# on time-out) and logs it with the wall time and QEMU's CPU time (on a busy
# host the wall time says little; the CPU time is the guest's work).
vm_qemu() {
    local name=$1 timeout_secs=$2 rc=0 took TIMEFORMAT='%0R s wall, CPU %0U s user + %0S s system'
    shift 2
    log "booting $name (TCG, timeout ${timeout_secs}s)"
    took=$(mktemp)
    # `time` reports into $took; QEMU's own stderr stays on ours (fd 3).
    { time timeout --kill-after=10 "$timeout_secs" qemu-system-x86_64 \
        "${VM_QEMU_BASE[@]}" "$@" 2>&3 || rc=$?; } 3>&2 2>"$took"
    log "$name: QEMU exited with $rc after $(cat "$took")"
    rm -f "$took"
    return "$rc"
}
