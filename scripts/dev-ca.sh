#!/usr/bin/env bash
# Makes a development certificate authority and certificates signed by it, with openssl, for trying TLS and mutual
# TLS on one machine or in tests. Not for production: a county uses certificates from its own CA.
#
#   bash scripts/dev-ca.sh DIR [--server-name NAME]... [--client NAME]...
#
# DIR/ca.pem, DIR/ca-key.pem             the CA (EC P-256, 10 years); made once and kept if present
# DIR/server.pem, DIR/server-key.pem     a server certificate for the gateway (or a centre); its subject alternative
#                                        names are localhost, 127.0.0.1, ::1 and every --server-name (DNS name or IP)
# DIR/client-NAME.pem, -key.pem          a client certificate with subject CN=NAME (extended key usage clientAuth),
#                                        one per --client
# Keys are written mode 0600. Running again reissues server and client certificates from the same CA (new serial
# numbers), as a certificate rotation would.
set -euo pipefail
if [[ $# -lt 1 || $1 == -* ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
dir=$1; shift
names=(localhost 127.0.0.1 ::1); clients=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --server-name) names+=("$2"); shift 2 ;;
    --client) clients+=("$2"); shift 2 ;;
    *) echo "dev-ca.sh: unknown argument '$1' (use --server-name NAME or --client NAME)" >&2; exit 2 ;;
  esac
done
command -v openssl >/dev/null || { echo "dev-ca.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"; chmod 700 "$dir"
umask 077
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -s $dir/ca.pem || ! -s $dir/ca-key.pem ]]; then
  newkey "$dir/ca-key.pem"
  openssl req -x509 -new -key "$dir/ca-key.pem" -sha256 -days 3650 -subj "/O=SharpEyes development/CN=SharpEyes development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.pem"
fi

sign() { # name subject extfile
  local base=$1 subject=$2 ext=$3
  newkey "$dir/$base-key.pem"
  openssl req -new -key "$dir/$base-key.pem" -subj "$subject" -out "$dir/$base.csr"
  openssl x509 -req -in "$dir/$base.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -extfile "$ext" -out "$dir/$base.pem" 2>/dev/null
  rm -f "$dir/$base.csr" "$ext"
  chmod 600 "$dir/$base-key.pem"; chmod 644 "$dir/$base.pem"
}

san=""
for n in "${names[@]}"; do
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
ext=$(mktemp)
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "${san%,}" >"$ext"
sign server "/O=SharpEyes development/CN=${names[3]:-localhost}" "$ext"

for c in "${clients[@]}"; do
  ext=$(mktemp)
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$ext"
  sign "client-$c" "/O=SharpEyes development/CN=$c" "$ext"
done
chmod 644 "$dir/ca.pem"
echo "dev-ca.sh: CA $dir/ca.pem; server $dir/server.pem (${names[*]}); clients: ${clients[*]:-none}"
