package sealing

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/ssh"
)

// KeyBits is the size of a sealer's RSA key: 2048 bits, as Rafay's own
// sealer's (its SealedSecrets carry 256-byte RSA ciphertexts).
const KeyBits = 2048

// CertificateValidity is how long a sealer's certificate is valid: ten
// years, sealed-secrets' default (--key-ttl).
const CertificateValidity = 10 * 365 * 24 * time.Hour

// Key is one sealer's key pair: the private key, which never leaves the
// system, and its self-signed certificate, which anyone may hold to seal
// values for it (kubeseal --cert).
type Key struct {
	Private     *rsa.PrivateKey
	Certificate *x509.Certificate
	certPEM     []byte
	fingerprint string
}

// NewKey makes a key pair and its certificate as the sealed-secrets
// controller does (SignKey): a KeyBits RSA key and a self-signed CA
// certificate for encipherment, named cn, valid for CertificateValidity
// from now.
func NewKey(rnd io.Reader, cn string) (*Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	priv, err := rsa.GenerateKey(rnd, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate the sealer's key: %w", err)
	}
	serial, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := x509.Certificate{
		SerialNumber:          serial,
		KeyUsage:              x509.KeyUsageEncipherOnly,
		NotBefore:             now.UTC(),
		NotAfter:              now.Add(CertificateValidity).UTC(),
		Issuer:                pkix.Name{CommonName: cn},
		Subject:               pkix.Name{CommonName: cn},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rnd, &tmpl, &tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("sign the sealer's certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("read back the sealer's certificate: %w", err)
	}
	return newKey(priv, cert)
}

func newKey(priv *rsa.PrivateKey, cert *x509.Certificate) (*Key, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&priv.PublicKey) {
		return nil, errors.New("the certificate is not the private key's")
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	return &Key{Private: priv, Certificate: cert, fingerprint: fp,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

// ParseKey reads a key pair from PEM: the private key as PrivatePEM writes
// it (PKCS #1, "RSA PRIVATE KEY", what kubeseal --recovery-private-key
// reads; PKCS #8 is accepted too) and the certificate as CertificatePEM.
func ParseKey(privatePEM, certificatePEM []byte) (*Key, error) {
	b, _ := pem.Decode(privatePEM)
	if b == nil {
		return nil, errors.New("no PEM block in the private key")
	}
	var priv *rsa.PrivateKey
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
		priv = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is a %T, not RSA", k)
		}
		priv = rk
	default:
		return nil, fmt.Errorf("private key PEM block is %q", b.Type)
	}
	c, _ := pem.Decode(certificatePEM)
	if c == nil || c.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block in the certificate")
	}
	cert, err := x509.ParseCertificate(c.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return newKey(priv, cert)
}

// PrivatePEM is the private key as PEM (PKCS #1), as the sealed-secrets
// controller keeps it in its tls.key: for the system's own storage only.
func (k *Key) PrivatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.Private)})
}

// CertificatePEM is the certificate as PEM, what kubeseal --fetch-cert
// prints and kubeseal --cert reads.
func (k *Key) CertificatePEM() []byte { return append([]byte(nil), k.certPEM...) }

// Fingerprint is the public key's fingerprint, as sealed-secrets names
// keys (PublicKeyFingerprint: SSH's SHA256:… form).
func (k *Key) Fingerprint() string { return k.fingerprint }

// Public is the public key values are sealed with.
func (k *Key) Public() *rsa.PublicKey { return &k.Private.PublicKey }

// Fingerprint returns the fingerprint of pub as sealed-secrets'
// PublicKeyFingerprint does.
func Fingerprint(pub *rsa.PublicKey) (string, error) {
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return ssh.FingerprintSHA256(sp), nil
}

// Certificate is what may be shown of a sealer's key: its certificate
// and fingerprint, never the private key.
type Certificate struct {
	PEM         string    `json:"certificate"`
	Fingerprint string    `json:"fingerprint"`
	NotAfter    time.Time `json:"notAfter"`
}

// Shown returns what may be shown of k.
func (k *Key) Shown() Certificate {
	return Certificate{PEM: string(k.certPEM), Fingerprint: k.fingerprint, NotAfter: k.Certificate.NotAfter}
}
