#!/usr/bin/env bash
# Real Kubernetes API servers for tests, without a cluster.
#
# Debian bookworm carries the Kubernetes 1.20.2 source and etcd 3.4. This
# script builds kube-apiserver from that source once (cached outside the
# clone, keyed by version), then starts and stops loopback-only API servers,
# each with its own etcd, TLS certificates, token file and kubeconfig. Two
# instances with different names run side by side (e.g. a management and a
# workload cluster). See tests/k8s/README.md for how the tests use it.
#
# Usage:
#   apiserver.sh build                 fetch + build kube-apiserver (idempotent)
#   apiserver.sh start <name> [--rbac] start an instance, print its kubeconfig path
#   apiserver.sh stop <name>|--all     stop instance(s), remove the state dir
#   apiserver.sh status [<name>]       show instance(s); exit 1 if <name> is down
#   apiserver.sh env <name> [VAR]      print VAR=<kubeconfig> (VAR: KUBECONFIG)
#   apiserver.sh pause <name> [--kill] stop only its kube-apiserver (etcd, port stay);
#                                      --kill: SIGKILL at once (a crash), not TERM
#   apiserver.sh resume <name>         start that kube-apiserver again, same URL
#   apiserver.sh smoke <name>          check an instance with curl (CRD, SSA, POST)
#
# Environment:
#   XCC_K8S_CACHE   cache root (default /var/cache/xcc-dns/k8s); the build
#                   lives in $XCC_K8S_CACHE/<version>/
#   XCC_K8S_STATE   state root (default /tmp/xcc-k8s); instance <name> lives
#                   in $XCC_K8S_STATE/<name>/
#   XCC_K8S_START_TIMEOUT  seconds to wait for /readyz (default 60)
#
# Only the kubeconfig path (start) or VAR=... lines (env, status) go to
# stdout; progress and diagnostics go to stderr, so
# `KUBECONFIG=$(apiserver.sh start mgmt)` works.
set -euo pipefail

# --- settings ----------------------------------------------------------------

# The upstream version Debian bookworm's `kubernetes` source package carries
# (1.20.5+really1.20.2-...). The cache is keyed by it.
readonly K8S_VERSION=1.20.2
# Bumped whenever the patches applied before building change, so that a
# cached binary built with older patches is not reused.
readonly BUILD_REV=2
readonly CACHE_ROOT=${XCC_K8S_CACHE:-/var/cache/xcc-dns/k8s}
readonly CACHE=$CACHE_ROOT/$K8S_VERSION-r$BUILD_REV
readonly APISERVER_BIN=$CACHE/bin/kube-apiserver
readonly STATE_ROOT=${XCC_K8S_STATE:-/tmp/xcc-k8s}
readonly START_TIMEOUT=${XCC_K8S_START_TIMEOUT:-60}
# Debian's Go 1.19 (the default `golang-go` of bookworm is also 1.19, but the
# versioned package pins it).
readonly GO_BIN_DIR=/usr/lib/go-1.19/bin
# Debian's reflect2 1.0.2; the 1.0.1 vendored by Kubernetes 1.20 crashes the
# server on every POST when built with Go >= 1.18.
readonly REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2

log() { printf 'apiserver.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --- Debian packages ----------------------------------------------------------

# `apt-get update`, at most once per run.
apt_update() {
    [[ -n ${APT_UPDATED:-} ]] && return 0
    APT_UPDATED=1
    log "apt-get update"
    apt-get update -qq >&2 || log "apt-get update failed; going on with the lists there are"
}

# Adds a deb-src entry for bookworm main (needed by `apt-get source`) unless
# one is configured already. Returns 0 if it added one.
ensure_deb_src() {
    if grep -rqsE '^(deb-src[[:space:]]|Types:.*deb-src)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 1
    fi
    log "adding a deb-src entry for bookworm to /etc/apt/sources.list.d/xcc-bookworm-src.sources"
    cat >/etc/apt/sources.list.d/xcc-bookworm-src.sources <<'EOF'
# Added by xcc-dns tests/k8s/apiserver.sh: `apt-get source kubernetes`.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    return 0
}

# Installs the given Debian packages that are not installed yet. Services
# shipped by them (etcd-server has an init script) are not started: a
# temporary policy-rc.d denies it when the machine has none.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "missing Debian packages (${missing[*]}); run as root or install them"
    log "apt-get install ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d added_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, tests/k8s/apiserver.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || rc=$?
    [[ -z $added_policy ]] || rm -f "$policy"
    ((rc == 0)) || die "apt-get install failed"
}

