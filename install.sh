#!/usr/bin/env bash
# Callbox installer for Raspberry Pi OS / Debian 12 (README "Put it on a Raspberry Pi").
#
#   sudo ./install.sh               install or update from this checkout
#   sudo ./install.sh --dry-run     print each step it would take; touch nothing
#   sudo ./install.sh --uninstall   remove the unit, udev rules, virtual environment and command;
#                                   keep /etc/callbox and /var/lib/callbox (add --purge to remove them too)
#   ./install.sh --root DIR         install into DIR as if it were / (tests): no apt-get, no useradd,
#                                   no systemctl or udevadm; those steps are printed as skipped
#   --no-venv                       leave the virtual environment out (tests: the pip install is slow)
#
# Every step looks before it leaps, so a second run changes nothing and says so. Exit codes: 0 done,
# 1 a check failed (not root, not Debian-like, no python3 >= 3.11, a step failed), 2 bad arguments.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The runtime packages of the Makefile's APT_RUNTIME (a test holds the two lists together).
APT_PACKAGES=(python3-venv python3-dev libasound2-dev)
USER_NAME=callbox
GROUPS_EXTRA=(dialout audio)
PYTHON="${CALLBOX_PYTHON:-python3}"
OS_RELEASE="${CALLBOX_OS_RELEASE:-/etc/os-release}"

ARGS=("$@")
ROOT=""
DRY_RUN=0
UNINSTALL=0
PURGE=0
NO_VENV=0
CHANGES=0

usage() {
    sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
    printf 'install.sh: error: %s\n' "$1" >&2
    exit "${2:-1}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        --no-venv) NO_VENV=1 ;;
        --root)
            [ $# -ge 2 ] || die "--root needs a directory" 2
            ROOT="$2"
            shift ;;
        --root=*) ROOT="${1#--root=}" ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" 2 ;;
    esac
    shift
done
if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
    die "--purge goes with --uninstall" 2
fi
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT: no such directory" 2
    ROOT="$(cd "$ROOT" && pwd)"
    [ "$ROOT" != "/" ] || ROOT=""
fi

# Paths on the box; R() prefixes them with --root.
OPT=/opt/callbox
ETC=/etc/callbox
STATE=/var/lib/callbox
CONFIG=$ETC/callbox.toml
BIN_LINK=/usr/local/bin/callbox
UNIT=/etc/systemd/system/callbox.service
RULES=/etc/udev/rules.d/99-callbox-modems.rules
DOC=$OPT/share/doc/callbox/README.md
R() { printf '%s%s' "$ROOT" "$1"; }

# ---- output: one line per step -------------------------------------------------------------------------
ok() { printf '  ok       %s\n' "$1"; }
skip() { printf '  skipped  %s\n' "$1"; }
# change DESCRIPTION COMMAND...: run it (or, with --dry-run, only say it would)
change() {
    local what="$1"
    shift
    CHANGES=$((CHANGES + 1))
    if [ "$DRY_RUN" = 1 ]; then
        printf '  would    %s\n' "$what"
    else
        printf '  doing    %s\n' "$what"
        "$@" || die "$what: failed (exit $?)"
    fi
}
system_step() {  # steps that act on the running system are skipped under --root
    if [ -n "$ROOT" ]; then
        skip "$1 (--root)"
        return 1
    fi
    return 0
}

# ---- checks ----------------------------------------------------------------------------------------------
check_root() {
    if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
        die "run it as root: sudo $0${ARGS[*]:+ ${ARGS[*]}}"
    fi
}

check_debian() {
    local id="" like=""
    if [ -r "$OS_RELEASE" ]; then
        # shellcheck source=/dev/null
        id="$(. "$OS_RELEASE" && printf '%s' "${ID:-}")"
        # shellcheck source=/dev/null
        like="$(. "$OS_RELEASE" && printf '%s' "${ID_LIKE:-}")"
    fi
    case " $id $like " in
        *" debian "*|*" raspbian "*|*" ubuntu "*) ;;
        *) die "this installer is for Raspberry Pi OS / Debian 12 (apt, systemd, udev); $OS_RELEASE says ID=${id:-?}" ;;
    esac
}

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON: install it (apt-get install python3); Callbox needs Python 3.11 or newer"
    local version
    version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
        || die "$PYTHON does not run"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || die "Callbox needs python3 3.11 or newer; $PYTHON is $version (Raspberry Pi OS Bookworm / Debian 12 has 3.11)"
}

