#!/usr/bin/env bash
# A lab Asterisk 22 with chan_pjsip, built from source trees already on disk, for trying the
# service against a real Asterisk on one machine (everything on 127.0.0.1).
#
#   lab.sh build --asterisk-src DIR --pjproject-src DIR --prefix DIR [--jobs N]
#       Installs the Debian build dependencies if missing (needs root), builds pjproject
#       (shared libraries) and then Asterisk into PREFIX. Nothing is downloaded: pjproject is
#       built outside Asterisk's bundled build, and menuselect drops every sound package.
#       Steps already done are skipped (remove PREFIX/build/<step>.done to redo one).
#   lab.sh start --prefix DIR [--prompts DIR] [--routing FILE] [--fallback-template T]
#                [--channel-storage cpp_map_name_id|ao2_legacy]   (takes effect at a fresh start)
#       Writes the lab configuration (PREFIX/lab/etc) from deploy/asterisk/*.conf plus the
#       lab-only overrides, generates the French digits and music on hold, links the
#       prompts, starts Asterisk in the background and waits until ARI answers. With
#       --fallback-template (e.g. 'Local/{number}@lab-outbound'), the fallback dialplan is
#       generated again from the routing file (default config/departments.yaml) with that
#       dial template, so that the fallback reaches the lab's fake destinations.
#   lab.sh stop --prefix DIR
#   lab.sh cli --prefix DIR -- 'command'          (asterisk -rx)
#   lab.sh call --prefix DIR --to NUMBER [--from NUMBER] [--script 'W D W D ... W']
#       Originates a simulated caller (a Local channel) towards [from-operator]: the
#       caller's half runs [lab-inbound], waiting and sending DTMF as the script says.
#
# The lab dialplan and endpoints are in deploy/asterisk/lab-extensions.conf and
# deploy/asterisk/lab-pjsip.conf (their comments give the numbering plan).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The ARI user of deploy/asterisk/ari.conf and the lab's password for it.
ARI_USER="ivr"
ARI_PASSWORD="ivr-lab"
HTTP_HOST="127.0.0.1"
HTTP_PORT="8088"
SIP_BIND="127.0.0.1:5060"
# TLS (remote phones, [phone-remote] of pjsip.conf), with a certificate the lab makes. On
# every address: the SIP suite's phone behind NAT (tests/sip/home_nat.py) lives in a network
# namespace and reaches this host at 10.99.0.1. Phones authenticate with their password.
TLS_BIND="0.0.0.0:5061"
# Where the operator trunk lives in the lab: a SIPp (or anything) on this address and port.
OPERATOR_PEER="127.0.0.1:5070"
# The password of every phone of pjsip.conf and lab-pjsip.conf in the lab.
PHONE_PASSWORD="lab"
# asterisk.conf's channel_storage_backend (start --channel-storage ao2_legacy: the default
# storage of Asterisk 22, which deadlocked under load; kept for comparisons).
CHANNEL_STORAGE="cpp_map_name_id"

# Debian packages needed to build pjproject and Asterisk, and the lab's tools.
BUILD_DEPS=(build-essential pkg-config bzip2 patch libjansson-dev libxml2-dev
    libsqlite3-dev uuid-dev libedit-dev libssl-dev libncurses-dev libsrtp2-dev
    libcurl4-openssl-dev curl)
LAB_TOOLS=(sip-tester baresip espeak-ng sox)

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

# ---------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------

