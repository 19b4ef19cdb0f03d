"""Reading /proc/net/tcp{,6}: which addresses listen on a port, and which of them are exposed."""

from __future__ import annotations

import ipaddress
import socket

from aiui_tui.services.apps.listeners import exposed, is_loopback, listening_addresses, port_taken

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1F91 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 3 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000
   2: 0000000000000000FFFF00000100007F:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_listeners_by_port_with_ipv4_ipv6_and_mapped_addresses():
    table = TCP + TCP6
    assert listening_addresses(table, 8080) == {"127.0.0.1", "::1"}
    assert exposed(listening_addresses(table, 8080)) == set()
    assert listening_addresses(table, 8081) == {"0.0.0.0"}  # the established connection is no listener
    assert exposed(listening_addresses(table, 8082)) == {"::"}
    (mapped,) = listening_addresses(table, 8083)
    assert ipaddress.ip_address(mapped) == ipaddress.ip_address("::ffff:127.0.0.1") and is_loopback(mapped)
    assert listening_addresses("garbage\n 0: zz:zz 0 0A\n", 8080) == set()


def test_port_taken_sees_a_listener_and_not_a_closed_connection():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HTTP servers do
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_taken("127.0.0.1", port)
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    assert not port_taken("127.0.0.1", port)
