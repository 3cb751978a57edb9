"""A copy of each audit anchor line to syslog (R-53), for shipping it off the host.

Whoever can rewrite the database may also reach the files beside it; a line
that already left the host through syslog (rsyslog forwarding, a SIEM) cannot
be taken back. The lines hold a sequence number, a hash and a time: no
personal data.
"""

from __future__ import annotations

import logging
import logging.handlers
import socket

from tgd.ports import AnchorCopy


def build_anchor_copy(address: str) -> AnchorCopy | None:
    """Return a sender of anchor lines to ``address`` ("/dev/log" or "host:port"), or None."""
    if not address:
        return None
    target: str | tuple[str, int]
    if address.startswith("/"):
        target = address
    else:
        host, _, port = address.rpartition(":")
        target = (host, int(port))
    handler = logging.handlers.SysLogHandler(
        address=target,
        facility=logging.handlers.SysLogHandler.LOG_AUTH,
        socktype=socket.SOCK_DGRAM,
    )
    handler.setFormatter(logging.Formatter("tgd-audit-anchor: %(message)s"))
    channel = logging.Logger("tgd.audit_anchors")  # not the root's: no redaction, no stderr
    channel.addHandler(handler)
    channel.propagate = False

    def send(line: str) -> None:
        channel.warning(line)

    return send