install_deps() {
    local missing=() pkg
    for pkg in "${BUILD_DEPS[@]}" "${LAB_TOOLS[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        log "apt: build dependencies already installed"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}), and not root to install them"
    log "apt: installing ${missing[*]}"
    # An empty package list (fresh machine) needs one update first.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

# The version a source tree declares: pjproject's version.mak, Asterisk's .version.
pjproject_version() {
    local f="$1/version.mak"
    [[ -f $f ]] || die "$1 is not a pjproject source tree (no version.mak)"
    awk -F':= *' '/^export PJ_VERSION_MAJOR/{ma=$2} /^export PJ_VERSION_MINOR/{mi=$2}
        /^export PJ_VERSION_REV/{re=$2} END{v=ma"."mi; if (re!="") v=v"."re; print v}' "$f"
}

asterisk_wanted_pjproject() {
    sed -n 's/^PJPROJECT_VERSION=//p' "$1/third-party/versions.mak"
}

# Each installed pjproject library finds the others (ldd reports nothing "not found").
pj_libs_ok() {
    local out
    out="$(ldd "$1"/lib/lib*.so.2 2>&1)" || return 1
    ! grep -q 'not found' <<<"$out"
}

# pjproject as Asterisk's bundled build makes it (third-party/pjproject/Makefile.rules and
# patches/), but as shared libraries installed into PREFIX/pjproject.
build_pjproject() {
    local src="$1" prefix="$2" jobs="$3" astsrc="$4"
    local done="$prefix/build/pjproject.done" bdir="$prefix/build/pjproject"
    local pjprefix="$prefix/pjproject" patches="$astsrc/third-party/pjproject/patches"
    if [[ -f $done && -f $pjprefix/lib/pkgconfig/libpjproject.pc ]] && pj_libs_ok "$pjprefix"; then
        log "pjproject: already built ($(cat "$done"))"
        return
    fi
    local have wanted
    have="$(pjproject_version "$src")"
    wanted="$(asterisk_wanted_pjproject "$astsrc")"
    [[ $have == "$wanted" ]] || log "warning: pjproject $have, but Asterisk names $wanted"
    log "pjproject $have: copying the tree to $bdir"
    rm -rf "$bdir"
    mkdir -p "$prefix/build"
    cp -a "$src" "$bdir"
    local p
    for p in "$patches"/*.patch; do
        # This one strips PJDIR from build.mak.in for Asterisk's in-tree build only.
        [[ $(basename "$p") == 0000-remove-third-party.patch ]] && continue
        log "pjproject: patch $(basename "$p")"
        patch -d "$bdir" -p1 --forward --quiet -i "$p"
    done
    # Asterisk's config_site.h, without its malloc debug hook (meant for the bundled build,
    # where pjproject is linked into the asterisk binary).
    grep -v 'asterisk_malloc_debug.h' "$patches/config_site.h" >"$bdir/pjlib/include/pj/config_site.h"
    cp "$patches/user.mak" "$bdir/user.mak"
    rm -rf "$pjprefix"
    log "pjproject: configure"
    (
        cd "$bdir"
        ./aconfigure --prefix="$pjprefix" --enable-shared --disable-pjsua2 \
            --disable-speex-codec --disable-speex-aec --disable-bcg729 --disable-gsm-codec \
            --disable-ilbc-codec --disable-l16-codec --disable-g722-codec --disable-g7221-codec \
            --disable-opencore-amr --disable-silk --disable-opus --disable-video --disable-v4l2 \
            --disable-sound --disable-ext-sound --disable-sdl --disable-libyuv --disable-ffmpeg \
            --disable-openh264 --disable-ipp --disable-libwebrtc --disable-libsrtp \
            --disable-upnp --without-external-pa --without-external-srtp \
            --disable-resample --disable-g711-codec --enable-epoll \
            CFLAGS="-O2 -g -DNDEBUG=1" LDFLAGS="-Wl,-rpath,$pjprefix/lib" \
            >"$prefix/build/pjproject-configure.log" 2>&1 \
            || { tail -30 "$prefix/build/pjproject-configure.log"; exit 1; }
        log "pjproject: make dep, lib, install (log: $prefix/build/pjproject-make.log)"
        {
            make dep && make -j"$jobs" lib && make install
        } >"$prefix/build/pjproject-make.log" 2>&1 \
            || { tail -40 "$prefix/build/pjproject-make.log"; exit 1; }
    )
    [[ -f $pjprefix/lib/pkgconfig/libpjproject.pc ]] || die "pjproject: no libpjproject.pc installed"
    # Each library must find its siblings by itself (its own RUNPATH): a module's RUNPATH
    # does not apply to the libraries it pulls in, and the lab adds nothing to ld.so.conf.
    if ! pj_libs_ok "$pjprefix"; then
        die "pjproject: libraries that do not find each other (ldd $pjprefix/lib/*.so.2)"
    fi
    echo "pjproject $have $(date -u +%FT%TZ)" >"$done"
}

build_asterisk() {
    local src="$1" prefix="$2" jobs="$3"
    local done="$prefix/build/asterisk.done" bdir="$prefix/build/asterisk"
    local pjprefix="$prefix/pjproject" version
    if [[ -f $done && -x $prefix/sbin/asterisk && -f $prefix/lib/asterisk/modules/chan_pjsip.so ]]; then
        log "asterisk: already built ($(cat "$done"))"
        return
    fi
    version="$(cat "$src/.version" 2>/dev/null || echo unknown)"
    if [[ ! -f $bdir/.lab-configured ]]; then
        log "asterisk $version: copying the tree to $bdir"
        rm -rf "$bdir"
        cp -a "$src" "$bdir"
        log "asterisk: configure (log: $prefix/build/asterisk-configure.log)"
        (
            cd "$bdir"
            # rpath: the modules find the lab's pjproject without ld.so.conf.
            PKG_CONFIG_PATH="$pjprefix/lib/pkgconfig" ./configure --prefix="$prefix" \
                --without-pjproject-bundled --with-pjproject="$pjprefix" \
                --with-jansson-bundled=no --without-libjwt-bundled \
                LDFLAGS="-Wl,-rpath,$pjprefix/lib -Wl,-rpath,$prefix/lib" \
                >"$prefix/build/asterisk-configure.log" 2>&1 \
                || { tail -30 "$prefix/build/asterisk-configure.log"; exit 1; }
            grep -q '^PJPROJECT_INCLUDE=.*-I' makeopts || die "asterisk: configure did not find pjproject"
            make menuselect.makeopts >>"$prefix/build/asterisk-configure.log" 2>&1
            # Nothing may be downloaded at build or install time: no sound packages.
            menuselect/menuselect \
                --disable-category MENUSELECT_CORE_SOUNDS \
                --disable-category MENUSELECT_MOH \
                --disable-category MENUSELECT_EXTRA_SOUNDS \
                menuselect.makeopts
            # The C++ map channel storage: the default ao2_legacy one deadlocked under 200
            # simultaneous SIP calls (a lock-ordering deadlock, as in Asterisk issues #1907
            # and #1928); asterisk.conf selects it with channel_storage_backend.
            menuselect/menuselect --enable channelstorage_cpp_map_name_id menuselect.makeopts
            grep -Eq '^MENUSELECT_CHANNELSTORAGE=.*\bchannelstorage_cpp_map_name_id\b' \
                menuselect.makeopts \
                && die "asterisk: menuselect leaves channelstorage_cpp_map_name_id out (no C++11 compiler?)"
            local m
            for m in chan_pjsip res_pjsip res_pjsip_session res_ari res_stasis res_http_websocket; do
                if grep -Eq "^MENUSELECT_(CHANNELS|RES)=.*\\b$m\\b" menuselect.makeopts; then
                    die "asterisk: menuselect leaves $m out (missing dependency?)"
                fi
            done
        )
        touch "$bdir/.lab-configured"
    fi
    log "asterisk: make (log: $prefix/build/asterisk-make.log)"
    (cd "$bdir" && make -j"$jobs" >"$prefix/build/asterisk-make.log" 2>&1) \
        || { tail -40 "$prefix/build/asterisk-make.log"; die "asterisk: make failed"; }
    log "asterisk: make install"
    (cd "$bdir" && make install >"$prefix/build/asterisk-install.log" 2>&1) \
        || { tail -40 "$prefix/build/asterisk-install.log"; die "asterisk: make install failed"; }
    [[ -f $prefix/lib/asterisk/modules/chan_pjsip.so ]] || die "asterisk: chan_pjsip.so not installed"
    # indications.conf's sample has the French tones (ring, busy) the lab copies.
    mkdir -p "$prefix/share/asterisk-lab"
    cp "$bdir/configs/samples/indications.conf.sample" "$prefix/share/asterisk-lab/"
    echo "asterisk $version $(date -u +%FT%TZ)" >"$done"
}

cmd_build() {
    local astsrc="" pjsrc="" prefix="" jobs
    jobs="$(nproc)"
    while (($#)); do
        case "$1" in
            --asterisk-src) astsrc="$2"; shift 2 ;;
            --pjproject-src) pjsrc="$2"; shift 2 ;;
            --prefix) prefix="$2"; shift 2 ;;
            --jobs) jobs="$2"; shift 2 ;;
            -h|--help) usage ;;
            *) die "build: unknown argument $1" ;;
        esac
    done
    [[ -n $astsrc && -n $pjsrc && -n $prefix ]] || usage 2
    astsrc="$(realpath "$astsrc")"; pjsrc="$(realpath "$pjsrc")"
    mkdir -p "$prefix"; prefix="$(realpath "$prefix")"
    [[ -f $astsrc/main/asterisk.c ]] || die "$astsrc is not an Asterisk source tree"
    local start=$SECONDS
    install_deps
    build_pjproject "$pjsrc" "$prefix" "$jobs" "$astsrc"
    build_asterisk "$astsrc" "$prefix" "$jobs"
    log "built in $((SECONDS - start)) s: $("$prefix/sbin/asterisk" -V)"
}

# ---------------------------------------------------------------------------------------
# start, stop, cli, call
# ---------------------------------------------------------------------------------------

# Paths of the lab inside PREFIX (those of Asterisk's own `make install` with --prefix).
set_paths() {
    PREFIX="$(realpath "$1")"
    ASTERISK="$PREFIX/sbin/asterisk"
    CONF="$PREFIX/lab/etc"
    VARLIB="$PREFIX/var/lib/asterisk"
    SOUNDS="$VARLIB/sounds"
    RUNDIR="$PREFIX/var/run/asterisk"
    LOGDIR="$PREFIX/var/log/asterisk"
    SPOOL="$PREFIX/var/spool/asterisk"
    [[ -x $ASTERISK ]] || die "no Asterisk in $PREFIX (run lab.sh build first)"
}

ast_rx() { "$ASTERISK" -C "$CONF/asterisk.conf" -rx "$1"; }

is_running() {
    [[ -f $RUNDIR/asterisk.pid ]] && kill -0 "$(cat "$RUNDIR/asterisk.pid")" 2>/dev/null \
        && ast_rx 'core show version' >/dev/null 2>&1
}

# Replaces the lines matching a sed pattern in a copied file, failing if none matched (the
# project's file changed: the lab overrides must follow it).
override() {
    local file="$1" pattern="$2" replacement="$3" range="${4:-}"
    grep -Eq "$pattern" "$file" || die "lab override: no line /$pattern/ in $(basename "$file")"
    sed -Ei "${range}s|$pattern.*|$replacement|" "$file"
}

# A self-signed certificate for 127.0.0.1 (kept across starts), and its copy as the CA a
# lab phone trusts: PREFIX/lab/etc/keys/sip.crt.
lab_certificate() {
    mkdir -p "$CONF/keys"
    if [[ -f $CONF/keys/sip.crt && -f $CONF/keys/sip.key ]]; then
        return
    fi
    command -v openssl >/dev/null || die "openssl is needed for the lab's TLS certificate"
    openssl req -x509 -newkey rsa:2048 -sha256 -days 825 -nodes -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$CONF/keys/sip.key" -out "$CONF/keys/sip.crt" 2>/dev/null \
        || die "openssl could not make the lab's certificate"
    chmod 600 "$CONF/keys/sip.key"
    log "TLS certificate for 127.0.0.1: $CONF/keys/sip.crt"
}

write_config() {
    local f
    mkdir -p "$CONF" "$RUNDIR" "$LOGDIR" "$SPOOL/monitor" "$SPOOL/recording" "$PREFIX/var/cache/asterisk"
    # The project's files, as they are but for the few lines the lab changes.
    for f in extensions.conf extensions_fallback.conf ari.conf http.conf modules.conf \
        musiconhold.conf pjsip.conf lab-extensions.conf lab-pjsip.conf; do
        [[ -f $SCRIPT_DIR/$f ]] || die "missing $SCRIPT_DIR/$f"
        cp "$SCRIPT_DIR/$f" "$CONF/$f"
    done
    lab_certificate
    override "$CONF/http.conf" '^bindaddr *=' "bindaddr = $HTTP_HOST"
    override "$CONF/http.conf" '^bindport *=' "bindport = $HTTP_PORT"
    override "$CONF/ari.conf" '^password *=' "password = $ARI_PASSWORD" "/^\\[$ARI_USER\\]/,/^\\[/"
    override "$CONF/pjsip.conf" '^bind *=' "bind = $SIP_BIND" "/^\\[transport-udp\\]/,/^\\[/"
    # TLS for the remote phones: the lab's own certificate for 127.0.0.1 (lab_certificate).
    override "$CONF/pjsip.conf" '^bind *=' "bind = $TLS_BIND" "/^\\[transport-tls\\]/,/^\\[/"
    override "$CONF/pjsip.conf" '^cert_file *=' "cert_file = $CONF/keys/sip.crt"
    override "$CONF/pjsip.conf" '^priv_key_file *=' "priv_key_file = $CONF/keys/sip.key"
    override "$CONF/pjsip.conf" '^contact *=' "contact = sip:$OPERATOR_PEER"
    override "$CONF/pjsip.conf" '^match *=' "match = $OPERATOR_PEER,${OPERATOR_PEER%:*}:$((${OPERATOR_PEER##*:} + 1))"
    # The operator's far end is a SIPp that the tests start and stop: not qualified, or the
    # trunk would be "Unreachable" (calls refused at once) for up to 30 s after each start.
    override "$CONF/pjsip.conf" '^qualify_frequency *=' "qualify_frequency = 0" "/^contact *=/,/^\\[/"
    # Phones are SIPps that tests register and start: qualified every 2 s, so that one is
    # reachable (PJSIP_DIAL_CONTACTS skips an "Unavailable" contact) soon after it starts.
    override "$CONF/pjsip.conf" '^qualify_frequency *=' "qualify_frequency = 2" "/^\\[phone-aor\\]/,/^\\[/"
    # The example phones (ecoutant-75-1, referent-75-1) register with the lab's password.
    override "$CONF/pjsip.conf" '^password *= *CHANGE-ME' "password = $PHONE_PASSWORD"
    printf '\n; Lab only\n#include lab-pjsip.conf\n' >>"$CONF/pjsip.conf"
    printf '\n; Lab only\n#include lab-extensions.conf\n' >>"$CONF/extensions.conf"

    cat >"$CONF/asterisk.conf" <<EOF
; Lab Asterisk (deploy/asterisk/lab.sh): every directory inside $PREFIX, running as root.
[directories]
astcachedir => $PREFIX/var/cache/asterisk
astetcdir => $CONF
astmoddir => $PREFIX/lib/asterisk/modules
astvarlibdir => $VARLIB
astdbdir => $VARLIB
astkeydir => $VARLIB
astdatadir => $VARLIB
astagidir => $VARLIB/agi-bin
astspooldir => $SPOOL
astrundir => $RUNDIR
astlogdir => $LOGDIR
astsbindir => $PREFIX/sbin

[options]
verbose = 3
debug = 0
documentation_language = en_US
; deploy/asterisk/asterisk.conf's options:
EOF
    # The project's options, as they are but for the channel storage (start --channel-storage).
    grep -Ev '^[[:space:]]*(;|\[|$)' "$SCRIPT_DIR/asterisk.conf" >>"$CONF/asterisk.conf"
    override "$CONF/asterisk.conf" '^channel_storage_backend *=' "channel_storage_backend = $CHANNEL_STORAGE"
    cat >"$CONF/logger.conf" <<'EOF'
; Lab: messages.log for notices and problems, full.log with the dialplan's verbose trace.
[general]
dateformat = %F %T.%3q
[logfiles]
console => notice,warning,error
messages.log => notice,warning,error
full.log => notice,warning,error,verbose(4),dtmf
EOF
    cat >"$CONF/rtp.conf" <<'EOF'
[general]
rtpstart = 10000
rtpend = 20000
EOF
    # French tones (ringing played to an answered caller, busy, congestion).
    if [[ -f $PREFIX/share/asterisk-lab/indications.conf.sample ]]; then
        sed -E 's/^country *=.*/country = fr/' "$PREFIX/share/asterisk-lab/indications.conf.sample" \
            >"$CONF/indications.conf"
    fi
    log "config written in $CONF"
}

# espeak-ng speaks French, sox makes it 8 kHz mono 16-bit WAV.
say_fr() {
    local text="$1" out="$2" tmp
    tmp="$(mktemp --suffix=.wav)"
    espeak-ng -v fr-fr -s 150 -w "$tmp" "$text"
    sox "$tmp" -r 8000 -c 1 -b 16 "$out"
    rm -f "$tmp"
}

# The sounds Asterisk itself needs, as the French core sounds (not downloadable here) would
# give them: the files main/say.c's French numbers use (ast_say_number_full_fr), a beep,
# silence, and music on hold. Made once; remove PREFIX/var/lib/asterisk/sounds/.lab-made
# to make them again.
make_sounds() {
    local prompts="$1" mark="$SOUNDS/.lab-made"
    mkdir -p "$SOUNDS/fr" "$SOUNDS/silence" "$VARLIB/moh"
    # The service plays sound:ivr/<id> in French: the project's prompts, linked.
    ln -sfn "$prompts" "$SOUNDS/fr/ivr"
    [[ -f $mark ]] && { log "sounds: already made"; return; }
    command -v espeak-ng >/dev/null && command -v sox >/dev/null || die "espeak-ng and sox are needed"
    log "sounds: French digits (espeak-ng), beep, silence, music on hold (sox)"
    mkdir -p "$SOUNDS/fr/digits"
    local words=(zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize
        quatorze quinze seize dix-sept dix-huit dix-neuf vingt) i
    for i in "${!words[@]}"; do say_fr "${words[$i]}" "$SOUNDS/fr/digits/$i.wav"; done
    local -A tens=([30]=trente [40]=quarante [50]=cinquante [60]=soixante [70]=soixante-dix
        [80]=quatre-vingt [90]=quatre-vingt-dix [100]=cent)
    for i in "${!tens[@]}"; do say_fr "${tens[$i]}" "$SOUNDS/fr/digits/$i.wav"; done
    say_fr "une" "$SOUNDS/fr/digits/1F.wav"
    say_fr "et" "$SOUNDS/fr/digits/et.wav"
    say_fr "cent" "$SOUNDS/fr/digits/hundred.wav"
    say_fr "mille" "$SOUNDS/fr/digits/thousand.wav"
    say_fr "million" "$SOUNDS/fr/digits/million.wav"
    say_fr "moins" "$SOUNDS/fr/digits/minus.wav"
    sox -n -r 8000 -c 1 -b 16 "$SOUNDS/beep.wav" synth 0.25 sine 1000 vol 0.5
    for i in 1 2 3 4 5 6 7 8 9 10; do
        sox -n -r 8000 -c 1 -b 16 "$SOUNDS/silence/$i.wav" trim 0 "$i"
    done
    # Music on hold: a plucked arpeggio, about 30 s, for musiconhold.conf's "moh" directory.
    local tmpd notes=(C4 E4 G4 C5 G4 E4 F4 A4 C5 F5 C5 A4 G4 B4 D5 G5 D5 B4 C4 G4 E5 C5 G4 E4)
    tmpd="$(mktemp -d)"
    i=0
    for n in "${notes[@]}"; do
        sox -n -r 8000 -c 1 -b 16 "$tmpd/$(printf %02d $i).wav" synth 0.42 pluck "$n" fade 0 0.42 0.1
        i=$((i + 1))
    done
    sox "$tmpd"/*.wav "$tmpd/phrase.wav"
    sox "$tmpd/phrase.wav" "$VARLIB/moh/lab-arpeggio.wav" vol 0.6 repeat 2
    rm -rf "$tmpd"
    touch "$mark"
}

wait_ari() {
    local url="http://$HTTP_HOST:$HTTP_PORT/ari/asterisk/info" code i
    for ((i = 0; i < 60; i++)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' -u "$ARI_USER:$ARI_PASSWORD" "$url" || true)"
        [[ $code == 200 ]] && return 0
        sleep 1
    done
    die "ARI did not answer 200 on $url within 60 s (last: $code); see $LOGDIR/messages.log"
}

cmd_start() {
    local prefix="" prompts="$SCRIPT_DIR/../../prompts/fr" fallback_template="" root
    local routing="$SCRIPT_DIR/../../config/departments.yaml"
    while (($#)); do
        case "$1" in
            --prefix) prefix="$2"; shift 2 ;;
            --prompts) prompts="$2"; shift 2 ;;
            --routing) routing="$2"; shift 2 ;;
            --fallback-template) fallback_template="$2"; shift 2 ;;
            --channel-storage) CHANNEL_STORAGE="$2"; shift 2 ;;
            -h|--help) usage ;;
            *) die "start: unknown argument $1" ;;
        esac
    done
    [[ -n $prefix ]] || usage 2
    set_paths "$prefix"
    [[ -d $prompts ]] || die "no prompts directory $prompts"
    prompts="$(realpath "$prompts")"
    write_config
    if [[ -n $fallback_template ]]; then
        root="$(realpath "$SCRIPT_DIR/../..")"
        routing="$(realpath "$routing")"
        (cd "$root" && "${IVR_PYTHON:-$root/.venv/bin/python}" -m ivr.transports.ari.dialplan \
            "$routing" "$fallback_template") >"$CONF/extensions_fallback.conf" \
            || die "could not generate the fallback dialplan (IVR_PYTHON: the project's Python)"
        log "fallback dialplan from $routing with $fallback_template"
    fi
    make_sounds "$prompts"
    PROMPTS_DIR="$prompts"
    if is_running; then
        log "Asterisk already running (pid $(cat "$RUNDIR/asterisk.pid")): reloading the configuration"
        ast_rx 'core reload' >/dev/null
    else
        log "starting Asterisk (console output: $LOGDIR/console.log)"
        # Without -c Asterisk forks into the background and writes astrundir/asterisk.pid.
        "$ASTERISK" -C "$CONF/asterisk.conf" >"$LOGDIR/console.log" 2>&1
    fi
    wait_ari
    local info
    info="$(ast_rx 'core show version')"
    cat <<EOF
[lab] $info running, pid $(cat "$RUNDIR/asterisk.pid")
[lab] ARI:   http://$HTTP_HOST:$HTTP_PORT  user $ARI_USER  password $ARI_PASSWORD  (app "ivr")
[lab]        IVR_ARI_URL=http://$HTTP_HOST:$HTTP_PORT IVR_ARI_USER=$ARI_USER IVR_ARI_PASSWORD=$ARI_PASSWORD
[lab]        IVR_ARI_DIAL_TEMPLATE='Local/{number}@lab-outbound'
[lab] SIP:   udp $SIP_BIND; operator trunk = $OPERATOR_PEER (and the next port; the one after: in-band DTMF)
[lab]        tls $TLS_BIND (remote phones: ecoutant-75-2, SRTP only), certificate $CONF/keys/sip.crt
[lab]        phones (user/password): ecoutant-75-1, ecoutant-75-2, referent-75-1 (pjsip.conf), referent, listener; all /$PHONE_PASSWORD
[lab] SIP suite: IVR_LAB_ASTERISK="ari=http://$HTTP_HOST:$HTTP_PORT sip=$SIP_BIND prompts=$PROMPTS_DIR ca=$CONF/keys/sip.crt"
[lab] logs:  $LOGDIR/full.log  $LOGDIR/messages.log   config: $CONF
[lab] stop:  $0 stop --prefix $PREFIX      CLI: $0 cli --prefix $PREFIX -- 'core show channels'
EOF
}

cmd_stop() {
    local prefix=""
    while (($#)); do
        case "$1" in
            --prefix) prefix="$2"; shift 2 ;;
            *) die "stop: unknown argument $1" ;;
        esac
    done
    [[ -n $prefix ]] || usage 2
    set_paths "$prefix"
    if ! [[ -f $RUNDIR/asterisk.pid ]] || ! kill -0 "$(cat "$RUNDIR/asterisk.pid")" 2>/dev/null; then
        log "Asterisk is not running"
        return 0
    fi
    local pid i
    pid="$(cat "$RUNDIR/asterisk.pid")"
    ast_rx 'core stop now' >/dev/null 2>&1 || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || { log "Asterisk stopped"; return 0; }
        sleep 0.5
    done
    log "Asterisk (pid $pid) still there: SIGTERM"
    kill "$pid" 2>/dev/null || true
    sleep 2
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "Asterisk stopped"
}

cmd_cli() {
    local prefix=""
    while (($#)); do
        case "$1" in
            --prefix) prefix="$2"; shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    [[ -n $prefix && $# -gt 0 ]] || usage 2
    set_paths "$prefix"
    ast_rx "$*"
}

# A simulated caller through ARI (so that it can carry a caller id): the Local channel's
# first half runs s@lab-inbound with LAB_SCRIPT once the line has answered.
cmd_call() {
    local prefix="" to="" from="" script="60"
    while (($#)); do
        case "$1" in
            --prefix) prefix="$2"; shift 2 ;;
            --to) to="$2"; shift 2 ;;
            --from) from="$2"; shift 2 ;;
            --script) script="$2"; shift 2 ;;
            *) die "call: unknown argument $1" ;;
        esac
    done
    [[ -n $prefix && -n $to ]] || usage 2
    set_paths "$prefix"
    # "2 75 4 1 30" -> "2-75-4-1-30" (spaces or dashes between items)
    script="$(echo "$script" | tr -s ' ' '-')"
    [[ $script =~ ^[-0-9.*#A-D]+$ ]] || die "call: bad script '$script' (seconds and DTMF items)"
    local body
    body="$(printf '{"endpoint":"Local/%s@from-operator","context":"lab-inbound","extension":"s","priority":1,"timeout":60,"callerId":"%s","variables":{"LAB_SCRIPT":"%s"}}' \
        "$to" "$from" "$script")"
    curl -sS --fail-with-body -u "$ARI_USER:$ARI_PASSWORD" -H 'Content-Type: application/json' \
        -X POST "http://$HTTP_HOST:$HTTP_PORT/ari/channels" -d "$body"
    echo
}

# ---------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------

main() {
    (($#)) || usage 2
    local cmd="$1"; shift
    case "$cmd" in
        build) cmd_build "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        cli) cmd_cli "$@" ;;
        call) cmd_call "$@" ;;
        -h|--help|help) usage ;;
        *) die "unknown command $cmd (build, start, stop, cli, call)" ;;
    esac
}

main "$@"
