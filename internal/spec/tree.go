package spec

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxSpecSize is the largest spec file the bot reads.
const maxSpecSize = MaxResourceBytes

// TreeReport is the outcome of ValidateTree.
type TreeReport struct {
	Specs     int         // spec files checked
	Resources []*Resource // the resources of the spec files that have no problem, in path order
	Artifacts []string    // artifact paths found
	Problems  []Problem   // sorted by file then line
}

// ValidateTree checks a folder as the bot would: every PathProject/PathSpec file is parsed,
// validated with the Context its path implies (kind from the plural folder, project, name from the file name),
// checked for secrets; a file must hold exactly one resource; the same key in two files is a problem on both;
// templates are skipped; artifacts are listed, never errors; files over MaxResourceBytes, binary files (NUL byte) and symlinks are problems; other files ignored.
// Problem.File is the path relative to root.
//
// Paths use forward slashes. A .git folder is skipped. A resource without
// metadata.project gets the project its path implies (see SetProject), and
// a file:// reference that escapes the spec's folder is a problem. Templates
// are not counted in Specs. The error is for a root that cannot be read.
func ValidateTree(root string) (TreeReport, error) {
	var rep TreeReport
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return rep, fmt.Errorf("validate tree: %w", err)
	}
	if st, err := os.Stat(resolved); err != nil {
		return rep, fmt.Errorf("validate tree: %w", err)
	} else if !st.IsDir() {
		return rep, fmt.Errorf("validate tree: %s is not a directory", root)
	}

	type specFile struct {
		rel   string
		r     *Resource
		clean bool
	}
	var files []specFile
	problem := func(rel, msg string) {
		rep.Problems = append(rep.Problems, Problem{File: rel, Message: msg})
	}
	err = filepath.WalkDir(resolved, func(p string, d fs.DirEntry, werr error) error {
		rel := relSlash(resolved, p)
		if werr != nil {
			if p == resolved {
				return werr
			}
			if ClassifyPath(rel).Type != PathOther || d != nil && d.IsDir() {
				problem(rel, "cannot read: "+werr.Error())
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != resolved {
				return fs.SkipDir
			}
			return nil
		}
		info := ClassifyPath(rel)
		if info.Type == PathOther || info.Type == PathGitkeep {
			return nil
		}
		isSpec := info.Type == PathSpec || info.Type == PathProject
		if d.Type()&fs.ModeSymlink != 0 {
			if isSpec {
				rep.Specs++
			}
			problem(rel, "symbolic link: the bot syncs regular files only; replace the link with the file it points to")
			return nil
		}
		if !d.Type().IsRegular() {
			problem(rel, "not a regular file")
			return nil
		}
		if info.Type == PathArtifact {
			rep.Artifacts = append(rep.Artifacts, rel)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			rep.Specs++
			problem(rel, "cannot read: "+err.Error())
			return nil
		}
		if fi.Size() > maxSpecSize {
			rep.Specs++
			problem(rel, "file "+FileTooBig(fi.Size()))
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			rep.Specs++
			problem(rel, "cannot read: "+err.Error())
			return nil
		}
		if i := bytes.IndexByte(data, 0); i >= 0 {
			rep.Specs++
			rep.Problems = append(rep.Problems, Problem{File: rel, Line: 1 + bytes.Count(data[:i], []byte("\n")),
				Message: "binary file (NUL byte): a spec must be YAML text"})
			return nil
		}
		if IsTemplate(data) {
			return nil
		}
		rep.Specs++
		r, probs := checkSpecFile(rel, info, data)
		rep.Problems = append(rep.Problems, probs...)
		if r != nil {
			files = append(files, specFile{rel: rel, r: r, clean: len(probs) == 0})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("validate tree %s: %w", root, err)
	}

	byKey := map[Key][]int{}
	for i, f := range files {
		if k := f.r.Key(); k.Kind != "" && k.Name != "" {
			byKey[k] = append(byKey[k], i)
		}
	}
	for k, idx := range byKey {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			var others []string
			for _, j := range idx {
				if j != i {
					others = append(others, files[j].rel)
				}
			}
			f := &files[i]
			f.clean = false
			rep.Problems = append(rep.Problems, Problem{File: f.rel, Line: f.r.LineOf("metadata.name"), Field: "metadata.name",
				Message: fmt.Sprintf("%s is defined in more than one file: also in %s", k, strings.Join(others, ", "))})
		}
	}
	for _, f := range files {
		if f.clean {
			rep.Resources = append(rep.Resources, f.r)
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return rep, nil
}

// checkSpecFile parses and checks one spec file. It returns the resource
// when the file holds exactly one, with its problems.
func checkSpecFile(rel string, info PathInfo, data []byte) (*Resource, []Problem) {
	rs, probs := Parse(rel, data)
	if len(rs) != 1 {
		switch {
		case len(rs) > 1:
			probs = append(probs, Problem{File: rel, Line: rs[1].Line,
				Message: fmt.Sprintf("a spec file must hold exactly one resource, found %d", len(rs))})
		case len(probs) == 0:
			probs = append(probs, Problem{File: rel, Line: 1, Message: "empty file: a spec file must hold exactly one resource"})
		}
		return nil, probs
	}
	r := rs[0]
	ctx := Context{File: rel, Kind: info.Key.Kind, Project: info.Key.Project, Name: info.Key.Name}
	probs = append(probs, Validate(r, ctx)...)
	if k, ok := LookupKind(r.KindName()); ok && k.ProjectScoped && r.Project() == "" && ctx.Project != "" {
		if _, isMap := r.Object["metadata"].(map[string]any); isMap {
			r.SetProject(ctx.Project)
		}
	}
	probs = append(probs, Secrets(r)...)
	_, refProbs := ArtifactRefs(r, rel)
	probs = append(probs, refProbs...)
	return r, probs
}

// relSlash returns p relative to root with forward slashes.
func relSlash(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}
