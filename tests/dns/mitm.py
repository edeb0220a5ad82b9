#!/usr/bin/env python3
# tests/dns/mitm.py: the man in the middle of the STARTTLS downgrade
# tests (tests/29-dns-dane, 29-dns-mtasts): listens on ADDR:PORT, passes
# each connection on to TO_ADDR:TO_PORT, and attacks its STARTTLS:
#   strip: "STARTTLS" in the server's replies becomes "XXXXXXXA" (the
#          classic firewall rewrite), and a STARTTLS the client sends
#          anyway is answered "502 5.5.1" without reaching the server;
#   454:   the server's replies pass, a STARTTLS is answered "454 4.7.0".
# Everything else passes both ways unchanged, so that whatever the client
# sends after the attack (MAIL FROM in plaintext) reaches the server and
# its transcript.  Writes its port to PORTFILE once it listens.
# Usage: mitm.py MODE ADDR PORT TO_ADDR TO_PORT PORTFILE
import socket
import sys
import threading

mode, addr, port, to_addr, to_port, portfile = sys.argv[1:7]


def server_to_client(srv, cli):
    try:
        while True:
            data = srv.recv(4096)
            if not data:
                break
            if mode == "strip":
                data = data.replace(b"STARTTLS", b"XXXXXXXA")
            cli.sendall(data)
    except OSError:
        pass
    finally:
        try:
            cli.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def client_to_server(cli, srv):
    buf = b""
    try:
        while True:
            data = cli.recv(4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip().upper() == b"STARTTLS":
                    cli.sendall(b"502 5.5.1 unrecognized command\r\n"
                                if mode == "strip" else
                                b"454 4.7.0 TLS not available now\r\n")
                    continue
                srv.sendall(line + b"\n")
    except OSError:
        pass
    finally:
        try:
            srv.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(cli):
    srv = socket.create_connection((to_addr, int(to_port)), timeout=30)
    t = threading.Thread(target=server_to_client, args=(srv, cli))
    t.start()
    client_to_server(cli, srv)
    t.join(30)
    cli.close()
    srv.close()


ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, int(port)))
ls.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
