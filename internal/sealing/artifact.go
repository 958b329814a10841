package sealing

import (
	"fmt"
	"path"

	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// The SealedSecret an artifact holds.
const (
	APIVersion = "bitnami.com/v1alpha1"
	Kind       = "SealedSecret"
	// ArtifactFile is the artifact's file name, in <plural>/artifacts/<name>/.
	ArtifactFile = "sealed-secret.yaml"
	// Namespace is the namespace of the SealedSecrets written, as Rafay's.
	Namespace = "default"
)

// Annotations that widen a SealedSecret's scope (sealed-secrets').
const (
	annotationClusterWide   = "sealedsecrets.bitnami.com/cluster-wide"
	annotationNamespaceWide = "sealedsecrets.bitnami.com/namespace-wide"
)

// ArtifactPath is where the sealed values of the resource whose spec file
// is at specPath live: artifacts/<name>/sealed-secret.yaml beside it
// (projects/p/repositories/artifacts/x/sealed-secret.yaml for
// projects/p/repositories/x.yaml), as Rafay's exports hold them.
func ArtifactPath(specPath, name string) string {
	return path.Join(path.Dir(specPath), "artifacts", name, ArtifactFile)
}

// Artifact is a SealedSecret: the sealed values of one resource, keyed by
// field path under spec.
type Artifact struct {
	Name      string
	Namespace string
	Scope     string            // ScopeStrict, ScopeNamespaceWide or ScopeClusterWide, from its annotations
	Data      map[string]string // spec.encryptedData: base64 of each sealed value
}

// label is the RSA-OAEP label of the artifact's values.
func (a *Artifact) label() []byte { return Label(a.Namespace, a.Name, a.Scope) }

// sealedSecret is the part of a SealedSecret an artifact is read from.
type sealedSecret struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		EncryptedData map[string]string `yaml:"encryptedData"`
	} `yaml:"spec"`
}

// ParseArtifact reads a SealedSecret (apiVersion bitnami.com/v1alpha1)
// with its spec.encryptedData, as kubeseal or Rafay wrote it.
func ParseArtifact(data []byte) (*Artifact, error) {
	var s sealedSecret
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("not a SealedSecret: %w", err)
	}
	if s.APIVersion != APIVersion || s.Kind != Kind {
		return nil, fmt.Errorf("not a SealedSecret: apiVersion %q and kind %q, want %s and %s", s.APIVersion, s.Kind, APIVersion, Kind)
	}
	a := &Artifact{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Scope: ScopeStrict, Data: s.Spec.EncryptedData}
	switch {
	case s.Metadata.Annotations[annotationClusterWide] == "true":
		a.Scope = ScopeClusterWide
	case s.Metadata.Annotations[annotationNamespaceWide] == "true":
		a.Scope = ScopeNamespaceWide
	}
	if a.Data == nil {
		a.Data = map[string]string{}
	}
	return a, nil
}

// Render writes the artifact as Rafay's exports hold it, byte for byte:
// kubeseal's SealedSecret (keys sorted, creationTimestamp null, the
// template naming the Secret it makes), then an empty line.
func (a *Artifact) Render() []byte {
	meta := func() map[string]any {
		m := map[string]any{"creationTimestamp": nil, "name": a.Name, "namespace": a.Namespace}
		switch a.Scope {
		case ScopeClusterWide:
			m["annotations"] = map[string]any{annotationClusterWide: "true"}
		case ScopeNamespaceWide:
			m["annotations"] = map[string]any{annotationNamespaceWide: "true"}
		}
		return m
	}
	data := make(map[string]any, len(a.Data))
	for k, v := range a.Data {
		data[k] = v
	}
	obj := map[string]any{
		"apiVersion": APIVersion,
		"kind":       Kind,
		"metadata":   meta(),
		"spec": map[string]any{
			"encryptedData": data,
			"template":      map[string]any{"data": nil, "metadata": meta()},
		},
	}
	out, err := yaml2.Marshal(obj)
	if err != nil { // not reached: strings and maps only
		panic(fmt.Sprintf("render SealedSecret: %v", err))
	}
	return append(out, '\n')
}

// sameData reports whether a and b hold the same entries.
func sameData(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
