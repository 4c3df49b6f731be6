"""The federation's own certificate authority and the broker's TLS certificate.

    recarga certs --out DIR --names mosquitto,broker.example,10.0.0.5

writes ``DIR/ca.crt`` (give it to every server, car and station: they verify the broker with
it), ``DIR/ca.key`` (keep it on the computer that made it; it signs the next broker
certificate), ``DIR/broker.crt`` and ``DIR/broker.key`` (the broker's, valid for every name
and address in ``--names``: the names clients connect to). Keys are written readable by their
owner only. An existing CA is reused, so a new broker certificate does not invalidate the
``ca.crt`` the clients already hold; ``--days`` bounds the broker certificate's validity.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    os.fchmod(fd, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def authority(out: Path, days: int = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in ``out`` (made once, then reused)."""
    crt, key = out / "ca.crt", out / "ca.key"
    if crt.exists() and key.exists():
        loaded = serialization.load_pem_private_key(key.read_bytes(), None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key} is not the elliptic-curve key this CA is made with")
        return x509.load_pem_x509_certificate(crt.read_bytes()), loaded
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Recarga federation CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    _write(key, _pem(private), private=True)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, private


def broker_certificate(out: Path, names: list[str], days: int = 825) -> None:
    """``broker.crt``/``broker.key`` for ``names``, signed by the CA in ``out``."""
    ca, ca_key = authority(out)
    private = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(out / "broker.key", _pem(private), private=True)
    _write(out / "broker.crt", cert.public_bytes(serialization.Encoding.PEM), private=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recarga certs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="the directory to write into")
    parser.add_argument(
        "--names",
        required=True,
        help="comma-separated host names and IP addresses clients connect to",
    )
    parser.add_argument("--days", type=int, default=825, help="the broker certificate's validity")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="do nothing when DIR/broker.crt exists (a container's first start)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.names.split(",") if n.strip()]
    if not names:
        parser.error("--names needs at least one host name or address")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.keep and (out / "broker.crt").exists():
        print(f"kept {out / 'broker.crt'}")
        return 0
    broker_certificate(out, names, args.days)
    print(
        f"wrote {out / 'ca.crt'} (for every client) and {out / 'broker.crt'}, "
        f"{out / 'broker.key'} (for the broker) for {', '.join(names)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
