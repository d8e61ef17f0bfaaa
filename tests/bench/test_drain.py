"""The drain check's view of open connections (bench/driver/drain.py), on real sockets."""

import socket

from bench.driver.drain import open_connections


def test_open_connections_counts_what_the_server_side_still_holds():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    assert open_connections(port) == 0  # the listening socket is not a connection
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    assert open_connections(port) == 1
    client.close()  # the client is gone, the server has not closed its side: CLOSE_WAIT
    assert open_connections(port) == 1
    served.close()
    assert open_connections(port) == 0
    listener.close()
