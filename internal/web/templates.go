package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/systemsync/systemsync/internal/pipeline"
)

// parsePages parses each page template with the layout: one template set
// per page, each defining "content".
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				if t.IsZero() {
					return ""
				}
				return t.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if t == nil || t.IsZero() {
					return ""
				}
				return t.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return ""
		},
		"short": func(sha string) string {
			if len(sha) > 12 {
				return sha[:12]
			}
			return sha
		},
		"statusClass": func(s string) string {
			switch s {
			case pipeline.StatusSuccess:
				return "ok"
			case pipeline.StatusFailed:
				return "bad"
			case pipeline.StatusPartial:
				return "warn"
			case pipeline.StatusInProgress:
				return "live"
			}
			return ""
		},
		"add":  func(a, b int) int { return a + b },
		"esc":  url.PathEscape,
		"qesc": url.QueryEscape,
		"join": strings.Join,
		"duration": func(run *pipeline.Run) string {
			if run == nil || run.EndedAt == nil {
				return ""
			}
			return run.EndedAt.Sub(run.StartedAt).Round(time.Millisecond).String()
		},
		"runURL": func(id int64) string { return fmt.Sprintf("/runs/%d", id) },
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