# Packages needed to run an instance (not to build).
ensure_runtime_packages() {
    ensure_packages etcd-server openssl curl util-linux iproute2
}

# --- build -------------------------------------------------------------------

cmd_build() {
    if [[ -x $APISERVER_BIN ]]; then
        log "kube-apiserver $K8S_VERSION is cached, nothing to build"
        print_build_paths
        return 0
    fi
    mkdir -p "$CACHE"
    # One build at a time (two test processes may ask at once). The lock fd
    # is closed for every child that could outlive us.
    exec 9>"$CACHE/.build.lock"
    if ! flock -n 9; then
        log "another build holds $CACHE/.build.lock; waiting for it"
        flock 9
    fi
    if [[ -x $APISERVER_BIN ]]; then
        log "kube-apiserver was built meanwhile"
        print_build_paths
        exec 9>&-
        return 0
    fi

    ensure_deb_src && apt_update
    # dpkg-dev: apt-get source unpacks with dpkg-source. make/rsync(+libpopt0)/
    # findutils/diffutils: the Kubernetes make rules.
    ensure_packages dpkg-dev golang-1.19-go rsync libpopt0 make \
        golang-github-modern-go-reflect2-dev ca-certificates
    ensure_runtime_packages

    local src_parent=$CACHE/src src
    src=$(find_source_tree "$src_parent" || true)
    if [[ -z $src ]]; then
        log "fetching the Debian kubernetes source into $src_parent"
        rm -rf "$src_parent"
        mkdir -p "$src_parent"
        # apt-get source downloads as root when _apt cannot write there; the
        # warning about it is harmless.
        # The source lists may be missing or stale: update once and retry.
        (cd "$src_parent" && apt-get source -qq kubernetes >&2) || {
            apt_update
            (cd "$src_parent" && apt-get source -qq kubernetes >&2)
        } || die "apt-get source kubernetes failed"
        src=$(find_source_tree "$src_parent") || die "no source tree under $src_parent"
    fi
    # Keyed by version: refuse a source of another upstream version (e.g. a
    # later Debian update) instead of caching it under the wrong key.
    grep -q "tag: v$K8S_VERSION'" "$src/hack/lib/version.sh" ||
        die "$src is not Kubernetes v$K8S_VERSION (see hack/lib/version.sh)"
    log "source: $src"

    # The reflect2 fix: swap the vendored 1.0.1 for Debian's 1.0.2. The Go
    # package API is the same; vendor/modules.txt still says v1.0.1, which Go
    # only compares with go.mod, not with the files.
    [[ -f $REFLECT2_SRC/reflect2.go ]] || die "$REFLECT2_SRC missing"
    local vendored=$src/vendor/github.com/modern-go/reflect2
    if ! cmp -s "$REFLECT2_SRC/reflect2.go" "$vendored/reflect2.go"; then
        log "replacing vendored reflect2 1.0.1 with Debian's 1.0.2"
        rm -rf "$vendored"
        mkdir -p "$vendored"
        cp -r "$REFLECT2_SRC/." "$vendored/"
        # Debian's gocode tree may hold test data or go.mod files that the
        # vendor directory must not contain.
        rm -f "$vendored/go.mod" "$vendored/go.sum"
    fi

    # The zero-value fix: built with Go >= 1.18, the 1.20 schema validator
    # takes an empty string ("") for null, because `reflect.Zero` now shares
    # one zero buffer and `reflect.DeepEqual` of the two Values compares
    # their pointers; a CRD field `message: ""` is then refused. Later
    # kube-openapi versions test `data == nil` only, as this patch does.
    local type_go=$src/vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go
    local zero_check='if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {'
    if grep -qF "$zero_check" "$type_go"; then
        log "patching the schema validator's zero-value check (Go >= 1.18)"
        sed -i "s/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/" "$type_go"
        grep -q 'reflect\.' "$type_go" || sed -i '/^\s*"reflect"$/d' "$type_go"
    fi

    # `make` generates code (deepcopy, defaults, conversions, openapi) before
    # compiling; a plain `go build` of cmd/kube-apiserver fails without it.
    # The build rules keep their own GOPATH and Go cache under _output/.
    # HOME: as in debian/rules, a writable directory the tools may use.
    log "building kube-apiserver (make WHAT=cmd/kube-apiserver); takes ~7 min on 2 free cores"
    local start=$SECONDS
    mkdir -p "$CACHE/home"
    (
        cd "$src"
        export PATH=$GO_BIN_DIR:$PATH HOME=$CACHE/home CGO_ENABLED=0
        unset GOFLAGS GOPATH GOROOT GOBIN
        make WHAT=cmd/kube-apiserver 9>&- >&2
    ) || die "make failed (see the output above)"
    local built=$src/_output/bin/kube-apiserver
    [[ -x $built ]] || die "make succeeded but $built is missing"
    mkdir -p "$CACHE/bin"
    cp "$built" "$APISERVER_BIN.tmp"
    mv -f "$APISERVER_BIN.tmp" "$APISERVER_BIN"
    log "built in $((SECONDS - start)) s"
    # _output/ (Go build cache, code generators, objects) is ~1.5 GB; only
    # the binary is needed. The source (~350 MB) stays for inspection.
    rm -rf "$src/_output"
    exec 9>&-
    print_build_paths
}

