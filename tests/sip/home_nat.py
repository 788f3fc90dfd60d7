"""A home network behind NAT, in Linux network namespaces, for a remote phone of the lab.

    phone ns 192.168.77.2 -- router ns 192.168.77.1 | 10.99.0.2 (masquerade) -- 10.99.0.1 host

A phone started in the phone namespace reaches the lab Asterisk at 10.99.0.1 (its TLS
transport listens on every address: ``lab.sh start`` binds it to 0.0.0.0:5061) only
through the router, which rewrites its private address and ports (nftables masquerade),
as a home box does. Asterisk sees the phone at 10.99.0.2 and must answer there: over the
TLS connection the phone opened (``rewrite_contact``) and, for the audio, where the
phone's RTP comes from (``rtp_symmetric``), not the private address the phone's SDP
gives. Needs root, ``ip`` (iproute2) and ``nft`` (nftables).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PLATFORM_IP = "10.99.0.1"  # this host, as the phone's router sees it
PUBLIC_IP = "10.99.0.2"  # the home's public address (the router's outside)
ROUTER_INSIDE_IP = "192.168.77.1"
PHONE_IP = "192.168.77.2"  # the phone's private address


@dataclass(frozen=True)
class HomeNat:
    phone_ns: str
    router_ns: str
    phone_ip: str = PHONE_IP
    public_ip: str = PUBLIC_IP
    platform_ip: str = PLATFORM_IP


def missing() -> str | None:
    """Why a home NAT cannot be built here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install iproute2 nftables)"
    return None


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True)


@contextmanager
def home_nat() -> Iterator[HomeNat]:
    tag = f"{os.getpid() % 100000}"
    nat = HomeNat(phone_ns=f"ivr-phone-{tag}", router_ns=f"ivr-home-{tag}")
    host_if, router_out = f"ivrh{tag}", f"ivro{tag}"
    router_in, phone_if = f"ivri{tag}", f"ivrp{tag}"
    r, p = ("ip", "netns", "exec", nat.router_ns), ("ip", "netns", "exec", nat.phone_ns)
    try:
        _run("ip", "netns", "add", nat.router_ns)
        _run("ip", "netns", "add", nat.phone_ns)
        # This host <-> the router's outside.
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", router_out)
        _run("ip", "link", "set", router_out, "netns", nat.router_ns)
        _run("ip", "addr", "add", f"{PLATFORM_IP}/24", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run(*r, "ip", "addr", "add", f"{PUBLIC_IP}/24", "dev", router_out)
        _run(*r, "ip", "link", "set", router_out, "up")
        _run(*r, "ip", "link", "set", "lo", "up")
        # Everything else (the host's other addresses, where Asterisk's SDP may point) is
        # reached through the host.
        _run(*r, "ip", "route", "add", "default", "via", PLATFORM_IP)
        # The router's inside <-> the phone.
        _run("ip", "link", "add", router_in, "netns", nat.router_ns, "type", "veth",
             "peer", "name", phone_if, "netns", nat.phone_ns)  # fmt: skip
        _run(*r, "ip", "addr", "add", f"{ROUTER_INSIDE_IP}/24", "dev", router_in)
        _run(*r, "ip", "link", "set", router_in, "up")
        _run(*p, "ip", "addr", "add", f"{PHONE_IP}/24", "dev", phone_if)
        _run(*p, "ip", "link", "set", phone_if, "up")
        _run(*p, "ip", "link", "set", "lo", "up")
        _run(*p, "ip", "route", "add", "default", "via", ROUTER_INSIDE_IP)
        # The home box: forwarding and masquerade on its outside.
        _run(*r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run(*r, "nft", "add", "table", "ip", "home")
        _run(*r, "nft", "add chain ip home post { type nat hook postrouting priority 100 ; }")
        _run(*r, "nft", "add", "rule", "ip", "home", "post", "oifname", router_out, "masquerade")
        yield nat
    finally:
        for ns in (nat.phone_ns, nat.router_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
