"""Certificates for the TLS end-to-end tests, made by the openssl command line during the run
(no private key is committed), and the client side of one request on a fresh TLS connection."""
import hashlib
import socket
import subprocess

# Run before every make_certs script:
#   dated NAME START END [CN]: a self-signed P-256 pair NAME.crt/NAME.key for CN (default
#   example.com, also its subjectAltName) valid from START to END (e.g. 20200101000000Z), by
#   `openssl ca`, which signs with any window: for dates far from today
CA_FUNCS = r"""
set -e
printf '[ca]\ndefault_ca=tca\n[tca]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial
default_md=sha256\npolicy=pol\ncopy_extensions=copy\nunique_subject=no
[pol]\ncommonName=supplied\n' > ca.cnf
: > index.txt; echo 10 > serial
dated() { _cn=${4:-example.com}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key \
	-out $1.csr -subj /CN=$_cn -addext subjectAltName=DNS:$_cn
	openssl ca -batch -config ca.cnf -selfsign -keyfile $1.key -in $1.csr -out $1.crt -notext \
	-startdate $2 -enddate $3; }
"""


def make_certs(d, script, timeout=120):
    """Run the shell script (after CA_FUNCS, under set -e) in directory d; fail on any error."""
    r = subprocess.run(["/bin/sh", "-c", CA_FUNCS + script], cwd=d, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr


def der_sha256(pem_path):
    """sha256 (hex) of the DER encoding of the certificate in pem_path."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "der"],
                         capture_output=True, check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


def tls_request(port, ctx, sni, request, timeout=10.0):
    """request (bytes) on a fresh TLS connection to 127.0.0.1:port, the answer read until the
    server closes: (sha256 of the certificate the handshake saw, the raw answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            cert = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    return cert, data