# The unpacked source directory under $1 (kubernetes-<debian upstream>).
find_source_tree() {
    local d
    for d in "$1"/kubernetes-*/; do
        [[ -f $d/Makefile && -d $d/vendor ]] && {
            printf '%s\n' "${d%/}"
            return 0
        }
    done
    return 1
}

print_build_paths() {
    cat <<EOF
kube-apiserver: $APISERVER_BIN ($("$APISERVER_BIN" --version 2>/dev/null || echo '?'))
etcd:           $(command -v etcd || echo 'not installed') ($(etcd --version 2>/dev/null | head -n1 || true))
source:         $(find_source_tree "$CACHE/src" || echo "$CACHE/src (removed)")
cache root:     $CACHE_ROOT (XCC_K8S_CACHE)
state root:     $STATE_ROOT (XCC_K8S_STATE)
EOF
}

# --- instances ---------------------------------------------------------------

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad instance name '$1' (letters, digits, . _ -)"
}

# PID of process <what> (etcd|kube-apiserver) of instance dir $1 if it is
# still running and still ours (its command line names the state dir, so a
# reused PID is not mistaken for it). Fails otherwise.
instance_pid() {
    local dir=$1 what=$2 pid
    [[ -f $dir/pids ]] || return 1
    pid=$(awk -v w="$what" '$1 == w { print $2 }' "$dir/pids")
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
    printf '%s\n' "$pid"
}

instance_running() {
    instance_pid "$1" etcd >/dev/null && instance_pid "$1" kube-apiserver >/dev/null
}

# Sets variable $1 to a TCP port that no socket on this machine uses, taken
# outside the ephemeral range (32768-60999, where outgoing connections get
# theirs). Another process may still take it before we bind it: cmd_start
# retries with new ports when a bind fails.
free_port() {
    local port tries
    for ((tries = 0; tries < 200; tries++)); do
        port=$((20000 + RANDOM % 12000))
        # Skip ports already handed out by this run.
        [[ " ${USED_PORTS:-} " == *" $port "* ]] && continue
        if ! ss -Htan "sport = :$port" 2>/dev/null | grep -q .; then
            USED_PORTS="${USED_PORTS:-} $port"
            printf -v "$1" '%s' "$port"
            return 0
        fi
    done
    die "no free port found"
}

