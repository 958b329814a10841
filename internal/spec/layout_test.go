package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestLayoutRoundTripEveryKind(t *testing.T) {
	for _, k := range Kinds() {
		key := Key{Kind: k.Name, Project: "shared-infra-team", Name: "my-" + strings.ToLower(k.Name)}
		want := PathSpec
		if k.Name == "Project" {
			key = Key{Kind: "Project", Name: "shared-infra-team"}
			want = PathProject
		}
		p := PathFor(key)
		info := ClassifyPath(p)
		if info.Type != want || info.Key != key {
			t.Errorf("%s: PathFor = %s, ClassifyPath = %+v", k.Name, p, info)
		}
		if k.Name != "Project" && p != "projects/shared-infra-team/"+k.Plural+"/"+key.Name+".yaml" {
			t.Errorf("%s: path %s", k.Name, p)
		}
		if k.Name != "Project" {
			deeper := "projects/shared-infra-team/" + k.Plural + "/artifacts/x/values.yaml"
			if got := ClassifyPath(deeper); got.Type != PathArtifact || got.Key != (Key{Kind: k.Name, Project: "shared-infra-team"}) {
				t.Errorf("%s: %+v", deeper, got)
			}
		}
	}
	if PathFor(Key{Kind: "AddonVersion", Project: "p", Name: "x"}) != "" {
		t.Error("unknown kind has a path")
	}
	if g := GitkeepPath("naas"); g != "projects/naas/.gitkeep" || ClassifyPath(g) != (PathInfo{Type: PathGitkeep, Key: Key{Project: "naas"}}) {
		t.Errorf("gitkeep %s: %+v", g, ClassifyPath(g))
	}
}

func TestClassifyPath(t *testing.T) {
	cases := []struct {
		path string
		want PathInfo
	}{
		{"projects/naas.yaml", PathInfo{PathProject, Key{Kind: "Project", Name: "naas"}}},
		{"projects/naas/.gitkeep", PathInfo{PathGitkeep, Key{Project: "naas"}}},
		{"projects/naas/namespaces/alpha-dev.yaml", PathInfo{PathSpec, Key{"Namespace", "naas", "alpha-dev"}}},
		{"projects/p/overrides/ingress-nginx-lb-ip/ingress-nginx-lb-ip.yaml", PathInfo{PathArtifact, Key{Kind: "Override", Project: "p"}}},
		{"projects/p/repositories/artifacts/r/sealed-secret.yaml", PathInfo{PathArtifact, Key{Kind: "Repository", Project: "p"}}},
		{"projects/p/clusters/notes.md", PathInfo{}},
		{"projects/p/clusters/c.yml", PathInfo{}},
		{"projects/p/clusters/.yaml", PathInfo{}},
		{"projects/p/addonversions/v1.yaml", PathInfo{}},
		{"projects/p/projects/q.yaml", PathInfo{}},
		{"projects/p/README.md", PathInfo{}},
		{"projects/.yaml", PathInfo{}},
		{"projects/naas.json", PathInfo{}},
		{"projects", PathInfo{}},
		{"README.md", PathInfo{}},
		{"other/projects/p.yaml", PathInfo{}},
		{"../projects/p.yaml", PathInfo{}},
		{"projects/../projects/p.yaml", PathInfo{}},
		{"projects/p/../q/clusters/c.yaml", PathInfo{}},
		{"projects/p/clusters/../../../etc/passwd", PathInfo{}},
		{"/projects/p.yaml", PathInfo{}},
		{"./projects/p.yaml", PathInfo{}},
		{"projects//p.yaml", PathInfo{}},
		{`projects\p.yaml`, PathInfo{}},
		{`projects/p/clusters/c\d.yaml`, PathInfo{}},
		{"", PathInfo{}},
	}
	for _, c := range cases {
		if got := ClassifyPath(c.path); got != c.want {
			t.Errorf("ClassifyPath(%q) = %+v, want %+v", c.path, got, c.want)
		}
	}
}

func TestArtifactRefs(t *testing.T) {
	r := parseOne(t, `spec:
  valuesPath:
    name: file://ingress/values.yaml
  list:
  - name: file://./a.yaml
  - name: file://ingress/values.yaml
  - name: https://example.com/file://x
  bad1: file://../other-kind/x.yaml
  bad2: file:///etc/passwd
  bad3: file://
  ok: file://sub/../b.yaml
`)
	refs, probs := ArtifactRefs(r, "projects/p/overrides/o.yaml")
	want := []string{"projects/p/overrides/a.yaml", "projects/p/overrides/ingress/values.yaml", "projects/p/overrides/b.yaml"}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("refs %v, want %v", refs, want)
	}
	// An absolute file:///… is a URL (a local Repository's endpoint), not
	// an artifact: no problem; the others are warnings.
	if len(probs) != 2 {
		t.Fatalf("problems %v", probs)
	}
	for i, w := range []struct {
		line  int
		field string
		msg   string
	}{{8, "spec.bad1", "escapes the spec's folder"}, {10, "spec.bad3", "empty"}} {
		if p := probs[i]; p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, w.msg) || p.File != "f.yaml" || !p.IsWarning() {
			t.Errorf("problem %d: %v", i, p)
		}
	}
}

func TestIsTemplate(t *testing.T) {
	yes := []string{"{{ $glbCtx := . }}\nkind: Agent\n", "name: {{ .name }}\n", "name: {{.Values.name}}\n", "{{- if .x }}\na: b\n{{- end }}\n",
		"{{/* comment */}}\n", "v: {{ include \"x\" . }}\n", "v: {{ printf \"%s\" $x }}\n", "{{ range .items }}\n",
		"name: sync-{{ $c.project }}\nspec:\n  script: |\n    echo {{ .x }}\n", "description: \"{{ .desc }}\"\n"}
	no := []string{"username: system:node:{{EC2PrivateDNSName}}\n", "a: b\n", "msg: use {{ and }} carefully\n", "x: '{{}}'\n", "rego: |\n  v[{\"msg\": msg}] { true }\n",
		"kind: Override\nspec:\n  overrideValues: |\n    fullnameOverride: {{ .Release.Name }}-x\n    {{- if .Values.y }}\n  type: Helm\n"}
	for _, s := range yes {
		if !IsTemplate([]byte(s)) {
			t.Errorf("IsTemplate(%q) = false", s)
		}
	}
	for _, s := range no {
		if IsTemplate([]byte(s)) {
			t.Errorf("IsTemplate(%q) = true", s)
		}
	}
}
