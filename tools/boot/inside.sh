#!/bin/bash
# inside.sh — the checks tools/boot/boot-test.sh runs inside the booted Debian 12 root, as the
# oneshot unit vitd-boot-test.service once multi-user.target is reached. One line per check
# ("PASS name" or "FAIL name: why") on the console and in /var/log/vitd-boot-test.log, a last line
# "RESULT passed=N failed=M", then the machine powers off.
set -u
LOG=/var/log/vitd-boot-test.log
: > "$LOG"
passed=0 failed=0
say() { echo "vitd-boot-test: $*" | tee -a "$LOG" > /dev/console; }
pass() { passed=$((passed + 1)); say "PASS $1"; }
fail() { failed=$((failed + 1)); say "FAIL $1: $2"; }
check() {  # check NAME COMMAND...: PASS if COMMAND exits 0
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}
expect() {  # expect NAME TEXT PATTERN: PASS if TEXT matches the grep PATTERN
    if printf '%s\n' "$2" | grep -q "$3"; then pass "$1"; else fail "$1" "$2"; fi
}
wait_until() {  # wait_until SECONDS COMMAND...
    local end=$((SECONDS + $1)); shift
    until "$@" > /dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.5
    done
}
prop() { systemctl show -p "$1" --value vitd; }
manager() { busctl --system call org.vitd1 /org/vitd1 org.vitd1.Manager "$@"; }

say "systemd $(systemctl --version | head -1 | cut -d' ' -f2), $(systemd-detect-virt)"

# 1. Start: Type=notify, so `systemctl start` returns once vitd sent READY=1.
check "systemctl start vitd reaches READY" systemctl start vitd
say "  $(systemctl show -p ActiveState -p SubState -p StatusText vitd | tr '\n' ' ')"
check "active (running)" test "$(prop ActiveState)/$(prop SubState)" = active/running

# 2. The bus: the name, the pipeline, and Classification signals (from org.vitd1.Events).
check "busctl sees org.vitd1" sh -c 'busctl --system list | grep -q "^org.vitd1 "'
check "ListPipelines has ball" sh -c 'busctl --system call org.vitd1 /org/vitd1 org.vitd1.Manager ListPipelines | grep -q "\"ball\""'
signals=$(timeout 6 busctl --system monitor \
    --match "type='signal',interface='org.vitd1.Pipeline',member='Classification'" 2>/dev/null |
    grep -c 'Member=Classification')
say "  $signals Classification signals in 6 s (busctl monitor)"
check "Classification signals" test "$signals" -ge 3

# 3. Control methods: root may, an unprivileged user may not (bus policy), and vitd refuses
#    too when a policy lets the call through. dbus-send, not busctl: busctl prints only
#    "Access denied" and hides which of the two refused.
as_alice_reload() {
    runuser -u alice -- dbus-send --system --print-reply --dest=org.vitd1 /org/vitd1 \
        org.vitd1.Manager.Reload 2>&1
}
check "root may Reload" manager Reload
out=$(as_alice_reload)
say "  alice, by the policy: $out"
expect "policy refuses alice's Reload" "$out" 'Rejected send message'

cat > /etc/dbus-1/system.d/zz-boot-test-open.conf <<'POLICY'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy user="alice"><allow send_destination="org.vitd1"/></policy></busconfig>
POLICY
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
out=$(as_alice_reload)
say "  alice, policy opened: $out"
expect "vitd refuses alice's Reload" "$out" 'only allowed for root and members of group vitd'
rm /etc/dbus-1/system.d/zz-boot-test-open.conf
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig

# 4. kill -9: Restart=on-failure brings vitd back (RestartSec=2) and it streams again.
pid=$(prop MainPID) restarts=$(prop NRestarts)
kill -9 "$pid"
if wait_until 30 sh -c "[ \"\$(systemctl show -p MainPID --value vitd)\" != $pid ] &&
        [ \"\$(systemctl show -p ActiveState --value vitd)\" = active ] &&
        [ \"\$(systemctl show -p MainPID --value vitd)\" != 0 ]"; then
    pass "kill -9 is followed by a restart"
else
    fail "kill -9 is followed by a restart" "$(systemctl status vitd --no-pager | head -5 | tr '\n' ' ')"
fi
say "  MainPID $pid -> $(prop MainPID), NRestarts $restarts -> $(prop NRestarts)"
check "streams again after the restart" wait_until 30 sh -c \
    "busctl --system get-property org.vitd1 /org/vitd1/pipeline/ball org.vitd1.Pipeline State | grep -q running"

# 5. The watchdog: a running pipeline that moves no frame (one frame a minute) stops the pings;
#    with WatchdogSec=5s systemd aborts vitd and restarts it.
mkdir -p /run/systemd/system/vitd.service.d
printf '[Service]\nWatchdogSec=5s\n' > /run/systemd/system/vitd.service.d/watchdog.conf
cat > /etc/vitd/pipelines.d/stalled.yaml <<'YAML'
pipelines:
  - name: stalled
    launch: videotestsrc is-live=true ! video/x-raw,width=32,height=32,framerate=1/60 ! vitclassify model=/usr/share/vitd/models/fmnist-vit-tiny top-k=1 ! fakesink
YAML
systemctl daemon-reload
systemctl restart vitd
pid=$(prop MainPID) restarts=$(prop NRestarts)
since=$(date '+%Y-%m-%d %H:%M:%S')
if wait_until 60 sh -c "journalctl -u vitd --since '$since' | grep -q 'Watchdog timeout'"; then
    pass "a stalled pipeline stops the watchdog"
else
    fail "a stalled pipeline stops the watchdog" "no 'Watchdog timeout' in 60 s"
fi
check "systemd restarts vitd after the watchdog" wait_until 30 sh -c \
    "[ \"\$(systemctl show -p NRestarts --value vitd)\" -gt $restarts ] &&
     [ \"\$(systemctl show -p ActiveState --value vitd)\" = active ]"
journalctl -u vitd --since "$since" --no-pager | grep -i 'watchdog\|killing\|Scheduled restart\|Started' |
    head -4 | while read -r l; do say "  $l"; done
rm /etc/vitd/pipelines.d/stalled.yaml /run/systemd/system/vitd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart vitd

# 6. Hardening as systemd 252 rates it, inside.
score=$(systemd-analyze security vitd --no-pager 2>&1 | sed -n 's/.*Overall exposure level for vitd.service: \([0-9.]*\).*/\1/p')
say "  systemd-analyze security vitd: ${score:-none}"
check "systemd-analyze security <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'

check "SIGTERM stop" systemctl stop vitd
say "RESULT passed=$passed failed=$failed"
journalctl -u vitd --no-pager > /var/log/vitd-boot-test.journal 2>&1
systemctl --no-block poweroff