# Stops a process by PID: TERM, up to $2 seconds, then KILL.
stop_pid() {
    local pid=$1 wait=${2:-10} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < wait * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid ignored TERM for ${wait}s; KILL"
    kill -KILL "$pid" 2>/dev/null || true
    # Reap-free wait: the process is not our child, poll until it is gone.
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# Writes the certificates, keys and token file of an instance in $1.
make_credentials() {
    local dir=$1 pki=$1/pki
    mkdir -p "$pki"
    chmod 700 "$pki"
    # A CA of its own (so clients verify TLS, rustls included) and a serving
    # certificate for 127.0.0.1 / localhost signed by it. X.509 v3 with the
    # extensions webpki insists on.
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3650 \
        -subj "/CN=xcc-test-ca-$NAME" \
        -addext 'basicConstraints=critical,CA:TRUE' \
        -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" \
        -subj "/CN=kube-apiserver" 2>/dev/null
    cat >"$pki/apiserver.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
EOF
    openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -out "$pki/apiserver.crt" -days 3650 \
        -extfile "$pki/apiserver.ext" 2>/dev/null
    # Service-account token signing key (1.20 requires --service-account-
    # issuer, -key-file and -signing-key-file).
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
    openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    # Static bearer tokens: token,user,uid,"groups". The admin is in
    # system:masters (all rights under RBAC too); the plain user has only
    # what RBAC grants it (with --rbac), to test our Roles.
    ADMIN_TOKEN=$(openssl rand -hex 24)
    USER_TOKEN=$(openssl rand -hex 24)
    cat >"$pki/tokens.csv" <<EOF
$ADMIN_TOKEN,xcc-admin,xcc-admin,"system:masters"
$USER_TOKEN,xcc-user,xcc-user,"xcc-users"
EOF
    chmod 600 "$pki"/*.key "$pki/tokens.csv"
}

# Writes kubeconfig file $1 for user $2 with token $3.
write_kubeconfig() {
    local file=$1 user=$2 token=$3
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: xcc-$NAME
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$DIR/pki/ca.crt")
users:
- name: $user@xcc-$NAME
  user:
    token: $token
contexts:
- name: xcc-$NAME
  context:
    cluster: xcc-$NAME
    user: $user@xcc-$NAME
    namespace: default
current-context: xcc-$NAME
EOF
    chmod 600 "$file"
}

# Starts etcd on fresh ports; waits until it answers /health. Returns 2 when
# a port was taken (the caller retries), 1 on other failures.
start_etcd() {
    free_port ETCD_PORT
    free_port ETCD_PEER_PORT
    rm -rf "$DIR/etcd"
    local extra=()
    # Durability is not wanted here; skip fsync when this etcd can.
    etcd --help 2>&1 | grep -q -- '--unsafe-no-fsync' && extra+=(--unsafe-no-fsync)
    # setsid: its own session, so a terminal's ^C/hang-up for the caller does
    # not hit it; stdio to files so callers reading our stdout do not wait.
    setsid etcd \
        --name "xcc-$NAME" \
        --data-dir "$DIR/etcd/" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "xcc-$NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-state new \
        --logger zap --log-outputs stderr --log-level warn \
        "${extra[@]}" \
        </dev/null >"$DIR/etcd.log" 2>&1 9>&- &
    local pid=$!
    printf 'etcd %s\n' "$pid" >>"$DIR/pids"
    local i
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            grep -q 'address already in use' "$DIR/etcd.log" && return 2
            return 1
        fi
        curl -fsS -m 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' &&
            return 0
        sleep 0.1
    done
    return 1
}

# Starts kube-apiserver on port $API_PORT against etcd on $ETCD_PORT; waits
# (bounded) until /readyz says ok. Returns 2 when its port was taken (the
# caller retries), 1 on other failures.
start_apiserver() {
    local authz=AlwaysAllow
    [[ $RBAC == 1 ]] && authz=RBAC
    local pki=$DIR/pki log_start=0
    # Lines of earlier runs (resume appends) must not be read as this run's.
    [[ -f $DIR/kube-apiserver.log ]] && log_start=$(wc -l <"$DIR/kube-apiserver.log")
    # Flags, and why:
    #  --insecure-port=0: 1.20 still opens plain HTTP on 127.0.0.1:8080 by
    #    default, which would clash between two instances.
    #  --disable-admission-plugins=ServiceAccount: it needs the controller-
    #    manager's token controller (pods would be refused); the other default
    #    plugins (NamespaceLifecycle, ...) work alone and are kept.
    #  --endpoint-reconciler-type=none: the `kubernetes` Service's Endpoints
    #    would be 127.0.0.1, which Endpoints validation rejects (log noise).
    #  --service-account-*: required in 1.20 (TokenRequest is GA).
    setsid "$APISERVER_BIN" \
        --bind-address=127.0.0.1 \
        --secure-port="$API_PORT" \
        --insecure-port=0 \
        --advertise-address=127.0.0.1 \
        --tls-cert-file="$pki/apiserver.crt" \
        --tls-private-key-file="$pki/apiserver.key" \
        --token-auth-file="$pki/tokens.csv" \
        --authorization-mode="$authz" \
        --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
        --service-cluster-ip-range=10.96.0.0/12 \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$pki/sa.pub" \
        --service-account-signing-key-file="$pki/sa.key" \
        --disable-admission-plugins=ServiceAccount \
        --endpoint-reconciler-type=none \
        --profiling=false \
        --v=1 \
        </dev/null >>"$DIR/kube-apiserver.log" 2>&1 9>&- &
    local pid=$!
    printf 'kube-apiserver %s\n' "$pid" >>"$DIR/pids"
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n +"$((log_start + 1))" "$DIR/kube-apiserver.log" |
                grep -q 'address already in use' && return 2
            return 1
        fi
        if [[ $(curl -sS -m 2 --cacert "$pki/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
            "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null) == ok ]]; then
            return 0
        fi
        sleep 0.2
    done
    log "kube-apiserver not ready after ${START_TIMEOUT}s"
    return 1
}

cmd_start() {
    NAME=${1:-}
    [[ -n $NAME ]] || die "usage: start <name> [--rbac]"
    shift
    check_name "$NAME"
    RBAC=0
    while (($#)); do
        case $1 in
        --rbac) RBAC=1 ;;
        *) die "start: unknown option $1" ;;
        esac
        shift
    done
    DIR=$STATE_ROOT/$NAME
    if [[ -d $DIR ]]; then
        instance_running "$DIR" && die "instance '$NAME' is running ($DIR); stop it first"
        # Leftovers of a crashed or killed instance.
        log "removing stale $DIR"
        stop_instance_dir "$DIR"
    fi
    if [[ ! -x $APISERVER_BIN ]]; then
        log "kube-apiserver not built yet; building first"
        cmd_build >&2
    fi
    ensure_runtime_packages

    local t0=$SECONDS attempt rc
    for ((attempt = 1; attempt <= 5; attempt++)); do
        rm -rf "$DIR"
        mkdir -p "$DIR"
        make_credentials "$DIR"
        rc=0
        start_etcd || rc=$?
        if ((rc == 0)); then
            free_port API_PORT
            start_apiserver || rc=$?
        fi
        ((rc == 0)) && break
        if ((rc == 2)); then
            log "a port was taken meanwhile; retrying with other ports"
            stop_instance_pids "$DIR"
            continue
        fi
        log "start of '$NAME' failed; last lines of its logs:"
        tail -n 20 "$DIR"/*.log >&2 || true
        stop_instance_pids "$DIR"
        die "instance '$NAME' did not start (logs kept in $DIR)"
    done
    ((rc == 0)) || die "no free ports after $((attempt - 1)) attempts"

    write_kubeconfig "$DIR/kubeconfig" xcc-admin "$ADMIN_TOKEN"
    write_kubeconfig "$DIR/kubeconfig-user" xcc-user "$USER_TOKEN"
    cat >"$DIR/env" <<EOF
KUBECONFIG=$DIR/kubeconfig
XCC_K8S_SERVER=https://127.0.0.1:$API_PORT
XCC_K8S_TOKEN=$ADMIN_TOKEN
XCC_K8S_CA=$DIR/pki/ca.crt
XCC_K8S_ETCD=http://127.0.0.1:$ETCD_PORT
XCC_K8S_AUTHZ=$([[ $RBAC == 1 ]] && echo RBAC || echo AlwaysAllow)
XCC_K8S_USER_TOKEN=$USER_TOKEN
EOF
    chmod 600 "$DIR/env"
    log "instance '$NAME' ready in $((SECONDS - t0)) s: https://127.0.0.1:$API_PORT" \
        "($([[ $RBAC == 1 ]] && echo RBAC || echo AlwaysAllow)), etcd 127.0.0.1:$ETCD_PORT, state $DIR"
    printf '%s\n' "$DIR/kubeconfig"
}

# Stops the processes listed in $1/pids: TERM to all at once (the data is
# thrown away, so etcd need not outlive the apiserver), up to 10 s, then KILL.
stop_instance_pids() {
    local dir=$1 pid what pids=()
    for what in kube-apiserver etcd; do
        if pid=$(instance_pid "$dir" "$what"); then
            pids+=("$pid")
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        stop_pid "$pid" 10
    done
}

stop_instance_dir() {
    local dir=$1
    stop_instance_pids "$dir"
    rm -rf "$dir"
}

cmd_stop() {
    local name=${1:-}
    [[ -n $name ]] || die "usage: stop <name>|--all"
    if [[ $name == --all ]]; then
        local d
        for d in "$STATE_ROOT"/*/; do
            [[ -f $d/pids ]] || continue
            log "stopping '$(basename "$d")'"
            stop_instance_dir "${d%/}"
        done
        return 0
    fi
    check_name "$name"
    local dir=$STATE_ROOT/$name
    if [[ ! -d $dir ]]; then
        log "instance '$name' is not running"
        return 0
    fi
    stop_instance_dir "$dir"
    log "stopped '$name'"
}

# Loads instance $1's settings (ports, tokens, authorization mode) from its
# env file into DIR, NAME, API_PORT, ETCD_PORT, ADMIN_TOKEN, RBAC.
load_instance() {
    NAME=$1
    check_name "$NAME"
    DIR=$STATE_ROOT/$NAME
    [[ -f $DIR/env ]] || die "instance '$NAME' is not started"
    local key value
    while IFS='=' read -r key value; do
        case $key in
        XCC_K8S_SERVER) API_PORT=${value##*:} ;;
        XCC_K8S_ETCD) ETCD_PORT=${value##*:} ;;
        XCC_K8S_TOKEN) ADMIN_TOKEN=$value ;;
        XCC_K8S_AUTHZ) [[ $value == RBAC ]] && RBAC=1 || RBAC=0 ;;
        esac
    done <"$DIR/env"
}

