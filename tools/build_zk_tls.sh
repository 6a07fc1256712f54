#!/bin/bash
# Build the ZooKeeper C client with OpenSSL (zookeeper_init_ssl), from
# Debian's own source package of the installed libzookeeper-mt2, and install
# it outside the project, so that ZOOKEEPER_C_LIBRARY can point at it.
#
#   tools/build_zk_tls.sh [--print-path] [--prefix DIR]
#
# Debian 12 builds libzookeeper-mt2 without OpenSSL, so the stock library
# cannot speak TLS.  This script fetches the source with apt (a private
# deb-src list: the machine's apt configuration is left alone), generates
# the jute sources with Debian's zookeeper-jute.jar, builds the
# multi-threaded client with CMake and links it as libzookeeper_mt.so.2.
# Nothing is downloaded from anywhere but the Debian archive.
#
# Where: $NOVA_ZK_TLS_PREFIX, else /usr/local/lib/nova-zk-tls as root, else
# ${XDG_CACHE_HOME:-~/.cache}/nova-zk-tls; one directory per source
# version, and DIR/libzookeeper_mt.so.2 links to the newest build.
# A second run finds the build and returns at once (CI calls it every run).
# --print-path: stdout is only the library's path (messages go to stderr).
set -eu

print_path=0
prefix=${NOVA_ZK_TLS_PREFIX:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) print_path=1;;
        --prefix) shift; prefix=${1:?--prefix needs a directory};;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
        *) echo "build_zk_tls: unknown argument $1" >&2; exit 2;;
    esac
    shift
