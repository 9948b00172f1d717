# Sourced by scripts/test.sh: a Python virtual environment with aiosmtpd (the real
# SMTP server the email tests deliver to) and a throwaway TLS PKI for STARTTLS and
# implicit TLS.
#
# Exports:
#   KVWATCH_TEST_PYTHON  the venv's python (runs tests/support/smtp_sink.py)
#   KVWATCH_TEST_PKI     a folder with ca.pem (the throwaway CA), server.pem and
#                        server.key (signed by it, for localhost and 127.0.0.1), and
#                        other-ca.pem (a CA that signed nothing, for negative tests)
# Idempotent: a second run finds the venv and the certificates and does nothing.

KVWATCH_AIOSMTPD_VERSION="1.4.6"
kvwatch_venv="$PWD/.venv"

if ! "$kvwatch_venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$KVWATCH_AIOSMTPD_VERSION')" 2>/dev/null; then
  echo "== setup: Python venv with aiosmtpd $KVWATCH_AIOSMTPD_VERSION in .venv"
  python3 -m venv "$kvwatch_venv"
  "$kvwatch_venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$KVWATCH_AIOSMTPD_VERSION"
fi
export KVWATCH_TEST_PYTHON="$kvwatch_venv/bin/python"

if ! command -v openssl >/dev/null 2>&1; then
  echo "== setup: installing openssl (for the test certificates)"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

kvwatch_pki="$kvwatch_venv/kvwatch-pki"
if [ ! -s "$kvwatch_pki/server.pem" ] || [ ! -s "$kvwatch_pki/other-ca.pem" ] \
   || ! openssl x509 -checkend 86400 -noout -in "$kvwatch_pki/server.pem" >/dev/null 2>&1; then
  echo "== setup: throwaway CA and server certificate in .venv/kvwatch-pki"
  rm -rf "$kvwatch_pki" && mkdir -p "$kvwatch_pki"
  (
    cd "$kvwatch_pki"
    for ca in ca other-ca; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=kvwatch test $ca" -keyout "$ca.key" -out "$ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext ca.srl
  )
fi
export KVWATCH_TEST_PKI="$kvwatch_pki"
