#!/usr/bin/env bash
# Makes a throw-away CA and a certificate for the hop (and one for a client,
# for trying mutual TLS) in examples/tls/, valid 30 days, for trying
# examples/sipwarden-tls.json. Not for production: use your PKI there.
#
#   examples/tls/make-test-certs.sh [HOST_IP]    (default 127.0.0.1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ip=${1:-127.0.0.1}
command -v openssl >/dev/null || { echo "make-test-certs.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 30 -subj "/CN=sipwarden example CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
issue() {  # stem common-name subjectAltName
    openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "/O=sipwarden example/CN=$2" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 30 \
        -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
issue hop "sipwarden.example" "IP:$ip,DNS:localhost"
issue client "alice-ua" "DNS:alice.example"
chmod 600 ./*.key
echo "examples/tls: ca.pem, hop.pem/hop.key (IP $ip), client.pem/client.key (CN alice-ua)"