done
if [ -z "$prefix" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        prefix=/usr/local/lib/nova-zk-tls
    else
        prefix=${XDG_CACHE_HOME:-$HOME/.cache}/nova-zk-tls
    fi
fi

say() { echo "build_zk_tls: $*" >&2; }
die() { say "$*"; exit 1; }

report() {
    # $1: the library; the one line a caller needs.
    if [ $print_path -eq 1 ]; then
        echo "$1"
    else
        echo "export ZOOKEEPER_C_LIBRARY=$1"
    fi
}

has_init_ssl() {
    [ -f "$1" ] && nm -D --defined-only "$1" 2>/dev/null \
        | grep -qw zookeeper_init_ssl
}

# The same source version as the stock library, so that both behave alike
# apart from TLS; without the package, whatever version apt offers.
version=$(dpkg-query -W -f='${source:Version}' libzookeeper-mt2 2>/dev/null \
          || true)
lib_dir="$prefix/$version"
lib="$lib_dir/libzookeeper_mt.so.2"
# Without the stock package there is no version to match: any build will do.
[ -n "$version" ] || lib="$prefix/libzookeeper_mt.so.2"
if has_init_ssl "$lib"; then
    report "$(readlink -f "$lib")"
    exit 0
fi

for tool in apt-get dpkg-source cmake make gcc nm java flock; do
    command -v $tool >/dev/null || die "$tool not found: run tools/install_deps.sh"
done
[ -f /usr/include/openssl/ssl.h ] \
    || die "OpenSSL headers not found: run tools/install_deps.sh (libssl-dev)"
jute_jar=/usr/share/java/zookeeper-jute.jar
[ -f "$jute_jar" ] \
    || die "$jute_jar not found: run tools/install_deps.sh (zookeeper)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring not found (package debian-archive-keyring)"

mkdir -p "$prefix"
# Two test runs may build at once: one builds, the other waits and finds it.
exec 9>"$prefix/.lock"
flock 9
if has_init_ssl "$lib"; then
    report "$(readlink -f "$lib")"
    exit 0
fi

started=$(date +%s)
work=$(mktemp -d /tmp/nova-zk-tls.XXXXXX)
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
fail() {
    tail -n 30 "$log" >&2 || true
    die "$* (the full log was $log, removed)"
}

# A private apt state: the machine's sources and lists stay as they are,
# and no deb-src entry has to be added system-wide.
apt_dir="$prefix/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
. /etc/os-release 2>/dev/null || true
suite=${VERSION_CODENAME:-bookworm}
[ "${ID:-debian}" = debian ] || suite=bookworm
sources="$apt_dir/sources.list"
if ! grep -qs "^deb-src .* $suite main" "$sources"; then
    {
        echo "# written by nova's tools/build_zk_tls.sh: source packages only"
        echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite main"
        echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite-updates main"
        echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian-security $suite-security main"
    } >> "$sources"
fi
apt_opts=(-o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/nonexistent
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
say "fetching Debian's source of zookeeper ${version:-(newest)}"
apt-get "${apt_opts[@]}" -q update >>"$log" 2>&1 || fail "apt-get update failed"
(cd "$work" && apt-get "${apt_opts[@]}" -q source \
    "zookeeper${version:+=$version}") >>"$log" 2>&1 \
    || fail "apt-get source zookeeper${version:+=$version} failed"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'zookeeper-*' | head -n 1)
[ -n "$src" ] || fail "no source tree after apt-get source"
if [ -z "$version" ]; then
    version=$(cd "$src" && dpkg-parsechangelog -S Version)
    lib_dir="$prefix/$version"
    lib="$lib_dir/libzookeeper_mt.so.2"
fi
client="$src/zookeeper-client/zookeeper-client-c"
[ -f "$client/CMakeLists.txt" ] || fail "no C client in $src"

# Maven normally generates these; Debian ships the generator (Rcc) itself.
mkdir -p "$client/generated"
(cd "$client/generated" && java -cp "$jute_jar" \
    org.apache.jute.compiler.generated.Rcc -l c \
    "$src/zookeeper-jute/src/main/resources/zookeeper.jute") >>"$log" 2>&1 \
    || fail "generating zookeeper.jute.{c,h} failed"

build="$client/build"
mkdir -p "$build"
cflags=""
if ! grep -qs 'FIPS_mode(' /usr/include/openssl/crypto.h; then
    # OpenSSL 3 removed FIPS_mode(), which 3.8.0's client only logs; give
    # it OpenSSL 3's equivalent instead of patching the source.
    echo '#define FIPS_mode() EVP_default_properties_is_fips_enabled(NULL)' \
        > "$build/openssl3_fips_mode.h"
    cflags="-include $build/openssl3_fips_mode.h"
fi
say "building the C client with OpenSSL"
(cd "$build" && cmake .. -DWITH_OPENSSL=ON -DWITH_CYRUS_SASL=OFF \
    -DWANT_CPPUNIT=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=$cflags" \
    && make -j"$(nproc)" zookeeper hashtable) >>"$log" 2>&1 \
    || fail "cmake/make failed"
grep -q "will build with SSL support" "$log" \
    || fail "CMake did not find OpenSSL"
# CMake builds static archives only; the binding dlopens a shared library
# with the stock library's soname.  --no-undefined: a missing symbol fails
# here, not at the first dlopen.
gcc -shared -o "$build/libzookeeper_mt.so.2" -Wl,-soname,libzookeeper_mt.so.2 \
    -Wl,--whole-archive "$build/libzookeeper.a" "$build/libhashtable.a" \
    -Wl,--no-whole-archive -Wl,--no-undefined -lssl -lcrypto -lpthread -lrt -lm \
    >>"$log" 2>&1 || fail "linking libzookeeper_mt.so.2 failed"
has_init_ssl "$build/libzookeeper_mt.so.2" \
    || fail "the build does not export zookeeper_init_ssl"

mkdir -p "$lib_dir"
install -m 0644 "$build/libzookeeper_mt.so.2" "$lib.tmp"
mv -f "$lib.tmp" "$lib"
{
    echo "source: Debian zookeeper $version (apt-get source)"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by tools/build_zk_tls.sh"
    echo "cmake: -DWITH_OPENSSL=ON -DWITH_CYRUS_SASL=OFF -DWANT_CPPUNIT=OFF" \
         "-DCMAKE_POSITION_INDEPENDENT_CODE=ON" \
         "${cflags:+(FIPS_mode() mapped to EVP_default_properties_is_fips_enabled)}"
    echo "openssl: $(openssl version 2>/dev/null || echo unknown)"
} > "$lib_dir/BUILD-INFO"
ln -sfn "$lib" "$prefix/libzookeeper_mt.so.2.tmp"
mv -fT "$prefix/libzookeeper_mt.so.2.tmp" "$prefix/libzookeeper_mt.so.2"
say "built $lib in $(( $(date +%s) - started )) s (TLS: zookeeper_init_ssl)"
report "$lib"
