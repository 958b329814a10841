// Package sealing seals the clear-text secrets of a resource for Git, as
// Rafay's System Sync writes them, and unseals them on the way back.
//
// A sealed field holds the reference sealed://<field path under spec>
// (Rafay's `credentials.password: sealed://credentials.password`); its
// value is in the resource's artifact <plural>/artifacts/<name>/sealed-secret.yaml,
// a Bitnami SealedSecret (apiVersion bitnami.com/v1alpha1) whose
// spec.encryptedData is keyed by that field path. Each value is encrypted
// as kubeseal encrypts it (HybridEncrypt of sealed-secrets' pkg/crypto:
// RSA-OAEP with SHA-256 of a random AES-256 session key, then AES-GCM of
// the value with a zero nonce; labelled with the SealedSecret's
// namespace/name, its strict scope), so kubeseal's own recovery
// (--recovery-unseal) reads an artifact with the sealer's private key.
//
// The key pairs are a SecretSealer's (spec.type KubeSeal): made by the
// system when the sealer is created, never leaving it. A Keyring gives a
// project's keys; a Sealer seals with the first and unseals with any.
package sealing
