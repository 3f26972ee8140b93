# Shared by up, down, restart and bench: paths, the build, and process control
# by PID. Sourced, never run.

CP_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CP_REPO=$(cd "$CP_SRC/../.." && pwd)
CP_TARGET=${CP_TARGET:-$CP_REPO/target/controlplane}
CP_BIN=$CP_TARGET/bin
# Every component, in start order (down stops them in reverse).
CP_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok contour)

die() { echo "controlplane: $*" >&2; exit 1; }
say() { [ -n "${CP_QUIET:-}" ] || echo "controlplane: $*" >&2; }

cp_dir() {
  [ -n "${1:-}" ] || die "usage: $(basename "$0") DIR"
  mkdir -p "$1" || die "cannot create $1"
  (cd "$1" && pwd)
}

# -X flags for the version Kubernetes' own build (hack/lib/version.sh) stamps
# in; without them the API server says v0.0.0-master.
cp_k8s_version_ldflags() {
  local v major minor pkg
  v=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$CP_SRC/k8s/go.mod")
  major=${v#v}; major=${major%%.*}
  minor=${v#v"$major".}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf ' -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
      "$pkg" "$v" "$pkg" "$major" "$pkg" "$minor" "$pkg"
  done
}

# go build of a module's tools (and extra packages) into $CP_BIN, skipped when
# the binaries were built from the same go.mod/go.sum/sources (a stamp).
cp_build_module() {
  local mod=$1; shift
  local ldflags="-s -w"
  [ "$mod" != k8s ] || ldflags+=$(cp_k8s_version_ldflags)
  local dir=$CP_SRC/$mod stamp=$CP_BIN/.built-$mod sum
  sum=$({ (cd "$dir" && find . -type f \( -name 'go.*' -o -name '*.go' \) -print0 | sort -z \
          | xargs -0 sha256sum); echo "$ldflags"; } | sha256sum | cut -d' ' -f1)
  local missing=0 b
  for b in "$@"; do [ -x "$CP_BIN/$b" ] || missing=1; done
  if [ $missing = 0 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then return 0; fi
  command -v go >/dev/null || die "go is not installed (Go 1.25 or newer is needed to build the control plane)"
  say "building $mod ($*) into $CP_BIN"
  mkdir -p "$CP_BIN"
  local started=$SECONDS
  (cd "$dir" && GOCACHE=$CP_TARGET/gocache GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
     nice go build -trimpath -ldflags="$ldflags" -o "$CP_BIN/" tool $(cd "$dir" && ls -d ./*/ 2>/dev/null)) \
     >"$CP_TARGET/build-$mod.log" 2>&1 \
     || die "building $mod failed; see $CP_TARGET/build-$mod.log"
  echo "$sum" >"$stamp"
  say "built $mod in $((SECONDS - started)) s"
}

cp_build() {
  mkdir -p "$CP_TARGET"
  cp_build_module k8s kube-apiserver kube-controller-manager kube-scheduler kubectl etcd
  cp_build_module kwok kwok
  cp_build_module contour contour
}

# A port on 127.0.0.1 that nothing listens on now.
cp_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The PID in DIR/pids/NAME if that process is alive and was started from DIR
# (its run script is in its command line), else nothing: a stale file or a PID
# reused by another process is never signalled.
cp_pid() {
  local dir=$1 name=$2 pid
  pid=$(cat "$dir/pids/$name" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
  echo "$pid"
}

# Starts DIR/run/NAME.sh in its own session, output to DIR/logs/NAME.log.
cp_start() {
  local dir=$1 name=$2
  cp_pid "$dir" "$name" >/dev/null && return 0
  setsid bash "$dir/run/$name.sh" </dev/null >>"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name"
}

# SIGTERM to the component's process group (cp_start made it a session
# leader, so the group is what it started: Contour's supervisor and its child),
# up to 20 s, then SIGKILL; a stopped (SIGSTOP) process is continued first.
cp_stop() {
  local dir=$1 name=$2 pid i
  pid=$(cp_pid "$dir" "$name") || { rm -f "$dir/pids/$name"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null; kill -CONT -- "-$pid" 2>/dev/null
  for i in $(seq 200); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    say "$name ($pid) ignored SIGTERM for 20 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$dir/pids/$name"
}

# Polls `cmd...` every 0.2 s until it succeeds or `secs` pass.
cp_until() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

cp_kubectl() { "$CP_BIN/kubectl" --kubeconfig "$CP_DIR/kubeconfig" "$@"; }