# pause <name> [--kill]: stops only the kube-apiserver of an instance; etcd,
# its data, the certificates and the port stay, so `resume` brings the same
# API back at the same URL (clients see connection refused in between).
# TERM lets it shut down gracefully, which takes up to the 10 s that
# stop_pid allows while clients hold watches open; --kill sends KILL at once:
# a crash, with every connection reset, and no wait.
cmd_pause() {
    [[ -n ${1:-} ]] || die "usage: pause <name> [--kill]"
    load_instance "$1"
    local hard=0
    case ${2:-} in
    '') ;;
    --kill) hard=1 ;;
    *) die "pause: unknown option $2" ;;
    esac
    local pid i
    if pid=$(instance_pid "$DIR" kube-apiserver); then
        if ((hard)); then
            kill -KILL "$pid" 2>/dev/null || true
            # Not our child: poll until it is gone (at most 5 s).
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        else
            stop_pid "$pid" 10
        fi
        log "paused '$NAME' (kube-apiserver $( ((hard)) && echo killed || echo stopped); etcd keeps the data)"
    else
        log "kube-apiserver of '$NAME' is not running"
    fi
}

# resume <name>: starts the kube-apiserver of a paused instance again, same
# port, same flags, same data; waits for /readyz like start.
cmd_resume() {
    [[ -n ${1:-} ]] || die "usage: resume <name>"
    load_instance "$1"
    instance_pid "$DIR" kube-apiserver >/dev/null && die "kube-apiserver of '$NAME' is running"
    instance_pid "$DIR" etcd >/dev/null || die "etcd of '$NAME' is gone; stop and start it anew"
    sed -i '/^kube-apiserver /d' "$DIR/pids"
    local t0=$SECONDS rc=0
    start_apiserver || rc=$?
    if ((rc != 0)); then
        tail -n 20 "$DIR/kube-apiserver.log" >&2 || true
        die "kube-apiserver of '$NAME' did not come back on port $API_PORT"
    fi
    log "resumed '$NAME' in $((SECONDS - t0)) s: https://127.0.0.1:$API_PORT"
}

