"""A small authoritative DNS server on 127.0.0.1 for the resolver tests:
A and SRV records from a table, NXDOMAIN otherwise, optional delays per
name, and a log of the questions asked. Every wait is bounded."""
import socket
import struct
import threading
import time

A, AAAA, SRV = 1, 28, 33


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_name(data, offset):
    labels = []
    while data[offset]:
        length = data[offset]
        labels.append(data[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    return ".".join(labels).lower(), offset + 1


class FakeDns:
    def __init__(self):
        self.records = {}   # (name, type) -> [rdata bytes]
        self.delays = {}    # name -> seconds
        self.questions = []  # (name, type)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def add_a(self, name, address="127.0.0.1"):
        self.records.setdefault((name, A), []).append(socket.inet_aton(address))

    def add_srv(self, name, priority, weight, port, target):
        rdata = struct.pack("!HHH", priority, weight, port) + encode_name(target)
        self.records.setdefault((name, SRV), []).append(rdata)

    def asked(self, name, qtype):
        return sum(1 for question in list(self.questions) if question == (name, qtype))

    def _serve(self):
        while self.running:
            try:
                data, source = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._answer, args=(data, source), daemon=True).start()

    def _answer(self, data, source):
        ident, _flags, qdcount = struct.unpack("!HHH", data[:6])
        if qdcount != 1:
            return
        name, offset = decode_name(data, 12)
        qtype, _qclass = struct.unpack("!HH", data[offset:offset + 4])
        question = data[12:offset + 4]
        self.questions.append((name, qtype))
        delay = self.delays.get(name, 0)
        if delay:
            time.sleep(delay)
        answers = self.records.get((name, qtype), [])
        known = any(key[0] == name for key in self.records)
        rcode = 0 if known else 3  # NXDOMAIN for names not in the table
        header = struct.pack("!HHHHHH", ident, 0x8400 | 0x0100 | rcode, 1, len(answers), 0, 0)
        body = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 30, len(rdata)) + rdata for rdata in answers)
        try:
            self.sock.sendto(header + question + body, source)
        except OSError:
            pass

    def stop(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()
