#!/bin/sh
# The demo's "app host": an OpenSSH server on 127.0.0.1:PORT for the ssh
# suite, with keys made for this run only.  Usage: run-sshd.sh PORT DIR
#
# DIR gets the host key, a user key (id_ed25519) and its authorized_keys,
# a known_hosts line for [127.0.0.1]:PORT, and sshd_config.  Nothing
# outside DIR is touched, except /run/sshd, which sshd needs when it runs
# as root.  sshd stays in the foreground (-D) so that itest owns it.
set -eu
port=$1
dir=$2
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || {
  echo "run-sshd.sh: sshd is missing (apt-get install openssh-server)" >&2
  exit 1
}
mkdir -p "$dir/home"
chmod 700 "$dir"
rm -f "$dir/host_ed25519" "$dir/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C itest-demo-host -f "$dir/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C itest-demo-user -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" \
  >"$dir/known_hosts"
cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
# the keys live in the run folder, which may be under /tmp
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
# an empty HOME: no shell start-up files slow each command down
SetEnv HOME=$dir/home
PrintMotd no
Subsystem sftp internal-sftp
LogLevel INFO
CONF
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
exec "$sshd" -D -e -f "$dir/sshd_config"