# The user database is the target's: $ROOT/etc/passwd and $ROOT/etc/group under --root (an image being built,
# or a test's), the system's otherwise. Ownership is set and compared by number.
user_entry() { if [ -n "$ROOT" ]; then grep -s "^$USER_NAME:" "$ROOT/etc/passwd"; else getent passwd "$USER_NAME"; fi; }
group_entry() { if [ -n "$ROOT" ]; then grep -s "^$1:" "$ROOT/etc/group"; else getent group "$1"; fi; }
have_user() { user_entry >/dev/null 2>&1; }
# numeric_owner NAME:GROUP -> uid:gid (root is 0)
numeric_owner() {
    local user="${1%%:*}" group="${1#*:}" uid gid
    if [ "$user" = root ]; then uid=0; else uid="$(user_entry | cut -d: -f3)"; fi
    if [ "$group" = root ]; then gid=0; else gid="$(group_entry "$group" | cut -d: -f3)"; fi
    [ -n "$uid" ] && [ -n "$gid" ] || return 1
    printf '%s:%s' "$uid" "$gid"
}

# ---- install steps ---------------------------------------------------------------------------------------
step_packages() {
    system_step "system packages ${APT_PACKAGES[*]}" || return 0
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} = 0 ]; then
        ok "system packages ${APT_PACKAGES[*]}"
    else
        change "apt-get install ${missing[*]}" apt_install "${missing[@]}"
    fi
}
apt_install() {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

step_user() {
    system_step "system user $USER_NAME in ${GROUPS_EXTRA[*]}" || return 0
    if ! have_user; then
        change "create system user $USER_NAME (home $STATE, no login) in ${GROUPS_EXTRA[*]}" \
            useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
            --groups "$(IFS=,; echo "${GROUPS_EXTRA[*]}")" "$USER_NAME"
        return 0
    fi
    local g in_groups
    in_groups=" $(id -nG "$USER_NAME") "
    for g in "${GROUPS_EXTRA[@]}"; do
        if [[ "$in_groups" == *" $g "* ]]; then
            ok "user $USER_NAME is in $g"
        else
            change "add user $USER_NAME to $g" usermod -a -G "$g" "$USER_NAME"
        fi
    done
}

# ensure_dir PATH MODE OWNER:GROUP
ensure_dir() {
    local path="$1" mode="$2" owner="$3"
    if [ ! -d "$(R "$path")" ]; then
        change "create $path (mode $mode)" install -d -m "$mode" "$(R "$path")"
    else
        ensure_mode "$path" "$mode"
    fi
    ensure_owner "$path" "$owner"
}
ensure_mode() {
    local path="$1" mode="$2" now
    [ -e "$(R "$path")" ] || return 0
    now="$(stat -c %a "$(R "$path")")"
    if [ "$now" = "${mode#0}" ]; then
        ok "$path mode $mode"
    else
        change "chmod $mode $path (was $now)" chmod "$mode" "$(R "$path")"
    fi
}
ensure_owner() {
    local path="$1" owner="$2" ids now
    if ! ids="$(numeric_owner "$owner")"; then
        # --root without the user in its etc/passwd, or --dry-run before the user step ran
        skip "chown $owner $path (no $USER_NAME user here)"
        return 0
    fi
    if [ ! -e "$(R "$path")" ]; then
        change "chown $owner $path" chown "$ids" "$(R "$path")"
        return 0
    fi
    now="$(stat -c %u:%g "$(R "$path")")"
    if [ "$now" = "$ids" ]; then
        ok "$path owned by $owner"
    else
        change "chown $owner $path (was $(stat -c %U:%G "$(R "$path")"))" chown "$ids" "$(R "$path")"
    fi
}
# ensure_file SOURCE DEST MODE: copy when missing or different
ensure_file() {
    local src="$1" dest="$2" mode="$3"
    if [ -f "$(R "$dest")" ] && cmp -s "$src" "$(R "$dest")"; then
        ok "$dest up to date"
        ensure_mode "$dest" "$mode"
        return 1
    fi
    local verb="install"
    [ -e "$(R "$dest")" ] && verb="update"
    change "$verb $dest" install -D -m "$mode" "$src" "$(R "$dest")"
    return 0
}

# /etc/callbox is 0770 root:callbox: the Settings page saves callbox.toml as the service (a temporary file
# beside it, renamed over it), which leaves the file callbox:callbox 0600; that is as good as root:callbox 0640
# and is kept, so a later run does not undo the owner's save.
step_config() {
    ensure_dir "$ETC" 0770 "root:$USER_NAME"
    if [ -e "$(R "$CONFIG")" ]; then
        ok "$CONFIG kept (present)"
    else
        change "install $CONFIG from firmware-config/callbox.toml.example" \
            install -m 0640 "$SRC/firmware-config/callbox.toml.example" "$(R "$CONFIG")"
    fi
    local saved
    if saved="$(numeric_owner "$USER_NAME:$USER_NAME")" && [ -e "$(R "$CONFIG")" ] \
        && [ "$(stat -c %u:%g:%a "$(R "$CONFIG")")" = "$saved:600" ]; then
        ok "$CONFIG 0600 $USER_NAME:$USER_NAME (saved by the Settings page)"
        return 0
    fi
    ensure_mode "$CONFIG" 0640
    ensure_owner "$CONFIG" "root:$USER_NAME"
}

step_state() {
    ensure_dir "$STATE" 0700 "$USER_NAME:$USER_NAME"
}

source_stamp() {  # what the virtual environment was built from: the checkout's commit and uncommitted changes
    # safe.directory: under sudo, git refuses a checkout owned by another user
    local git=(git -c "safe.directory=$SRC" -C "$SRC")
    if "${git[@]}" rev-parse HEAD >/dev/null 2>&1; then
        printf '%s %s %s\n' "$SRC" "$("${git[@]}" rev-parse HEAD)" \
            "$({ "${git[@]}" diff HEAD; "${git[@]}" ls-files --others --exclude-standard; } | sha256sum | cut -c1-16)"
    else
        printf '%s %s\n' "$SRC" "$(cd "$SRC" && find appliance web setup.py -type f -printf '%P %T@\n' | sort \
            | sha256sum | cut -c1-16)"
    fi
}

step_venv() {
    if [ "$NO_VENV" = 1 ]; then
        skip "virtual environment $OPT (--no-venv)"
        return 0
    fi
    local stamp_file
    stamp_file="$(R "$OPT")/.callbox-source"
    if [ ! -x "$(R "$OPT")/bin/python" ]; then
        change "create the virtual environment $OPT" "$PYTHON" -m venv "$(R "$OPT")"
    else
        ok "virtual environment $OPT"
    fi
    local stamp
    stamp="$(source_stamp)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -x "$(R "$OPT")/bin/callbox" ]; then
        ok "callbox in $OPT built from this checkout"
    else
        change "pip install this checkout into $OPT (a few minutes on a Pi)" pip_install "$stamp" "$stamp_file"
        VENV_CHANGED=1
    fi
}
pip_install() {
    # pip builds in the source tree: build from a copy so that root leaves no files in the user's checkout
    # pip's and setuptools' chatter goes to a log, shown only when the install fails
    local copy log status=0
    copy="$(mktemp -d)"
    log="$copy.log"
    { tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./build --exclude='./*.egg-info' -cf - . \
        | tar -C "$copy" -xf - \
        && "$(R "$OPT")/bin/pip" install --quiet --upgrade pip \
        && "$(R "$OPT")/bin/pip" install --quiet "$copy"; } >"$log" 2>&1 \
        && printf '%s\n' "$1" >"$2" || status=$?
    if [ "$status" != 0 ]; then
        tail -n 40 "$log" >&2
    fi
    rm -rf -- "$copy" "$log"
    return "$status"
}

step_command() {
    local target="$OPT/bin/callbox" link
    link="$(R "$BIN_LINK")"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        ok "$BIN_LINK -> $target"
    elif [ -e "$link" ] && [ ! -L "$link" ]; then
        die "$BIN_LINK exists and is not a link: move it away and run again"
    else
        change "link $BIN_LINK -> $target" link_command "$target" "$link"
    fi
}

link_command() {
    install -d "$(dirname "$2")" && ln -sfn "$1" "$2"
}

step_doc() {
    ensure_file "$SRC/README.md" "$DOC" 0644 || true
}

step_unit() {
    local changed=0
    ensure_file "$SRC/systemd/callbox.service" "$UNIT" 0644 && changed=1
    system_step "systemctl daemon-reload, enable and start callbox" || return 0
    if [ "$changed" = 1 ]; then
        change "systemctl daemon-reload" systemctl daemon-reload
    fi
    if systemctl is-enabled --quiet callbox 2>/dev/null; then
        ok "callbox.service enabled"
    else
        change "systemctl enable callbox (starts at boot)" systemctl enable --quiet callbox
    fi
    if ! systemctl is-active --quiet callbox 2>/dev/null; then
        change "systemctl start callbox" systemctl start callbox
    elif [ "$changed" = 1 ] || [ "${VENV_CHANGED:-0}" = 1 ]; then
        change "systemctl restart callbox (new unit or code)" systemctl restart callbox
    else
        ok "callbox.service running"
    fi
}

step_udev() {
    local changed=0
    ensure_file "$SRC/firmware-config/udev/99-callbox-modems.rules" "$RULES" 0644 && changed=1
    system_step "udevadm control --reload; udevadm trigger" || return 0
    if [ "$changed" = 1 ]; then
        change "udevadm control --reload and trigger (tty, sound)" udev_reload
    else
        ok "udev rules loaded"
    fi
}
udev_reload() {
    udevadm control --reload
    udevadm trigger --subsystem-match=tty --subsystem-match=usb
    udevadm trigger --action=add --subsystem-match=sound
}

# ---- uninstall steps -------------------------------------------------------------------------------------
remove_path() {  # remove_path PATH: a file, link or directory tree
    if [ -e "$(R "$1")" ] || [ -L "$(R "$1")" ]; then
        change "remove $1" rm -rf -- "$(R "$1")"
    else
        ok "$1 absent"
    fi
}

uninstall() {
    if system_step "systemctl stop and disable callbox"; then
        if systemctl is-active --quiet callbox 2>/dev/null || systemctl is-enabled --quiet callbox 2>/dev/null; then
            change "systemctl disable --now callbox" systemctl disable --now --quiet callbox
        else
            ok "callbox.service not running"
        fi
    fi
    local had_unit=0 had_rules=0
    [ -e "$(R "$UNIT")" ] && had_unit=1
    [ -e "$(R "$RULES")" ] && had_rules=1
    remove_path "$UNIT"
    if [ "$had_unit" = 1 ] && system_step "systemctl daemon-reload"; then
        change "systemctl daemon-reload" systemctl daemon-reload
    fi
    remove_path "$RULES"
    if [ "$had_rules" = 1 ] && system_step "udevadm control --reload"; then
        change "udevadm control --reload" udevadm control --reload
    fi
    local link
    link="$(R "$BIN_LINK")"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$OPT/bin/callbox" ]; then
        remove_path "$BIN_LINK"
    elif [ -e "$link" ]; then
        skip "$BIN_LINK is not ours (not a link to $OPT/bin/callbox)"
    else
        ok "$BIN_LINK absent"
    fi
    remove_path "$OPT"
    if [ "$PURGE" = 1 ]; then
        remove_path "$ETC"
        remove_path "$STATE"
        if system_step "remove user $USER_NAME"; then
            if have_user; then
                change "remove user $USER_NAME" userdel "$USER_NAME"
            else
                ok "user $USER_NAME absent"
            fi
        fi
    else
        for p in "$ETC" "$STATE"; do
            if [ -e "$(R "$p")" ]; then
                printf '  kept     %s (--purge removes it)\n' "$p"
            fi
        done
    fi
}

# ---- main ------------------------------------------------------------------------------------------------
check_root
check_debian
[ "$UNINSTALL" = 1 ] || check_python

where="${ROOT:-/}"
mode="install"
[ "$UNINSTALL" = 1 ] && mode="uninstall"
[ "$DRY_RUN" = 1 ] && mode="$mode (dry run: nothing is changed)"
printf 'Callbox %s into %s from %s\n' "$mode" "$where" "$SRC"

if [ "$UNINSTALL" = 1 ]; then
    uninstall
    verb="removed"
else
    step_packages
    step_user
    step_config
    step_state
    step_venv
    step_command
    step_doc
    step_udev
    step_unit
    verb="installed"
fi

if [ "$CHANGES" = 0 ]; then
    printf 'Nothing to change: Callbox is already %s.\n' "$verb"
elif [ "$DRY_RUN" = 1 ]; then
    printf '%d change(s) would be made; nothing was changed.\n' "$CHANGES"
else
    printf 'Done: %d change(s).\n' "$CHANGES"
    if [ "$UNINSTALL" = 0 ] && [ -z "$ROOT" ]; then
        printf 'Next: plug the modem in, then open http://%s:8080/ for the first-run setup.\n' "$(hostname)"
    fi
fi