cmd_env() {
    local name=${1:-} var=${2:-KUBECONFIG}
    [[ -n $name ]] || die "usage: env <name> [VAR]"
    check_name "$name"
    local dir=$STATE_ROOT/$name
    [[ -f $dir/kubeconfig ]] || die "instance '$name' is not started"
    printf '%s=%s\n' "$var" "$dir/kubeconfig"
}

cmd_status() {
    if (($# == 0)); then
        local d n=0
        for d in "$STATE_ROOT"/*/; do
            [[ -f $d/pids ]] || continue
            n=$((n + 1))
            if instance_running "${d%/}"; then
                printf '%s running %s KUBECONFIG=%s\n' "$(basename "$d")" \
                    "$(grep '^XCC_K8S_SERVER=' "$d/env" 2>/dev/null | cut -d= -f2-)" "${d}kubeconfig"
            elif instance_pid "${d%/}" etcd >/dev/null; then
                printf '%s paused (etcd up, kube-apiserver stopped; resume brings it back)\n' "$(basename "$d")"
            else
                printf '%s down (stale state in %s)\n' "$(basename "$d")" "${d%/}"
            fi
        done
        ((n)) || log "no instances under $STATE_ROOT"
        return 0
    fi
    local name=$1 dir=$STATE_ROOT/$1
    check_name "$name"
    if [[ -f $dir/kubeconfig ]] && instance_running "$dir"; then
        printf 'KUBECONFIG=%s\n' "$dir/kubeconfig"
        return 0
    fi
    log "instance '$name' is not running"
    return 1
}

# --- smoke check -------------------------------------------------------------

# Proves an instance does what the tests rely on, with curl and the admin
# token: namespace, CRD (apiextensions.k8s.io/v1, status subresource) becoming
# Established, custom object POST (the reflect2 crash showed on every POST),
# server-side apply, status subresource vs generation, 409/404 semantics, and
# under --rbac that the plain user is refused.
cmd_smoke() {
    local name=${1:-}
    [[ -n $name ]] || die "usage: smoke <name>"
    check_name "$name"
    local dir=$STATE_ROOT/$name
    instance_running "$dir" || die "instance '$name' is not running"
    ensure_packages jq
    # shellcheck disable=SC1091
    . "$dir/env"
    local ns=xcc-smoke-$RANDOM
    SMOKE_BODY=$dir/smoke.out

    req GET /version
    expect 200 "GET /version ($(jq -r .gitVersion "$SMOKE_BODY"), $(jq -r .goVersion "$SMOKE_BODY"))"
    req POST /api/v1/namespaces application/json \
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
    expect 201 "create namespace $ns"
    req POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions application/yaml '
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: smokes.smoke.xcc.test}
spec:
  group: smoke.xcc.test
  scope: Namespaced
  names: {plural: smokes, singular: smoke, kind: Smoke}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}
          status: {type: object, properties: {ready: {type: boolean}}}'
    expect "201 409" "create CRD smokes.smoke.xcc.test (409: exists from an earlier run)"
    local i
    for ((i = 1; i <= 100; i++)); do
        req GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/smokes.smoke.xcc.test
        [[ $(jq -r '.status.conditions[]? | select(.type == "Established") | .status' "$SMOKE_BODY") == True ]] &&
            break
        sleep 0.1
    done
    ((i <= 100)) || die "smoke: CRD not Established after 10 s"
    expect 200 "CRD Established (poll $i)"

    local objs=/apis/smoke.xcc.test/v1/namespaces/$ns/smokes
    local s1='{"apiVersion":"smoke.xcc.test/v1","kind":"Smoke","metadata":{"name":"s1"},"spec":{"size":1}}'
    req POST "$objs" application/json "$s1"
    expect 201 "POST a custom object"
    req POST "$objs" application/json "$s1"
    expect 409 "POST it again (AlreadyExists)"
    req PATCH "$objs/s2?fieldManager=test" application/apply-patch+yaml \
        $'apiVersion: smoke.xcc.test/v1\nkind: Smoke\nmetadata:\n  name: s2\nspec:\n  size: 2\n'
    expect 201 "server-side apply creating s2"
    req PATCH "$objs/s2?fieldManager=test" application/apply-patch+yaml \
        $'apiVersion: smoke.xcc.test/v1\nkind: Smoke\nmetadata:\n  name: s2\nspec:\n  size: 3\n  color: blue\n'
    expect 200 "server-side apply changing s2"
    [[ $(jq -c '[.spec.size, .metadata.generation]' "$SMOKE_BODY") == '[3,2]' ]] ||
        die "smoke: apply did not take: [spec.size, generation] = $(jq -c '[.spec.size, .metadata.generation]' "$SMOKE_BODY")"
    req PATCH "$objs/s2/status" application/merge-patch+json '{"status":{"ready":true}}'
    expect 200 "merge-patch the status subresource"
    [[ $(jq -c '[.status.ready, .metadata.generation]' "$SMOKE_BODY") == '[true,2]' ]] ||
        die "smoke: status patch: [status.ready, generation] = $(jq -c '[.status.ready, .metadata.generation]' "$SMOKE_BODY")"
    req GET "$objs/missing"
    expect 404 "GET a missing object"
    if [[ $XCC_K8S_AUTHZ == RBAC ]]; then
        XCC_K8S_TOKEN=$XCC_K8S_USER_TOKEN req GET "$objs"
        expect 403 "list as the plain user without a Role (RBAC)"
    fi
    rm -f "$SMOKE_BODY"
    log "smoke: instance '$name' OK (namespace $ns stays: no namespace controller would finalize its deletion)"
}

# req METHOD PATH [CONTENT-TYPE DATA]: one API request with the bearer token
# $XCC_K8S_TOKEN; sets $SMOKE_CODE, the body goes to $SMOKE_BODY.
req() {
    local args=(-sS -m 10 --cacert "$XCC_K8S_CA" -o "$SMOKE_BODY" -w '%{http_code}'
        -H "Authorization: Bearer $XCC_K8S_TOKEN" -X "$1")
    (($# >= 4)) && args+=(-H "Content-Type: $3" --data-binary "$4")
    SMOKE_CODE=$(curl "${args[@]}" "$XCC_K8S_SERVER$2") || die "smoke: curl $1 $2 failed"
}

# expect "CODES" WHAT: the last req answered one of CODES.
expect() {
    [[ " $1 " == *" $SMOKE_CODE "* ]] || {
        cat "$SMOKE_BODY" >&2
        die "smoke: $2: HTTP $SMOKE_CODE, wanted $1"
    }
    log "smoke: $2: $SMOKE_CODE"
}

usage() {
    sed -n '/^# Usage:/,/^# only the kubeconfig/Ip' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
    build) cmd_build "$@" ;;
    binary)
        # The path of the cached binary; exit 1 when it is not built.
        echo "$APISERVER_BIN"
        [[ -x $APISERVER_BIN ]]
        ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    smoke) cmd_smoke "$@" ;;
    pause) cmd_pause "$@" ;;
    resume) cmd_resume "$@" ;;
    *) usage ;;
    esac
}

main "$@"
