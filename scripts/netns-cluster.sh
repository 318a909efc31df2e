#!/usr/bin/env bash
# A multi-host test cluster on one machine, made of Linux network namespaces
# (iproute2 only, as root).
#
#   netns-cluster.sh up PREFIX           make the cluster (first removes leftovers of PREFIX)
#   netns-cluster.sh down PREFIX         remove everything `up` made; fine to run twice
#   netns-cluster.sh partition PREFIX H  cut host H off (its switch port goes down)
#   netns-cluster.sh heal PREFIX H       connect host H again
#   netns-cluster.sh hosts PREFIX        print "HOST NAMESPACE ADDRESS", one host a line
#   netns-cluster.sh config PREFIX       print a config.ini for the cluster
#   netns-cluster.sh sysctl PREFIX H KEY VALUE
#                                        set a per-namespace sysctl (net.*) on host H only
#   netns-cluster.sh exec PREFIX H CMD...  run CMD on host H (ip netns exec)
#
# Each host is a namespace PREFIX-HOST with one interface, eth0, whose
# other end is a port named HOST on the bridge br0 of the namespace
# PREFIX-switch. The hosts are `gearmand` (job server), `broker` (broker and
# fanout worker), the worker hosts w1..wN and `client` (for the programs
# that use the pool). Interfaces are created directly inside the
# namespaces, so the root namespace gets no interface, address or route,
# and clusters with different prefixes are fully separate (they may even
# use the same subnet).
#
# partition sets the host's bridge port down: packets to and from it are
# dropped, and no socket on either side is told (no RST, no ICMP), as with
# a pulled cable or a crashed machine.
#
# Environment:
#   NETNS_SUBNET   first three octets of the /24 the hosts live in (default 10.213.77)
#   NETNS_WORKERS  number of worker hosts, 1-9 (default 3)
#   NETNS_PORT_GEARMAND, NETNS_PORT_BROKER  gearmand's port (4730) and the
#                  first of the broker's four ports (9000)
#   IP             the ip binary (default: ip from PATH, else /usr/sbin/ip)
#
# Exit status: 0 success, 1 failure, 2 usage error, 3 network namespaces
# cannot be made here (not root, no CAP_SYS_ADMIN, no ip binary).
set -euo pipefail

readonly EXIT_USAGE=2 EXIT_UNSUPPORTED=3

prog=${0##*/}
subnet=${NETNS_SUBNET:-10.213.77}
workers=${NETNS_WORKERS:-3}
gearmand_port=${NETNS_PORT_GEARMAND:-4730}
broker_port=${NETNS_PORT_BROKER:-9000}

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "$prog: $*" >&2
	echo "usage: $prog up|down|hosts|config PREFIX | partition|heal PREFIX HOST | sysctl PREFIX HOST KEY VALUE | exec PREFIX HOST CMD..." >&2
	exit "$EXIT_USAGE"
}

unsupported() {
	echo "$prog: network namespaces cannot be made here: $*" >&2
	exit "$EXIT_UNSUPPORTED"
}

find_ip() {
	if [[ -n ${IP:-} ]]; then
		echo "$IP"
	elif command -v ip >/dev/null 2>&1; then
		command -v ip
	elif [[ -x /usr/sbin/ip ]]; then
		echo /usr/sbin/ip
	elif [[ -x /sbin/ip ]]; then
		echo /sbin/ip
	fi
}

