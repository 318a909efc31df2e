# Helpers that scripts/install-deps.sh and scripts/install-bench-deps.sh
# share: which Debian packages are missing, how to become root, and how to
# stop a system service that installing a package started. Source it.

# missing_packages PKG... sets the array `missing` to the packages of the
# list that are not installed.
missing_packages() {
	missing=()
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			missing+=("$pkg")
		fi
	done
}

# root_prefix sets the array `sudo` to what runs a command as root: nothing
# for root, sudo otherwise. It fails when neither is possible.
root_prefix() {
	sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || return 1
		sudo=(sudo)
	fi
}

# stop_service NAME stops the system service NAME, if an init system runs
# one; failure is fine (no init system in containers, etc.).
stop_service() {
	"${sudo[@]}" service "$1" stop >/dev/null 2>&1 ||
		"${sudo[@]}" systemctl stop "$1" >/dev/null 2>&1 || true
}
