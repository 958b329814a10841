package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// sessionKeyBytes is the AES-256 session key's size, as kubeseal's.
const sessionKeyBytes = 32

// ErrTooShort is the error of a ciphertext too short to hold kubeseal's
// format.
var ErrTooShort = errors.New("sealed value is too short")

// Encrypt seals plaintext for pub as kubeseal does (sealed-secrets'
// crypto.HybridEncrypt): a random AES-256 session key encrypted with
// RSA-OAEP (SHA-256, with label), then the plaintext sealed by AES-GCM
// with that key and a zero nonce (the key is used once). The result is
// the RSA ciphertext's length (2 bytes, big-endian), the RSA ciphertext,
// and the AES-GCM ciphertext.
func Encrypt(rnd io.Reader, pub *rsa.PublicKey, plaintext, label []byte) ([]byte, error) {
	sessionKey := make([]byte, sessionKeyBytes)
	if _, err := io.ReadFull(rnd, sessionKey); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	rsaCiphertext, err := rsa.EncryptOAEP(sha256.New(), rnd, pub, sessionKey, label)
	if err != nil {
		return nil, fmt.Errorf("encrypt the session key: %w", err)
	}
	out := make([]byte, 2, 2+len(rsaCiphertext)+len(plaintext)+aead.Overhead())
	binary.BigEndian.PutUint16(out, uint16(len(rsaCiphertext)))
	out = append(out, rsaCiphertext...)
	return aead.Seal(out, make([]byte, aead.NonceSize()), plaintext, nil), nil
}

// Decrypt opens a value Encrypt (or kubeseal) sealed for priv's public
// key with label; any other key or label is an error.
func Decrypt(priv *rsa.PrivateKey, ciphertext, label []byte) ([]byte, error) {
	if len(ciphertext) < 2 {
		return nil, ErrTooShort
	}
	n := int(binary.BigEndian.Uint16(ciphertext))
	if len(ciphertext) < 2+n {
		return nil, ErrTooShort
	}
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ciphertext[2:2+n], label)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, make([]byte, aead.NonceSize()), ciphertext[2+n:], nil)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Scopes of a SealedSecret, as sealed-secrets names them.
const (
	ScopeStrict        = "strict"         // sealed for one namespace and name (the default)
	ScopeNamespaceWide = "namespace-wide" // for any name in one namespace
	ScopeClusterWide   = "cluster-wide"   // for anywhere
)

// Label is the RSA-OAEP label of a value sealed for namespace and name
// with scope, as sealed-secrets' EncryptionLabel makes it:
// "<namespace>/<name>" for the strict scope, the namespace alone for the
// namespace-wide one, nothing for the cluster-wide one.
func Label(namespace, name, scope string) []byte {
	switch scope {
	case ScopeClusterWide:
		return nil
	case ScopeNamespaceWide:
		return []byte(namespace)
	}
	return []byte(namespace + "/" + name)
}