[[ $subnet =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
	usage "NETNS_SUBNET=$subnet: want the first three octets of a /24, like 10.213.77"
for octet in "${BASH_REMATCH[@]:1}"; do
	((10#$octet <= 255)) || usage "NETNS_SUBNET=$subnet: octet $octet is over 255"
done
[[ $workers =~ ^[1-9]$ ]] || usage "NETNS_WORKERS=$workers: want 1-9"
for port in "$gearmand_port" "$broker_port"; do
	if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65532)); then
		usage "port $port: want 1-65532"
	fi
done

# hosts and their last address octet; workers are w1..wN at .21...
hosts=(gearmand broker)
declare -A octet=([gearmand]=10 [broker]=11 [client]=30)
for ((i = 1; i <= workers; i++)); do
	hosts+=("w$i")
	octet[w$i]=$((20 + i))
done
hosts+=(client)

addr() { echo "$subnet.${octet[$1]}"; }

check_prefix() {
	# No "-": the namespaces are PREFIX-HOST, and `down a` must not take
	# the namespaces of a prefix "a-b".
	[[ ${1:-} =~ ^[A-Za-z0-9]{1,20}$ ]] || usage "prefix '${1:-}': want 1-20 letters or digits"
}

check_host() {
	[[ -n ${octet[${1:-}]:-} ]] || usage "unknown host '${1:-}'; hosts: ${hosts[*]}"
}

# namespaces lists the existing namespaces of a prefix, whatever the
# worker count they were made with.
namespaces() {
	"$ip" netns list | awk -v re="^$1-(switch|gearmand|broker|client|w[0-9]+)\$" '$1 ~ re { print $1 }'
}

down() {
	local ns
	for ns in $(namespaces "$1"); do
		# Deleting a namespace destroys its end of each veth pair, and so
		# the pair. Processes still inside keep the namespace alive, but
		# unnamed and unreachable.
		"$ip" netns delete "$ns" 2>/dev/null || [[ ! -e /run/netns/$ns ]] || die "cannot delete namespace $ns"
	done
}

up() {
	local p=$1 sw=$1-switch h ns
	((EUID == 0)) || unsupported "must run as root (uid is $EUID)"
	down "$p"
	if ! err=$("$ip" netns add "$sw" 2>&1); then
		unsupported "ip netns add $sw: $err"
	fi
	# From here on, a failure leaves nothing behind.
	trap 'down "$p"' ERR
	"$ip" -n "$sw" link set lo up
	"$ip" -n "$sw" link add br0 type bridge
	"$ip" -n "$sw" link set br0 up
	for h in "${hosts[@]}"; do
		ns=$p-$h
		"$ip" netns add "$ns"
		"$ip" -n "$ns" link set lo up
		# Both ends are made inside namespaces: nothing in the root one.
		"$ip" -n "$sw" link add "$h" type veth peer name eth0 netns "$ns"
		"$ip" -n "$sw" link set "$h" master br0
		"$ip" -n "$sw" link set "$h" up
		"$ip" -n "$ns" addr add "$(addr "$h")/24" dev eth0
		"$ip" -n "$ns" link set eth0 up
	done
	trap - ERR
}

set_port() {
	local p=$1 h=$2 state=$3
	[[ -e /run/netns/$p-switch ]] || die "no cluster with prefix $p (run: $prog up $p)"
	"$ip" -n "$p-switch" link set dev "$h" "$state"
}

print_config() {
	local b
	b=$(addr broker)
	cat <<EOF
; glimpse-go cluster in the network namespaces $1-* (scripts/netns-cluster.sh)
[client]
job_server_url = $(addr gearmand):$gearmand_port
command_frontend_url = tcp://$b:$broker_port
command_backend_url  = tcp://$b:$((broker_port + 1))
log_frontend_url     = tcp://$b:$((broker_port + 2))
log_backend_url      = tcp://$b:$((broker_port + 3))

[server]
command_frontend_url = tcp://$b:$broker_port
command_backend_url  = tcp://$b:$((broker_port + 1))
log_frontend_url     = tcp://$b:$((broker_port + 2))
log_backend_url      = tcp://$b:$((broker_port + 3))
EOF
}

(($# >= 1)) || usage "no command given"
cmd=$1
shift
ip=$(find_ip)
if [[ $cmd != config && $cmd != hosts ]]; then
	[[ -n $ip ]] || unsupported "no ip command (install iproute2)"
	[[ -x $ip ]] || unsupported "$ip: not an executable"
fi

case $cmd in
up)
	(($# == 1)) || usage "up takes PREFIX"
	check_prefix "$1"
	up "$1"
	;;
down)
	(($# == 1)) || usage "down takes PREFIX"
	check_prefix "$1"
	down "$1"
	;;
partition | heal)
	(($# == 2)) || usage "$cmd takes PREFIX HOST"
	check_prefix "$1"
	check_host "$2"
	if [[ $cmd == partition ]]; then set_port "$1" "$2" down; else set_port "$1" "$2" up; fi
	;;
hosts)
	(($# == 1)) || usage "hosts takes PREFIX"
	check_prefix "$1"
	for h in "${hosts[@]}"; do
		echo "$h $1-$h $(addr "$h")"
	done
	;;
config)
	(($# == 1)) || usage "config takes PREFIX"
	check_prefix "$1"
	print_config "$1"
	;;
sysctl)
	(($# == 4)) || usage "sysctl takes PREFIX HOST KEY VALUE"
	check_prefix "$1"
	check_host "$2"
	[[ $3 =~ ^net\.[A-Za-z0-9_.-]+$ ]] || usage "sysctl $3: only net.* keys are per namespace"
	key=/proc/sys/${3//.//}
	# /proc/sys/net shows the namespace of the process that reads it.
	# shellcheck disable=SC2016 # expanded by the inner sh
	"$ip" netns exec "$1-$2" sh -c 'echo "$1" > "$2"' sh "$4" "$key"
	;;
exec)
	(($# >= 3)) || usage "exec takes PREFIX HOST CMD..."
	check_prefix "$1"
	check_host "$2"
	ns=$1-$2
	shift 2
	exec "$ip" netns exec "$ns" "$@"
	;;
*)
	usage "unknown command '$cmd'"
	;;
esac
