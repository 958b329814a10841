package spec

import "testing"

const lineDoc = `apiVersion: infra.k8smgmt.io/v3
kind: Cluster
metadata:
  labels:
    rafay.dev/opa: constraint
  name: demo
spec:
  config:
    managedNodeGroups:
    - name: ng-1
      instanceType: t3.large
    - name: ng-2
  type: aws-eks
`

func TestResourceAccessors(t *testing.T) {
	r := parseOne(t, lineDoc)
	if r.APIVersion() != "infra.k8smgmt.io/v3" || r.KindName() != "Cluster" || r.Name() != "demo" || r.Project() != "" {
		t.Errorf("accessors: %s %s %s %s", r.APIVersion(), r.KindName(), r.Name(), r.Project())
	}
	r.SetProject("p")
	if r.Project() != "p" || r.Key() != (Key{Kind: "Cluster", Project: "p", Name: "demo"}) || r.Key().String() != "Cluster/p/demo" {
		t.Errorf("after SetProject: %v", r.Key())
	}
	r.SetProject("")
	if _, has := r.Object["metadata"].(map[string]any)["project"]; has {
		t.Error("SetProject(\"\") kept the project")
	}
	empty := &Resource{}
	empty.SetProject("p")
	if empty.Project() != "p" || empty.LineOf("metadata.project") != 0 {
		t.Errorf("SetProject on an empty resource: %v", empty.Object)
	}
	if (Key{Kind: "Project", Name: "p"}).String() != "Project/p" {
		t.Error("project key string")
	}
}

func TestLineOf(t *testing.T) {
	r := parseOne(t, lineDoc)
	cases := map[string]int{
		"":                                 1,
		"kind":                             2,
		"metadata":                         3,
		`metadata.labels["rafay.dev/opa"]`: 5,
		"metadata.name":                    6,
		"metadata.project":                 3, // missing: its parent
		"spec.config.managedNodeGroups[0].instanceType": 11,
		"spec.config.managedNodeGroups[1]":              12,
		"spec.config.managedNodeGroups[1].instanceType": 12, // missing: the item
		"spec.config.managedNodeGroups[5].name":         9,  // no such item: the list
		"spec.type.deeper":                              13, // a scalar has no fields
		"nothing.here":                                  1,
	}
	for field, want := range cases {
		if got := r.LineOf(field); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", field, got, want)
		}
	}
	if (&Resource{Object: map[string]any{"a": 1}, Line: 3}).LineOf("a") != 0 {
		t.Error("a resource without YAML has no lines")
	}
}

func TestProblemString(t *testing.T) {
	cases := map[Problem]string{
		{File: "f.yaml", Line: 3, Field: "spec.type", Message: "bad"}: "f.yaml:3: spec.type: bad",
		{File: "f.yaml", Message: "bad"}:                              "f.yaml: bad",
		{Line: 2, Message: "bad"}:                                     "line 2: bad",
		{Field: "kind", Message: "bad"}:                               "kind: bad",
	}
	for p, want := range cases {
		if p.String() != want {
			t.Errorf("%#v.String() = %q, want %q", p, p.String(), want)
		}
	}
}
